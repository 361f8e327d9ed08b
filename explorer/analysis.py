"""Analyse an architecture: resolve it, build it without weights, read its graph. Cached.

The web server and the CLI analyse on Keras's light numpy backend; training happens elsewhere.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from explorer.builders import Spec, build_model, resolve
from explorer.graph import ModelGraph, extract
from explorer.model_io import looks_like_model_file, read_graph


@dataclass(frozen=True)
class Analysis:
    """An analysed architecture.

    Attributes:
        label: what the user asked for: the Spec's label, or the model file's name.
        spec: the resolved builder config, or None for a model file.
        graph: the model's graph.
        seconds: time to build and extract (not counting the cache).
        model: the weightless Keras model the graph was read from (for code generation);
            None for a model file. Shapes only: it cannot be run, trained or saved.
    """

    label: str
    spec: Spec | None
    graph: ModelGraph
    seconds: float
    model: Any = field(default=None, repr=False, compare=False)


def _analyse(spec: Spec) -> Analysis:
    t0 = time.perf_counter()
    model = build_model(spec, weights=False)
    graph = extract(model)
    return Analysis(spec.label, spec, graph, time.perf_counter() - t0, model)


_memo = functools.lru_cache(maxsize=32)(_analyse)
_locks: dict[Spec, threading.Lock] = {}
_locks_guard = threading.Lock()


def analyse(spec: Spec) -> Analysis:
    """Build ``spec`` without weights and extract its graph (memoised per spec).

    Concurrent callers with the same spec wait for one analysis: thirty sessions opening one
    preset at once build it once, not thirty times in a row behind the build lock.
    """
    with _locks_guard:
        if len(_locks) > 256:
            _locks.clear()
        lock = _locks.setdefault(spec, threading.Lock())
    with lock:
        return _memo(spec)


analyse.__wrapped__ = _analyse  # type: ignore[attr-defined]  (uncached, for tests)


@functools.lru_cache(maxsize=8)
def _analyse_file(path: str, shown: str | None, _mtime: float, _size: int,
                  input_size: tuple[int, ...] | None) -> Analysis:
    t0 = time.perf_counter()
    graph = read_graph(path, shown, input_size=input_size)
    return Analysis(shown or os.path.basename(path), None, graph, time.perf_counter() - t0)


def analyse_file(path: str, shown: str | None = None, input_size: tuple[int, ...] | None = None) -> Analysis:
    """Read a saved model file's architecture in a sandbox (memoised per file version).

    Args:
        path: the file.
        shown: the name the user gave it (an upload's name), for the label and messages.
        input_size: sizes for the inputs' unknown dimensions (``(224, 224)``), to count MACs of a
            model saved with an input of ``(None, None, 3)``; None keeps the model as saved.

    Raises:
        DataError: a missing, malformed, oversize or unsafe file (one sentence).
    """
    try:
        st = os.stat(path)
        key = (st.st_mtime, st.st_size)
    except OSError:
        key = (0.0, 0)
    return _analyse_file(os.path.abspath(path), shown, *key, tuple(input_size) if input_size else None)


def analyse_target(
    target: str, preset: str | None = None, overrides: dict[str, Any] | None = None,
    input_size: tuple[int, ...] | None = None,
) -> Analysis:
    """Analyse a builder or preset name (with preset/overrides), or a saved model path.

    Raises:
        ConfigError: bad names or values, or an input size for a builder (whose config sets it).
        DataError: a bad model file.
    """
    if looks_like_model_file(target) and not preset and not overrides:
        return analyse_file(target, input_size=input_size)
    if input_size:
        from explorer.errors import ConfigError

        raise ConfigError("--input-size applies to model files with an unknown input size; builders take "
                          "--set input_shape=... instead.")
    return analyse(resolve(target, preset, overrides))
