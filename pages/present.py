"""Present: a projector view for live demos — big type, no chrome, the model revealed step by step.

Each step frames its new part (highlighted, earlier parts dimmed) with the step before it;
→ / PageDown / Space, ← / PageUp, Home, End and F (full screen) work as soon as the page loads.
"""

import streamlit as st

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.errors import ExplorerError
from explorer.fmt import human
from explorer.present import BY, clamp, convert_step, frame_ids, note, reveal, step_info, units
from explorer.render import ViewOptions, display_ids
from explorer.ui import graph_viewer as gv
from explorer.ui.nav import through_app
from explorer.ui.session import Session

through_app()

ses = Session(st.session_state)

# Large type, high contrast, and no sidebar, header or toolbar.
st.html("""<style>
html { font-size: 19px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stAppViewContainer"], [data-testid="stMain"] { background: #ffffff; color: #000000; }
.block-container { padding-top: 0.6rem !important; padding-bottom: 0.5rem !important; max-width: 100% !important; }
[data-testid="stMetricValue"] { font-size: 1.5rem; font-weight: 700; color: #000000; }
[data-testid="stMetricLabel"] p { font-size: 0.95rem; color: #111111; }
.st-key-present-overview p { font-size: 1.35rem; font-weight: 700; margin: 0; line-height: 1.35; overflow-wrap: anywhere; }
.st-key-present-note { margin-top: 0.15rem; }
.st-key-present-note p { font-size: 0.85rem; font-weight: 400; line-height: 1.35; color: #343a40; }
h1 { padding: 0 !important; font-size: 1.8rem !important; }
</style>""")

try:
    spec = ses.spec
    a = analyse(spec)
    g = a.graph
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

head, mode, exit_col = st.columns([5, 3, 1], vertical_alignment="center")
head.title(spec.label)
by = mode.segmented_control("Reveal by", list(BY), key=ses.reveal_by_widget(), label_visibility="collapsed",
                            format_func=lambda b: f"by {b}") or ses.reveal_by
if exit_col.button("Exit", icon=":material/close_fullscreen:", width="stretch"):
    st.switch_page("pages/build.py")

steps = units(g, by)
# One position: switching stage/block mode keeps the place (a stage opens at its first block).
n = convert_step(g, ses.reveal or 1, ses.reveal_by, by)  # the same mode: clamped
ses.set_reveal(n, by)


def go(to: int) -> None:
    """Move to step ``to`` (clamped)."""
    ses.reveal = clamp(to, len(steps))


def on_slider() -> None:
    go(ses.reveal_slider)


def on_key() -> None:
    """A presenter key from the viewer: next, back, first, last."""
    here = ses.reveal or 1
    go({"next": here + 1, "back": here - 1, "first": 1, "last": len(steps)}.get(ses.presenter_key(by), here))


info = step_info(g, n, by, model_macs=budget(g).total.macs)
with st.container(key="present-overview", gap="small"):
    st.markdown(info.overview())
    with st.container(key="present-note"):
        st.markdown(note(g, n, by, info.model_macs))

back, slider, nxt = st.columns([1, 6, 1], vertical_alignment="center")
back.button("◀ Back", on_click=go, args=(n - 1,), width="stretch", disabled=n <= 1)
nxt.button("Next ▶", on_click=go, args=(n + 1,), width="stretch", disabled=n >= len(steps))
slider.slider(f"Step {n} of {len(steps)}", 1, max(len(steps), 2), key=ses.reveal_step_widget, on_change=on_slider,
              disabled=len(steps) < 2, label_visibility="collapsed")

part = reveal(g, n, by)
b = budget(part)
graph_col, numbers = st.columns([4, 1])
numbers.metric("Params so far", human(part.total_params), f"{100 * part.total_params / max(g.total_params, 1):.0f}% of all",
               delta_color="off", delta_arrow="off")
numbers.metric("MACs so far", human(b.total.macs), f"{100 * b.total.macs / max(info.model_macs, 1):.0f}% of all",
               delta_color="off", delta_arrow="off")
numbers.metric("Layers so far", f"{len(part.nodes):,}", f"of {len(g.nodes):,}", delta_color="off", delta_arrow="off")

opts = ViewOptions("blocks", "LR", depth=1 if by == "stage" else None, legend=False)
try:
    dot = gv.page_dot(part, opts)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()
new, context = frame_ids(display_ids(part, opts), g, n, by)
with graph_col:
    gv.present(dot, new, context, key=ses.reveal_viewer(by), on_key=on_key, step_sig=f"{by}:{n}")
