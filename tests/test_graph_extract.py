"""Graph extraction invariants: every preset, plus nested, shared, multi-output, Sequential and saved models."""

from __future__ import annotations

import collections

import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer.analysis import analyse
from explorer.builders import PRESETS, resolve
from explorer.graph import extract
from explorer.render import to_dot


@pytest.fixture(scope="module", params=sorted(PRESETS))
def graph(request):
    return analyse(resolve(request.param)).graph


def check_graph(g) -> None:
    """Invariants any extracted graph keeps."""
    ids = [n.id for n in g.nodes]
    assert len(ids) == len(set(ids)), "node ids are unique"
    order = {nid: i for i, nid in enumerate(ids)}
    for e in g.edges:
        assert e.src in order and e.dst in order
        assert order[e.src] < order[e.dst], f"{e.src} -> {e.dst} breaks the topological order"
    by_call = collections.defaultdict(list)
    for e in g.edges:
        by_call[(e.dst, e.call)].append(e)
    for n in g.nodes:
        for k, call in enumerate(n.calls):
            edges = sorted(by_call.get((n.id, k), []), key=lambda e: e.dst_input)
            assert [e.dst_input for e in edges] == list(range(len(call.input_shapes)))
            assert tuple(e.shape for e in edges) == call.input_shapes
            for e in edges:
                src = g.node(e.src)
                assert e.shape in {s for c in src.calls for s in c.output_shapes}
    assert set(g.inputs) <= set(ids) and set(g.outputs) <= set(ids)
    assert all(g.node(i).is_input for i in g.inputs)
    assert sum(n.params for n in g.nodes) == g.total_params


def test_every_preset(graph):
    check_graph(graph)


@pytest.fixture(scope="module")
def keras():
    import keras as k

    return k


def test_nested_model(keras):
    inner_in = keras.Input((8,), name="enc_in")
    encoder = keras.Model(inner_in, keras.layers.Dense(4, name="enc_dense")(inner_in), name="encoder")
    x = keras.Input((8,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="out")(encoder(x)), name="nested")
    g = extract(model)
    check_graph(g)
    node = g.node("encoder")
    assert node.children is not None and [n.id for n in node.children.nodes] == ["enc_in", "enc_dense"]
    assert node.params == node.children.total_params == 36
    assert [p for p, _n in g.walk()] == ["", "", "encoder", "encoder", ""]


def test_shared_layer(keras):
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = keras.layers.Dense(3, name="shared_dense")
    out = keras.layers.Add(name="sum")([shared(a), shared(b)])
    g = extract(keras.Model([a, b], out))
    check_graph(g)
    node = g.node("shared_dense")
    assert len(node.calls) == 2 and node.params == 18
    assert sorted((e.src, e.call) for e in g.edges if e.dst == "shared_dense") == [("a", 0), ("b", 1)]
    assert g.total_params == 18, "a shared layer's weights count once"


def test_multi_output_and_sequential(keras):
    i = keras.Input((6,), name="i")
    t = keras.layers.Dense(6, name="trunk")(i)
    multi = keras.Model(i, {"a": keras.layers.Dense(2, name="head_a")(t), "b": keras.layers.Dense(3, name="head_b")(t)})
    g = extract(multi)
    check_graph(g)
    assert set(g.outputs) == {"head_a", "head_b"}
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(2, name="d2")])
    gs = extract(seq)
    check_graph(gs)
    assert [n.cls for n in gs.nodes][-2:] == ["Dense", "Dense"]


def test_saved_model_draws_like_the_original(keras, tmp_path):
    from explorer.model_io import load_model_file

    x = keras.Input((8, 8, 1), name="img")
    y = keras.layers.Conv2D(4, 3, name="conv")(x)
    z = keras.layers.Add(name="add")([y, keras.layers.Conv2D(4, 3, name="conv_b")(x)])
    model = keras.Model(x, keras.layers.Flatten(name="flat")(z), name="saved")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model_file(path)
    a, b = extract(model), extract(loaded)
    check_graph(b)
    for view in ("blocks", "layers"):
        assert to_dot(a, view) == to_dot(b, view)
