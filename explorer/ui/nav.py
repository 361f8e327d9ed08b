"""Make every page run through ``app.py``'s ``st.navigation``, even on a server's first request.

Streamlit still supports its first multipage design, where each file of ``pages/`` runs on its
own. Until some session has called ``st.navigation``, a server whose first request is a deep
link (``/build?builder=resnet``) runs ``pages/build.py`` that way: without ``app.py``, so with
the wrong sidebar and no link restore. Each page calls :func:`through_app` first; in that case
it switches Streamlit to ``st.navigation`` and reruns, which runs ``app.py`` for the same page.
"""

from __future__ import annotations

import streamlit as st


def through_app() -> None:
    """Rerun through ``app.py`` when this page was started without it (see the module docstring)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this machinery has nothing to fix
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
