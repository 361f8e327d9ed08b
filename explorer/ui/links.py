"""Shareable links in the app: restore the architecture from the URL once, keep the URL current.

The encoding lives in :mod:`explorer.links` (no Streamlit); this module moves it in and out of
the session (:class:`explorer.ui.session.Session`) and ``st.query_params``.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from explorer import links
from explorer.render import RANKDIRS, VIEWS
from explorer.ui.session import Session

PAGES_WITH_ARCHITECTURE = ("build", "budget", "code", "present")


def restore_once(state: MutableMapping, params: MutableMapping) -> list[str]:
    """On a session's first run, apply the link's architecture and view to the session.

    Args:
        state: the session state.
        params: the URL's query parameters (``st.query_params``).

    Returns:
        Messages about parameters that were ignored (empty on later runs).
    """
    ses = Session(state)
    if ses.link_restored:
        return []
    ses.mark_link_restored()
    link = links.decode({k: params[k] for k in params})
    messages = list(link.messages)
    spec = link.spec
    if spec is not None:
        ses.show(spec)
        g = ses.graph(spec)
        view, rankdir = link.view.get("view"), link.view.get("dir")
        if view is not None:
            if view in VIEWS:
                ses.set(g.view, view)
            else:
                messages.append(f"the link's view {view[:40]!r} is unknown; choose one of {', '.join(VIEWS)}.")
        if rankdir is not None:
            if rankdir in RANKDIRS:
                ses.set(g.rankdir, rankdir)
            else:
                messages.append(f"the link's dir {rankdir[:40]!r} is unknown; choose TB or LR.")
        if link.view.get("expand"):
            ses.set(g.expand, [e for e in link.view["expand"].split(",") if e])
    if "reveal" in link.view:
        try:
            ses.reveal = max(1, int(link.view["reveal"]))
        except ValueError:
            messages.append(f"the link's reveal {link.view['reveal'][:40]!r} is not a whole number; it was ignored.")
    return messages


def current_params(state: MutableMapping, page: str = "build") -> dict[str, str]:
    """The query parameters that describe this session's architecture and view."""
    ses = Session(state)
    spec = ses.spec
    g = ses.graph(spec)
    view = {"view": ses.get(g.view) or "", "dir": ses.get(g.rankdir) or ""}
    if view["dir"] == "TB":
        view["dir"] = ""
    if ses.get(g.expand) and view["view"] == "mixed":
        view["expand"] = ",".join(ses.get(g.expand))
    if page == "present" and ses.reveal:
        view["reveal"] = str(ses.reveal)
    return links.encode(spec, view)


def sync(state: MutableMapping, params: MutableMapping, page: str) -> None:
    """Write the current architecture into the URL on pages that show it."""
    if page not in PAGES_WITH_ARCHITECTURE:
        return
    wanted = current_params(state, page)
    if {k: params[k] for k in params} != wanted:
        params.clear()
        params.update(wanted)
