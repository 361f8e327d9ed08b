"""Present: a projector view for live demos — big type, no chrome, the model revealed step by step."""

import streamlit as st

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.present import enlarge_fonts, reveal, stages
from explorer.render import ViewOptions, layer_macs, to_dot
from explorer.ui import graph_viewer as gv
from explorer.ui.nav import through_app
from explorer.ui.session import REVEAL, Session, widget

through_app()

ses = Session(st.session_state)
ss = st.session_state

# Large type, high contrast, and no sidebar, header or toolbar.
st.html("""<style>
html { font-size: 19px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stAppViewContainer"], [data-testid="stMain"] { background: #ffffff; color: #000000; }
.block-container { padding-top: 1rem !important; max-width: 100% !important; }
[data-testid="stMetricValue"] { font-size: 1.9rem; font-weight: 700; color: #000000; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem; color: #111111; }
</style>""")

try:
    spec = ses.spec
    g = analyse(spec).graph
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

head, mode, exit_col = st.columns([4, 2, 1], vertical_alignment="center")
head.title(spec.label)
by = mode.segmented_control("Reveal by", ["stage", "block"], default="stage", key=widget("present", "by")) or "stage"
if exit_col.button("Exit", icon=":material/close_fullscreen:", width="stretch"):
    st.switch_page("pages/build.py")

units = stages(g) if by == "stage" else g.blocks()
key = f"{REVEAL}:{by}"
ss.setdefault(key, min(ses.reveal or len(units), len(units)))
ss[key] = max(1, min(ss[key], len(units)))


def step(delta: int) -> None:
    """Move the build-up one unit back or forward."""
    ss[key] = max(1, min(ss[key] + delta, len(units)))


back, slider, nxt = st.columns([1, 6, 1], vertical_alignment="bottom")
back.button("◀ Back", on_click=step, args=(-1,), width="stretch", disabled=ss[key] <= 1)
nxt.button("Next ▶", on_click=step, args=(1,), width="stretch", disabled=ss[key] >= len(units))
n = slider.slider(f"Showing the first {ss[key]} of {len(units)} {by}s", 1, max(len(units), 2), key=key,
                  disabled=len(units) < 2, label_visibility="collapsed")
ses.reveal = n

part = reveal(g, n, by)
b = budget(part)
full = budget(g)
graph_col, numbers = st.columns([4, 1])
numbers.metric(f"{by.title()} {n} of {len(units)}", units[n - 1])
numbers.metric("Params so far", human(part.total_params), f"{100 * part.total_params / max(g.total_params, 1):.0f}% of all",
               delta_color="off", delta_arrow="off")
numbers.metric("MACs so far", human(b.total.macs), f"{100 * b.total.macs / max(full.total.macs, 1):.0f}% of all",
               delta_color="off", delta_arrow="off")
numbers.metric("Layers so far", f"{len(part.nodes):,}", f"of {len(g.nodes):,}", delta_color="off", delta_arrow="off")

opts = ViewOptions("blocks", "LR", depth=1 if by == "stage" else None, legend=False)
try:
    dot = enlarge_fonts(to_dot(part, opts, macs=layer_macs(part)))
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
with graph_col:
    gv.show(dot, [], key=widget("present", "viewer", by), on_pick=None, height=430)
