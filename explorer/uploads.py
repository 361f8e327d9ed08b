"""Storing what a user uploads (models for Inspect, datasets for Train): one function for both.

An upload is checked for its extension and size, then written, by content, into the run store's
artefact folder (``uploads/`` under :func:`explorer.training.store.artefacts_dir`), through a
temporary name and an atomic rename. Nothing else is written. The stored name is the uploaded
name's safe stem plus a hash of the content (``mnist-small-3fa2c1d09b7e4a10.npz``), so the same
upload is stored and analysed once however often a page reruns, and labels stay readable;
messages about the file use the uploaded name, not the stored one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from explorer.errors import DataError


@dataclass(frozen=True)
class UploadKind:
    """What one kind of upload accepts."""

    what: str  # "model file"
    suffixes: tuple[str, ...]
    hint: str  # what to upload instead


KINDS = {
    "model": UploadKind("model file", (".keras", ".h5", ".hdf5"), "upload a .keras (or legacy .h5) file"),
    "dataset": UploadKind("dataset file", (".npz",), "upload an .npz file saved with numpy.savez"),
}


def max_bytes(kind: str) -> int:
    """The size limit of an upload kind (``EXPLORER_MAX_MODEL_MB``; datasets: ``data.MAX_NPZ_BYTES``)."""
    if kind == "model":
        from explorer.model_io import max_model_bytes

        return max_model_bytes()
    from explorer.data import max_npz_bytes

    return max_npz_bytes()


def uploads_dir(store: str | os.PathLike | None = None) -> Path:
    """Where uploads go: ``uploads/`` in the artefact folder of the store (default store if None)."""
    from explorer.training.store import artefacts_dir, store_path

    return artefacts_dir(store_path(store)) / "uploads"


def safe_stem(name: str) -> str:
    """A file-name-safe version of an uploaded name's stem (letters, digits, ``-`` and ``_``)."""
    stem = Path(name.replace("\\", "/")).stem
    return ("".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in stem)[:40]) or "upload"


def store_upload(name: str, data: bytes, kind: str, folder: str | os.PathLike | None = None) -> Path:
    """Check an upload's name and size and store it by content.

    Args:
        name: the uploaded file's name (its extension decides the format).
        data: its bytes.
        kind: ``"model"`` or ``"dataset"``.
        folder: where to keep it (default :func:`uploads_dir` of the default store).

    Returns:
        The stored file's path.

    Raises:
        DataError: wrong extension, empty, oversize, or the folder cannot be written.
    """
    spec = KINDS[kind]
    shown = name[:100]
    suffix = Path(name).suffix.lower()
    if suffix not in spec.suffixes:
        raise DataError(f"{shown} is not a {spec.what}; {spec.hint}.")
    if not data:
        raise DataError(f"{spec.what} {shown} is empty.")
    limit = max_bytes(kind)
    if len(data) > limit:
        raise DataError(f"{spec.what} {shown} is {len(data) / 2**20:.1f} MB, over the {limit / 2**20:.3g} MB limit.")
    base = Path(folder) if folder is not None else uploads_dir()
    path = base / f"{safe_stem(name)}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = base / f".{path.name}.{secrets.token_hex(4)}.part"
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
    except OSError as exc:
        raise DataError(f"{spec.what} {shown} could not be stored in {str(base)[:200]} "
                        f"({exc.strerror or type(exc).__name__}); set EXPLORER_STORE to a writable place.") from None
    return path
