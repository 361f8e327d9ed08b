"""Compare: what-if of two architectures (A and B), totals side by side and per-block deltas (B - A)."""

import streamlit as st

from explorer import charts
from explorer.builders import PRESETS, REGISTRY, resolve
from explorer.compare import METRICS, apply_tweaks, compare_specs, delta_table, suggest_tweak
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)

BUILD = "(the Build page's config)"
targets = [BUILD, *PRESETS, *REGISTRY]

st.title("Compare")
st.caption("Pick A and B (a preset, a builder's defaults, or the Build page's config) and tweak either with "
           "`field=value` pairs separated by spaces, e.g. `growth_rate=24` or `depth=56 version=2`.")


def side(col, name: str, suggest: bool):
    """Draw one side's pickers; returns (spec, label) or raises ExplorerError.

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
        return spec, spec.label


with st.sidebar:
    level = st.radio("Match blocks by", ["stages", "blocks"], index=0, horizontal=True, key=widget("cmp", "level"))
    metric = st.selectbox("Chart metric", [m for m in METRICS if m != "flops"], index=3, key=widget("cmp", "metric"),
                          format_func=lambda m: charts.LABELS[m])
col_a, col_b = st.columns(2)
try:
    spec_a, label_a = side(col_a, "A", suggest=False)
    spec_b, label_b = side(col_b, "B", suggest=True)
    with st.spinner("Analysing A and B..."):
        c, ana_a, ana_b = compare_specs(spec_a, spec_b, label_a, label_b, depth=1 if level == "stages" else None)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

t = c.totals
cols = st.columns(4)
for col, (m, title) in zip(cols, [("params", "Params"), ("macs", "MACs"), ("activations", "Activations"),
                                  ("layers", "Layers")], strict=True):
    a_val, b_val = t["a"][m], t["b"][m]
    ratio = f" ({b_val / a_val:.2f}×)" if a_val else ""
    delta = f"{'+' if b_val > a_val else ''}{human(b_val - a_val)}{ratio}" if b_val != a_val else None
    col.metric(f"{title}: A {human(a_val)} → B", human(b_val), delta=delta, delta_color="inverse",
               help=f"A: {a_val:,}  B: {b_val:,}")
if not any(t["delta"].values()):
    st.info("A and B are the same architecture: pick another one for B or add a tweak, e.g. `depth=56`.")
st.caption(f"**A** = {c.label_a} ({ana_a.graph.name}) · **B** = {c.label_b} ({ana_b.graph.name})")

left, right = st.columns(2)
left.plotly_chart(charts.delta_bars(c, metric), width="stretch", key=widget("cmp", "delta"))
right.plotly_chart(charts.compare_bars(c, metric), width="stretch", key=widget("cmp", "bars"))

st.subheader("Per block")
rows = delta_table(c)
fmt = {k: st.column_config.NumberColumn(format="localized") for k in (rows[0] if rows else {}) if k not in ("block", "in")}
st.dataframe(rows, hide_index=True, width="stretch", key=widget("cmp", "table"), column_config=fmt)
