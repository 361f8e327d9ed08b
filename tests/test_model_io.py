"""Loading users' model files: good files round-trip, unsafe and malformed ones are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer.analysis import analyse, analyse_file
from explorer.builders import build_model, resolve
from explorer.errors import DataError
from explorer.model_io import load_model_file, store_upload
from explorer.summary import block_rows


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


def test_h5_files_load(tmp_path):
    path = tmp_path / "m.h5"
    build_model(resolve("cnn", overrides={"conv_layers": 1, "filters": 2})).save(path)
    assert load_model_file(path).count_params() == 20 + 26 * 26 * 2 * 10 + 10


def test_lambda_layer_is_refused_without_running_its_code(tmp_path):
    import keras

    marker = tmp_path / "lambda-ran.txt"
    fn = eval(f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]")  # writes a file when called
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(fn, name="evil")(inp))
    path = tmp_path / "evil.keras"
    model.save(path)
    marker.unlink()  # building the model called it once
    with pytest.raises(DataError, match="Lambda"):
        load_model_file(path)
    assert not marker.exists()
    # Control: an unsafe load would have run the code, so the check above means something.
    keras.models.load_model(path, safe_mode=False)
    assert marker.exists()


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
    assert "'double_it' (Lambda)" in text


@pytest.mark.parametrize(
    "filename,make,words",
    [
        ("empty.keras", lambda good: b"", "is empty"),
        ("random.keras", lambda good: os.urandom(2048), "not a .keras archive"),
        ("truncated.keras", lambda good: good[: len(good) // 2], "not a .keras archive"),
        ("noise.h5", lambda good: os.urandom(512), "not an HDF5"),
        ("model.txt", lambda good: good, "extension"),
        ("zip-but-not-model.keras", None, "could not be loaded"),
    ],
)
def test_malformed_files_are_refused_with_one_sentence(tmp_path, small_keras, filename, make, words):
    path = tmp_path / filename
    if make is None:
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "not a model")
    else:
        path.write_bytes(make(small_keras.read_bytes()))
    with pytest.raises(DataError) as info:
        load_model_file(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_oversize_files_are_refused(tmp_path, small_keras, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "0.01")
    with pytest.raises(DataError, match=r"over the 0\.01 MB limit"):
        load_model_file(small_keras)
    with pytest.raises(DataError, match="over the"):
        store_upload("big.keras", small_keras.read_bytes(), tmp_path)


def test_uploads_are_stored_by_content(tmp_path, small_keras):
    data = small_keras.read_bytes()
    a = store_upload("a.keras", data, tmp_path)
    b = store_upload("renamed.keras", data, tmp_path)
    assert a == b and a.read_bytes() == data
    with pytest.raises(DataError, match="not a model file"):
        store_upload("notes.pdf", data, tmp_path)
    with pytest.raises(DataError, match="empty"):
        store_upload("a.keras", b"", tmp_path)
