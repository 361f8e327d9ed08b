"""Hostile and malformed uploads, built on the spot: small on disk, huge or harmful when trusted.

Used by ``tests/test_model_io.py``, ``tests/test_data.py`` and ``benchmarks/hostile_uploads.py``.
Each maker writes one file into a folder and returns its path; :data:`MODEL_CASES` and
:data:`NPZ_CASES` pair each maker with words its refusal must contain.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

MB = 2**20


def small_model(keras):
    """A tiny functional model (Dense 'fc' on 4 inputs)."""
    inp = keras.Input((4,), name="x")
    out = keras.layers.Dense(3, name="fc")(inp)
    return keras.Model(inp, out, name="tiny")


def tiny_config() -> dict:
    """The ``config.json`` of :func:`small_model`, built once per process."""
    global _TINY
    if _TINY is None:
        import tempfile

        import keras

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "t.keras"
            small_model(keras).save(path)
            with zipfile.ZipFile(path) as z:
                _TINY = (json.loads(z.read("config.json")), z.read("metadata.json"))
    return json.loads(json.dumps(_TINY[0]))


_TINY: tuple | None = None


def write_keras(path: Path, config: dict | bytes | str, extra: dict[str, bytes] | None = None,
                compression: int = zipfile.ZIP_STORED) -> Path:
    """A ``.keras`` zip with this config.json (and metadata.json, and extra members)."""
    tiny_config()
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("metadata.json", _TINY[1])
        body = config if isinstance(config, (bytes, str)) else json.dumps(config)
        z.writestr("config.json", body)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def _layer(cfg: dict, name: str) -> dict:
    return next(layer for layer in cfg["config"]["layers"] if layer["config"]["name"] == name)


def _deflated_member(z: zipfile.ZipFile, name: str, size: int, fill: bytes = b" ") -> None:
    """Write ``size`` bytes of ``fill`` as one deflated member, a megabyte at a time."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w", force_zip64=size > 2**31) as fh:
        chunk = fill * MB
        for _ in range(size // MB):
            fh.write(chunk)


# -- .keras files -----------------------------------------------------------------------------
def config_bomb(folder: Path) -> Path:
    """config.json inflating to 200 MB of spaces (~200 KB on disk)."""
    path = folder / "config-bomb.keras"
    with zipfile.ZipFile(path, "w") as z:
        _deflated_member(z, "config.json", 200 * MB)
    return path


def member_bomb(folder: Path) -> Path:
    """A valid model plus a 64 MB member of zeros (~64 KB on disk: a ratio of ~1000)."""
    path = write_keras(folder / "member-bomb.keras", tiny_config())
    with zipfile.ZipFile(path, "a") as z:
        _deflated_member(z, "model.weights.h5", 64 * MB, b"\0")
    return path


def lying_sizes(folder: Path) -> Path:
    """A member whose headers declare 5 GB (patched), so nothing needs to inflate to prove it."""
    path = write_keras(folder / "lying-sizes.keras", tiny_config(), {"model.weights.h5": b"x" * 1000})
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02", 0)
    while at >= 0:  # central directory entries: set the uncompressed size of the weights member
        name_len = struct.unpack("<H", data[at + 28:at + 30])[0]
        if bytes(data[at + 46:at + 46 + name_len]) == b"model.weights.h5":
            data[at + 24:at + 28] = struct.pack("<I", 0xFFFFFFF0)  # ~4 GB
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def many_members(folder: Path) -> Path:
    """20,000 empty members (~2 MB on disk)."""
    path = folder / "many-members.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(tiny_config()))
        for i in range(20_000):
            z.writestr(f"assets/{i}", b"")
    return path


def traversal(name: str) -> Callable[[Path], Path]:
    """A model whose archive also holds a member named ``name`` (``../evil.txt``...)."""
    def make(folder: Path) -> Path:
        return write_keras(folder / "traversal.keras", tiny_config(), {name: b"pwned"})
    return make


def lambda_layer(folder: Path) -> Path:
    """A Lambda layer named 'evil' whose (marshalled) code would write a file."""
    cfg = tiny_config()
    fc = _layer(cfg, "fc")
    fc.update({"class_name": "Lambda", "module": "keras.layers"})
    fc["config"] = {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "4wAAAA==",
                    "defaults": None, "closure": None}}, "arguments": {}}
    return write_keras(folder / "lambda.keras", cfg)


def foreign_module(folder: Path) -> Path:
    """Layer 'fc' claiming class 'system' from module 'os' (the CVE-2025-1550 pattern)."""
    cfg = tiny_config()
    fc = _layer(cfg, "fc")
    fc.update({"module": "os", "class_name": "system", "registered_name": None})
    return write_keras(folder / "foreign-module.keras", cfg)


def nested_custom(folder: Path) -> Path:
    """Dense 'fc' with a custom regularizer from another package, deep inside its config."""
    cfg = tiny_config()
    _layer(cfg, "fc")["config"]["kernel_regularizer"] = {
        "module": "evilpkg.regularizers", "class_name": "Sneaky", "config": {}, "registered_name": "evilpkg>Sneaky"}
    return write_keras(folder / "nested-custom.keras", cfg)


def custom_registered(folder: Path) -> Path:
    """A layer that claims to be keras.layers.Dense but is registered as a custom class."""
    cfg = tiny_config()
    _layer(cfg, "fc")["registered_name"] = "MyPackage>Dense"
    return write_keras(folder / "custom-registered.keras", cfg)


def python_function(folder: Path) -> Path:
    """An activation given as the function ``builtins.eval``."""
    cfg = tiny_config()
    _layer(cfg, "fc")["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"}
    return write_keras(folder / "python-function.keras", cfg)


def deep_json(folder: Path) -> Path:
    """config.json nested 200,000 levels deep (200 KB)."""
    return write_keras(folder / "deep-json.keras", "[" * 200_000 + "]" * 200_000)


def deep_config(folder: Path) -> Path:
    """A valid JSON object nested 500 levels inside a layer's config."""
    cfg = tiny_config()
    inner: dict = {}
    node = inner
    for _ in range(500):
        node["x"] = {}
        node = node["x"]
    _layer(cfg, "fc")["config"]["extra"] = inner
    return write_keras(folder / "deep-config.keras", cfg)


def not_a_model(folder: Path) -> Path:
    """config.json holding a single Dense layer, not a model."""
    return write_keras(folder / "not-a-model.keras", _layer(tiny_config(), "fc"))


def not_json(folder: Path) -> Path:
    """config.json that is not JSON."""
    return write_keras(folder / "not-json.keras", b"\xff\xfe not json")


def no_config(folder: Path) -> Path:
    """A zip with no config.json."""
    path = folder / "no-config.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a model")
    return path


def truncated(folder: Path) -> Path:
    """The first half of a valid archive."""
    whole = write_keras(folder / "whole.keras", tiny_config(), {"model.weights.h5": b"w" * 5000}).read_bytes()
    path = folder / "truncated.keras"
    path.write_bytes(whole[: len(whole) // 2])
    (folder / "whole.keras").unlink()
    return path


def memory_bomb(folder: Path) -> Path:
    """Passes every check, but its Normalization layer broadcasts its mean to 10^9 features."""
    cfg = tiny_config()
    for layer in cfg["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None, 1_000_000_000]
    fc = _layer(cfg, "fc")
    fc.update({"class_name": "Normalization", "module": "keras.layers", "build_config": {"input_shape": [None, 1_000_000_000]}})
    fc["config"] = {"name": "fc", "trainable": True, "dtype": "float32", "axis": [-1], "mean": [0.5], "variance": [1.0],
                    "invert": False}
    fc["inbound_nodes"][0]["args"][0]["config"]["shape"] = [None, 1_000_000_000]
    return write_keras(folder / "memory-bomb.keras", cfg)


def huge_dense(folder: Path) -> Path:
    """A valid model declaring a Dense layer of 2^28 units: 268M parameters (1 GB of float32)."""
    cfg = tiny_config()
    _layer(cfg, "fc")["config"]["units"] = 2**28
    return write_keras(folder / "huge-dense.keras", cfg)


# -- .h5 files --------------------------------------------------------------------------------
def h5_lambda(folder: Path) -> Path:
    """A legacy .h5 model with a Lambda layer named 'evil' (its config as Keras writes it)."""
    import h5py

    cfg = json.loads(json.dumps(tiny_config()))
    fc = _layer(cfg, "fc")
    fc.update({"class_name": "Lambda"})
    fc["config"] = {"name": "evil", "function": ["4wAAAA==", None, None], "function_type": "lambda"}
    for layer in cfg["config"]["layers"]:
        layer.pop("module", None)
    cfg.pop("module", None)
    path = folder / "lambda.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
    return path


def h5_weights_only(folder: Path) -> Path:
    """An HDF5 file with no model_config (as ``save_weights`` writes)."""
    import h5py

    path = folder / "weights-only.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("w", data=np.zeros(4))
    return path


def h5_truncated(folder: Path) -> Path:
    """The first half of an HDF5 model file."""
    import h5py

    whole = folder / "whole.h5"
    with h5py.File(whole, "w") as f:
        f.attrs["model_config"] = json.dumps(tiny_config())
        f.create_dataset("w", data=np.zeros(20_000))
    data = whole.read_bytes()
    whole.unlink()
    path = folder / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    return path


MODEL_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("zip bomb in config.json", config_bomb, "'config.json' inflates"),
    ("zip bomb in a member", member_bomb, "zip bomb"),
    ("declared 4 GB member", lying_sizes, "would inflate to"),
    ("20,000 members", many_members, "20,001 members"),
    ("member ../evil.txt", traversal("../evil.txt"), "outside the archive"),
    ("member /etc/evil", traversal("/etc/evil"), "outside the archive"),
    ("member C:/evil", traversal("C:/evil"), "outside the archive"),
    ("Lambda layer", lambda_layer, "layer 'evil' is a Lambda layer"),
    ("class from module os", foreign_module, "layer 'fc' has class 'system' from module 'os'"),
    ("nested custom object", nested_custom, "layer 'fc' (Dense) uses class 'Sneaky' from module"),
    ("custom registered name", custom_registered, "registered as the custom object 'MyPackage>Dense'"),
    ("builtins.eval activation", python_function, "Python function ('eval'"),
    ("JSON 200,000 deep", deep_json, "nested too deeply"),
    ("config 500 deep", deep_config, "nested too deeply"),
    ("a layer, not a model", not_a_model, "not a Keras model"),
    ("config.json not JSON", not_json, "not valid JSON"),
    ("no config.json", no_config, "no config.json"),
    ("truncated archive", truncated, "not a .keras archive"),
    ("memory bomb in a layer", memory_bomb, "MB of memory"),
    (".h5 with a Lambda layer", h5_lambda, "layer 'evil' is a Lambda layer"),
    (".h5 without a model", h5_weights_only, "no model architecture"),
    ("truncated .h5", h5_truncated, "damaged HDF5"),
]


# -- .npz datasets ----------------------------------------------------------------------------
def _good_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 255, (20, 8, 8), dtype=np.uint8), "y_train": np.arange(20) % 3,
            "x_test": rng.integers(0, 255, (10, 8, 8), dtype=np.uint8), "y_test": np.arange(10) % 3}


def write_npz(path: Path, members: dict[str, bytes] | None = None, **arrays) -> Path:
    """An .npz of the default small arrays with some replaced (None drops one), plus raw members."""
    base = _good_arrays()
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    if members:
        with zipfile.ZipFile(path, "a") as z:
            for name, data in members.items():
                z.writestr(name, data)
    return path


def npy_header_only(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """An .npy member that declares ``shape`` but holds no data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def npz_object(folder: Path) -> Path:
    """x_train of dtype object (a pickle inside)."""
    return write_npz(folder / "object.npz", x_train=np.array([{"a": 1}] * 20, dtype=object).reshape(20, 1, 1))


def npz_huge_shape(folder: Path) -> Path:
    """x_train declaring 10^6 x 1000 x 1000 float32 images (4 TB), 100 bytes on disk."""
    path = write_npz(folder / "huge-shape.npz", x_train=None)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("x_train.npy", npy_header_only((1_000_000, 1000, 1000)))
    return path


def npz_bomb(folder: Path) -> Path:
    """x_train of 300 MB of zeros, deflated to ~300 KB."""
    path = write_npz(folder / "bomb.npz", x_train=None)
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo("x_train.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as fh:
            fh.write(npy_header_only((300, 1000, 1000), "|u1"))
            for _ in range(300):
                fh.write(b"\0" * MB)
    return path


def npz_many_members(folder: Path) -> Path:
    """The four arrays plus 20,000 more members."""
    path = write_npz(folder / "many.npz")
    with zipfile.ZipFile(path, "a") as z:
        for i in range(20_000):
            z.writestr(f"extra{i}.npy", b"")
    return path


def npz_structured(folder: Path) -> Path:
    """y_train of a structured dtype."""
    return write_npz(folder / "structured.npz", y_train=np.zeros(20, dtype=[("a", "i4"), ("b", "f4")]))


def npz_truncated(folder: Path) -> Path:
    """The first half of a valid .npz."""
    whole = write_npz(folder / "whole.npz").read_bytes()
    path = folder / "truncated.npz"
    path.write_bytes(whole[: len(whole) // 2])
    (folder / "whole.npz").unlink()
    return path


def npz_bad_header(folder: Path) -> Path:
    """x_train.npy whose header is not an .npy header."""
    path = write_npz(folder / "bad-header.npz", x_train=None)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("x_train.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': os.system('x')}")
    return path


def npz_short_data(folder: Path) -> Path:
    """x_train.npy declaring 20x8x8 bytes but holding 10."""
    path = write_npz(folder / "short.npz", x_train=None)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("x_train.npy", npy_header_only((20, 8, 8), "|u1") + b"\0" * 10)
    return path


NPZ_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("object dtype (pickle)", npz_object, "x_train in object.npz has dtype object"),
    ("declared 4 TB shape", npz_huge_shape, "x_train in huge-shape.npz would need"),
    ("zip bomb member", npz_bomb, "zip bomb"),
    ("20,004 members", npz_many_members, "20,004 members"),
    ("structured dtype", npz_structured, "y_train in structured.npz has dtype"),
    ("truncated", npz_truncated, "not an npz archive"),
    ("bad .npy header", npz_bad_header, "x_train in bad-header.npz is not a valid .npy array"),
    ("short data", npz_short_data, "x_train in short.npz"),
]
