"""Architecture Explorer: the Streamlit entry point (``streamlit run app.py``).

Pages live in ``pages/``; they are thin and call the ``explorer`` package.
"""

import streamlit as st

import explorer  # noqa: F401  (picks the light analysis backend before Keras loads)
from explorer import keras_compat
from explorer.ui import links, nav

keras_compat.guard_clear_session()  # Streamlit clears Keras's session after every run: not mid-build
st.set_page_config(page_title="Architecture Explorer", page_icon=":material/explore:", layout="wide")

PAGES = [  # the table lives in explorer.ui.nav (the served app's HTTP layer reads the URL paths too)
    st.Page(script, title=title, icon=icon, url_path=url_path or None, default=not url_path)
    for script, title, icon, url_path in nav.PAGE_TABLE
]

for message in links.restore_once(st.session_state, st.query_params):  # a shared link, on first load
    st.warning(message, icon=":material/link_off:")
# Present opens on a projector with no sidebar: hidden from the navigation's first message, not
# only by the page's CSS, which lands a moment later.
chromeless = getattr(nav.intended(PAGES), "url_path", None) == "present"
page = st.navigation(PAGES, position="hidden" if chromeless else "sidebar")
with nav.inside_app():
    page.run()
links.sync(st.session_state, st.query_params, page.url_path)  # keep the URL shareable
