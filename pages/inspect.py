"""Inspect: upload your own saved model (.keras, legacy .h5) and see its graph and budget.

The file is read as data, never trusted (``explorer.model_io.read_graph``): archive limits, only
standard Keras classes, the architecture rebuilt without weights in a child process with memory
and time limits. Size-limited (EXPLORER_MAX_MODEL_MB). Uploads are kept in the store's folder.
"""

from pathlib import Path

import streamlit as st

from explorer import charts, sandbox
from explorer.analysis import analyse_file
from explorer.budget import block_table, budget
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.graph import parse_input_size
from explorer.model_io import max_model_bytes
from explorer.summary import refusal
from explorer.ui import graph_viewer as gv
from explorer.ui.access import unlocked
from explorer.ui.nav import through_app
from explorer.ui.session import widget
from explorer.uploads import store_upload

through_app()

ss = st.session_state

st.title("Inspect your own model")
st.caption(
    f"Upload a Keras model saved with `model.save('model.keras')` (or a legacy `.h5`), up to "
    f"{max_model_bytes() / 2**20:.0f} MB. Only its architecture is read, without weights and in a separate "
    "process: no code from the file runs, so Lambda layers and custom layers are refused."
)
if not unlocked(ss, "upload models"):
    st.stop()
sandbox.warm()  # start the checking process while the student picks a file
upload = st.file_uploader("Model file", type=["keras", "h5", "hdf5"], key=widget("inspect", "upload"))
if upload is None:
    st.info("Drop a `.keras` file above. Tip: the **Code** page downloads any architecture as `.keras`.")
    st.stop()

try:
    path = store_upload(upload.name, upload.getvalue(), "model")
    with st.spinner("Reading the architecture safely..."):
        a = analyse_file(str(path), upload.name)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

g = a.graph
b = budget(g)
refused = refusal(g, b.unknown_dims)
if refused:
    st.warning("This model's input size is unknown, so its MACs and activations cannot be counted. "
               "Give a size to count them at that size.")
    size_text = st.text_input("Input size (the unknown dimensions, e.g. 224,224)", key=widget("inspect", "size"))
    if size_text:
        try:
            with st.spinner("Tracing the model at that size..."):
                a = analyse_file(str(path), upload.name, parse_input_size(size_text))
        except ExplorerError as exc:
            st.error(str(exc))
        else:
            g = a.graph
            b = budget(g)
            refused = refusal(g, b.unknown_dims)
st.subheader(f"{upload.name} — {g.name}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Total params", f"{g.total_params:,}")
c2.metric("Trainable", f"{g.trainable_params:,}")
c3.metric("MACs", "unknown" if refused else human(b.total.macs),
          help=refused or f"{b.total.macs:,} multiply-accumulates per example")
c4.metric("Layers", f"{len(g.nodes):,}")
st.caption(f"Blocks found by: {g.grouping}.")

gv.section(g, ss, f"upload:{path.stem}", Path(upload.name).stem)

left, right = st.columns(2)
left.plotly_chart(charts.hierarchy(b, "params"), width="stretch", key=widget("inspect", "hier"))
right.plotly_chart(charts.params_vs_macs(b), width="stretch", key=widget("inspect", "bars"))
st.dataframe(block_table(b), hide_index=True, width="stretch", key=widget("inspect", "blocks"))
