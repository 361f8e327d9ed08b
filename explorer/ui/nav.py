"""Make every page run through ``app.py``'s ``st.navigation``, even when Streamlit starts it alone.

Streamlit still supports its first multipage design, where each file of ``pages/`` runs on its
own. Until some session has called ``st.navigation``, a server whose first request is a deep
link (``/build?builder=resnet``) runs ``pages/build.py`` that way: without ``app.py``, so with
the wrong sidebar and no link restore (``AppTest`` does the same on every run). Each page calls
:func:`through_app` first; in that case it switches Streamlit to ``st.navigation`` and runs
``app.py`` in place, which runs this page again the normal way, then stops the outer run.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"


def through_app() -> None:
    """Run the app's navigation in place when this page was started without it."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this machinery has nothing to fix
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()
