"""What the sandboxed child runs to read an uploaded model: check, rebuild without weights, extract.

Imported by the sandbox's fork server ahead of time (:data:`explorer.sandbox.PRELOAD`), so Keras,
the graph reader and the class allowlist are ready before any child forks.
"""

from __future__ import annotations

import explorer  # noqa: F401  (the analysis backend, before Keras loads)
from explorer.graph import ModelGraph, extract, with_input_size
from explorer.keras_compat import skip_tensorflow_probe
from explorer.model_check import allowed_classes, check_config, read_h5_config, read_keras_config, rebuild

skip_tensorflow_probe()
allowed_classes()  # computed once in the fork server, inherited by every child


def read_graph(path: str, shown: str, input_size: tuple[int, ...] | None = None) -> ModelGraph:
    """Check a model file and return its graph (runs in the sandboxed child).

    Args:
        path: the stored file (``.keras``, ``.h5`` or ``.hdf5``).
        shown: the file name the user gave, for messages.
        input_size: sizes for the inputs' unknown dimensions (:func:`explorer.graph.with_input_size`).

    Raises:
        DataError: any refusal, naming ``shown``.
    """
    from explorer.errors import DataError, GraphError

    cfg = read_keras_config(path, shown) if path.lower().endswith(".keras") else read_h5_config(path, shown)
    check_config(cfg, shown)
    try:
        model = rebuild(cfg)
    except DataError as exc:
        raise DataError(f"model file {shown}: {exc}") from None
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # Keras's own message, cut to one line (it may echo the whole config)
        text = " ".join(str(exc).split())
        text = text.split(" Full object config:")[0].split(" Received: config=")[0]
        raise DataError(f"model file {shown} could not be rebuilt: {text[:200]}") from None
    if input_size:
        model = with_input_size(model, tuple(input_size))  # ConfigError: one sentence, passed through
    try:
        return extract(model)
    except GraphError as exc:
        raise DataError(f"model file {shown}: {exc}") from None
