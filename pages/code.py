"""Code: the readable Keras functional-API source behind the architecture configured on Build."""

import streamlit as st

from explorer.codegen import generate
from explorer.errors import ExplorerError
from explorer.model_io import untrained_model_bytes
from explorer.ui import state
from explorer.ui.nav import through_app

through_app()

state.init(st.session_state)
ss = st.session_state

try:
    spec = state.current_spec(ss)
    with st.spinner("Writing the code..."):
        source = generate(spec)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

label = spec.preset or spec.builder
st.title(f"Code: {label}")
st.caption(
    "Keras functional API that rebuilds exactly this architecture (same layers, configs, connections "
    "and parameter counts). Blocks with the same structure share one function. Tweak it on Build."
)
fname = f"{label.replace('-', '_')}_model"
c1, c2 = st.columns(2)
c1.download_button("Download .py", source, file_name=f"{fname}.py", mime="text/x-python", icon=":material/code:")
if c2.button("Prepare the untrained model (.keras)", icon=":material/deployed_code:"):
    with st.spinner("Building and saving the model..."):
        ss["code:keras"] = (spec, untrained_model_bytes(spec))
saved = ss.get("code:keras")
if saved and saved[0] == spec:
    c2.download_button("Download .keras", saved[1], file_name=f"{fname}.keras", mime="application/zip",
                       icon=":material/download:")
st.code(source, language="python", line_numbers=True)
