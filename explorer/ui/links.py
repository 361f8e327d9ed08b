"""Shareable links in the app: restore the architecture from the URL once, keep the URL current.

The encoding lives in :mod:`explorer.links` (no Streamlit); this module moves it in and out of
``st.session_state`` (the keys of the Build page's widgets) and ``st.query_params``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from explorer import links
from explorer.builders import Spec, get_builder, get_preset, resolve
from explorer.config import fields_of, make_config
from explorer.render import RANKDIRS, VIEWS
from explorer.ui import state as keys
from explorer.ui.config_form import widget_value
from explorer.ui.graph_viewer import keys_for

RESTORED = "links:restored"
MESSAGES = "links:messages"
REVEAL = "present:reveal"
PAGES_WITH_ARCHITECTURE = ("build", "budget", "code", "present")


def restore_once(state: MutableMapping, params: MutableMapping) -> list[str]:
    """On a session's first run, apply the link's architecture and view to the session state.

    Args:
        state: the session state.
        params: the URL's query parameters (``st.query_params``).

    Returns:
        Messages about parameters that were ignored (empty on later runs).
    """
    if state.get(RESTORED):
        return []
    state[RESTORED] = True
    link = links.decode({k: params[k] for k in params})
    messages = list(link.messages)
    if link.builder:
        state[keys.BUILDER] = link.builder
        state[keys.PRESET] = link.preset
        infos = {f.name: f for f in fields_of(get_builder(link.builder).config_cls)}
        for name, value in link.overrides.items():
            state[keys.field_key(link.builder, link.preset, name)] = widget_value(infos[name], value)
        g = keys_for(f"{link.builder}:{link.preset}")
        view, rankdir = link.view.get("view"), link.view.get("dir")
        if view is not None:
            if view in VIEWS:
                state[g["view"]] = view
            else:
                messages.append(f"the link's view {view[:40]!r} is unknown; choose one of {', '.join(VIEWS)}.")
        if rankdir is not None:
            if rankdir in RANKDIRS:
                state[g["rankdir"]] = rankdir
            else:
                messages.append(f"the link's dir {rankdir[:40]!r} is unknown; choose TB or LR.")
        if link.view.get("expand"):
            state[g["expand"]] = [e for e in link.view["expand"].split(",") if e]
        # Pages other than Build (Budget, Code) read the architecture from here.
        state[keys.SPEC] = resolve(link.builder, link.preset, link.overrides)
    if "reveal" in link.view:
        try:
            state[REVEAL] = max(1, int(link.view["reveal"]))
        except ValueError:
            messages.append(f"the link's reveal {link.view['reveal'][:40]!r} is not a whole number; it was ignored.")
    return messages


def overrides_of(spec: Spec) -> dict[str, Any]:
    """The fields of ``spec`` that differ from its preset (or builder defaults)."""
    cls = get_builder(spec.builder).config_cls
    base = make_config(cls, **get_preset(spec.preset).overrides) if spec.preset else cls()
    return {f.name: getattr(spec.config, f.name) for f in fields_of(cls)
            if getattr(spec.config, f.name) != getattr(base, f.name)}


def current_params(state: MutableMapping, page: str = "build") -> dict[str, str] | None:
    """The query parameters that describe this session's architecture and view, if any."""
    spec = state.get(keys.SPEC)
    if spec is None:
        return None
    g = keys_for(f"{spec.builder}:{spec.preset}")
    view = {"view": state.get(g["view"]) or "", "dir": state.get(g["rankdir"]) or ""}
    if view["dir"] == "TB":
        view["dir"] = ""
    if state.get(g["expand"]) and view["view"] == "mixed":
        view["expand"] = ",".join(state[g["expand"]])
    if page == "present" and state.get(REVEAL):
        view["reveal"] = str(state[REVEAL])
    return links.encode(spec.builder, spec.preset, overrides_of(spec), view)


def sync(state: MutableMapping, params: MutableMapping, page: str) -> None:
    """Write the current architecture into the URL on pages that show it."""
    if page not in PAGES_WITH_ARCHITECTURE:
        return
    wanted = current_params(state, page)
    if wanted is not None and {k: params[k] for k in params} != wanted:
        params.clear()
        params.update(wanted)
