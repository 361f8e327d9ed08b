"""Code: the readable Keras functional-API source behind the architecture configured on Build."""

import streamlit as st

from explorer.codegen import generate
from explorer.errors import ExplorerError
from explorer.model_io import untrained_model_bytes
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)

try:
    spec = ses.spec
    with st.spinner("Writing the code..."):
        source = generate(spec)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

st.title(f"Code: {spec.label}")
st.caption(
    "Keras functional API that rebuilds exactly this architecture (same layers, configs, connections "
    "and parameter counts). Blocks with the same structure share one function, with what differs "
    "between them (e.g. `filters`) as its parameters; runs of alike blocks are loops. Lines are at "
    "most 99 characters. Tweak it on Build."
)
fname = f"{spec.slug}_model"
c1, c2 = st.columns(2)
c1.download_button("Download .py", source, file_name=f"{fname}.py", mime="text/x-python", icon=":material/code:",
                   key=widget("code", "download"))
if c2.button("Prepare the untrained model (.keras)", icon=":material/deployed_code:", key=widget("code", "keras")):
    with st.spinner("Building and saving the model..."):
        ses.prepared_keras = (spec, untrained_model_bytes(spec))
saved = ses.prepared_keras
if saved and saved[0] == spec:
    c2.download_button("Download .keras", saved[1], file_name=f"{fname}.keras", mime="application/zip",
                       icon=":material/download:")
st.code(source, language="python", line_numbers=True, wrap_lines=True)
