"""Any Keras model: every Keras Applications family groups into 3-40 blocks, ops layers draw and
count, recurrent and attention layers have MAC formulas, unknown input sizes are refused or
re-traced, and random functional graphs (layers and ops) always analyse, count and draw."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorer  # noqa: F401  (numpy backend before Keras loads)
from explorer.analysis import analyse
from explorer.budget import budget, counted, node_macs
from explorer.builders import resolve
from explorer.builders.keras_app import ARCHS, FAMILIES
from explorer.cli import main
from explorer.graph import extract, with_input_size
from explorer.memory import training_total
from explorer.receptive import block_fields, receptive_fields
from explorer.render import to_dot
from explorer.summary import summary_dict

BY_STRUCTURE = {"inceptionv3", "inceptionresnetv2"}
BY_SCOPES = {"nasnetmobile", "nasnetlarge"}
SMALL = set(FAMILIES.values())


def _app(arch: str):
    return analyse(resolve("keras_app", overrides={"arch": arch})).graph


def _tops(graph) -> list[str]:
    return list(dict.fromkeys(n.block.split("/")[0] for n in graph.nodes if not n.is_input))


def _check_any(arch: str) -> None:
    g = _app(arch)
    tops = _tops(g)
    assert 3 <= len(tops) <= 40, (arch, g.grouping, tops)
    expected = "structure" if arch in BY_STRUCTURE else "scopes" if arch in BY_SCOPES else "names"
    assert g.grouping == expected
    # Meaningful: a group holding most of the model (ResNet101's conv4, ConvNeXt-S's stage_2) opens
    # into blocks of its own, so the graph and the charts can drill into it.
    layers = len(g.nodes)
    for top in tops:
        members = g.nodes_in(top)
        if len(members) >= 0.6 * layers:
            assert len({n.block for n in members}) >= 2, (arch, top, len(members))
    b = budget(g)
    assert b.uncounted == () and b.unknown_dims == ()
    assert b.total.params == g.total_params
    for view in ("blocks", "layers"):
        assert to_dot(g, view, macs={n.id: node_macs(n) for n in g.nodes}).startswith("digraph")
    d = summary_dict(arch, None, g, depth=1)
    assert d["grouping"] == expected and d["macs"] == b.macs
    assert all(r["receptive_field"] and r["jump"] for r in d["blocks"])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_groups_into_3_to_40_blocks(family):
    _check_any(FAMILIES[family])


@pytest.mark.slow
@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in SMALL])
def test_every_other_keras_application_groups_into_3_to_40_blocks(arch):
    _check_any(arch)


def test_family_blocks_are_the_papers_units():
    assert _tops(_app("convnexttiny")) == ["stem", "stage_0", "stage_1", "stage_2", "stage_3", "head"]
    assert _tops(_app("efficientnetb0")) == ["stem", *(f"block{i}" for i in range(1, 8)), "head"]
    assert _tops(_app("inceptionv3")) == ["stem", "mixed0..mixed2", "mixed3", "mixed4..mixed7", "mixed8",
                                          "mixed9..mixed10", "head"]
    assert _tops(_app("resnet50")) == ["conv1", "pool1", "conv2", "conv3", "conv4", "conv5", "head"]
    assert _tops(_app("mobilenetv2"))[:4] == ["stem", "expanded_conv", "block_1", "block_2"]
    irv2 = _app("inceptionresnetv2")
    assert {"block35", "block17", "block8", "mixed_6a", "mixed_7a"} <= set(_tops(irv2))
    assert [b for b in irv2.blocks() if b.startswith("block35/")] == [f"block35/block35_{i}" for i in range(1, 11)]


def test_ops_layers_are_nodes_that_count_and_draw():
    g = _app("convnexttiny")
    adds = [n for n in g.nodes if n.op]
    assert adds and {n.cls for n in adds} == {"Add"}
    add = adds[0]
    assert counted(add) and node_macs(add) == 56 * 56 * 96  # one add per output element
    assert any(e.dst == add.id for e in g.edges) and any(e.src == add.id for e in g.edges)
    assert f'"{add.id}"' in to_dot(g, "layers")
    scale = g.node("convnext_tiny_stage_0_block_0_layer_scale")
    assert node_macs(scale) == 56 * 56 * 96  # x * gamma
    mnv3 = _app("mobilenetv3small")
    mul = next(n for n in mnv3.nodes if n.op and n.cls == "Multiply")
    assert node_macs(mul) > 0 and budget(mnv3).uncounted == ()


# --- MAC formulas of recurrent, attention and op layers ------------------------------------


def _graph(inputs, outputs):
    import keras

    return extract(keras.Model(inputs, outputs))


def _cases():
    import keras
    from keras import layers as L
    from keras import ops

    def single(shape, fn):
        x = keras.Input(shape)
        return _graph(x, fn(x))

    return [
        # (id, graph factory, node name, expected MACs, arithmetic)
        ("simple-rnn", lambda: single((10, 6), L.SimpleRNN(4, name="t")), "t", 10 * (4 * (6 + 4) + 4),
         "T * (U*(F+U) + U)"),
        ("gru", lambda: single((10, 6), L.GRU(4, name="t")), "t", 10 * (3 * 4 * 10 + 7 * 4), "T * (3U(F+U) + 7U)"),
        ("lstm", lambda: single((10, 6), L.LSTM(4, return_sequences=True, name="t")), "t",
         10 * (4 * 4 * 10 + 8 * 4), "T * (4U(F+U) + 8U)"),
        ("bidirectional-lstm", lambda: single((10, 6), L.Bidirectional(L.LSTM(4), name="t")), "t",
         2 * 10 * (4 * 4 * 10 + 8 * 4), "both directions; concat merge is free"),
        ("time-distributed-dense", lambda: single((10, 6), L.TimeDistributed(L.Dense(3), name="t")), "t",
         10 * 6 * 3, "T * F*units"),
        ("mha-self", lambda: (lambda x: _graph(x, L.MultiHeadAttention(2, 4, name="t")(x, x)))(keras.Input((5, 8))),
         "t", 3 * 5 * 8 * 2 * 4 + 2 * 5 * 5 * 4 + 2 * 5 * 5 + 2 * 5 * 5 * 4 + 5 * 2 * 4 * 8,
         "Q,K,V projections 3*T*d*H*dk + QK^T H*T*T*dk + softmax H*T*T + AV H*T*T*dv + out T*H*dv*d"),
        ("op-add", lambda: (lambda a, b: _graph([a, b], ops.add(a, b)))(keras.Input((4, 3)), keras.Input((4, 3))),
         "add", 12, "one per output element"),
        ("op-scale", lambda: single((4, 3), lambda x: x * 2.0), "multiply", 12, "x * constant: one per element"),
        ("op-matmul", lambda: single((5, 6), lambda x: ops.matmul(x, ops.ones((6, 3)))), "matmul", 5 * 3 * 6,
         "out 5x3 * K=6"),
        ("op-einsum", lambda: (lambda a, b: _graph([a, b], ops.einsum("bij,bjk->bik", a, b)))(
            keras.Input((5, 6)), keras.Input((6, 3))), "einsum", 5 * 6 * 3, "i*j*k (b per example)"),
        ("op-mean", lambda: single((4, 3), lambda x: ops.mean(x, axis=1)), "mean", 12, "one per input element"),
        ("op-reshape", lambda: single((4, 3), lambda x: ops.reshape(x, (-1, 12))), "reshape", 0, "data movement"),
        ("einsum-dense", lambda: single((5, 6), L.EinsumDense("abc,cd->abd", output_shape=(5, 4), name="t")),
         "t", 5 * 4 * 6, "out 5x4 * contracted c=6"),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_hand_computed_macs(case):
    _, factory, name, expected, _arithmetic = case
    g = factory()
    node = g.node(name) if name in {n.id for n in g.nodes} else next(n for n in g.nodes if n.id.startswith(name))
    assert counted(node)
    assert node_macs(node) == expected
    assert budget(g).uncounted == ()


# --- unknown sizes ---------------------------------------------------------------------------


def _fcn():
    import keras
    from keras import layers as L

    x = keras.Input((None, None, 3))
    y = L.Conv2D(4, 3, padding="same", name="c1")(x)
    y = L.Conv2D(8, 3, strides=2, padding="same", name="c2")(y)
    return keras.Model(x, L.GlobalAveragePooling2D(name="gap")(y), name="fcn")


def test_unknown_input_size_is_refused_not_silently_small():
    g = extract(_fcn())
    b = budget(g)
    assert set(b.unknown_dims) >= {"c1", "c2"}
    d = summary_dict("fcn", None, g)
    assert d["macs"] is None and d["flops"] is None and "--input-size" in d["macs_refused"]


def test_input_size_retraces_at_that_size():
    import keras
    from keras import layers as L

    g = extract(with_input_size(_fcn(), (32, 32)))
    x = keras.Input((32, 32, 3))
    y = L.Conv2D(8, 3, strides=2, padding="same", name="c2")(L.Conv2D(4, 3, padding="same", name="c1")(x))
    fixed = extract(keras.Model(x, L.GlobalAveragePooling2D(name="gap")(y)))
    assert budget(g).unknown_dims == ()
    assert budget(g).macs == budget(fixed).macs == 32 * 32 * 4 * 27 + 16 * 16 * 8 * 36 + 16 * 16 * 8
    assert g.total_params == fixed.total_params


def test_cli_input_size_for_a_saved_model(tmp_path, capsys):
    path = tmp_path / "fcn.keras"
    model = _fcn()
    model.save(path)
    assert main(["summary", str(path), "--json"]) == 0
    refused = json.loads(capsys.readouterr().out)
    assert refused["macs"] is None and refused["macs_refused"]
    assert main(["summary", str(path), "--json", "--input-size", "32,32"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["macs"] == 32 * 32 * 4 * 27 + 16 * 16 * 8 * 36 + 16 * 16 * 8 and d["macs_refused"] is None
    for bad in (["--input-size", "32"], ["--input-size", "0,5"], ["--input-size", "a,b"]):
        assert main(["summary", str(path), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "input size" in err
    assert main(["summary", "resnet20", "--input-size", "32,32"]) == 2
    assert "input_shape" in capsys.readouterr().err


# --- property: random functional graphs of layers and ops ------------------------------------

LAYERS = ["conv", "dwconv", "sepconv", "bn", "ln", "relu", "pool", "dense", "dropout", "dilated", "upsample"]
OPS = ["op_add_const", "op_mul_const", "op_sigmoid", "op_mean_keep", "op_square"]
MERGES = ["add", "concat", "multiply", "op_add", "op_multiply", "op_max"]


@st.composite
def programs(draw):
    """A list of steps; each applies a layer/op to one earlier tensor or merges two."""
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            steps.append(("unary", draw(st.sampled_from(LAYERS + OPS)), draw(st.integers(0, 100))))
        else:
            steps.append(("merge", draw(st.sampled_from(MERGES)), draw(st.integers(0, 100)), draw(st.integers(0, 100))))
    head = draw(st.sampled_from(["gap", "flatten", "none"]))
    return steps, head


def _build(program):
    import keras
    from keras import layers as L
    from keras import ops

    steps, head = program
    x = keras.Input((8, 8, 4))
    tensors = [x]

    def unary(kind, t):
        return {
            "conv": lambda: L.Conv2D(4, 3, padding="same")(t),
            "dwconv": lambda: L.DepthwiseConv2D(3, padding="same")(t),
            "sepconv": lambda: L.SeparableConv2D(4, 3, padding="same")(t),
            "bn": lambda: L.BatchNormalization()(t),
            "ln": lambda: L.LayerNormalization()(t),
            "relu": lambda: L.ReLU()(t),
            "pool": lambda: L.UpSampling2D(2)(L.MaxPooling2D(2)(t)),
            "dense": lambda: L.Dense(4)(t),
            "dropout": lambda: L.Dropout(0.1)(t),
            "dilated": lambda: L.Conv2D(4, 3, dilation_rate=2, padding="same")(t),
            "upsample": lambda: L.AveragePooling2D(2)(L.UpSampling2D(2)(t)),
            "op_add_const": lambda: t + 1.0,
            "op_mul_const": lambda: t * 0.5,
            "op_sigmoid": lambda: ops.sigmoid(t),
            "op_mean_keep": lambda: t * ops.mean(t, axis=(1, 2), keepdims=True),
            "op_square": lambda: ops.square(t),
        }[kind]()

    def merge(kind, a, b):
        return {
            "add": lambda: L.Add()([a, b]),
            "concat": lambda: L.Conv2D(4, 1)(L.Concatenate()([a, b])),
            "multiply": lambda: L.Multiply()([a, b]),
            "op_add": lambda: ops.add(a, b),
            "op_multiply": lambda: a * b,
            "op_max": lambda: ops.maximum(a, b),
        }[kind]()

    for step in steps:
        if step[0] == "unary":
            tensors.append(unary(step[1], tensors[step[2] % len(tensors)]))
        else:
            tensors.append(merge(step[1], tensors[step[2] % len(tensors)], tensors[step[3] % len(tensors)]))
    y = tensors[-1]
    if head == "gap":
        y = L.Dense(3)(L.GlobalAveragePooling2D()(y))
    elif head == "flatten":
        y = L.Dense(3)(L.Flatten()(y))
    return keras.Model(x, y)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_functional_graphs_analyse_count_and_draw(program):
    import keras

    with keras.StatelessScope(initialize_variables=False):
        model = _build(program)
    g = extract(model)
    ids = {n.id for n in g.nodes}
    assert all(e.src in ids and e.dst in ids for e in g.edges)  # every op is a node
    b = budget(g, 4, "float16")
    assert b.total.params == g.total_params == model.count_params()
    assert b.uncounted == ()  # every layer and op of the grammar has a formula
    assert all(la.macs >= 0 for la in b.layers)
    for r in (b.partition(None), b.partition(1)):
        assert sum(x.macs for x in r) == b.macs
    fields = receptive_fields(g)
    assert all(all(s is None or s >= 1 for s in f.size) for f in fields.values())
    blocks = block_fields(g, fields)
    assert set(blocks) == set(g.blocks())
    for view in ("blocks", "layers", "mixed"):
        dot = to_dot(g, view)
        assert dot.startswith("digraph") and dot.count("{") == dot.count("}")
    assert training_total(b, "adam").total > 0
    summary_dict("random", None, g)


# --- independent counter: TensorFlow's profiler on every family ------------------------------

LINEAR = {"Conv1D", "Conv2D", "Conv3D", "Dense", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"}
TF_LINEAR_OPS = ("Conv2D", "MatMul", "DepthwiseConv2dNative", "Conv3D", "BatchMatMulV2")
TOTAL_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def tf_family_counts():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    names = [f"keras_app:{a}" for a in FAMILIES.values()]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(root / "tests" / "tf_flops.py"), *names], cwd=root, env=env,
                          capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_matches_tensorflow_profiler(tf_family_counts, family):
    arch = FAMILIES[family]
    tf = tf_family_counts[f"keras_app:{arch}"]
    g = _app(arch)
    b = budget(g)
    assert tf["params"] == g.total_params
    # Conv and Dense exactly (TF: 2 FLOPs per multiply-accumulate, no bias). TF's profiler counts a
    # grouped Conv2D (ConvNeXt's depthwise 7x7, Conv2D(groups=C)) as 0, so those are left out here.
    linear = sum(node_macs(n, fused_activation=False) for _, n in g.walk()  # nested: ConvNeXt's stem
                 if n.cls in LINEAR and int(n.config.get("groups") or 1) == 1)
    assert sum(tf["by_op"].get(op, 0) for op in TF_LINEAR_OPS) == 2 * linear
    # Windowed pooling: one op per window element in both.
    pools = sum(node_macs(n) for _, n in g.walk() if "Pooling" in n.cls and "Global" not in n.cls)
    assert sum(tf["by_op"].get(op, 0) for op in ("MaxPool", "AvgPool")) == pools
    # Everything, element-wise conventions included (see explorer/budget.py): within 3%.
    assert abs(b.flops - tf["total"]) / tf["total"] < TOTAL_TOLERANCE, (b.flops, tf["total"])
