"""The served app's HTTP layer: a link straight to a page connects at once.

Streamlit's browser code finds its server by trying the page's own path first
(``/build/_stcore/health``: a 404, since ``build`` is a page of this app, not where the app is
served), then the parent path after a back-off. Every link straight to a page (``/build?preset=
resnet56``, what a teacher shares with a class) waited ~0.1-0.2 s for that before its websocket
opened. ``python -m explorer.serve`` adds a few lines to the page's HTML that name the app's base
for Streamlit (``window.__streamlit.BACKEND_BASE_URL``, Streamlit's own setting for it): the
address without its last segment when that segment is one of the app's pages. Any other path
(the home page, a path prefix set by a proxy) is left to Streamlit's own search.

Only ``python -m explorer.serve`` installs it (:func:`install`); ``streamlit run app.py`` works as
before, with the back-off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

_log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

# Paths that never serve the app's page (Streamlit's API, its scripts, components, media, uploads).
NOT_PAGES = ("/_stcore/", "/static/", "/component/", "/media/", "/app/static/")


def hint_script(pages: Iterable[str]) -> bytes:
    """The ``<script>`` that names the app's base when the address ends with one of ``pages``.

    Page names are plain URL paths, compared as the address has them (decoding could throw on a
    malformed address, ``/build%ZZ``, and the page would lose the hint's script with it).
    """
    names = json.dumps(sorted(p for p in pages if p))
    return (
        "<script>(function(){var pages=" + names + ",s=location.pathname.replace(/\\/+$/,'').split('/');"
        "if(s.length>1&&pages.indexOf(s[s.length-1])>=0){s.pop();"
        "window.__streamlit=Object.assign({},window.__streamlit,{BACKEND_BASE_URL:location.origin+s.join('/')});}"
        "})();</script>"
    ).encode()


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


class DeepLinkHint:
    """ASGI middleware: the app's page HTML gets :func:`hint_script` at the top of its ``<head>``.

    Only GET requests for a page address (not Streamlit's API or assets) are touched, and only an
    HTML answer; it is asked for uncompressed (about 1.5 KB) so it can be edited, and its length
    and ETag change with it (a cached copy without the hint is not taken for one with it).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], pages: Iterable[str]) -> None:
        self.app = app
        self.script = hint_script(pages)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        last = path.rstrip("/").rsplit("/", 1)[-1]
        if scope["type"] != "http" or scope.get("method") != "GET" or "." in last or any(p in path for p in NOT_PAGES):
            await self.app(scope, receive, send)
            return
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"])
        held: Message | None = None
        chunks: list[bytes] = []

        async def edit(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                html = message.get("status") == 200 and _header(headers, b"content-type").startswith(b"text/html")
                if html and not _header(headers, b"content-encoding"):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                at = body.find(b"<head>")
                body = body[:at + 6] + self.script + body[at + 6:] if at >= 0 else body
                headers = []
                for k, v in held.get("headers", []):
                    if k.lower() == b"content-length":
                        v = str(len(body)).encode()
                    elif k.lower() == b"etag":
                        v = v[:-1] + b'-h"' if v.endswith(b'"') else v + b"-h"
                    headers.append((k, v))
                await send({**held, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, edit)


def install() -> bool:
    """Make Streamlit's web app (created when the server starts) use :class:`DeepLinkHint`.

    Streamlit offers middleware through ``st.App``, which runs the app in another mode (an ASGI
    app under uvicorn's own runner); this wraps the factory that ``streamlit run`` uses instead.

    Returns:
        False (and a log line) where this Streamlit has no such factory: links still work, with
        Streamlit's back-off.
    """
    try:
        from streamlit.web.server.starlette import starlette_server
        create = starlette_server.create_starlette_app
    except (ImportError, AttributeError):
        _log.warning("explorer: this Streamlit has no create_starlette_app; deep links connect after a back-off")
        return False
    if getattr(create, "__explorer_hint__", False):
        return True
    from explorer.ui.nav import PAGE_TABLE

    pages = [row[3] for row in PAGE_TABLE]

    def create_with_hint(*args: Any, **kwargs: Any) -> Any:
        app = create(*args, **kwargs)
        app.add_middleware(DeepLinkHint, pages=pages)
        return app

    create_with_hint.__explorer_hint__ = True  # type: ignore[attr-defined]
    starlette_server.create_starlette_app = create_with_hint
    return True
