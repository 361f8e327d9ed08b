"""Every registered builder and preset: builds, shapes, names, blocks, exact and published counts."""

from __future__ import annotations

import dataclasses
import re

import pytest

from explorer.analysis import analyse
from explorer.builders import PRESETS, REGISTRY, build_model, resolve
from explorer.config import fields_of

PRESET_NAMES = list(PRESETS)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_graph_invariants(name):
    spec = resolve(name)
    g = analyse(spec).graph
    cfg = spec.config
    # output shape matches the classes
    outs = [g.node(o).output_shapes[0] for o in g.outputs]
    assert outs == [(None, cfg.num_classes)]
    # input shape follows the config (ynet has two inputs of the same shape)
    for i in g.inputs:
        assert g.node(i).output_shapes[0] == (None, *cfg.input_shape)
    # layer names unique
    ids = [n.id for n in g.nodes]
    assert len(ids) == len(set(ids))
    # every layer has a block path; our own builders use name scopes, Keras Applications names
    assert all(n.block for n in g.nodes)
    assert g.grouping == ("names" if spec.builder == "keras_app" else "scopes")
    # blocks partition the layers and their params add up to model.count_params()
    blocks = g.blocks()
    assert sum(len([n for n in g.nodes if n.block == b]) for b in blocks) == len(g.nodes)
    assert sum(n.params for n in g.nodes) == g.total_params
    assert g.trainable_params + g.non_trainable_params == g.total_params


@pytest.mark.parametrize("name", [p for p in PRESET_NAMES if PRESETS[p].reference_params])
def test_reference_parameter_counts(name):
    p = PRESETS[name]
    total = analyse(resolve(name)).graph.total_params
    if p.tolerance == 0:
        assert total == p.reference_params
    else:
        assert abs(total - p.reference_params) / p.reference_params <= p.tolerance


@pytest.mark.parametrize(
    "name,expected",
    [
        ("mnist-cnn", 80_266),
        ("ynet", 208_394),
        ("resnet20", 274_442),
        ("resnet110", 1_742_762),
        ("resnet110v2", 3_323_210),
        ("densenet-bc-100-12", 797_788),
    ],
)
def test_exact_counts_from_the_book(name, expected):
    assert analyse(resolve(name)).graph.total_params == expected


@pytest.mark.parametrize(
    "name,paper_millions",
    [
        ("densenet-40-12", 1.0),
        ("densenet-100-12", 7.0),
        ("densenet-100-24", 27.2),
        ("densenet-bc-250-24", 15.3),
        ("densenet-bc-190-40", 25.6),
    ],
)
def test_densenet_within_five_percent_of_the_paper(name, paper_millions):
    total = analyse(resolve(name)).graph.total_params
    assert abs(total / 1e6 - paper_millions) / paper_millions <= 0.05


def test_keras_app_counts_equal_keras_own():
    import keras

    for arch in ("resnet50", "densenet121"):
        ours = analyse(resolve(arch)).graph.total_params
        theirs = getattr(keras.applications, {"resnet50": "ResNet50", "densenet121": "DenseNet121"}[arch])(
            weights=None
        ).count_params()
        assert ours == theirs


def test_cnn_is_the_tutorial_model():
    g = analyse(resolve("mnist-cnn")).graph
    body = [(n.cls, n.config.get("filters"), n.config.get("kernel_size")) for n in g.nodes]
    assert body == [
        ("InputLayer", None, None),
        ("Conv2D", 64, [3, 3]), ("MaxPooling2D", None, None),
        ("Conv2D", 64, [3, 3]), ("MaxPooling2D", None, None),
        ("Conv2D", 64, [3, 3]),
        ("Flatten", None, None), ("Dropout", None, None), ("Dense", None, None),
    ]
    assert g.node("head_dropout").config["rate"] == 0.3


def test_ynet_branches_differ_only_in_dilation():
    g = analyse(resolve("ynet")).graph
    assert len(g.inputs) == 2
    left = [n for n in g.nodes if n.block.startswith("left/") and n.cls == "Conv2D"]
    right = [n for n in g.nodes if n.block.startswith("right/") and n.cls == "Conv2D"]
    assert [n.config["filters"] for n in left] == [32, 64, 128] == [n.config["filters"] for n in right]
    assert {tuple(n.config["dilation_rate"]) for n in left} == {(1, 1)}
    assert {tuple(n.config["dilation_rate"]) for n in right} == {(2, 2)}


def test_resnet_v1_projection_shortcuts_only_where_the_shape_changes():
    g = analyse(resolve("resnet56")).graph
    shortcuts = sorted(n.block for n in g.nodes if n.id.endswith("shortcut_conv"))
    assert shortcuts == ["stage2/block1", "stage3/block1"]
    for n in g.nodes:
        if n.id.endswith("shortcut_conv"):
            assert n.config["kernel_size"] == [1, 1] and n.config["strides"] == [2, 2]
    assert [n.block for n in g.nodes if n.cls == "Add"].count("stage1/block1") == 1


def test_resnet_v2_bottleneck_widths():
    g = analyse(resolve("resnet56v2")).graph
    last = {s: [n for n in g.nodes if n.block == f"{s}/block1" and n.cls == "Conv2D"] for s in ("stage1", "stage2", "stage3")}
    widths = {s: [n.config["filters"] for n in convs] for s, convs in last.items()}
    assert widths == {"stage1": [16, 16, 64, 64], "stage2": [64, 64, 128, 128], "stage3": [128, 128, 256, 256]}
    # stage 1's first block skips its first BN-ReLU; the others have three BNs
    assert len([n for n in g.nodes if n.block == "stage1/block1" and n.cls == "BatchNormalization"]) == 2
    assert len([n for n in g.nodes if n.block == "stage2/block1" and n.cls == "BatchNormalization"]) == 3


def test_densenet_layers_per_block_follow_the_depth():
    for name, per_block in (("densenet-bc-100-12", 16), ("densenet-40-12", 12), ("densenet-bc-190-40", 31)):
        g = analyse(resolve(name)).graph
        for i in (1, 2, 3):
            layers = {n.block for n in g.nodes if n.block.startswith(f"dense{i}/")}
            assert len(layers) == per_block


def test_builds_are_deterministic():
    a = analyse.__wrapped__(resolve("resnet50")).graph
    b = analyse.__wrapped__(resolve("resnet50")).graph
    assert a == b


def test_weightless_build_matches_a_real_build():
    spec = resolve("resnet20")
    real = build_model(spec)
    light = build_model(spec, weights=False)
    assert real.count_params() == light.count_params()
    assert [la.name for la in real.layers] == [la.name for la in light.layers]


@pytest.mark.parametrize("builder", list(REGISTRY))
def test_every_field_is_documented_and_defaults_are_valid(builder):
    cls = REGISTRY[builder].config_cls
    for f in fields_of(cls):
        assert f.spec.help.strip(), f"{builder}.{f.name} has no help"
        assert f.kind in {"int", "float", "bool", "str", "int_tuple"}
    cfg = cls()
    assert dataclasses.replace(cfg) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_classes = 3  # type: ignore[misc]


def test_every_layer_name_carries_its_block():
    """Names encode the block, so a model saved to .keras keeps its blocks when loaded."""
    for name in ("mnist-cnn", "ynet", "resnet20", "resnet56v2", "densenet-40-12"):
        g = analyse(resolve(name)).graph
        for n in g.nodes:
            if not n.is_input:
                assert n.id.startswith(n.block.replace("/", "_") + "_"), n.id


def test_saved_model_keeps_its_blocks(tmp_path):
    spec = resolve("resnet20", overrides={"depth": 8})
    path = tmp_path / "small.keras"
    build_model(spec).save(path)
    from explorer.analysis import analyse_file

    loaded = analyse_file(str(path)).graph
    built = analyse(spec).graph
    assert loaded.grouping == "names"
    assert [(n.id, n.block, n.params) for n in loaded.nodes] == [(n.id, n.block, n.params) for n in built.nodes]
    assert loaded.total_params == built.total_params


def test_layer_names_use_only_safe_characters():
    g = analyse(resolve("densenet-bc-100-12")).graph
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n.id) for n in g.nodes)


def test_builds_survive_clear_session_from_other_threads():
    """Streamlit calls keras.backend.clear_session() after every script run of every session."""
    import threading

    import keras

    from explorer.keras_compat import guard_clear_session

    guard_clear_session()  # as app.py does
    errors, done = [], threading.Event()

    def clearer():
        while not done.is_set():
            keras.backend.clear_session()

    def builder(name):
        try:
            for _ in range(2):
                build_model(resolve(name), weights=False)
        except Exception as exc:  # the race showed as "The name ... is used 2 times in the model"
            errors.append(f"{name}: {exc}")

    threads = [threading.Thread(target=clearer) for _ in range(2)]
    threads += [threading.Thread(target=builder, args=(n,)) for n in ("resnet50v2", "densenet121", "resnet20")]
    for t in threads:
        t.start()
    for t in threads[2:]:
        t.join()
    done.set()
    for t in threads[:2]:
        t.join()
    assert errors == []


def test_clear_session_does_not_wait_for_another_threads_build():
    """Streamlit clears Keras's session at the end of every script run, on the script's thread:
    while another thread builds (another session, the server's warm-up) the clear is skipped
    instead of holding that thread (and the session's next run) until the build ends."""
    import threading

    import keras
    from keras.src.backend.common import global_state

    from explorer.keras_compat import BUILD_LOCK, guard_clear_session

    guard_clear_session()
    building, release = threading.Event(), threading.Event()

    def build():  # holds the lock as a build does, until the clear below has returned
        with BUILD_LOCK:
            building.set()
            release.wait(60)

    holder = threading.Thread(target=build)
    holder.start()
    try:
        assert building.wait(60)
        global_state.set_global_attribute("explorer_probe", 1)
        cleared = threading.Thread(target=keras.backend.clear_session)
        cleared.start()
        cleared.join(30)
        assert not cleared.is_alive(), "clear_session waited for the other thread's build"
        assert global_state.get_global_attribute("explorer_probe") == 1  # the build's state untouched
    finally:
        release.set()
        holder.join()
    keras.backend.clear_session()  # the lock is free: the next clear does clear
    assert global_state.get_global_attribute("explorer_probe") is None
