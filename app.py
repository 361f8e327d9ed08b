"""Architecture Explorer: the Streamlit entry point (``streamlit run app.py``).

Pages live in ``pages/``; they are thin and call the ``explorer`` package.
"""

import streamlit as st

import explorer  # noqa: F401  (picks the light analysis backend before Keras loads)
from explorer import keras_compat
from explorer.ui import links, nav

keras_compat.guard_clear_session()  # Streamlit clears Keras's session after every run: not mid-build
st.set_page_config(page_title="Architecture Explorer", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/build.py", title="Build", icon=":material/account_tree:", url_path="build"),
    st.Page("pages/budget.py", title="Budget", icon=":material/pie_chart:", url_path="budget"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/upload_file:", url_path="inspect"),
    st.Page("pages/code.py", title="Code", icon=":material/code:", url_path="code"),
    st.Page("pages/present.py", title="Present", icon=":material/co_present:", url_path="present"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
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
