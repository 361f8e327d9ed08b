"""Make every page run through ``app.py``'s ``st.navigation``, even when Streamlit starts it alone.

Streamlit still supports its first multipage design, where each file of ``pages/`` runs on its
own. Until some session has called ``st.navigation``, a server runs a deep link
(``/build?builder=resnet``) that way: ``pages/build.py`` without ``app.py``, so with the wrong
sidebar and no link restore. Under concurrent first requests several sessions can start that way
at once, and ``AppTest`` does it on every run. So ``app.py`` marks the runs it makes
(:func:`inside_app`), and each page calls :func:`through_app` first: a page started without the
mark switches Streamlit to ``st.navigation`` and runs ``app.py`` in place, which runs this page
again the normal way, then stops the outer run.
"""

from __future__ import annotations

import contextlib
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"
# The app's pages: (script, title, icon, URL path); the first, with no path, is the default page.
# app.py makes its st.Page list of these; explorer.webserver needs the URL paths before any run.
PAGE_TABLE = (
    ("pages/home.py", "Home", ":material/home:", ""),
    ("pages/build.py", "Build", ":material/account_tree:", "build"),
    ("pages/budget.py", "Budget", ":material/pie_chart:", "budget"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:", "compare"),
    ("pages/inspect.py", "Inspect", ":material/upload_file:", "inspect"),
    ("pages/code.py", "Code", ":material/code:", "code"),
    ("pages/present.py", "Present", ":material/co_present:", "present"),
    ("pages/train.py", "Train", ":material/model_training:", "train"),
)
_local = threading.local()  # a script run executes app.py and its page in one thread
_lock = threading.Lock()
_running = 0  # page runs in progress in this server process, all sessions


@contextlib.contextmanager
def inside_app() -> Iterator[None]:
    """Mark the page run that ``app.py`` makes (wrap ``page.run()`` in it); counts the runs in progress."""
    global _running
    outer = getattr(_local, "inside", False)
    _local.inside = True
    if not outer:
        with _lock:
            _running += 1
    try:
        yield
    finally:
        _local.inside = outer
        if not outer:
            with _lock:
                _running -= 1


def others_running() -> int:
    """Page runs of other sessions in progress now (when called from a page run; else all of them)."""
    return max(0, _running - (1 if getattr(_local, "inside", False) else 0))


def intended(pages: list) -> Any | None:
    """The page of ``pages`` this run is about to show, known before ``st.navigation`` is called.

    ``st.navigation`` draws its sidebar from the message it sends, before the page's own code runs,
    so a page that must open without the sidebar (Present, on a projector) has to be known first:
    a page chosen in the app (``st.switch_page``, the sidebar) names its script hash, a link names
    its URL path. ``None`` when Streamlit does not say (or says it in a way this version lacks).
    """
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        manager = get_script_run_ctx().pages_manager
        wanted_hash, wanted_path = manager.intended_page_script_hash, manager.intended_page_name
        for page in pages:
            if (wanted_hash and page._script_hash == wanted_hash) or (
                    not wanted_hash and wanted_path and page.url_path == wanted_path):
                return page
    except Exception:  # not in a script run, or a Streamlit with other internals: the sidebar stays
        return None
    return None


def through_app() -> None:
    """Run the app's navigation in place when this page was started without ``app.py``."""
    if getattr(_local, "inside", False):
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except ImportError:  # a Streamlit without the old design has nothing to switch off
        pass
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
