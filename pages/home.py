"""Home: what the explorer is for, a primer on residual and dense connections, first steps, presets."""

import base64

import streamlit as st

from explorer.analysis import analyse
from explorer.builders import REGISTRY, presets_of, resolve
from explorer.errors import ExplorerError
from explorer.render import ViewOptions, have_dot, layer_macs, svg, to_dot
from explorer.ui.nav import through_app
from explorer.ui.session import Session, widget

through_app()

ses = Session(st.session_state)

# What each page is for: (page file, one line).
PAGES = (
    ("pages/build.py", "Build", "Pick an architecture, tweak its config, and read its graph block by block."),
    ("pages/budget.py", "Budget", "Where the parameters, the compute (MACs) and the activation memory go."),
    ("pages/compare.py", "Compare", "A and B side by side, and what changed drawn on one graph."),
    ("pages/code.py", "Code", "The Keras functional-API source that rebuilds the architecture."),
    ("pages/train.py", "Train", "Short training runs with live curves, to compare what-ifs."),
    ("pages/present.py", "Present", "The graph revealed stage by stage, for teaching in front of a class."),
    ("pages/inspect.py", "Inspect", "Upload your own saved .keras model and see its graph and budget."),
)

# The primer's two drawings: one model each, zoomed on one block in the mixed view.
PRIMER = (
    ("Residual connection (ResNet)", "resnet20", {}, ("stage2", "stage2/block2"),
     "A residual block computes a correction `F(x)` with two convolutions and **adds** its input back "
     "(the orange dashed edge into `add`): `y = relu(x + F(x))`. Gradients flow straight through the "
     "addition, which is why ResNets train at 110 layers and more."),
    ("Dense connection (DenseNet)", "densenet", {"depth": 22}, ("dense1", "dense1/layer2"),
     "A dense layer computes `k` new channels (the growth rate) and **concatenates** them to everything "
     "before it (the blue dashed edge into `concat`): each layer sees the features of all earlier "
     "layers, so the width grows by `k` per layer."),
)


@st.cache_data(show_spinner=False, max_entries=4)
def primer_svg(target: str, overrides: tuple, expand: tuple[str, ...]) -> str:
    """The SVG of a model in the mixed view with ``expand`` opened (stages elsewhere)."""
    a = analyse(resolve(target, overrides=dict(overrides)))
    dot = to_dot(a.graph, ViewOptions("mixed", "TB", expand, legend=False, depth=1), macs=layer_macs(a.graph))
    return svg(dot)


st.title("Architecture Explorer")
st.markdown(
    "Explore Keras functional-API architectures — the tutorial CNN, ResNet v1/v2, DenseNet and "
    "DenseNet-BC, a two-input Y network, the Keras Applications ResNets and DenseNets, or your own "
    "model: tweak them, see their layers and where their parameters go, compare and train them."
)

st.subheader("What each page is for")
for path, title, line in PAGES:
    c1, c2 = st.columns([1, 5])
    with c1:
        st.page_link(path, label=title)
    c2.markdown(line)

st.subheader("Start here")
steps = st.columns(3)
with steps[0], st.container(border=True):
    st.markdown("**See how ResNet-56 spends its parameters**")
    st.caption("Which stage holds most weights, and which does most of the compute?")
    if st.button("Open ResNet-56 on Budget", key=widget("home", "step", "budget"), icon=":material/pie_chart:"):
        ses.show(resolve("resnet56"))
        st.switch_page("pages/budget.py")
with steps[1], st.container(border=True):
    st.markdown("**What does growth rate do?**")
    st.caption("DenseNet-BC-100 with k=12 against k=24: every dense layer changes; by how much?")
    if st.button("Compare k=12 and k=24", key=widget("home", "step", "growth"), icon=":material/compare_arrows:"):
        ses.show(resolve("densenet-bc-100-12"))
        build = "(the Build page's config)"
        ses.set(widget("cmp", "A:target"), build)
        ses.set(widget("cmp", "B:target"), build)
        ses.set(widget("cmp", "A:tweaks", build), "")
        ses.set(widget("cmp", "B:tweaks", build), "growth_rate=24")
        st.switch_page("pages/compare.py")
with steps[2], st.container(border=True):
    st.markdown("**Train plain vs residual**")
    st.caption("Train ResNet-20 on the bundled MNIST subset, then the plain `mnist-cnn` (no skip "
               "connections): the Train page draws both runs' curves together.")
    if st.button("Train ResNet-20", key=widget("home", "step", "train"), icon=":material/model_training:"):
        ses.show(resolve("resnet20"))
        st.switch_page("pages/train.py")

st.subheader("Two ideas to know: residual and dense connections")
cols = st.columns(2)
for col, (title, target, overrides, expand, text) in zip(cols, PRIMER, strict=True):
    with col:
        st.markdown(f"**{title}**")
        st.markdown(text)
        if have_dot():
            try:
                image = primer_svg(target, tuple(sorted(overrides.items())), expand)
            except ExplorerError as exc:
                st.error(str(exc))
                continue
            data = base64.b64encode(image.encode()).decode()
            st.html(f'<div class="primer" style="text-align:center"><img alt="{title}: {target}" '
                    f'style="max-width:100%;max-height:720px" src="data:image/svg+xml;base64,{data}"></div>')
            label = resolve(target, overrides=overrides).label
            st.caption(f"`{label}` in the mixed view: stages as boxes, `{expand[-1]}` opened to its layers. "
                       "Open any block the same way on the Build page (click it).")

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
