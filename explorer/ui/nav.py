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

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"
_local = threading.local()  # a script run executes app.py and its page in one thread


@contextlib.contextmanager
def inside_app() -> Iterator[None]:
    """Mark the page run that ``app.py`` makes (wrap ``page.run()`` in it)."""
    outer = getattr(_local, "inside", False)
    _local.inside = True
    try:
        yield
    finally:
        _local.inside = outer


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
