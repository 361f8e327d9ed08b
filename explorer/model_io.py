"""A user's saved model (``.keras``, legacy ``.h5``): checked, read as data, never trusted.

:func:`read_graph` is what the app and the CLI use: cheap checks here (the file exists, its size,
extension and magic bytes), then the architecture is read in a sandboxed child process
(:mod:`explorer.sandbox`) that checks the archive and the config's classes
(:mod:`explorer.model_check`) and rebuilds the model without weights. A file that still finds a
way to exhaust memory or time kills that child, not the caller. Every failure is one
:class:`DataError` sentence naming the file the user gave.

:func:`load_model_file` does the same checks and the weightless rebuild in this process (for
tests and trusted files). Uploads are stored by :func:`explorer.uploads.store_upload`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from explorer.errors import DataError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
SUFFIXES = (".keras", ".h5", ".hdf5")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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


def is_file(path: str | os.PathLike) -> bool:
    """``Path.is_file`` that says False, rather than raising, for names too long or otherwise unusable."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def check_model_file(path: str | os.PathLike, shown: str | None = None, max_bytes: int | None = None) -> str:
    """Check what can be checked without opening the file as a model.

    Args:
        path: the file.
        shown: the name to use in messages (the uploaded file's name), default the file's name.
        max_bytes: refuse larger files (default :func:`max_model_bytes`).

    Returns:
        The name used in messages.

    Raises:
        DataError: missing, empty, oversize, wrong extension or wrong magic bytes.
    """
    p = Path(path)
    shown = (shown or p.name)[:100]
    if not is_file(p):
        raise DataError(f"model file {str(path)[:200]!r} does not exist.")
    size = p.stat().st_size
    limit = max_model_bytes() if max_bytes is None else max_bytes
    if size == 0:
        raise DataError(f"model file {shown} is empty.")
    if size > limit:
        raise DataError(f"model file {shown} is {size / 2**20:.1f} MB, over the {limit / 2**20:.3g} MB limit.")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"model file {shown} has the extension {suffix[:20] or '(none)'}; use .keras or .h5.")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if suffix == ".keras" and not head.startswith(b"PK"):
        raise DataError(f"model file {shown} is not a .keras archive (a .keras file is a zip); it may be truncated or of another type.")
    if suffix != ".keras" and head != HDF5_MAGIC:
        raise DataError(f"model file {shown} is not an HDF5 (.h5) file.")
    return shown


def read_graph(path: str | os.PathLike, shown: str | None = None, timeout: float | None = None,
               input_size: tuple[int, ...] | None = None) -> Any:
    """The architecture of a model file as a :class:`~explorer.graph.ModelGraph`, read in a sandbox.

    Args:
        path: the file.
        shown: the name the user gave (an upload's name; stored uploads are named by content).
        timeout: wall seconds for the child (default ``EXPLORER_SANDBOX_TIMEOUT_S`` or 60).
        input_size: sizes for the inputs' unknown dimensions (the model is re-traced at them).

    Raises:
        DataError: any refusal, one sentence naming ``shown``.
    """
    graph, _ = read_graph_measured(path, shown, timeout, input_size)
    return graph


def read_graph_measured(path: str | os.PathLike, shown: str | None = None, timeout: float | None = None,
                        input_size: tuple[int, ...] | None = None) -> tuple[Any, dict[str, float]]:
    """:func:`read_graph` plus the child's figures (``seconds``, ``peak_bytes``), for benchmarks."""
    from explorer import sandbox
    from explorer.inspect_child import read_graph as child_read_graph

    shown = check_model_file(path, shown)
    return sandbox.run(child_read_graph, str(Path(path).resolve()), shown, input_size, what=f"model file {shown}",
                       timeout=timeout)


def load_model_file(path: str | os.PathLike, shown: str | None = None, max_bytes: int | None = None) -> Any:
    """Check a model file and rebuild its architecture, without weights, in this process.

    For tests and trusted files; the app and CLI use the sandboxed :func:`read_graph`.

    Returns:
        A ``keras.Model`` with unallocated variables (it has shapes and parameter counts, but
        cannot be run).

    Raises:
        DataError: as :func:`read_graph`.
    """
    from explorer.model_check import check_config, read_h5_config, read_keras_config, rebuild

    shown = check_model_file(path, shown, max_bytes)
    p = str(path)
    cfg = read_keras_config(p, shown) if p.lower().endswith(".keras") else read_h5_config(p, shown)
    check_config(cfg, shown)
    try:
        return rebuild(cfg)
    except DataError as exc:
        raise DataError(f"model file {shown}: {exc}") from None
    except Exception as exc:
        text = " ".join(str(exc).split()).split(" Full object config:")[0]
        raise DataError(f"model file {shown} could not be rebuilt: {text[:200]}") from None


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
    """Store an uploaded model (see :func:`explorer.uploads.store_upload`, ``kind="model"``)."""
    from explorer.uploads import store_upload as store

    return store(name, data, "model", folder)
