"""Graph rendering: golden DOT files, invariants over every preset, special models, CLI, browser.

Golden files live in ``tests/golden``; regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_render.py``
and review the diff.

pydot's parser is pure Python and takes ~10 s on a 700-layer DOT file, so every block view and
every layer view up to ``PYDOT_MAX_LAYERS`` layers goes through pydot, and every layer view (all
sizes) through graphviz's own parser and layout (``dot -Tjson0``), whose node and edge lists
the invariants are checked against.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pydot
import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer.analysis import analyse
from explorer.builders import PRESETS, build_model, resolve
from explorer.cli import main as cli_main
from explorer.errors import ConfigError, GraphError
from explorer.graph import INPUT_BLOCK, extract
from explorer.render import (
    BLOCK_PREFIX,
    ViewOptions,
    default_view,
    expandable,
    have_dot,
    layer_macs,
    layout,
    png_size,
    skip_kinds,
    to_dot,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_MODELS = ("mnist-cnn", "ynet", "resnet20")
PYDOT_MAX_LAYERS = 120
needs_dot = pytest.mark.skipif(not have_dot(), reason="graphviz 'dot' is not installed")


def graph_of(name: str):
    return analyse(resolve(name)).graph


def update_golden(request) -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def dot_json(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Node names and (tail, head) edges as graphviz itself parses ``text``."""
    out = subprocess.run(["dot", "-Tjson0"], input=text.encode(), capture_output=True, check=True, timeout=120)
    j = json.loads(out.stdout)
    objects = j.get("objects", [])
    names = {o["_gvid"]: o["name"] for o in objects}
    nodes = [o["name"] for o in objects if "nodes" not in o]  # clusters list their nodes
    edges = [(names[e["tail"]], names[e["head"]]) for e in j.get("edges", [])]
    return nodes, edges


def pydot_parse(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Node names and edges as pydot parses ``text`` (clusters walked)."""
    (g,) = pydot.graph_from_dot_data(text)
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []

    def walk(sg) -> None:
        nodes.extend(n.get_name().strip('"') for n in sg.get_nodes() if n.get_name().strip('"') not in ("node", "edge", "graph"))
        edges.extend((e.get_source().strip('"'), e.get_destination().strip('"')) for e in sg.get_edges())
        for sub in sg.get_subgraphs():
            walk(sub)

    walk(g)
    return nodes, edges


# ------------------------------------------------------------------ golden files

@pytest.mark.parametrize("view", ["blocks", "layers"])
@pytest.mark.parametrize("name", GOLDEN_MODELS)
def test_golden_dot(name, view, request):
    text = to_dot(graph_of(name), view)
    path = GOLDEN / f"{name}-{view}.dot"
    if update_golden(request) or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
        if not update_golden(request):
            pytest.fail(f"golden file {path.name} was missing and has been written; review and commit it")
    assert text == path.read_text(), f"{path.name} changed; rerun with UPDATE_GOLDEN=1 and review the diff"


# ------------------------------------------------------------------ invariants over the registry

@pytest.fixture(scope="module", params=sorted(PRESETS))
def preset_graph(request):
    return request.param, graph_of(request.param)


def test_layer_view_nodes_and_edges(preset_graph):
    _name, g = preset_graph
    text = to_dot(g, "layers")
    if have_dot():
        nodes, edges = dot_json(text)
    else:
        nodes, edges = pydot_parse(text)
    assert sorted(nodes) == sorted(n.id for n in g.nodes), "one layer-view node per layer"
    assert collections.Counter(edges) == collections.Counter((e.src, e.dst) for e in g.edges)


def test_block_view_nodes_are_the_blocks(preset_graph):
    _name, g = preset_graph
    text = to_dot(g, "blocks")
    nodes, edges = pydot_parse(text)
    inputs = [n.id for n in g.nodes if n.is_input]
    expected = inputs + [BLOCK_PREFIX + b for b in g.blocks() if b != INPUT_BLOCK]
    assert sorted(nodes) == sorted(expected)
    assert len(set(edges)) == len(edges), "one edge per block pair"
    declared = set(nodes)
    assert all(s in declared and d in declared for s, d in edges)
    # Every tensor crossing blocks is represented by an edge between the blocks it connects.
    where = {n.id: (n.id if n.is_input else BLOCK_PREFIX + n.block) for n in g.nodes}
    crossing = {(where[e.src], where[e.dst]) for e in g.edges if where[e.src] != where[e.dst]}
    assert set(edges) == crossing


def test_pydot_parses_layer_view(preset_graph):
    _name, g = preset_graph
    if len(g.nodes) > PYDOT_MAX_LAYERS:
        pytest.skip(f"{len(g.nodes)} layers: pydot's parser is too slow; graphviz parsed it in the test above")
    nodes, edges = pydot_parse(to_dot(g, "layers"))
    assert len(nodes) == len(g.nodes) and len(edges) == len(g.edges)


@needs_dot
def test_views_lay_out_with_dot(preset_graph):
    _name, g = preset_graph
    for opts in (ViewOptions("blocks"), ViewOptions("blocks", depth=1), ViewOptions("layers", "LR")):
        image = layout(to_dot(g, opts), "svg")
        assert image.lstrip().startswith(b"<?xml") and b"</svg>" in image


def test_mixed_view_expands_the_chosen_block(preset_graph):
    _name, g = preset_graph
    blocks = [b for b in g.blocks() if b != INPUT_BLOCK]
    chosen = blocks[len(blocks) // 2]
    nodes, _ = pydot_parse(to_dot(g, "mixed", expand=[chosen]))
    layers_in = {n.id for n in g.nodes if n.block == chosen}
    assert layers_in <= set(nodes)
    assert BLOCK_PREFIX + chosen not in nodes
    assert {BLOCK_PREFIX + b for b in blocks if b != chosen} <= set(nodes)


def test_same_dot_across_two_builds():
    for name in ("ynet", "resnet20", "densenet-40-12", "resnet50"):
        spec = resolve(name)
        a, b = extract(build_model(spec, weights=False)), extract(build_model(spec, weights=False))
        for view in ("blocks", "layers"):
            assert to_dot(a, view) == to_dot(b, view), f"{name} {view} view differs between builds"


# ------------------------------------------------------------------ Keras's own inbound connections

def keras_inbound_edges(model) -> collections.Counter:
    """(source, destination) of every inbound tensor, from the model's serialised config."""
    edges: collections.Counter = collections.Counter()

    def tensors(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__":
                yield obj["config"]["keras_history"][0]
            else:
                for v in obj.values():
                    yield from tensors(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from tensors(v)

    for layer in model.get_config()["layers"]:
        for node in layer["inbound_nodes"]:
            for src in tensors(node.get("args", ())):
                edges[(src, layer["name"])] += 1
    return edges


@pytest.mark.parametrize("name", ["mnist-cnn", "ynet", "resnet20", "resnet56v2", "densenet-40-12", "resnet50"])
def test_layer_view_edges_match_keras_config(name):
    model = build_model(resolve(name), weights=False)
    g = extract(model)
    nodes, edges = pydot_parse(to_dot(g, "layers")) if len(g.nodes) <= PYDOT_MAX_LAYERS else dot_json(to_dot(g, "layers"))
    assert collections.Counter(edges) == keras_inbound_edges(model)
    assert sorted(nodes) == sorted(layer.name for layer in model.layers)


# ------------------------------------------------------------------ special models

@pytest.fixture(scope="module")
def special_models():
    import keras

    # Nested: an encoder model used as a layer.
    inner_in = keras.Input((8,), name="enc_in")
    h = keras.layers.Dense(4, name="enc_dense1")(inner_in)
    h = keras.layers.Dense(4, activation="relu", name="enc_dense2")(h)
    encoder = keras.Model(inner_in, h, name="encoder")
    x = keras.Input((8,), name="x")
    y = keras.layers.Dense(2, name="out")(encoder(x))
    nested = keras.Model(x, y, name="nested")

    # Shared: one Dense layer applied to two inputs.
    a = keras.Input((5,), name="a")
    b = keras.Input((5,), name="b")
    shared = keras.layers.Dense(3, name="shared_dense")
    merged = keras.layers.Concatenate(name="merge")([shared(a), shared(b)])
    shared_model = keras.Model([a, b], keras.layers.Dense(1, name="head")(merged), name="shared")

    # Multi-output: one trunk, two heads.
    i = keras.Input((6,), name="i")
    t = keras.layers.Dense(6, name="trunk")(i)
    multi = keras.Model(i, [keras.layers.Dense(2, name="head_a")(t), keras.layers.Dense(3, name="head_b")(t)],
                        name="multi")
    return {"nested": nested, "shared": shared_model, "multi": multi}


def test_nested_model_is_one_node_until_expanded(special_models):
    model = special_models["nested"]
    g = extract(model)
    nodes, edges = pydot_parse(to_dot(g, "layers"))
    assert sorted(nodes) == sorted(["x", "encoder", "out"])
    assert "encoder" in expandable(g)
    text = to_dot(g, "layers", expand=["encoder"])
    nodes, edges = pydot_parse(text)
    assert "encoder" not in nodes
    assert {"encoder.enc_in", "encoder.enc_dense1", "encoder.enc_dense2"} <= set(nodes)
    assert ("x", "encoder.enc_in") in edges and ("encoder.enc_dense2", "out") in edges
    assert ("encoder.enc_dense1", "encoder.enc_dense2") in edges
    assert 'subgraph "cluster_model:encoder"' in text
    if have_dot():
        layout(text, "svg")


def test_shared_layer_is_one_node_with_an_edge_per_call(special_models):
    model = special_models["shared"]
    g = extract(model)
    text = to_dot(g, "layers")
    nodes, edges = pydot_parse(text)
    assert nodes.count("shared_dense") == 1
    assert sorted(e for e in edges if e[1] == "shared_dense") == [("a", "shared_dense"), ("b", "shared_dense")]
    assert edges.count(("shared_dense", "merge")) == 2
    assert 'label="call 1"' in text and 'label="call 2"' in text and "shared: 2 calls" in text
    assert collections.Counter(edges) == keras_inbound_edges(model)


def test_multi_output_model_marks_both_outputs(special_models):
    model = special_models["multi"]
    g = extract(model)
    assert g.outputs == ("head_a", "head_b")
    text = to_dot(g, "layers")
    _nodes, edges = pydot_parse(text)
    assert ("trunk", "head_a") in edges and ("trunk", "head_b") in edges
    for head in ("head_a", "head_b"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f'"{head}" ['))
        assert "penwidth=2.2" in line
    assert collections.Counter(edges) == keras_inbound_edges(model)


# ------------------------------------------------------------------ styling and options

def test_skip_connections_are_styled():
    g = graph_of("resnet20")
    kinds = skip_kinds(g)
    adds = [n.id for n in g.nodes if n.cls == "Add"]
    assert sorted(g.edges[i].dst for i in kinds) == sorted(adds), "one residual edge into every Add"
    assert set(kinds.values()) == {"residual"}
    dense = skip_kinds(graph_of("densenet-40-12"))
    assert dense and set(dense.values()) == {"dense"}
    assert not skip_kinds(graph_of("ynet")), "the two arms of a Y are not skips"
    assert "style=dashed" in to_dot(g, "layers")


def test_merge_layers_drawn_distinctly():
    text = to_dot(graph_of("resnet20"), "layers")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith('"stage1_block1_add" ['))
    assert "shape=ellipse" in line


def test_macs_shown_on_layers_and_summed_on_blocks():
    g = graph_of("mnist-cnn")
    macs = {n.id: 1000 for n in g.nodes}
    layer_text = to_dot(g, "layers", macs=macs)
    assert layer_text.count("1,000 MACs") == 2 * len(g.nodes)  # in each label and each tooltip
    block_text = to_dot(g, "blocks", macs=macs)
    head = [n for n in g.nodes if n.block == "head"]
    assert f"{len(head) * 1000:,} MACs" in block_text


def test_depth_collapses_to_stages_and_expands_one_level():
    g = graph_of("densenet201")
    nodes, _ = pydot_parse(to_dot(g, ViewOptions("blocks", depth=1)))
    tops = {b.split("/")[0] for b in g.blocks() if b != INPUT_BLOCK}
    assert {n for n in nodes if n.startswith(BLOCK_PREFIX)} == {BLOCK_PREFIX + t for t in tops}
    nodes, _ = pydot_parse(to_dot(g, ViewOptions("mixed", depth=1, expand=("conv4", "conv4/block3"))))
    assert BLOCK_PREFIX + "conv4/block1" in nodes and BLOCK_PREFIX + "conv4" not in nodes
    assert "conv4_block3_1_conv" in nodes and BLOCK_PREFIX + "conv4/block3" not in nodes


def test_rankdir_and_defaults():
    g = graph_of("resnet20")
    assert "rankdir=LR" in to_dot(g, "layers", rankdir="LR")
    assert "splines=ortho" not in to_dot(g, "layers")
    assert default_view(graph_of("mnist-cnn")) == "layers"
    assert default_view(graph_of("densenet201")) == "blocks"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"view": "tree"}, "view"), ({"rankdir": "BT"}, "rankdir"), ({"expand": ["nope"]}, "expand")],
)
def test_bad_options_name_the_field(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        to_dot(graph_of("mnist-cnn"), **kwargs)


def test_labels_are_escaped():
    from dataclasses import replace

    g = graph_of("mnist-cnn")
    odd = replace(g.nodes[1], id='we"ird\\name')
    edges = tuple(replace(e, src=odd.id) if e.src == g.nodes[1].id else
                  replace(e, dst=odd.id) if e.dst == g.nodes[1].id else e for e in g.edges)
    g2 = replace(g, nodes=(g.nodes[0], odd, *g.nodes[2:]), edges=edges)
    nodes, _ = pydot_parse(to_dot(g2, "layers"))
    assert len(nodes) == len(g.nodes)
    if have_dot():
        layout(to_dot(g2, "layers"), "svg")


# ------------------------------------------------------------------ export without graphviz

def test_missing_dot_says_how_to_install(monkeypatch):
    monkeypatch.setenv("EXPLORER_DOT", "no-such-graphviz-binary")
    with pytest.raises(GraphError, match="install graphviz"):
        layout(to_dot(graph_of("mnist-cnn")), "svg")


@needs_dot
def test_png_is_capped():
    text = to_dot(graph_of("densenet-40-12"), "layers")
    w, h = png_size(layout(text, "png", png_max_side=2000))
    assert max(w, h) <= 2000


# ------------------------------------------------------------------ CLI

def test_cli_prints_dot(capsys):
    assert cli_main(["graph", "mnist-cnn", "--view", "layers"]) == 0
    out = capsys.readouterr().out
    assert out == to_dot(graph_of("mnist-cnn"), "layers")


@needs_dot
@pytest.mark.parametrize("ext", ["dot", "svg", "png"])
def test_cli_writes_each_format(tmp_path, ext):
    target = tmp_path / f"g.{ext}"
    assert cli_main(["graph", "resnet20", "--expand", "stage2", "--rankdir", "LR", "-o", str(target)]) == 0
    data = target.read_bytes()
    magic = {"dot": b"digraph", "svg": b"<?xml", "png": b"\x89PNG"}[ext]
    assert data.startswith(magic)


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    assert cli_main(["graph", "mnist-cnn", "-o", str(tmp_path / "g.jpg")]) == 2
    assert cli_main(["graph", "mnist-cnn", "--expand", "nowhere"]) == 2
    monkeypatch.setenv("EXPLORER_DOT", "no-such-graphviz-binary")
    assert cli_main(["graph", "mnist-cnn", "-o", str(tmp_path / "g.svg")]) == 2
    assert cli_main(["graph", "mnist-cnn", "-o", str(tmp_path / "g.dot")]) == 0, "DOT needs no graphviz"
    err = capsys.readouterr().err.strip().splitlines()
    assert [ln.startswith("error: ") for ln in err] == [True, True, True, False]
    assert "install graphviz" in err[2]
    assert not (tmp_path / "g.svg").exists()


def test_cli_in_a_subprocess(tmp_path):
    target = tmp_path / "ynet.dot"
    proc = subprocess.run([sys.executable, "-m", "explorer", "graph", "ynet", "--view", "layers", "-o", str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == to_dot(graph_of("ynet"), "layers")
    proc = subprocess.run([sys.executable, "-m", "explorer", "graph", "ynet", "--view", "sideways"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ the Build page in a browser

def _viewer_sig(page) -> str:
    return page.locator(".gv-canvas[data-sig]").get_attribute("data-sig")


@pytest.mark.browser
@needs_dot
def test_build_page_graph_follows_the_config(app_url, page, artifacts):
    from tests.conftest import wait_app_idle

    page.goto(f"{app_url}/build")
    page.wait_for_selector(".gv-canvas svg g.node", timeout=120_000)
    wait_app_idle(page)
    before = _viewer_sig(page)
    nodes_before = page.locator(".gv-canvas g.node").count()
    assert nodes_before == len(graph_of("mnist-cnn").nodes)  # small model: layer view by default
    page.screenshot(path=str(artifacts / "graph-build-before.png"))

    box = page.get_by_label("conv layers", exact=True).and_(page.locator("input"))
    box.fill("2")
    box.press("Enter")
    page.wait_for_function(
        "(old) => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)"
        ".map(r => r.querySelector('.gv-canvas[data-sig]')).concat([document.querySelector('.gv-canvas[data-sig]')])"
        ".some(el => el && el.dataset.sig !== old)",
        arg=before, timeout=120_000,
    )
    wait_app_idle(page)
    assert page.locator(".gv-canvas g.node").count() == nodes_before - 2  # one conv and one pool fewer
    page.screenshot(path=str(artifacts / "graph-build-after.png"))

    page.get_by_label("Find layers").fill("pool")
    page.get_by_label("Find layers").press("Enter")
    page.wait_for_selector(".gv-canvas g.node.gv-hit", timeout=60_000)
    wait_app_idle(page)
    hits = page.locator(".gv-canvas g.node.gv-hit").count()
    assert hits == 1  # block1_pool (the second pool went with the removed conv layer)
    page.screenshot(path=str(artifacts / "graph-build-search.png"))


# ------------------------------------------------------------------ the Build page in AppTest

def _graphviz_dot(at) -> str:
    (chart,) = at.get("graphviz_chart")
    return chart.proto.spec


def test_build_page_without_graphviz_falls_back_and_follows_the_config(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from explorer.ui.session import field_key

    monkeypatch.setenv("EXPLORER_DOT", "no-such-graphviz-binary")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run().switch_page("pages/build.py").run()
    assert not at.exception
    assert any("Install graphviz" in i.value for i in at.info)
    before = _graphviz_dot(at)
    assert before == to_dot(graph_of("mnist-cnn"), "layers", macs=layer_macs(graph_of("mnist-cnn")))
    at.number_input(key=field_key("cnn", "mnist-cnn", "conv_layers")).set_value(2).run()
    assert not at.exception
    after = _graphviz_dot(at)
    assert after != before and "block3_conv" in before and "block3_conv" not in after
    at.text_input(key="graph:query:cnn:mnist-cnn").set_value("conv").run()
    assert any("2 layer(s)" in c.value for c in at.caption)
    assert any("Install graphviz" in c.value or "install graphviz" in c.value for c in at.caption)


@needs_dot
def test_build_page_with_graphviz_runs_the_viewer():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run().switch_page("pages/build.py").run()
    assert not at.exception
    assert not at.get("graphviz_chart"), "the pan/zoom viewer replaces st.graphviz_chart"
    assert len(at.get("download_button")) == 3


def test_cli_depth_shows_stages(capsys):
    assert cli_main(["graph", "resnet20", "--depth", "1"]) == 0
    nodes, _ = pydot_parse(capsys.readouterr().out)
    assert sorted(n for n in nodes if n.startswith(BLOCK_PREFIX)) == [
        BLOCK_PREFIX + b for b in ("head", "stage1", "stage2", "stage3", "stem")]
    assert cli_main(["graph", "resnet20", "--depth", "0"]) == 2
    assert "depth" in capsys.readouterr().err


def test_a_new_mixed_drawing_centres_on_the_block_last_opened_or_closed():
    """Blocks opened out of graph order: the drawing centres on the one just clicked (it centred
    on the last in graph order, a stage away), and one DOT serves a set of open blocks in any order."""
    from explorer.ui import graph_viewer as gv
    from explorer.ui.session import graph_keys

    g = graph_of("densenet201")
    k = graph_keys("test")
    state: dict = {}

    def pick(node_id):
        gv.toggle_pick(state, node_id, g, k["view"], k["expand"], k["focus"])
        choice = gv.controls(g, state, k, draw=False)
        return choice, gv.focus_id(g, choice.options, choice.focus)

    def first_shown(opts, block):
        shown = gv.display_ids(g, opts)
        return shown[next(n.id for n in g.nodes if n.block == block or n.block.startswith(block + "/"))]

    pick(BLOCK_PREFIX + "conv5")
    choice, focus = pick(BLOCK_PREFIX + "conv3")
    assert state[k["expand"]] == ["conv5", "conv3"]  # the order they were opened
    assert choice.options.expand == ("conv3", "conv5")  # graph order: one drawing per set
    assert focus == first_shown(choice.options, "conv3") and focus.startswith(BLOCK_PREFIX + "conv3/")
    choice, focus = pick(BLOCK_PREFIX + "conv3/block2")
    layer = focus
    assert not layer.startswith(BLOCK_PREFIX) and g.node(layer).block == "conv3/block2"
    choice, focus = pick(layer)  # a layer of it: closes conv3/block2, centred on its box again
    assert state[k["expand"]] == ["conv5", "conv3"]
    assert focus == BLOCK_PREFIX + "conv3/block2"
    other = dict(state, **{k["expand"]: ["conv3", "conv5"]})
    assert gv.page_dot(g, gv.controls(g, other, k, draw=False).options) == gv.page_dot(g, choice.options)


def test_picking_blocks_expands_and_collapses():
    from explorer.ui import graph_viewer as gv

    g = graph_of("densenet201")
    state: dict = {"v": "blocks", "e": []}
    gv.toggle_pick(state, BLOCK_PREFIX + "conv4", g, "v", "e")
    assert state == {"v": "mixed", "e": ["conv4"]}
    gv.toggle_pick(state, BLOCK_PREFIX + "conv4/block3", g, "v", "e")
    assert state["e"] == ["conv4", "conv4/block3"]
    opts = ViewOptions("mixed", expand=tuple(state["e"]), depth=1)
    assert gv.focus_id(g, opts) == "conv4_block3_0_bn"
    gv.toggle_pick(state, "conv4_block3_1_conv", g, "v", "e")  # a layer: collapse its deepest block
    assert state["e"] == ["conv4"]
    gv.toggle_pick(state, "no-such-node", g, "v", "e")
    assert state["e"] == ["conv4"]
    assert gv.highlight_ids(g, gv.search(g, "conv4_block3_1_conv"), ViewOptions("blocks", depth=1)) == [
        BLOCK_PREFIX + "conv4"]
