"""Datasets, data options, run requests, hyperparameters, the store and the charts (no workers)."""

from __future__ import annotations

import numpy as np
import pytest

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer import data as datasets
from explorer.builders import PRESETS, resolve
from explorer.config import make_config
from explorer.errors import ConfigError, DataError
from explorer.training.charts import curves_figure, smooth
from explorer.training.progress import eta_seconds, fraction_done, run_row
from explorer.training.request import Hyperparams, RunRequest, backend_available
from explorer.training.store import RunStore
from tests import hostile_files


def write_npz(path, **arrays):
    """A user dataset file; defaults: 20 train / 10 test 8x8 grey images, 3 classes."""
    rng = np.random.default_rng(0)
    base = {
        "x_train": rng.integers(0, 255, (20, 8, 8), dtype=np.uint8),
        "y_train": np.arange(20) % 3,
        "x_test": rng.integers(0, 255, (10, 8, 8), dtype=np.uint8),
        "y_test": np.arange(10) % 3,
    }
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return str(path)


def test_mnist_5k_split_is_fixed_and_complete():
    a, b = datasets.load("mnist-5k"), datasets.load("mnist-5k")
    assert a.x_train.shape == (4000, 28, 28, 1) and a.x_test.shape == (1000, 28, 28, 1)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert set(np.unique(a.y_train)) == set(range(10)) and set(np.unique(a.y_test)) == set(range(10))
    assert a.input_shape == (28, 28, 1) and a.num_classes == 10


@pytest.mark.parametrize("validation", ["split", "test"])
@pytest.mark.parametrize("subset", [0, 300])
def test_prepare_sizes_dtypes_and_scale(validation, subset):
    d = datasets.load("mnist-5k")
    p = datasets.prepare(d, datasets.DataOptions(subset=subset, validation=validation), seed=3)
    assert p.x_train.dtype == np.float32 and p.y_train.dtype == np.int32
    assert 0.0 <= p.x_train.min() and p.x_train.max() <= 1.0
    if subset:
        assert len(p.x_train) == subset
    elif validation == "split":
        assert len(p.x_train) + len(p.x_val) == len(d.x_train)
    else:
        assert len(p.x_train) == len(d.x_train) and len(p.x_val) == len(d.x_test)
    assert len(p.x_train) == len(p.y_train) and len(p.x_val) == len(p.y_val)


def test_standardise_centres_the_training_images():
    p = datasets.prepare(datasets.load("mnist-5k"), datasets.DataOptions(normalise="standardise", subset=500))
    assert abs(float(p.x_train.mean())) < 1e-3 and abs(float(p.x_train.std()) - 1) < 1e-2


def test_augment_flip_and_shift_invariants():
    rng = np.random.default_rng(0)
    x = rng.random((16, 6, 6, 1)).astype(np.float32)
    flipped = datasets.augment_batch(x, np.random.default_rng(1), flip=True, shift=0.0)
    for a, b in zip(x, flipped, strict=True):
        assert np.array_equal(a, b) or np.array_equal(a[:, ::-1], b)
    shifted = datasets.augment_batch(x, np.random.default_rng(1), flip=False, shift=0.34)
    assert shifted.shape == x.shape and shifted.dtype == x.dtype
    assert (shifted.sum(axis=(1, 2, 3)) <= x.sum(axis=(1, 2, 3)) + 1e-4).all()  # zero fill never adds
    assert np.array_equal(datasets.augment_batch(x, rng, flip=False, shift=0.0), x)


def test_user_npz_loads(tmp_path):
    d = datasets.load(write_npz(tmp_path / "ok.npz"))
    assert d.input_shape == (8, 8, 1) and d.num_classes == 3 and len(d.y_train) == 20


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"y_test": None}, "lacks y_test"),
        ({"x_train": np.full((20, 8, 8), np.nan, np.float32)}, "NaN"),
        ({"y_train": np.arange(19) % 3}, "20 images but y_train has 19"),
        ({"y_train": -(np.arange(20) % 3)}, "negative label"),
        ({"x_test": np.zeros((10, 9, 9), np.uint8)}, "must match"),
        ({"x_train": np.array(["a"] * 20)}, "only plain numbers"),
        ({"x_train": np.zeros(20, np.uint8)}, "numeric images"),
        ({"x_train": np.zeros((20, 8, 8, 5), np.uint8)}, "5 channels"),
        ({"y_test": np.full(10, 7)}, "label 7"),
        ({"y_train": np.zeros(20, np.int64)}, "single class"),
        ({"y_train": np.full(20, 0.5)}, "whole-number"),
    ],
)
def test_bad_user_npz_gives_a_clear_error(tmp_path, arrays, words):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=words):
        datasets.load(path)


def test_not_an_npz_and_missing_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not an npz archive"):
        datasets.load(str(junk))
    with pytest.raises(DataError, match="does not exist"):
        datasets.load(str(tmp_path / "missing.npz"))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_keras_dataset_missing_from_cache_names_the_file(tmp_path, monkeypatch, name):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match=str(tmp_path / "datasets")):
        datasets.load(name)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        datasets.load("imagenet")


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize(("shape", "classes"), [((28, 28, 1), 10), ((32, 32, 3), 100)])
def test_adapt_spec_follows_the_dataset_or_says_why_not(preset, shape, classes):
    spec = resolve(preset)
    try:
        adapted = datasets.adapt_spec(spec, shape, classes)
    except ConfigError as exc:
        assert preset in str(exc) and "x".join(map(str, shape)) in str(exc)
        return
    assert tuple(adapted.config.input_shape) == shape and adapted.config.num_classes == classes
    assert adapted.builder == spec.builder and adapted.preset == spec.preset


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"epochs": 0, "max_seconds": 0.0}, "time budget"),
        ({"epochs": 2.5}, "epochs"),
    ],
)
def test_bad_hyperparameters(values, words):
    with pytest.raises(ConfigError, match=words):
        make_config(Hyperparams, **values)


@pytest.mark.skipif(backend_available("torch"), reason="torch is installed here")
def test_missing_backend_is_refused():
    with pytest.raises(ConfigError, match="torch is not installed"):
        Hyperparams(backend="torch")


@pytest.mark.parametrize(("values", "words"), [({"subset": -1}, "subset"), ({"validation": "x"}, "validation"),
                                               ({"shift": 0.9}, "shift"), ({"normalise": "zca"}, "normalise")])
def test_bad_data_options(values, words):
    with pytest.raises(ConfigError, match=words):
        datasets.DataOptions(**values)


def test_request_round_trip_and_check(tmp_path):
    req = RunRequest("cnn", None, {"conv_layers": 1, "input_shape": (28, 28, 1)}, "mnist-5k",
                     datasets.DataOptions(subset=100, flip=True), Hyperparams(epochs=2, optimizer="rmsprop"))
    assert RunRequest.from_dict(req.to_dict()) == req
    req.check()
    with pytest.raises(ConfigError, match="cannot train on 8x8"):  # 3 convs of the tutorial CNN need more pixels
        RunRequest("mnist-cnn", dataset=write_npz(tmp_path / "small.npz")).check()


def test_store_points_csv_stop_and_progress(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    rid = store.add_run("x", RunRequest("cnn").to_dict())
    assert store.request_stop(rid) and store.get(rid).status == "stopped"  # a queued run stops at once
    rid = store.add_run("y", RunRequest("cnn").to_dict())
    store.update(rid, status="running", epochs=2, steps_per_epoch=10, epoch=2, step=5, elapsed=3.0)
    pts = [{"kind": "batch", "epoch": 1, "step": i, "elapsed": i / 10, "loss": 1 / i} for i in range(1, 11)]
    store.add_points(rid, [*pts, {"kind": "epoch", "epoch": 1, "step": 10, "elapsed": 1.0, "loss": 0.2, "val_loss": 0.3, "accuracy": 0.5, "val_accuracy": 0.6}])
    assert len(store.points(rid, "batch")) == 10 and len(store.points(rid, "epoch")) == 1
    lines = store.history_csv(rid).strip().splitlines()
    assert len(lines) == 12 and lines[0].startswith("kind,epoch,step")
    run = store.get(rid)
    assert fraction_done(run) == pytest.approx(0.75) and eta_seconds(run) == pytest.approx(1.0)
    assert run_row(run)["status"] == "running"
    assert store.request_stop(rid) and store.get(rid).status == "running" and store.stop_requested(rid)


def test_smoothing_and_curves_figure():
    ys = [3.0, 1.0, 2.0, 5.0]
    assert smooth(ys, 0.0) == ys
    assert smooth([2.0] * 5, 0.9) == pytest.approx([2.0] * 5)  # bias-corrected EMA keeps a constant
    pts = [{"kind": "batch", "step": i, "epoch": 1, "loss": 1.0 / i, "accuracy": 0.1 * i} for i in range(1, 6)]
    pts.append({"kind": "epoch", "step": 5, "epoch": 1, "loss": 0.2, "accuracy": 0.5, "val_loss": 0.3,
                "val_accuracy": 0.4})
    fig = curves_figure([("a", pts), ("b", pts[:3])], "loss", smoothing=0.5)
    names = [t.name for t in fig.data]
    assert names == ["a", "a", "a", "b"]  # one legend entry per run when overlaying
    assert [t.showlegend is not False for t in fig.data] == [True, False, False, True]
    assert [t.name for t in curves_figure([("a", pts)], "accuracy").data] == [
        "train (per step)", "train (per epoch)", "validation (per epoch)"]


@pytest.mark.parametrize("label,make,words", hostile_files.NPZ_CASES, ids=[c[0] for c in hostile_files.NPZ_CASES])
def test_hostile_datasets_are_refused_before_loading(tmp_path, label, make, words):
    import resource

    path = make(tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError) as info:
        datasets.load_npz(path)
    msg = str(info.value)
    assert words in msg and "\n" not in msg and len(msg) < 400, msg
    grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grew_kb < 200 * 1024  # nothing declared (up to 4 TB) was allocated or inflated
    with pytest.raises(DataError, match=r"uploaded-name\.npz"):
        datasets.load_npz(path, shown="uploaded-name.npz")


def test_a_dataset_over_the_memory_cap_is_refused_and_one_under_it_loads(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "ok.npz")
    monkeypatch.setenv("EXPLORER_MAX_DATASET_MB", "0.01")  # 10 KB: the 30 8x8 images need 7.7 KB as float32
    assert datasets.load_npz(path).x_train.shape == (20, 8, 8, 1)
    write_npz(tmp_path / "big.npz", x_train=np.zeros((60, 8, 8), np.uint8), y_train=np.arange(60) % 3)
    with pytest.raises(DataError, match="would need 0 MB as float32"):
        datasets.load_npz(tmp_path / "big.npz")


def test_datasets_and_models_are_stored_by_one_function(tmp_path):
    from explorer.uploads import store_upload

    data = (tmp_path / "x.npz").read_bytes() if (tmp_path / "x.npz").exists() else open(write_npz(tmp_path / "x.npz"), "rb").read()
    stored = store_upload("my data.npz", data, "dataset", tmp_path / "uploads")
    assert stored.name.startswith("my_data-") and stored.suffix == ".npz"
    assert datasets.load_npz(stored, shown="my data.npz").num_classes == 3
    with pytest.raises(DataError, match="not a dataset file"):
        store_upload("my data.keras", data, "dataset", tmp_path / "uploads")
