"""Compare: A and B side by side, what changed drawn on one graph, and per-block deltas (B - A)."""

import streamlit as st

from explorer import charts
from explorer.builders import PRESETS, REGISTRY, resolve
from explorer.compare import METRICS, apply_tweaks, compare_specs, delta_table, side_metrics, suggest_tweak
from explorer.diff import diff_graphs, toggle_expand
from explorer.errors import ExplorerError
from explorer.render import ViewOptions, diff_dot, expandable
from explorer.ui import graph_viewer as gv
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)

BUILD = "(the Build page's config)"
targets = [BUILD, *PRESETS, *REGISTRY]
DETAIL = {"stages": "Stages", "blocks": "All blocks"}

st.title("Compare")
st.caption("Pick A and B (a preset, a builder's defaults, or the Build page's config) and tweak either with "
           "`field=value` pairs separated by spaces, e.g. `growth_rate=24` or `depth=56 version=2`. "
           "Units are Budget's: activations in bytes for one example in float32.")


def side(col, name: str, suggest: bool):
    """Draw one side's pickers; returns the spec or raises ExplorerError.

    With ``suggest``, the Build page's config starts with a what-if tweak (e.g. ``growth_rate=24``).
    """
    with col:
        st.subheader(name)
        target = st.selectbox(f"{name}: architecture", targets, index=0, key=widget("cmp", f"{name}:target"))
        base = ses.spec if target == BUILD else resolve(target)
        default = suggest_tweak(base) if suggest and target == BUILD else ""
        tweaks = st.text_input(f"{name}: tweaks", value=default, key=widget("cmp", f"{name}:tweaks", target),
                               placeholder="e.g. growth_rate=24", max_chars=300)
        spec, _ = apply_tweaks(base, tweaks)
        return spec


with st.sidebar:
    level = st.radio("Match blocks by", ["stages", "blocks"], index=0, horizontal=True, key=widget("cmp", "level"),
                     help="for the charts and the table; the graph has its own switch")
    metric = st.selectbox("Chart metric", [m for m in METRICS if m != "flops"], index=3, key=widget("cmp", "metric"),
                          format_func=lambda m: charts.LABELS[m])
col_a, col_b = st.columns(2)
try:
    spec_a = side(col_a, "A", suggest=False)
    spec_b = side(col_b, "B", suggest=True)
    with st.spinner("Analysing A and B..."):
        c, ana_a, ana_b = compare_specs(spec_a, spec_b, spec_a.label, spec_b.label,
                                        depth=1 if level == "stages" else None)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

# Each side its own column of metrics; B's deltas are signed and neutral (an increase is no error).
for col, which in ((col_a, "a"), (col_b, "b")):
    with col:
        st.caption(f"**{which.upper()}** = {c.label_a if which == 'a' else c.label_b} "
                   f"(`{(ana_a if which == 'a' else ana_b).graph.name}`)")
        cards = side_metrics(c, which)
        for row in (cards[:2], cards[2:]):  # two by two: values and deltas are never cut off
            for cell, m in zip(st.columns(2), row, strict=True):
                cell.metric(m["title"], m["value"], delta=m["delta"], delta_color="off", help=m["help"])
if c.totals["delta"] == dict.fromkeys(METRICS, 0) and ana_a.graph == ana_b.graph:
    st.info("A and B are the same architecture: pick another one for B or add a tweak, e.g. `depth=56`.")

st.subheader("What changed, on the graph")
gk = widget("cmp", "diff")
many = max(len(ana_a.graph.blocks()), len(ana_b.graph.blocks())) > 30
g1, g2 = st.columns([2, 5])
detail = g1.segmented_control("Blocks shown", list(DETAIL), format_func=DETAIL.get, key=widget("cmp", "view"),
                              default="stages" if many else "blocks") or "blocks"
expand_key = widget("cmp", "expand")
openable = list(dict.fromkeys(expandable(ana_a.graph) + expandable(ana_b.graph)))
ses.set(expand_key, [e for e in (ses.get(expand_key) or []) if e in openable])
expand = tuple(g2.multiselect("Opened blocks (or click a block in the graph)", openable, key=expand_key,
                              placeholder="click a block to see its layers"))
opts = ViewOptions("mixed" if expand else "blocks", expand=expand, depth=1 if detail == "stages" else None)
try:
    diff = diff_graphs(ana_a.graph, ana_b.graph, opts)
    dot = diff_dot(diff)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
counts = diff.counts()
st.caption(
    f"One graph of A and B: **{counts['added']}** added (green, only in B), **{counts['removed']}** removed "
    f"(red, dashed: only in A), **{counts['changed']}** changed (yellow: params, MACs, shape or layers differ; "
    f"A → B shown) and **{counts['same']}** the same (grey). Blocks match by path, else by structure."
)


def _picked() -> None:
    new = toggle_expand(diff, (ses.get(gk) or {}).get("picked"))
    if new is not None:
        ses.set(expand_key, [e for e in openable if e in new])


gv.show(dot, [], key=gk, on_pick=_picked, height=560)
gv.downloads(dot, f"diff-{spec_a.slug}-vs-{spec_b.slug}", key=gk)  # download keys scoped by the viewer's

left, right = st.columns(2)
left.plotly_chart(charts.delta_bars(c, metric), width="stretch", key=widget("cmp", "delta"),
                  config=charts.PLOTLY_CONFIG)
right.plotly_chart(charts.compare_bars(c, metric), width="stretch", key=widget("cmp", "bars"),
                   config=charts.PLOTLY_CONFIG)

st.subheader("Per block")
rows = delta_table(c)
fmt = {k: st.column_config.NumberColumn(format="localized") for k in (rows[0] if rows else {}) if k not in ("block", "in")}
st.dataframe(rows, hide_index=True, width="stretch", key=widget("cmp", "table"), column_config=fmt)
