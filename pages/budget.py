"""Budget: where the parameters, the compute (MACs) and the activation memory go, block by block."""

import csv
import io

import streamlit as st

from explorer import charts
from explorer.analysis import analyse
from explorer.budget import DTYPES, block_table, budget, layer_table
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.memory import DEFAULT_OPTIMIZER, OPTIMIZER_SLOTS, fits, max_batch, training_memory, training_total
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)


def columns(rows: list[dict]) -> dict:
    """Column formats: thousands separators, percents, bytes; names shown in full."""
    keys = rows[0].keys() if rows else []
    return {
        k: st.column_config.TextColumn(width="large") if k in ("block", "layer")
        else st.column_config.NumberColumn(format="%.2f%%") if k.endswith("%")
        else st.column_config.NumberColumn(format="bytes") if k.endswith("bytes")
        else st.column_config.NumberColumn(format="localized")
        for k in keys if k not in ("type", "output")
    }


def as_csv(rows: list[dict]) -> str:
    """The rows of a table as CSV text (header from the first row)."""
    out = io.StringIO()
    if rows:
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out.getvalue()


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
    st.subheader("Training memory")
    optimizer = st.selectbox("Optimizer", list(OPTIMIZER_SLOTS), index=list(OPTIMIZER_SLOTS).index(DEFAULT_OPTIMIZER),
                             key=widget("budget", "optimizer"),
                             help="optimizer slots per trainable weight: Adam 2, SGD with momentum 1, SGD 0")
    memory_gb = st.number_input("Memory (GB)", min_value=0.5, max_value=1024.0, value=16.0, step=0.5,
                                key=widget("budget", "gb"), help="the accelerator's (or machine's) memory, in GiB")
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
    st.plotly_chart(charts.hierarchy(b, metric, kind), width="stretch", key=widget("budget", "hier"),
                    config=charts.chart_config(f"{spec.slug}-{metric}-{kind}"))
with right:
    st.plotly_chart(charts.params_vs_macs(b, depth), width="stretch", key=widget("budget", "bars"),
                    config=charts.chart_config(f"{spec.slug}-params-vs-macs"))
left, right = st.columns(2)
left.plotly_chart(charts.trainable_split(b, depth), width="stretch", key=widget("budget", "train"),
                  config=charts.chart_config(f"{spec.slug}-trainable"))
right.plotly_chart(charts.activation_memory(b, depth), width="stretch", key=widget("budget", "act"),
                   config=charts.chart_config(f"{spec.slug}-activations"))
st.caption("Colours follow the stage in every chart. Hover a bar or sector for its full name and value; "
           "the camera icon above a chart saves it as PNG.")

st.subheader("By block")
rows = block_table(b, depth)
paths = [r["block"] for r in rows]
drill_key = widget("budget", "drill", depth)
table_key = widget("budget", "blocks", depth)


def _row_picked() -> None:
    """A clicked row of the block table opens that block's layers below."""
    sel = (ses.get(table_key) or {}).get("selection", {}).get("rows", [])
    if sel and sel[0] < len(paths):
        ses.set(drill_key, paths[sel[0]])


st.caption("Click a row to see its layers below; click a column header to sort.")
st.dataframe(rows, hide_index=True, width="stretch", key=table_key, column_config=columns(rows),
             on_select=_row_picked, selection_mode="single-row")
st.download_button("Download the block table (CSV)", as_csv(rows), f"{spec.slug}-blocks.csv", "text/csv",
                   key=widget("budget", "csv_blocks"), on_click="ignore", icon=":material/download:")

st.subheader("Layers of a block")
top = max(rows, key=lambda r: r["MACs"])["block"] if rows else None
pick = st.selectbox("Block", ["(all layers)", *paths], index=1 + paths.index(top) if top else 0,
                    key=drill_key)
layer_rows = layer_table(b, "" if pick == "(all layers)" else pick)
st.dataframe(layer_rows, hide_index=True, width="stretch", key=widget("budget", "layers"),
             column_config=columns(layer_rows))
st.download_button("Download these layers (CSV)", as_csv(layer_rows), f"{spec.slug}-layers.csv", "text/csv",
                   key=widget("budget", "csv_layers"), on_click="ignore", icon=":material/download:")

st.subheader("Training memory")
tm = training_total(b, optimizer)
ok = fits(tm.total, memory_gb)
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric(f"Training ×{batch} {dtype}", human(tm.total, "B"),
          help="weights + gradients + optimizer slots + activations kept for the backward pass")
m2.metric("Weights", human(tm.weights, "B"), help="float32 (float64 when training in float64)")
m3.metric("Gradients", human(tm.gradients, "B"))
m4.metric(f"Optimizer ({optimizer})", human(tm.optimizer, "B"))
m5.metric("Activations", human(tm.activations, "B"))
largest = max_batch(b, optimizer, memory_gb)
verdict = (f"Fits in {memory_gb:g} GB" if ok else f"Does not fit in {memory_gb:g} GB") + (
    f": the largest batch that fits is about {largest:,}." if largest else ": not even the weights and optimizer state fit.")
(st.success if ok else st.error)(verdict)
st.caption("An estimate: the framework's workspace and the runtime come on top (see the README for the ratio "
           "measured against TensorFlow's allocator).")
mem_rows = [
    {"block": m.path, "training bytes": m.total, "weights bytes": m.weights, "gradients bytes": m.gradients,
     "optimizer bytes": m.optimizer, "activations bytes": m.activations}
    for m in training_memory(b, optimizer, depth)
]
st.dataframe(mem_rows, hide_index=True, width="stretch", key=widget("budget", "memory"),
             column_config=columns(mem_rows))
