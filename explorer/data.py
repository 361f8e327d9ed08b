"""Datasets for training runs: the Keras datasets, a bundled MNIST subset and a user's ``.npz``.

Names: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100`` (through ``keras.datasets``,
read from its cache under ``~/.keras/datasets``; nothing is downloaded when the file is
missing: a :class:`DataError` names the file and where to put it), ``mnist-5k`` (bundled under
``assets/datasets/mnist_5k.npz``: 5,000 real MNIST digits, 500 per class, split 4,000/1,000
with a fixed seed; the default, works offline) and a path to a user ``.npz`` holding
``x_train, y_train, x_test, y_test``.

:func:`load` returns a :class:`Dataset` (arrays plus shape and classes); :func:`prepare` applies
:class:`DataOptions` (subset, validation split or test set, normalisation); :func:`augment_batch`
flips and shifts images; :func:`adapt_spec` rebuilds a model config for the dataset's input
shape and number of classes, and :func:`adapt` also adapts the *data* to the architecture where
that is the standard move (zero-pad 28x28 digits to 32x32 as LeNet-5 did, repeat a grey channel
for an RGB model) when the images as they are cannot be taken; :func:`apply_adaptation` does it
to the arrays. Only NumPy is needed here (no Keras backend).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parent.parent
MNIST_5K = ROOT / "assets" / "datasets" / "mnist_5k.npz"
DEFAULT_DATASET = "mnist-5k"
SPLIT_SEED = 1234
MAX_NPZ_BYTES = 500 * 1024 * 1024  # the file (EXPLORER_MAX_NPZ_MB)
MAX_DATASET_BYTES = 1024 * 1024 * 1024  # its arrays as float32, as training holds them (EXPLORER_MAX_DATASET_MB)
NPZ_MEMBERS = 16
NPZ_RATIO = 200  # uncompressed / compressed (savez_compressed MNIST: ~7)


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset.

    Attributes:
        name: registry key.
        description: one line for forms and ``--help``.
        input_shape: height, width, channels of one image.
        num_classes: number of label values.
        cache: the file or folder (under ``~/.keras/datasets``) that must exist offline.
        origin: where to get that file.
    """

    name: str
    description: str
    input_shape: tuple[int, int, int]
    num_classes: int
    cache: str | None = None
    origin: str | None = None


_GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DATASETS: dict[str, DatasetInfo] = {
    "mnist-5k": DatasetInfo(
        "mnist-5k", "MNIST subset bundled with the app: 4,000 train / 1,000 test digits (offline).",
        (28, 28, 1), 10,
    ),
    "mnist": DatasetInfo(
        "mnist", "MNIST digits, 60,000 / 10,000 (keras.datasets).", (28, 28, 1), 10,
        "mnist.npz", _GCS + "mnist.npz",
    ),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", "Fashion-MNIST clothing, 60,000 / 10,000 (keras.datasets).", (28, 28, 1), 10,
        "fashion-mnist/train-images-idx3-ubyte.gz", _GCS + "train-images-idx3-ubyte.gz (and the other 3 files)",
    ),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10 colour images, 50,000 / 10,000 (keras.datasets).", (32, 32, 3), 10,
        "cifar-10-batches-py-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": DatasetInfo(
        "cifar100", "CIFAR-100 colour images, 100 fine classes (keras.datasets).", (32, 32, 3), 100,
        "cifar-100-python-target_archive", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


class _Images:
    """``input_shape`` from the training images a dataset holds."""

    x_train: np.ndarray

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Height, width, channels of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]


@dataclass
class Dataset(_Images):
    """Arrays of one dataset; images are ``(n, h, w, c)``, labels ``(n,)`` int32."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


@dataclass(frozen=True)
class DataOptions:
    """How a dataset is cut and scaled for a run.

    Attributes:
        subset: use at most this many training images (0: all).
        validation: ``"split"`` (hold out ``val_fraction`` of the training images) or ``"test"``.
        val_fraction: the held-out fraction for ``"split"``.
        normalise: ``"scale"`` (divide by 255 when the data are 0..255), ``"standardise"``
            (zero mean, unit variance per channel, from the training images) or ``"none"``.
        flip: random horizontal flips during training.
        shift: random shifts up to this fraction of the image size during training.
    """

    subset: int = 0
    validation: str = "split"
    val_fraction: float = 0.1
    normalise: str = "scale"
    flip: bool = False
    shift: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.subset, int) or isinstance(self.subset, bool) or self.subset < 0:
            raise ConfigError(f"subset must be a whole number of images (0 for all), not {str(self.subset)[:40]}.")
        if self.validation not in ("split", "test"):
            raise ConfigError(f"validation {self.validation!r} is not allowed; choose split or test.")
        if not isinstance(self.val_fraction, (int, float)) or not 0.01 <= self.val_fraction <= 0.5:
            raise ConfigError(f"val_fraction {self.val_fraction!r} is out of range; it must be between 0.01 and 0.5.")
        if self.normalise not in ("scale", "standardise", "none"):
            raise ConfigError(f"normalise {self.normalise!r} is not allowed; choose scale, standardise or none.")
        if not isinstance(self.shift, (int, float)) or not 0.0 <= self.shift <= 0.5:
            raise ConfigError(f"shift {self.shift!r} is out of range; it must be between 0 and 0.5.")

    @property
    def augments(self) -> bool:
        """True when training batches are augmented."""
        return self.flip or self.shift > 0


@dataclass
class Prepared(_Images):
    """Arrays ready for ``model.fit``: float32 images, int32 labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


def names() -> list[str]:
    """The registered dataset names, default first."""
    return list(DATASETS)


def is_file_source(source: str) -> bool:
    """True when ``source`` is a path to a user ``.npz`` rather than a registered name."""
    return source not in DATASETS and (source.lower().endswith(".npz") or os.sep in source)


def keras_cache_dir() -> Path:
    """Where ``keras.datasets`` keeps its files (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def check_source(source: str) -> None:
    """Check that a dataset can be loaded, without loading a large one.

    Raises:
        DataError: unknown name, a Keras dataset missing from the cache, or a bad ``.npz``.
    """
    if is_file_source(source):
        load_npz(source)
        return
    info = _info(source)
    if info.cache and not (keras_cache_dir() / info.cache).exists():
        raise _missing(info)


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset {name[:60]!r}; choose one of {', '.join(DATASETS)} or give a path to an .npz file."
        )
    return DATASETS[name]


def _missing(info: DatasetInfo) -> DataError:
    where = keras_cache_dir() / (info.cache or "")
    return DataError(
        f"dataset {info.name} is not in the Keras cache and cannot be downloaded here; "
        f"download {info.origin} and put it at {where} (or use mnist-5k, which works offline)."
    )


def load(source: str) -> Dataset:
    """Load a registered dataset or a user ``.npz`` path.

    Raises:
        DataError: for unknown names, missing cache files and invalid files.
    """
    if is_file_source(source):
        return load_npz(source)
    info = _info(source)
    if info.name == "mnist-5k":
        return _load_mnist_5k()
    check_source(source)
    try:
        arrays = _load_keras(info.name)
    except DataError:
        raise
    except Exception as exc:  # a damaged cache file: one sentence, not a traceback
        raise DataError(f"dataset {info.name} could not be read from {keras_cache_dir()}: {str(exc)[:160]}") from None
    x_train, y_train, x_test, y_test = arrays
    return _as_dataset(info.name, x_train, y_train, x_test, y_test, info.num_classes)


def _load_keras(name: str) -> tuple[np.ndarray, ...]:
    cache = keras_cache_dir()
    if name == "mnist":
        with np.load(cache / "mnist.npz", allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    if name == "fashion_mnist":
        folder = cache / "fashion-mnist"

        def read(stem: str, offset: int) -> np.ndarray:
            with gzip.open(folder / stem, "rb") as fh:
                return np.frombuffer(fh.read(), np.uint8, offset=offset)

        y_train = read("train-labels-idx1-ubyte.gz", 8)
        x_train = read("train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
        y_test = read("t10k-labels-idx1-ubyte.gz", 8)
        x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
        return x_train, y_train, x_test, y_test
    # CIFAR: the archive Keras keeps (a tar.gz), read without extracting it.
    archive = cache / DATASETS[name].cache  # type: ignore[operator]
    parts: dict[str, dict] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            if base.startswith("data_batch") or base in ("test_batch", "train", "test"):
                parts[base] = pickle.load(tar.extractfile(member), encoding="bytes")
    key = b"labels" if name == "cifar10" else b"fine_labels"
    train = [parts[k] for k in sorted(parts) if k.startswith("data_batch")] or [parts["train"]]
    test = parts.get("test_batch") or parts["test"]

    def images(d: dict) -> np.ndarray:
        return np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)

    x_train = np.concatenate([images(d) for d in train])
    y_train = np.concatenate([np.asarray(d[key]) for d in train])
    return x_train, y_train, images(test), np.asarray(test[key])


def _load_mnist_5k() -> Dataset:
    with np.load(MNIST_5K, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    cut = len(x) * 4 // 5
    tr, te = order[:cut], order[cut:]
    return _as_dataset("mnist-5k", x[tr], y[tr], x[te], y[te], 10)


def _as_dataset(name: str, x_train, y_train, x_test, y_test, num_classes: int) -> Dataset:
    def images(x: np.ndarray) -> np.ndarray:
        return x[..., None] if x.ndim == 3 else x

    return Dataset(
        name, images(x_train), np.asarray(y_train).reshape(-1).astype(np.int32),
        images(x_test), np.asarray(y_test).reshape(-1).astype(np.int32), num_classes,
    )


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _env_mb(name: str, default: int) -> int:
    try:
        value = float(os.environ.get(name, ""))
        return int(value * 2**20) if value > 0 else default
    except ValueError:
        return default


def max_npz_bytes() -> int:
    """The largest dataset file accepted (``EXPLORER_MAX_NPZ_MB``, default 500)."""
    return _env_mb("EXPLORER_MAX_NPZ_MB", MAX_NPZ_BYTES)


def max_dataset_bytes() -> int:
    """The most memory a dataset's arrays may take as float32 (``EXPLORER_MAX_DATASET_MB``, default 1024)."""
    return _env_mb("EXPLORER_MAX_DATASET_MB", MAX_DATASET_BYTES)


@dataclass(frozen=True)
class NpyHeader:
    """What one ``.npy`` member of an archive declares."""

    dtype: np.dtype
    shape: tuple[int, ...]
    data_bytes: int  # bytes of array data the member holds after its header


def read_npz_headers(path: str | os.PathLike, shown: str | None = None) -> dict[str, NpyHeader]:
    """Check a dataset archive and the ``.npy`` headers of its four arrays, loading no data.

    Checks the zip (members, names, sizes, ratio: :func:`explorer.archive.check_zip`), then
    reads each array's header (magic, dtype, shape) with NumPy's header parser: numeric dtypes
    only (no object, string or structured arrays: those would need pickle), the data the
    header declares must be present, and all four arrays as float32 must fit
    :func:`max_dataset_bytes`.

    Returns:
        The header of each of ``x_train, y_train, x_test, y_test``.

    Raises:
        DataError: one sentence naming the file (``shown``) and the array.
    """
    from explorer.archive import ZipLimits, check_zip

    p = Path(path)
    name = (shown or p.name)[:100]
    what = f"dataset file {name}"
    cap = max_dataset_bytes()
    limits = ZipLimits(members=NPZ_MEMBERS, member_bytes=cap, total_bytes=cap, ratio=NPZ_RATIO)
    headers: dict[str, NpyHeader] = {}
    with check_zip(p, what, "an npz archive (save it with numpy.savez)", limits) as zf:
        members = set(zf.namelist())
        missing = [k for k in NPZ_KEYS if f"{k}.npy" not in members]
        if missing:
            raise DataError(f"dataset file {name} lacks {', '.join(missing)}; it needs x_train, y_train, x_test and y_test.")
        for key in NPZ_KEYS:
            info = zf.getinfo(f"{key}.npy")
            try:
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ValueError(f"version {version}")
                    header_len = fh.tell()
            except Exception as exc:  # bad magic, a header that is not a literal dict, a damaged member
                raise DataError(f"{key} in {name} is not a valid .npy array ({' '.join(str(exc).split())[:80]}).") from None
            if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "buif":
                raise DataError(f"{key} in {name} has dtype {str(dtype)[:40]}; only plain numbers are loaded "
                                "(object and structured arrays would need pickle, which is never loaded).")
            headers[key] = NpyHeader(dtype, tuple(int(d) for d in shape), info.file_size - header_len)
        total = 0
        for key, h in headers.items():
            count = 1
            for d in h.shape:
                count *= d
            need = count * h.dtype.itemsize
            total += count * 4
            if count * 4 > cap or total > cap:
                raise DataError(
                    f"{key} in {name} would need {count * 4 / 2**20:,.0f} MB as float32 for training "
                    f"(shape {'x'.join(map(str, h.shape))[:60]}); the limit for a whole dataset is {cap / 2**20:,.0f} MB.")
            if h.data_bytes < need:
                raise DataError(f"{key} in {name} is truncated: its header declares {need:,} bytes of data "
                                f"(shape {'x'.join(map(str, h.shape))[:60]}) but it holds {max(h.data_bytes, 0):,}.")
    return headers


def is_file(path: str | os.PathLike) -> bool:
    """``Path.is_file`` that says False, rather than raising, for names too long or otherwise unusable."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def load_npz(path: str | os.PathLike, shown: str | None = None) -> Dataset:
    """Load and validate a user ``.npz`` with ``x_train, y_train, x_test, y_test``.

    Everything :func:`read_npz_headers` checks is checked before any array is loaded (never
    with pickle). Images must be ``(n, h, w)`` or ``(n, h, w, c)`` numbers without NaN or
    infinity; labels whole numbers from 0 to classes-1, one per image; train and test images of
    the same shape.

    Args:
        path: the file.
        shown: the name the user gave it (an upload's name), for messages.

    Raises:
        DataError: naming the array and what is wrong with it.
    """
    p = Path(path)
    name = (shown or p.name)[:100]
    if not is_file(p):
        raise DataError(f"dataset file {str(path)[:200]!r} does not exist.")
    size = p.stat().st_size
    if size > max_npz_bytes():
        raise DataError(f"dataset file {name} is {size / 2**20:,.0f} MB, over the {max_npz_bytes() // 2**20} MB limit.")
    if not zipfile.is_zipfile(p):
        raise DataError(f"dataset file {name} is not an npz archive (save it with numpy.savez).")
    read_npz_headers(p, name)
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in NPZ_KEYS}
    except Exception as exc:  # checked above; a member damaged past its header
        raise DataError(f"dataset file {name} could not be read: {' '.join(str(exc).split())[:160]}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype.kind not in "uif" or x.ndim not in (3, 4):
            raise DataError(
                f"x_{split} in {name} must be numeric images shaped (n, height, width) or (n, height, width, channels), "
                f"not {x.dtype} {x.shape}."
            )
        if len(x) == 0:
            raise DataError(f"x_{split} in {name} has no images.")
        if x.ndim == 4 and not 1 <= x.shape[-1] <= 4:
            raise DataError(f"x_{split} in {name} has {x.shape[-1]} channels; use 1 to 4 (channels last).")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DataError(f"x_{split} in {name} contains NaN or infinite values.")
        if y.dtype.kind not in "ui" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
            raise DataError(f"y_{split} in {name} must hold whole-number class labels, not {y.dtype}.")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
            arrays[f"y_{split}"] = y
        if y.ndim != 1:
            raise DataError(f"y_{split} in {name} must be one label per image (shape (n,)), not {y.shape}.")
        if len(y) != len(x):
            raise DataError(f"x_{split} in {name} has {len(x)} images but y_{split} has {len(y)} labels.")
        if y.min() < 0:
            raise DataError(f"y_{split} in {name} has a negative label ({int(y.min())}); labels start at 0.")
    shapes = [arrays[k].shape[1:] if arrays[k].ndim == 4 else (*arrays[k].shape[1:], 1) for k in ("x_train", "x_test")]
    if shapes[0] != shapes[1]:
        raise DataError(f"x_train images are {shapes[0]} but x_test images are {shapes[1]} in {name}; they must match.")
    num_classes = int(arrays["y_train"].max()) + 1
    if num_classes < 2:
        raise DataError(f"y_train in {name} has a single class; a classifier needs at least 2.")
    if int(arrays["y_test"].max()) >= num_classes:
        raise DataError(
            f"y_test in {name} has label {int(arrays['y_test'].max())}, but y_train only has labels 0 to {num_classes - 1}."
        )
    return _as_dataset(name, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], num_classes)


def prepare(data: Dataset, options: DataOptions, seed: int = 0) -> Prepared:
    """Cut, split and scale a dataset for training.

    Args:
        data: the loaded dataset.
        options: subset, validation, normalisation.
        seed: picks the subset and the validation split.

    Returns:
        Float32 images and int32 labels for training, validation and test.
    """
    rng = np.random.default_rng(seed)
    x, y = data.x_train, data.y_train
    x_test, y_test = data.x_test, data.y_test
    if options.validation == "split":
        order = rng.permutation(len(x))
        n_val = max(1, round(len(x) * options.val_fraction))
        val, train = order[:n_val], order[n_val:]
        x_val, y_val, x, y = x[val], y[val], x[train], y[train]
    else:
        x_val, y_val = x_test, y_test
    if options.subset and options.subset < len(x):
        pick = np.sort(rng.permutation(len(x))[: options.subset])
        x, y = x[pick], y[pick]
        keep = max(1, min(len(x_val), options.subset // 4 or 1))
        x_val, y_val = x_val[:keep], y_val[:keep]
    if len(x) == 0:
        raise DataError(f"dataset {data.name} has no training images left after the validation split.")
    xs = [a.astype(np.float32) for a in (x, x_val, x_test)]
    if options.normalise == "scale" and (data.x_train.dtype.kind in "ui" or float(xs[0].max()) > 1.5):
        xs = [a / np.float32(255.0) for a in xs]
    elif options.normalise == "standardise":
        axes = tuple(range(xs[0].ndim - 1))
        mean = xs[0].mean(axis=axes, keepdims=True)
        std = xs[0].std(axis=axes, keepdims=True) + np.float32(1e-6)
        xs = [(a - mean) / std for a in xs]
    return Prepared(data.name, xs[0], y, xs[1], y_val, xs[2], y_test, data.num_classes)


def augment_batch(x: np.ndarray, rng: np.random.Generator, flip: bool, shift: float) -> np.ndarray:
    """Randomly flip (left-right) and shift (with zero fill) a batch of images.

    Args:
        x: images ``(n, h, w, c)``.
        rng: random source.
        flip: flip half of the images horizontally.
        shift: largest shift as a fraction of height and width.

    Returns:
        A new array of the same shape and dtype.
    """
    out = x.copy()
    n, h, w = x.shape[:3]
    if flip:
        mask = rng.random(n) < 0.5
        out[mask] = out[mask, :, ::-1]
    if shift > 0:
        dy_max, dx_max = round(h * shift), round(w * shift)
        for i in range(n):
            dy = int(rng.integers(-dy_max, dy_max + 1)) if dy_max else 0
            dx = int(rng.integers(-dx_max, dx_max + 1)) if dx_max else 0
            if dy or dx:
                out[i] = np.roll(out[i], (dy, dx), axis=(0, 1))
                if dy > 0:
                    out[i, :dy] = 0
                elif dy < 0:
                    out[i, dy:] = 0
                if dx > 0:
                    out[i, :, :dx] = 0
                elif dx < 0:
                    out[i, :, dx:] = 0
    return out


def adapt_spec(spec: Any, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """Rebuild a spec's config for a dataset's image shape and number of classes.

    Args:
        spec: a resolved :class:`explorer.builders.Spec`.
        input_shape: height, width, channels of the dataset's images.
        num_classes: the dataset's number of classes.

    Returns:
        A new spec (the same one when nothing changes).

    Raises:
        ConfigError: when the architecture cannot take this input (too small, wrong channels).
    """
    from explorer.builders import get_builder

    cls = get_builder(spec.builder).config_cls
    fields = {f.name for f in dataclasses.fields(cls)}
    changes: dict[str, Any] = {}
    if "input_shape" in fields and tuple(spec.config.input_shape) != tuple(input_shape):
        changes["input_shape"] = tuple(int(d) for d in input_shape)
    if "num_classes" in fields and spec.config.num_classes != num_classes:
        changes["num_classes"] = int(num_classes)
    if not changes:
        return spec
    try:
        return spec.with_changes(**changes)
    except ConfigError as exc:
        shape = "x".join(str(d) for d in input_shape)
        raise ConfigError(f"{spec.label} cannot train on {shape} images: {exc}") from None


@dataclass(frozen=True)
class Adaptation:
    """How a dataset's images are changed to fit an architecture (nothing by default).

    Attributes:
        size: zero-pad the images (centred) to this height and width, or None.
        channels: repeat a single channel this many times, or None.
    """

    size: tuple[int, int] | None = None
    channels: int | None = None

    def __bool__(self) -> bool:
        return self.size is not None or self.channels is not None

    def shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """The image shape after the adaptation."""
        h, w, c = (int(d) for d in input_shape)
        if self.size:
            h, w = self.size
        return h, w, self.channels or c

    def describe(self, input_shape: tuple[int, ...]) -> str:
        """A short text for labels and run details, e.g. ``padded 28x28→32x32``; '' when none."""
        h, w, c = (int(d) for d in input_shape)
        parts = []
        if self.size:
            parts.append(f"padded {h}x{w}→{self.size[0]}x{self.size[1]}")
        if self.channels:
            parts.append(f"{c}→{self.channels} channels")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the run's record)."""
        return {"size": list(self.size) if self.size else None, "channels": self.channels}


PAD_TO = 32  # LeNet-5's 32x32 input for 28x28 digits; also what the CIFAR architectures expect
PAD_FROM = 24  # smaller images are not padded (a border wider than the digit is no standard move)


def adapt(spec: Any, input_shape: tuple[int, ...], num_classes: int) -> tuple[Any, Adaptation]:
    """The spec for a dataset, adapting the data when the architecture cannot take it as it is.

    Tries the images as they are, then zero-padded to 32x32 (images from 24 up to 32 pixels),
    then with the grey channel repeated to 3, then both.

    Returns:
        ``(spec, adaptation)``; the adaptation is empty when the images fit.

    Raises:
        ConfigError: the architecture cannot take the images even adapted (the reason of the
            most adapted try).
    """
    h, w, c = (int(d) for d in input_shape)
    tries = [Adaptation()]
    if PAD_FROM <= min(h, w) and (h < PAD_TO or w < PAD_TO):
        tries.append(Adaptation(size=(max(h, PAD_TO), max(w, PAD_TO))))
    if c == 1:
        tries.append(Adaptation(channels=3))
        if len(tries) == 3:
            tries.append(Adaptation(size=tries[1].size, channels=3))
    last: ConfigError | None = None
    for a in tries:
        try:
            return adapt_spec(spec, a.shape(input_shape), num_classes), a
        except ConfigError as exc:
            last = exc
    assert last is not None
    raise ConfigError(str(last).replace("x".join(map(str, tries[-1].shape(input_shape))), "x".join(map(str, input_shape)), 1))


def apply_adaptation(x: np.ndarray, adaptation: Adaptation) -> np.ndarray:
    """Pad and/or repeat the channel of images ``(n, h, w, c)`` as ``adaptation`` says."""
    if adaptation.size:
        h, w = x.shape[1:3]
        th, tw = adaptation.size
        top, left = (th - h) // 2, (tw - w) // 2
        x = np.pad(x, ((0, 0), (top, th - h - top), (left, tw - w - left), (0, 0)))
    if adaptation.channels and x.shape[-1] == 1:
        x = np.repeat(x, adaptation.channels, axis=-1)
    return x
