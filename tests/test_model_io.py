"""Users' model files: good files open (weightless, in a sandbox), hostile and malformed ones are refused.

Every hostile file is built here (``tests/hostile_files.py``): small on disk, huge or harmful if
trusted. Each must be refused with one sentence naming the uploaded file (never the stored,
hashed name), with the checking child's peak memory under 1 GiB, and nothing written outside
the store.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from explorer.analysis import analyse, analyse_file
from explorer.builders import build_model, resolve
from explorer.errors import DataError
from explorer.model_io import load_model_file, read_graph, read_graph_measured, store_upload
from explorer.summary import block_rows
from tests import hostile_files as hf

GiB = 2**30


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "resnet8.keras"
    build_model(resolve("resnet", overrides={"depth": 8})).save(path)
    return path


@pytest.mark.parametrize(
    "name,overrides",
    [("cnn", {}), ("ynet", {}), ("resnet", {"depth": 8}), ("resnet", {"version": 2, "depth": 11}),
     ("densenet", {"depth": 10, "growth_rate": 4})],
)
def test_saved_builder_models_round_trip_to_the_same_graph_and_blocks(tmp_path, name, overrides):
    spec = resolve(name, overrides=overrides)
    path = tmp_path / "m.keras"
    build_model(spec).save(path)
    loaded, built = analyse_file(str(path)).graph, analyse(spec).graph
    assert [(n.id, n.cls, n.block, n.params, n.calls) for n in loaded.nodes] == \
        [(n.id, n.cls, n.block, n.params, n.calls) for n in built.nodes]
    assert loaded.edges == built.edges
    assert block_rows(loaded) == block_rows(built)


def test_h5_files_open_from_their_config(tmp_path):
    import keras

    path = tmp_path / "m.h5"
    build_model(resolve("cnn", overrides={"conv_layers": 1, "filters": 2})).save(path)
    assert load_model_file(path).count_params() == 20 + 26 * 26 * 2 * 10 + 10
    assert read_graph(path).total_params == 20 + 26 * 26 * 2 * 10 + 10
    # A nested Sequential with regularizers, constraints and a compiled optimizer opens too.
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, kernel_regularizer="l2",
                              kernel_constraint="max_norm", name="d"), keras.layers.LeakyReLU()], name="inner")
    x = keras.Input((8,))
    model = keras.Model(x, keras.layers.Dense(2, activation="gelu")(inner(x)))
    model.compile("adam", "mse")
    for suffix in (".h5", ".keras"):
        model.save(tmp_path / f"nested{suffix}")
        g = read_graph(tmp_path / f"nested{suffix}")
        assert g.total_params == model.count_params() and [n.id for n in g.nodes][1] == "inner"


def test_a_declared_268m_parameter_layer_opens_without_allocating_it(tmp_path):
    graph, figures = read_graph_measured(hf.huge_dense(tmp_path), "huge.keras")
    fc = next(n for n in graph.nodes if n.id == "fc")
    assert fc.params == 4 * 2**28 + 2**28 and graph.total_params == fc.params
    assert figures["peak_bytes"] < GiB  # the 1 GB of float32 weights were never allocated


@pytest.mark.parametrize("label,make,words", hf.MODEL_CASES, ids=[c[0] for c in hf.MODEL_CASES])
def test_hostile_model_files_are_refused_in_one_line_naming_the_upload(tmp_path, label, make, words):
    folder = tmp_path / "store-files" / "uploads"
    folder.mkdir(parents=True)
    made = make(tmp_path)
    stored = store_upload(f"student upload{made.suffix}", made.read_bytes(), folder)
    before = _tree(tmp_path)
    with pytest.raises(DataError) as info:
        read_graph(stored, f"student upload{made.suffix}")
    msg = str(info.value)
    assert words in msg, msg
    assert "\n" not in msg and len(msg) < 400
    assert f"student upload{made.suffix}" in msg and stored.name not in msg
    assert _tree(tmp_path) == before  # nothing extracted or written anywhere
    assert not (tmp_path / "store-files" / "evil.txt").exists() and not Path("/etc/evil").exists()


def test_refusals_stay_under_a_gibibyte(tmp_path):
    """The checking child's peak memory, for files that get past the cheap checks."""
    for make in (hf.member_bomb, hf.memory_bomb, hf.deep_json, hf.config_bomb):
        path = make(tmp_path)
        from explorer import sandbox
        from explorer.inspect_child import read_graph as child

        with pytest.raises(DataError):
            sandbox.run(child, str(path), path.name, what=path.name)
        _, figures = read_graph_measured(hf.huge_dense(tmp_path))
        assert figures["peak_bytes"] < GiB


def test_lambda_code_never_runs(tmp_path):
    import keras

    marker = tmp_path / "lambda-ran.txt"
    fn = eval(f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]")  # writes a file when called
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(fn, name="evil")(inp))
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"evil{suffix}"
        model.save(path)
        marker.unlink(missing_ok=True)  # building or saving the model called it
        with pytest.raises(DataError, match="layer 'evil' is a Lambda layer"):
            read_graph(path)
        with pytest.raises(DataError, match="layer 'evil' is a Lambda layer"):
            load_model_file(path)
        assert not marker.exists()


def test_a_child_that_runs_out_of_time_is_stopped(tmp_path):
    from explorer import sandbox

    with pytest.raises(sandbox.SandboxError, match=r"took over 0\.5 s"):
        sandbox.run(_sleep, 30, what="slow.keras", timeout=0.5)


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_refusals_name_the_uploaded_file_and_the_offending_layer(tmp_path):
    """The stored copy is named by its hash; the message names what the user gave."""
    import keras

    from explorer.analysis import analyse_file
    from explorer.model_io import store_upload

    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2, name="double_it")(keras.layers.Dense(3)(inp)))
    src = tmp_path / "my model.keras"
    model.save(src)
    stored = store_upload("my model.keras", src.read_bytes(), tmp_path / "store")
    assert stored.name != "my model.keras"
    with pytest.raises(DataError) as err:
        analyse_file(str(stored), "my model.keras")
    text = str(err.value)
    assert "my model.keras" in text and stored.stem not in text
    assert "'double_it'" in text and "Lambda" in text


@pytest.mark.parametrize(
    "filename,make,words",
    [
        ("empty.keras", lambda good: b"", "is empty"),
        ("random.keras", lambda good: os.urandom(2048), "not a .keras archive"),
        ("truncated.keras", lambda good: good[: len(good) // 2], "not a .keras archive"),
        ("noise.h5", lambda good: os.urandom(512), "not an HDF5"),
        ("model.txt", lambda good: good, "extension"),
    ],
)
def test_malformed_files_are_refused_with_one_sentence(tmp_path, small_keras, filename, make, words):
    path = tmp_path / filename
    path.write_bytes(make(small_keras.read_bytes()))
    with pytest.raises(DataError) as info:
        read_graph(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_oversize_files_are_refused(tmp_path, small_keras, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "0.01")
    with pytest.raises(DataError, match=r"over the 0\.01 MB limit"):
        read_graph(small_keras)
    with pytest.raises(DataError, match="over the"):
        store_upload("big.keras", small_keras.read_bytes(), tmp_path)


def test_uploads_are_stored_by_content(tmp_path, small_keras):
    data = small_keras.read_bytes()
    a = store_upload("a.keras", data, tmp_path)
    b = store_upload("a.keras", data, tmp_path)
    c = store_upload("../../etc/a b.keras", data, tmp_path)
    assert a == b and a.read_bytes() == data and c.parent == tmp_path and c.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({a.name, c.name})  # no temporary files left
    with pytest.raises(DataError, match="not a model file"):
        store_upload("notes.pdf", data, tmp_path)
    with pytest.raises(DataError, match="empty"):
        store_upload("a.keras", b"", tmp_path)


def test_every_standard_object_in_the_presets_configs_is_allowed(tmp_path):
    """The allowlist is not too strict: every registered builder's saved config passes the check."""
    from explorer.builders import REGISTRY
    from explorer.model_check import check_config

    for name in REGISTRY:
        if name == "keras_app":
            spec = resolve("keras_app", overrides={"arch": "densenet121", "input_shape": (32, 32, 3)})
        else:
            spec = resolve(name)
        path = tmp_path / f"{name}.keras"
        build_model(spec).save(path)
        with zipfile.ZipFile(path) as z:
            assert check_config(json.loads(z.read("config.json")), path.name) > 3


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
