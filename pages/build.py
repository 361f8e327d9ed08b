"""Build: pick a builder and a preset, tweak its config, see its graph, parameters and layers."""

import streamlit as st

from explorer.analysis import analyse
from explorer.builders import REGISTRY, get_builder, presets_of
from explorer.errors import ExplorerError
from explorer.spec import Spec
from explorer.ui import graph_viewer as gv
from explorer.ui import links, tables
from explorer.ui.config_form import config_form
from explorer.ui.nav import through_app
from explorer.ui.session import NO_PRESET, Session, widget

through_app()

ses = Session(st.session_state)
current = ses.spec
# A session's first Build page comes in two passes: the title and the graph, then (once the
# browser reports the drawing on screen) the whole page; see graph_viewer.graph_first.
first = gv.graph_first(st.session_state)


def sidebar(current: Spec) -> tuple[str, str | None, Spec, dict, list[str]]:
    """The builder, preset and config form: ``(builder, preset, base, overrides, form_errors)``."""
    with st.sidebar:
        names = list(REGISTRY)
        builder = st.selectbox(
            "Builder", names, index=names.index(current.builder),
            format_func=lambda n: f"{n} — {REGISTRY[n].description}",
        )
        presets = [p.name for p in presets_of(builder)]
        if builder != current.builder:  # a new builder starts from its first preset
            current = Spec(builder, presets[0] if presets else None)
        options = [NO_PRESET, *presets]
        choice = st.selectbox("Preset", options, index=options.index(current.preset or NO_PRESET))
        preset = None if choice == NO_PRESET else choice
        base = Spec(builder, preset)
        st.subheader("Config")
        overrides, form_errors = config_form(builder, preset, get_builder(builder).config_cls, base.config)
    return builder, preset, base, overrides, form_errors


if first:  # the session's spec, as the form would give it (a link or Home wrote both)
    builder, preset, base = current.builder, current.preset, Spec(current.builder, current.preset)
    overrides, form_errors = dict(current.overrides), []
else:
    builder, preset, base, overrides, form_errors = sidebar(current)

ses.reveal = None  # Present opened from here starts at its first step

st.html("""<style>
.st-key-build-numbers { min-height: 57px; }
.st-key-build-numbers [data-testid="stMetricValue"] { font-size: 1.35rem; }
.st-key-build-numbers [data-testid="stMetric"] { padding: 0; }
.st-key-build-stale { opacity: 0.45; filter: grayscale(0.6); }
.st-key-build-head h1 { padding: 0 0 0.2rem 0 !important; }
""" + gv.CONTROLS_CSS + "</style>")

with st.container(key="build-head"):
    head, link_col = st.columns([3, 2], vertical_alignment="bottom")
    if not first:
        c1, c2, c3 = link_col.columns(3)
        c1.page_link("pages/budget.py", label="Budget", icon=":material/pie_chart:")
        c2.page_link("pages/code.py", label="Code", icon=":material/code:")
        c3.page_link("pages/present.py", label="Present", icon=":material/co_present:")

# A value that does not give an architecture is refused with its message, and the last valid
# architecture stays on screen, dimmed and marked "not updated", until the form is valid again.
# The heading's parts are drawn in order, none emptied to be filled later: an emptied caption
# made everything below it jump for a frame on every rerun.
problems = list(form_errors)
spec = None
try:
    spec = Spec(builder, preset, overrides)
except ExplorerError as exc:
    problems.append(str(exc))
head.title((spec or base).label)
if spec is not None and not problems:
    try:
        with head, st.spinner("Analysing the architecture..."):
            a = analyse(spec)
    except ExplorerError as exc:
        problems.append(str(exc))
if problems:
    shown = ses.spec
    head.caption(f"Not updated: still showing the last valid architecture, {shown.label}.")
else:
    shown = spec
    ses.spec = spec  # read by the Budget, Compare, Code, Present and Train pages
    # A changed preset's description says what changed; one that equals another preset shows that
    # preset's description, so where it came from is added.
    came = f" · {spec.name} with " + ", ".join(f"`{c}`" for c in spec.changes) if spec.overrides and spec.equal_preset else ""
    head.caption(spec.description + came)
for msg in problems:
    st.error(msg)
if problems:
    try:
        a = analyse(shown)
    except ExplorerError:
        st.stop()
    box = st.container(key="build-stale")
    box.warning(f"Not updated — this is {shown.label}, the last valid architecture. Fix the value above to see yours.",
                icon=":material/history:")
else:
    box = st.container()

g = a.graph

with box:
    numbers = st.container(key="build-numbers")  # empty in the graph-first pass, at the same height
    if first:
        numbers.markdown("&nbsp;")
    else:
        c1, c2, c3, c4 = numbers.columns(4)
        c1.metric("Total params", f"{g.total_params:,}")
        c2.metric("Trainable", f"{g.trainable_params:,}")
        c3.metric("Non-trainable", f"{g.non_trainable_params:,}")
        c4.metric("Layers", f"{len(g.nodes):,}")
    gv.section(g, st.session_state, f"{shown.builder}:{shown.preset}", shown.slug,
               after=lambda: links.sync(st.session_state, st.query_params, "build"), first=first)
    if first:
        st.stop()  # the rest comes with the whole page, once the browser has drawn the graph

    st.caption(f"Blocks found by: {g.grouping}." + (" RF: receptive field of one output element on the input "
               "(through every path, padding ignored); jump: its effective stride." if tables.has_fields(g) else ""))
    # The tables open on demand: sent with the page, their Arrow data and grid code held the
    # graph back by about a second in Chromium (DenseNet-201), so only an open expander runs them.
    tables_box = st.expander("Tables: per block and per layer (params, output, receptive field)",
                             key=widget("build", "tables"), on_change="rerun", icon=":material/table:")
    if tables_box.open:
        with tables_box:
            tab_blocks, tab_layers = st.tabs(["Blocks", "Layers"])
            tab_blocks.dataframe(tables.block_table(g), hide_index=True, width="stretch")
            tab_layers.dataframe(tables.layer_table(g), hide_index=True, width="stretch")
