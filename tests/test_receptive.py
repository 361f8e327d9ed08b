"""Receptive fields: hand-computed values (VGG16 blocks, dilated convs, resnet20 stages, strides),
invariants over every preset, and where they show (summary --json, DOT tooltips)."""

from __future__ import annotations

import json

import pytest

import explorer  # noqa: F401  (numpy backend before Keras loads)
from explorer.analysis import analyse
from explorer.builders import PRESETS, resolve
from explorer.cli import main
from explorer.graph import extract
from explorer.receptive import block_fields, receptive_fields
from explorer.render import to_dot


def _sizes(fields, key):
    size, jump = fields[key].as_lists()
    return size, jump


def test_vgg16_blocks():
    g = analyse(resolve("keras_app", overrides={"arch": "vgg16"})).graph
    blocks = block_fields(g)
    # block1: two 3x3 convs (5) and a 2x2 pool (6, jump 2); each later conv adds 2 * jump.
    expected = {"block1": (6, 2), "block2": (16, 4), "block3": (44, 8), "block4": (100, 16), "block5": (212, 32)}
    for path, (size, jump) in expected.items():
        assert _sizes(blocks, path) == ([size, size], [jump, jump]), path
    assert blocks["head"].whole  # flatten + dense: every output sees the whole image


def test_dilated_and_strided_convs():
    import keras
    from keras import layers as L

    x = keras.Input((64, 48, 3))
    a = L.Conv2D(4, 3, dilation_rate=2, name="dil2")(x)  # effective 5: 1 + 2*2
    b = L.Conv2D(4, (3, 1), dilation_rate=(3, 1), name="dil3")(a)  # + 6 on h, 0 on w
    c = L.Conv2D(4, 2, strides=2, name="s2")(b)  # + 1, jump 2
    d = L.Conv2D(4, 3, name="after")(c)  # + 2 * 2
    f = receptive_fields(extract(keras.Model(x, d)))
    assert _sizes(f, "dil2") == ([5, 5], [1, 1])
    assert _sizes(f, "dil3") == ([11, 5], [1, 1])
    assert _sizes(f, "s2") == ([12, 6], [2, 2])
    assert _sizes(f, "after") == ([16, 10], [2, 2])


def test_branches_take_the_largest_field_and_a_broadcast_gate_keeps_the_stride():
    import keras
    from keras import layers as L

    x = keras.Input((32, 32, 3))
    small = L.Conv2D(4, 1, name="one")(x)
    big = L.Conv2D(4, 5, padding="same", name="five")(x)
    add = L.Add(name="add")([small, big])
    gate = L.Conv2D(4, 1, activation="sigmoid", name="gate")(L.GlobalAveragePooling2D(keepdims=True, name="gap")(add))
    se = L.Multiply(name="se")([add, gate])
    f = receptive_fields(extract(keras.Model(x, L.Conv2D(4, 3, name="last")(se))))
    assert _sizes(f, "add") == ([5, 5], [1, 1])
    assert f["gap"].whole and f["se"].whole
    assert _sizes(f, "se") == ([32, 32], [1, 1])  # the whole input, stride of the main path
    assert _sizes(f, "last") == ([32, 32], [1, 1])  # a whole field stays whole


def test_resnet20_stages():
    g = analyse(resolve("resnet20")).graph
    stages = block_fields(g, depth=1)
    assert _sizes(stages, "stem") == ([3, 3], [1, 1])
    # stage1: six 3x3 convs at jump 1 (+12); stage2: the /2 conv (+2) and five at jump 2 (+20);
    # stage3: +2*2 then five at jump 4 (+40).
    assert _sizes(stages, "stage1") == ([15, 15], [1, 1])
    assert _sizes(stages, "stage2") == ([37, 37], [2, 2])
    assert _sizes(stages, "stage3") == ([81, 81], [4, 4])


def test_resnet50_output_stride_is_32():
    g = analyse(resolve("resnet50")).graph
    stages = block_fields(g, depth=1)
    assert [stages[s].as_lists()[1] for s in ("conv2", "conv3", "conv4", "conv5")] == [[4, 4], [8, 8], [16, 16],
                                                                                        [32, 32]]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_invariants(preset):
    g = analyse(resolve(preset)).graph
    f = receptive_fields(g)
    assert set(f) == {n.id for n in g.nodes}
    for e in g.edges:
        src, dst = f[e.src], f[e.dst]
        for a, b in zip(src.size, dst.size, strict=True):
            assert b >= a or dst.whole, (e.src, e.dst)  # fields never shrink downstream
        assert all(j >= 1 for j in dst.jump)  # no up-sampling in the presets
    blocks = block_fields(g, f)
    assert set(blocks) == set(g.blocks())


def test_summary_json_and_tooltips(capsys):
    assert main(["summary", "resnet20", "--json", "--depth", "1"]) == 0
    d = json.loads(capsys.readouterr().out)
    rows = {r["path"]: r for r in d["blocks"]}
    assert rows["stage2"]["receptive_field"] == [37, 37] and rows["stage2"]["jump"] == [2, 2]
    assert rows["head"]["receptive_field_global"] is True
    assert d["receptive_field"] == rows["head"]["receptive_field"]
    g = analyse(resolve("resnet20")).graph
    block = next(line for line in to_dot(g, "blocks").splitlines() if line.strip().startswith('"block:stage2/block1"'))
    assert 'tooltip="stage2/block1' in block and "RF 21x21 · jump 2x2" in block
    assert "RF 3x3 · jump 1x1" in to_dot(g, "layers")


def test_flat_vector_models_have_no_field(capsys):
    import keras
    from keras import layers as L

    x = keras.Input((6,))
    g = extract(keras.Model(x, L.Dense(3)(L.Dense(4)(x))))
    assert all(f.size == () for f in receptive_fields(g).values())
    assert "RF" not in to_dot(g, "layers")
