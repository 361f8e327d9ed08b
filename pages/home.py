"""Home: what the explorer is, and a jump to any preset."""

import streamlit as st

from explorer.builders import REGISTRY, presets_of, resolve
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)

st.title("Architecture Explorer")
st.markdown(
    "Pick a Keras functional-API architecture — the tutorial CNN, ResNet v1/v2, DenseNet and "
    "DenseNet-BC, a two-input Y network, the Keras Applications ResNets and DenseNets — tweak it, "
    "and see its layers and where its parameters go, block by block."
)

st.subheader("Jump to a preset")
for b in REGISTRY.values():
    presets = presets_of(b.name)
    with st.container(border=True):
        st.markdown(f"**`{b.name}`** — {b.description}")
        cols = st.columns(min(len(presets), 5) or 1)
        for i, p in enumerate(presets):
            if cols[i % len(cols)].button(p.name, key=widget("home", "preset", p.name), help=p.description):
                ses.show(resolve(p.name))
                st.switch_page("pages/build.py")
