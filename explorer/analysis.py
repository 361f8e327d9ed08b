"""Analyse an architecture: resolve it, build it without weights, read its graph. Cached.

The web server and the CLI analyse on Keras's light numpy backend; training happens elsewhere.
Two cache tiers: in memory per process, and on disk (:mod:`explorer.diskcache`), so a restarted
server or a second CLI command reads the graph of a configuration seen before without importing
Keras. An analysis read from disk has no Keras model; :meth:`Analysis.keras_model` builds it
when something needs it (code generation).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from explorer import diskcache
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
            None for a model file, and for an analysis read from the disk cache until
            :meth:`keras_model` builds it. Shapes only: it cannot be run, trained or saved.
    """

    label: str
    spec: Spec | None
    graph: ModelGraph
    seconds: float
    model: Any = field(default=None, repr=False, compare=False)

    def keras_model(self) -> Any:
        """The weightless Keras model of the spec, built now (once) if the graph came from disk.

        Builds are deterministic (fresh name counters, the build lock), so the model's layer names
        are the graph's node ids either way.

        Raises:
            ValueError: the analysis is of a model file (it has no builder spec).
        """
        if self.model is None:
            if self.spec is None:
                raise ValueError(f"{self.label} was read from a model file: it has no builder to rebuild it.")
            with _lock_of(("model", self.spec)):
                if self.model is None:
                    object.__setattr__(self, "model", build_model(self.spec, weights=False))
        return self.model


def _analyse(spec: Spec) -> Analysis:
    t0 = time.perf_counter()
    model = build_model(spec, weights=False)
    graph = extract(model)
    return Analysis(spec.label, spec, graph, time.perf_counter() - t0, model)


def disk_key(spec: Spec) -> str:
    """The disk cache's key text of a spec: the builder and every config field, sorted.

    The config, not the preset and overrides that spell it: ``Spec('ynet', 'ynet')`` and
    ``Spec('ynet', None)`` are one graph (a page's label still comes from its own spec).
    """
    cfg = spec.config
    return repr((spec.builder, sorted((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))))


def _disk_salt() -> tuple[str, ...]:
    return ("backend=" + os.environ.get("KERAS_BACKEND", ""),)


class _NotOnDisk(Exception):
    """Raised inside the memo by :func:`cached` on a miss (lru_cache keeps no exceptions)."""


_disk_only = threading.local()


def _load_or_build(spec: Spec) -> Analysis:
    t0 = time.perf_counter()
    entry = diskcache.load("analysis", disk_key(spec), _disk_salt())
    if isinstance(entry, dict) and isinstance(entry.get("graph"), ModelGraph):
        return Analysis(spec.label, spec, entry["graph"], float(entry.get("seconds", time.perf_counter() - t0)))
    if getattr(_disk_only, "on", False):
        raise _NotOnDisk
    a = _analyse(spec)
    diskcache.save("analysis", disk_key(spec), {"graph": a.graph, "seconds": a.seconds}, _disk_salt())
    return a


_memo = functools.lru_cache(maxsize=32)(_load_or_build)
_locks: dict[Any, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_of(key: Any) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 256:
            _locks.clear()
        return _locks.setdefault(key, threading.Lock())


def analyse(spec: Spec) -> Analysis:
    """Build ``spec`` without weights and extract its graph (memoised per spec, and on disk).

    Concurrent callers with the same spec wait for one analysis: thirty sessions opening one
    preset at once build (or read) it once, not thirty times in a row behind the build lock.
    """
    with _lock_of(spec):
        return _memo(spec)


def cached(spec: Spec) -> Analysis | None:
    """The analysis of ``spec`` if memory or the disk cache has it, else None: never builds,
    never imports Keras (the warm-up's fast pass). A hit is memoised like :func:`analyse`'s."""
    _disk_only.on = True
    try:
        with _lock_of(spec):
            return _memo(spec)
    except _NotOnDisk:
        return None
    finally:
        _disk_only.on = False


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
