"""Build: pick a builder and a preset, tweak its config, see its graph, parameters and layers."""

import streamlit as st

from explorer.analysis import analyse
from explorer.builders import REGISTRY, get_builder, get_preset, presets_of, resolve
from explorer.config import make_config
from explorer.errors import ExplorerError
from explorer.graph import format_shape
from explorer.summary import block_rows
from explorer.ui import graph_viewer as gv
from explorer.ui import state
from explorer.ui.config_form import config_form
from explorer.ui.nav import through_app

through_app()

state.init(st.session_state)
ss = st.session_state

with st.sidebar:
    names = list(REGISTRY)
    builder = st.selectbox(
        "Builder", names, index=names.index(ss[state.BUILDER]),
        format_func=lambda n: f"{n} — {REGISTRY[n].description}",
    )
    if builder != ss[state.BUILDER]:
        ss[state.BUILDER] = builder
        ss[state.PRESET] = (presets_of(builder) or [None])[0] and presets_of(builder)[0].name
    options = [state.NO_PRESET] + [p.name for p in presets_of(builder)]
    current = ss[state.PRESET] if ss[state.PRESET] in options else state.NO_PRESET
    choice = st.selectbox("Preset", options, index=options.index(current))
    preset = None if choice == state.NO_PRESET else choice
    ss[state.PRESET] = preset
    cls = get_builder(builder).config_cls
    base = make_config(cls, **get_preset(preset).overrides) if preset else cls()
    st.subheader("Config")
    overrides, form_errors = config_form(builder, preset, cls, base)

head, links = st.columns([3, 2], vertical_alignment="bottom")
head.title(preset or builder)
if preset:
    head.caption(get_preset(preset).description)
with links:
    c1, c2, c3 = st.columns(3)
    c1.page_link("pages/budget.py", label="Budget", icon=":material/pie_chart:")
    c2.page_link("pages/code.py", label="Code", icon=":material/code:")
    c3.page_link("pages/present.py", label="Present", icon=":material/co_present:")

for msg in form_errors:
    st.error(msg)
try:
    spec = resolve(builder, preset, overrides)
    ss[state.SPEC] = spec  # read by the Budget, Compare, Code, Present and Train pages
    with st.spinner("Analysing the architecture..."):
        a = analyse(spec)
except ExplorerError as exc:
    st.error(str(exc))
    st.stop()

g = a.graph
c1, c2, c3, c4 = st.columns(4)
c1.metric("Total params", f"{g.total_params:,}")
c2.metric("Trainable", f"{g.trainable_params:,}")
c3.metric("Non-trainable", f"{g.non_trainable_params:,}")
c4.metric("Layers", f"{len(g.nodes):,}")
if overrides:
    st.caption("Changed from the preset: " + ", ".join(f"`{k}={v}`" for k, v in overrides.items()))

st.subheader("Graph")
gv.section(g, ss, f"{builder}:{preset}")

tab_blocks, tab_layers = st.tabs(["Blocks", "Layers"])
with tab_blocks:
    st.dataframe(
        [
            {"block": r.path, "layers": r.layers, "output": format_shape(r.output_shape), "params": r.params}
            for r in block_rows(g)
        ],
        hide_index=True, width="stretch",
    )
with tab_layers:
    st.dataframe(
        [
            {
                "layer": n.id, "type": n.cls, "block": n.block, "config": n.summary,
                "output": ", ".join(format_shape(s) for s in n.output_shapes), "params": n.params,
            }
            for n in g.nodes
        ],
        hide_index=True, width="stretch",
    )
