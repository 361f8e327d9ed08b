"""Loading a user's saved model safely (``.keras``, legacy ``.h5``).

Loading uses ``safe_mode=True``: a Lambda layer or an unregistered custom object is refused,
and no code from the file runs. Every failure is a :class:`DataError` with one sentence.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from explorer.errors import DataError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
SUFFIXES = (".keras", ".h5", ".hdf5")


def max_model_bytes() -> int:
    """The upload/load size limit: ``EXPLORER_MAX_MODEL_MB`` (megabytes), default 200."""
    raw = os.environ.get("EXPLORER_MAX_MODEL_MB")
    try:
        return int(float(raw) * 1024 * 1024) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def looks_like_model_file(target: str) -> bool:
    """True when a CLI target names a model file rather than a builder or preset."""
    return target.lower().endswith(SUFFIXES) or os.sep in target


def load_model_file(path: str | os.PathLike, max_bytes: int | None = None, display_name: str | None = None) -> Any:
    """Load a saved Keras model without running code from it.

    Args:
        path: a ``.keras`` or ``.h5`` file.
        max_bytes: refuse larger files (default :func:`max_model_bytes`).
        display_name: the name the user knows the file by (an upload's own name, not the
            stored copy's hash); errors name it.

    Returns:
        The loaded ``keras.Model``.

    Raises:
        DataError: missing, empty, oversize, wrong type, corrupt, or unsafe files.
    """
    import keras

    p = Path(path)
    name = (display_name or p.name)[:100]
    if not p.is_file():
        raise DataError(f"model file {str(path)[:200]!r} does not exist.")
    size = p.stat().st_size
    limit = max_model_bytes() if max_bytes is None else max_bytes
    if size == 0:
        raise DataError(f"model file {name} is empty.")
    if size > limit:
        raise DataError(f"model file {name} is {size / 2**20:.1f} MB, over the {limit / 2**20:.3g} MB limit.")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"model file {name} has the extension {suffix or '(none)'}; use .keras or .h5.")
    if suffix == ".keras" and not zipfile.is_zipfile(p):
        raise DataError(f"model file {name} is not a .keras archive (a .keras file is a zip); it may be truncated or of another type.")
    if suffix != ".keras":
        with open(p, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                raise DataError(f"model file {name} is not an HDF5 (.h5) file.")
    try:
        model = keras.models.load_model(p, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types; the user needs one sentence
        raise DataError(f"model file {name} could not be loaded: {_reason(exc, _offender(p))}") from None
    if not isinstance(model, keras.Model):
        raise DataError(f"model file {name} does not hold a Keras model.")
    return model


def _layer_configs(node: Any) -> list[dict]:
    """Every ``{"class_name", "config": {"name"}}`` layer entry in a saved model's config, nested ones too."""
    found = []
    if isinstance(node, dict):
        if "class_name" in node and isinstance(node.get("config"), dict) and "name" in node["config"]:
            found.append(node)
        for v in node.values():
            found += _layer_configs(v)
    elif isinstance(node, list):
        for v in node:
            found += _layer_configs(v)
    return found


def _offender(path: Path) -> tuple[str, str] | None:
    """``(layer name, class)`` of the first Lambda or unknown custom layer in a ``.keras`` file's config."""
    import json

    import keras

    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    known = set(dir(keras.layers)) | {"Functional", "Sequential", "Model"}
    entries = _layer_configs(config)
    for e in entries:
        if e["class_name"] == "Lambda":
            return str(e["config"]["name"]), "Lambda"
    for e in entries:
        module = str(e.get("module") or "")
        if e["class_name"] not in known and (not module.startswith("keras") or e.get("registered_name")):
            return str(e["config"]["name"]), str(e["class_name"])
    return None


def _reason(exc: Exception, offender: tuple[str, str] | None = None) -> str:
    text = " ".join(str(exc).split())
    low = text.lower()
    layer = f" layer {offender[0]!r} ({offender[1]})" if offender else ""
    if "lambda" in low and ("safe_mode" in low or "unsafe" in low):
        if offender and offender[1] == "Lambda":
            return f"its{layer} holds Python code, which is not loaded for safety (safe_mode)."
        return "it contains a Lambda layer, whose Python code is not loaded for safety (safe_mode)."
    if "unknown" in low or "could not locate" in low or "custom" in low:
        if offender:
            return f"its{layer} is a custom layer that the explorer does not know, so it is refused."
        return "it uses a custom layer or object that the explorer does not know, so it is refused."
    if "zip" in low or "truncat" in low or "crc" in low or "bad" in low:
        return "the archive is damaged or truncated."
    return (text[:200] + "...") if len(text) > 200 else (text or type(exc).__name__)


def untrained_model_bytes(spec: Any) -> bytes:
    """The untrained model of a builder spec, saved as ``.keras`` bytes (weights initialised).

    Args:
        spec: a resolved ``builders.Spec``.
    """
    import tempfile

    from explorer.builders import build_model

    model = build_model(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def store_upload(name: str, data: bytes, folder: str | os.PathLike | None = None) -> Path:
    """Check an uploaded model's name and size, and store it by content for loading.

    The file is named by its SHA-256, so the same upload is analysed once however often a page
    reruns.

    Args:
        name: the uploaded file's name (its extension decides the format).
        data: its bytes.
        folder: where to keep uploads (default: a temporary folder of this process).

    Returns:
        The stored file's path, ready for :func:`load_model_file`.

    Raises:
        DataError: wrong extension, empty or oversize.
    """
    import hashlib
    import tempfile

    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{name[:100]} is not a model file; upload a .keras (or legacy .h5) file.")
    if not data:
        raise DataError(f"model file {name[:100]} is empty.")
    limit = max_model_bytes()
    if len(data) > limit:
        raise DataError(f"model file {name[:100]} is {len(data) / 2**20:.1f} MB, over the {limit / 2**20:.3g} MB limit.")
    base = Path(folder) if folder else Path(tempfile.gettempdir()) / "explorer-uploads"
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
