"""Budget: where the parameters, the compute (MACs) and the activation memory go, block by block."""

import streamlit as st

from explorer import charts
from explorer.analysis import analyse
from explorer.budget import DTYPES, block_table, budget, layer_table
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)


def columns(rows: list[dict]) -> dict:
    """Column formats: thousands separators, percents, bytes."""
    keys = rows[0].keys() if rows else []
    return {
        k: st.column_config.NumberColumn(format="%.2f%%") if k.endswith("%")
        else st.column_config.NumberColumn(format="bytes") if k.endswith("bytes")
        else st.column_config.NumberColumn(format="localized")
        for k in keys if k not in ("block", "layer", "type", "output")
    }


try:
    spec = ses.spec
    with st.spinner("Analysing the architecture..."):
        a = analyse(spec)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

st.title(f"Budget: {a.label}")
st.caption("The architecture configured on the **Build** page. MACs and FLOPs (= 2 × MACs) are for one "
           "example; element-wise ops count one MAC per element, bias adds are not counted.")

with st.sidebar:
    st.subheader("Activation memory")
    batch = st.number_input("Batch size", min_value=1, max_value=65536, value=1, step=1, key=widget("budget", "batch"))
    dtype = st.selectbox("dtype", list(DTYPES), key=widget("budget", "dtype"))
    st.subheader("Blocks")
    levels = {"stages": 1, "blocks": None}
    many = len(a.graph.blocks()) > 30  # long bar charts: start from stages
    level = st.radio("Group by", list(levels), index=0 if many else 1, horizontal=True, key=widget("budget", "level"),
                     help="stages roll blocks up to the first part of their path (stage2/block3 -> stage2)")
depth = levels[level]

b = budget(a.graph, int(batch), dtype)
t = b.total
c1, c2, c3, c4 = st.columns(4)
c1.metric("Params", human(t.params), help=f"{t.params:,} ({t.trainable_params:,} trainable)")
c2.metric("MACs", human(t.macs), help=f"{t.macs:,} multiply-accumulates per example")
c3.metric("FLOPs", human(t.flops), help=f"{t.flops:,} = 2 × MACs")
c4.metric(f"Activations ×{batch} {dtype}", human(b.activation_bytes(t.activations), "B"),
          help=f"{t.activations:,} output elements per example")
if b.uncounted:
    st.warning(f"No MAC formula for {', '.join(b.uncounted)}: counted as 0.")

left, right = st.columns(2)
with left:
    m_col, k_col = st.columns([3, 2])
    metric = m_col.radio("Size sectors by", ["params", "macs", "activations"], horizontal=True,
                         key=widget("budget", "metric"), format_func=lambda m: charts.LABELS[m])
    kind = k_col.radio("Chart", ["sunburst", "treemap"], horizontal=True, key=widget("budget", "kind"))
    st.plotly_chart(charts.hierarchy(b, metric, kind), width="stretch", key=widget("budget", "hier"))
with right:
    st.plotly_chart(charts.params_vs_macs(b, depth), width="stretch", key=widget("budget", "bars"))
left, right = st.columns(2)
left.plotly_chart(charts.trainable_split(b, depth), width="stretch", key=widget("budget", "train"))
right.plotly_chart(charts.activation_memory(b, depth), width="stretch", key=widget("budget", "act"))

st.subheader("By block")
st.caption("Click a column header to sort.")
rows = block_table(b, depth)
st.dataframe(rows, hide_index=True, width="stretch", key=widget("budget", "blocks"), column_config=columns(rows))

st.subheader("Layers of a block")
paths = [r["block"] for r in rows]
top = max(rows, key=lambda r: r["MACs"])["block"] if rows else None
pick = st.selectbox("Block", ["(all layers)", *paths], index=1 + paths.index(top) if top else 0,
                    key=widget("budget", "drill", depth))
layer_rows = layer_table(b, "" if pick == "(all layers)" else pick)
st.dataframe(layer_rows, hide_index=True, width="stretch", key=widget("budget", "layers"), column_config=columns(layer_rows))
