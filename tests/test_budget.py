"""Budgets: hand-computed MACs of small layers, sums over every preset, shared layers, the
TensorFlow-profiler cross-check, the summary CLI's new fields and the Budget page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import explorer  # noqa: F401  (numpy backend before Keras loads)
from explorer.analysis import analyse
from explorer.budget import DTYPES, budget, elements, node_macs
from explorer.builders import PRESETS, resolve
from explorer.cli import main
from explorer.errors import ConfigError
from explorer.fmt import human
from explorer.graph import extract

ROOT = Path(__file__).resolve().parent.parent


def _graph(inputs, outputs):
    import keras

    return extract(keras.Model(inputs, outputs))


def _single(input_shape, layer):
    """The graph of ``Input(input_shape) -> layer``."""
    import keras

    x = keras.Input(input_shape)
    return _graph(x, layer(x))


def _cases():
    from keras import layers as L

    # (id, input shape, layer, expected MACs, the arithmetic)
    return [
        ("conv2d-same", (8, 8, 3), L.Conv2D(4, 3, padding="same", name="t"), 6912, "8*8*4 out * 3*3*3 = 256*27"),
        ("conv2d-stride2", (8, 8, 3), L.Conv2D(4, 3, strides=2, name="t"), 972, "out 3x3x4 (floor((8-3)/2)+1=3): 36*27"),
        ("conv2d-dilated", (8, 8, 3), L.Conv2D(4, 3, dilation_rate=2, name="t"), 1728,
         "out 4x4x4 (8-2*(3-1)=4): 64*27"),
        ("conv2d-groups", (8, 8, 4), L.Conv2D(6, 3, groups=2, padding="same", name="t"), 6912,
         "8*8*6 out * 3*3 * 4/2 in per group = 384*18"),
        ("conv2d-relu", (8, 8, 3), L.Conv2D(4, 3, padding="same", activation="relu", name="t"), 6912 + 256,
         "6912 + 1 per output element for the fused relu (256)"),
        ("conv1d", (10, 3), L.Conv1D(5, 3, name="t"), 360, "out 8x5 = 40 * 3*3"),
        ("conv3d", (4, 4, 4, 2), L.Conv3D(3, 2, name="t"), 1296, "out 3x3x3x3 = 81 * 2*2*2*2"),
        ("depthwise", (6, 6, 3), L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="t"), 1944,
         "out 6x6x6 = 216 * 3*3"),
        ("separable", (6, 6, 3), L.SeparableConv2D(4, 3, padding="same", name="t"), 1404,
         "depthwise 36*3*9 = 972 + pointwise 36*3*4 = 432"),
        ("conv2d-transpose", (4, 4, 3), L.Conv2DTranspose(2, 3, strides=2, name="t"), 864,
         "every input element times the kernel: 4*4*3 * 3*3 * 2"),
        ("dense-rank2", (6,), L.Dense(4, name="t"), 24, "6*4"),
        ("dense-rank3", (5, 7), L.Dense(4, name="t"), 140, "5 rows * 7*4"),
        ("dense-softmax", (6,), L.Dense(4, activation="softmax", name="t"), 28, "6*4 + 4 for the softmax"),
        ("batchnorm", (4, 4, 3), L.BatchNormalization(name="t"), 48, "one multiply-add per element: 4*4*3"),
        ("maxpool", (4, 4, 3), L.MaxPooling2D(2, name="t"), 48, "out 2x2x3 = 12 * 2*2 window"),
        ("avgpool-1d", (8, 3), L.AveragePooling1D(4, name="t"), 24, "out 2x3 = 6 * 4 window"),
        ("global-avgpool", (4, 4, 3), L.GlobalAveragePooling2D(name="t"), 48, "every input element once"),
        ("relu", (4, 4, 3), L.ReLU(name="t"), 48, "one per element"),
        ("activation-linear", (4, 4, 3), L.Activation("linear", name="t"), 0, "identity"),
        ("flatten", (4, 4, 3), L.Flatten(name="t"), 0, "data movement"),
        ("zeropad", (4, 4, 3), L.ZeroPadding2D(1, name="t"), 0, "data movement"),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_hand_computed_macs(case):
    _, shape, layer, expected, _arithmetic = case
    g = _single(shape, layer)
    assert node_macs(g.node("t")) == expected
    b = budget(g)
    assert b.macs == expected  # the input layer costs nothing
    assert b.flops == 2 * expected
    assert b.total.params == g.total_params


def test_merge_layers():
    import keras
    from keras import layers as L

    a, b2, c = (keras.Input((4, 4, 3)) for _ in range(3))
    add = L.Add(name="add")([a, b2, c])  # 2 adds per output element: 2*48
    avg = L.Average(name="avg")([a, b2])  # 1 add + 1 multiply per element: 2*48
    cat = L.Concatenate(name="cat")([add, avg])  # data movement: 0
    g = _graph([a, b2, c], cat)
    assert node_macs(g.node("add")) == 96
    assert node_macs(g.node("avg")) == 96
    assert node_macs(g.node("cat")) == 0
    assert budget(g).total.activations == 3 * 48 + 48 + 48 + 96  # inputs, add, avg, concat


def test_shared_layer_weights_once_macs_per_call():
    import keras
    from keras import layers as L

    shared = L.Conv2D(2, 3, padding="same", name="shared")
    x1, x2 = keras.Input((8, 8, 3)), keras.Input((4, 4, 3))
    y = L.Concatenate(name="cat")([L.GlobalAveragePooling2D(name="g1")(shared(x1)),
                                   L.GlobalAveragePooling2D(name="g2")(shared(x2))])
    model = keras.Model([x1, x2], y)
    g = extract(model)
    b = budget(g)
    layer = next(la for la in b.layers if la.id == "shared")
    assert layer.calls == 2
    assert layer.params == 3 * 3 * 3 * 2 + 2 == model.get_layer("shared").count_params()
    # 8*8*2*27 + 4*4*2*27 = 3456 + 864
    assert layer.macs == 4320
    assert layer.activations == 8 * 8 * 2 + 4 * 4 * 2
    assert b.total.params == model.count_params()


def test_nested_model_counts_inner_graph_per_call():
    import keras
    from keras import layers as L

    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, L.Dense(3, name="d")(inner_in), name="inner")
    x1, x2 = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([x1, x2], L.Add(name="add")([inner(x1), inner(x2)]))
    b = budget(extract(model))
    nested = next(la for la in b.layers if la.id == "inner")
    assert nested.macs == 2 * 4 * 3  # two calls of a 4x3 matmul
    assert b.macs == 24 + 3  # plus the add
    assert b.total.params == model.count_params() == 15


def test_uncounted_layer_types_are_listed():
    from keras import layers as L

    g = _single((4,), L.Lambda(lambda t: t, name="t"))
    b = budget(g)
    assert b.macs == 0
    assert b.uncounted == ("Lambda",)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_sums_equal_totals(preset):
    g = analyse(resolve(preset)).graph
    b = budget(g)
    assert sum(la.params for la in b.layers) == g.total_params == b.total.params
    assert sum(la.trainable_params for la in b.layers) == g.trainable_params
    assert sum(la.non_trainable_params for la in b.layers) == g.non_trainable_params
    assert b.macs > 0 and b.uncounted == ()
    for depth in (None, *range(1, b.max_depth + 1)):
        rows = b.partition(depth)
        for metric in ("params", "trainable_params", "macs", "activations", "layers"):
            assert sum(getattr(r, metric) for r in rows) == getattr(b.total, metric), (depth, metric)
    # Roll-ups: each block holds at least the sum of its children; top level sums to the total.
    hier = b.hierarchy()
    for parent in hier:
        kids = [r for r in hier if r.parent == parent.path]
        assert sum(k.macs for k in kids) <= parent.macs
        assert sum(k.params for k in kids) <= parent.params
    assert sum(r.params for r in hier if r.depth == 1) == g.total_params
    assert sum(r.macs for r in hier if r.depth == 1) == b.macs


def test_stage_rolls_up_its_blocks():
    b = budget(analyse(resolve("resnet20")).graph)
    stage2 = b.block("stage2")
    blocks = [r for r in b.hierarchy() if r.parent == "stage2"]
    assert [r.path for r in blocks] == ["stage2/block1", "stage2/block2", "stage2/block3"]
    assert stage2.params == sum(r.params for r in blocks) == 14688 + 18752 + 18752
    assert stage2.macs == sum(r.macs for r in blocks)
    assert stage2.output_shape == (None, 16, 16, 32)
    assert [r.path for r in b.partition(1)] == ["input", "stem", "stage1", "stage2", "stage3", "head"]


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_activation_bytes_scale_with_batch_and_dtype(dtype):
    g = analyse(resolve("mnist-cnn")).graph
    one, many = budget(g), budget(g, 32, dtype)
    assert many.total.activations == one.total.activations  # elements are per example
    assert many.activation_bytes(many.total.activations) == one.total.activations * 32 * DTYPES[dtype]
    # 28*28*1 input + 26*26*64 conv + 13*13*64 pool + 11*11*64 + 5*5*64 + 3*3*64 + 576 + 576 + 10
    assert one.total.activations == 784 + 43264 + 10816 + 7744 + 1600 + 576 + 576 + 576 + 10


@pytest.mark.parametrize("batch,dtype", [(0, "float32"), (-3, "float32"), (2, "float13"), (True, "float32")])
def test_bad_batch_or_dtype(batch, dtype):
    g = analyse(resolve("mnist-cnn")).graph
    with pytest.raises(ConfigError, match=r"batch_size|dtype"):
        budget(g, batch, dtype)


def test_elements():
    assert elements((None, 32, 32, 3)) == 3072
    assert elements((None, None, 8)) == 8  # unknown dims count as 1
    assert elements((None,)) == 1


# --- independent counter: TensorFlow's profiler ---------------------------------------------

LINEAR = {"Conv1D", "Conv2D", "Conv3D", "Dense", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"}
TF_LINEAR_OPS = ("Conv2D", "MatMul", "DepthwiseConv2dNative", "Conv3D", "BatchMatMulV2")
# Total FLOPs may differ from TF's by this fraction. Known convention differences (all element-wise,
# a few percent of a CNN's work): TF counts a bias add as 1 FLOP per element (we count 0), a ReLU
# as 0 (we count 2 = 2 x 1 MAC), an Add as 1 (we 2), pooling windows once (we 2 x), softmax 5 per
# class, and the per-channel rsqrt of batch norm; batch norm itself is a Mul and an Add per element
# in both (TF: 2 FLOPs, we: 1 MAC = 2 FLOPs).
TOTAL_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def tf_counts():
    presets = ["resnet20", "resnet50", "densenet121"]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "tf_flops.py"), *presets], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["resnet20", "resnet50", "densenet121"])
def test_matches_tensorflow_profiler(tf_counts, preset):
    tf = tf_counts[preset]
    g = analyse(resolve(preset)).graph
    b = budget(g)
    assert tf["params"] == g.total_params
    # Conv and Dense: exactly TF's float ops (it counts 2 per multiply-accumulate, no bias).
    linear = sum(node_macs(n, fused_activation=False) for n in g.nodes if n.cls in LINEAR)
    assert sum(tf["by_op"].get(op, 0) for op in TF_LINEAR_OPS) == 2 * linear
    # Pooling: TF counts one op per window element, we one MAC: equal numbers.
    pools = sum(node_macs(n) for n in g.nodes if "Pooling" in n.cls)
    assert sum(tf["by_op"].get(op, 0) for op in ("MaxPool", "AvgPool", "Mean")) == pools
    # Everything: within the documented tolerance.
    assert abs(b.flops - tf["total"]) / tf["total"] < TOTAL_TOLERANCE, (b.flops, tf["total"])
    assert linear / b.macs > 0.95  # conv/dense dominate, so the tight check covers most of the work


# --- summary CLI -----------------------------------------------------------------------------


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_summary_json_has_macs_and_blocks_add_up(capsys):
    d = _json(capsys, ["summary", "resnet20", "--json"])
    for key in ("builder", "config", "total_params", "trainable_params", "non_trainable_params", "layers",
                "blocks", "macs", "flops", "activations", "activation_bytes"):
        assert key in d
    b = budget(analyse(resolve("resnet20")).graph)
    assert d["macs"] == b.macs == 41_280_138
    assert d["flops"] == 2 * d["macs"]
    for metric in ("params", "trainable_params", "macs", "activations"):
        total = d["total_params"] if metric == "params" else d[metric]
        assert sum(r[metric] for r in d["blocks"]) == total
    assert {"path", "params", "trainable_params", "macs", "output_shape", "activations"} <= set(d["blocks"][0])
    assert [r["path"] for r in d["blocks"]][:3] == ["input", "stem", "stage1/block1"]


def test_summary_depth_rolls_up_to_stages(capsys):
    leaf = _json(capsys, ["summary", "resnet20", "--json"])
    stages = _json(capsys, ["summary", "resnet20", "--json", "--depth", "1", "--batch-size", "8", "--dtype", "float16"])
    assert [r["path"] for r in stages["blocks"]] == ["input", "stem", "stage1", "stage2", "stage3", "head"]
    s2 = next(r for r in stages["blocks"] if r["path"] == "stage2")
    assert s2["macs"] == sum(r["macs"] for r in leaf["blocks"] if r["path"].startswith("stage2/"))
    assert stages["activation_bytes"] == leaf["activations"] * 8 * 2
    assert main(["summary", "resnet20", "--depth", "1"]) == 0
    text = capsys.readouterr().out
    assert "stage2 " in text and "stage2/block1" not in text and "MACs" in text


@pytest.mark.parametrize("argv", [
    ["summary", "resnet20", "--depth", "0"],
    ["summary", "resnet20", "--dtype", "float13"],
    ["summary", "resnet20", "--batch-size", "0"],
])
def test_summary_bad_options_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_summary_cli_subprocess_contract():
    proc = subprocess.run([sys.executable, "-m", "explorer", "summary", "mnist-cnn", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["macs"] == budget(analyse(resolve("mnist-cnn")).graph).macs


# --- Budget page -----------------------------------------------------------------------------


def test_budget_page_follows_build_spec_and_controls():
    from streamlit.testing.v1 import AppTest

    from explorer.ui import session as state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    spec = resolve("resnet", overrides={"depth": 32})
    at.session_state[state.SPEC] = spec
    at.switch_page("pages/budget.py").run()
    assert not at.exception and not at.error
    b = budget(analyse(spec).graph)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Params"] == human(b.total.params) == "470K" and metrics["MACs"] == human(b.macs) == "69.9M"
    assert "resnet" in at.title[0].value
    act_label = next(k for k in metrics if k.startswith("Activations"))
    at.number_input(key="budget:batch").set_value(16).run()
    at.selectbox(key="budget:dtype").set_value("float16").run()
    after = {m.label: m.value for m in at.metric}
    assert act_label not in after and "Activations ×16 float16" in after
    assert after["Activations ×16 float16"] != metrics[act_label]
    assert len(at.dataframe) == 3  # blocks, layers of a block, training memory
    blocks = at.dataframe[0].value
    assert int(blocks["MACs"].sum()) == b.macs and int(blocks["params"].sum()) == b.total.params
    at.radio(key="budget:level").set_value("stages").run()
    assert list(at.dataframe[0].value["block"]) == ["input", "stem", "stage1", "stage2", "stage3", "head"]
    at.selectbox(key="budget:drill:1").set_value("stage3").run()
    layers = at.dataframe[1].value
    assert set(layers["block"].str.split("/").str[0]) == {"stage3"}
    assert int(layers["MACs"].sum()) == b.block("stage3").macs
    assert not at.exception
