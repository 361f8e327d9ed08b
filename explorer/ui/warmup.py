"""Warm a freshly started server, so the first students do not pay for it.

A background thread (one per process) first reads every preset's analysis and first layout
that the disk cache holds (:mod:`explorer.diskcache`: a restarted server needs no Keras for
them), then imports Keras and the pages' libraries, then analyses the default preset, the
common presets and then every other preset still missing, and lays out the graph each one
first shows (the same cached calls the pages make: :func:`explorer.analysis.analyse` and
:func:`explorer.ui.graph_viewer.default_dot` through :func:`explorer.render.svg`).

It starts once the server is up, so the health check answers at once. Students come first:
between two presets the thread waits while any session's script is running, and a session
that asks for a preset being warmed waits for that one analysis instead of doing it again.
What it keeps is frozen out of the garbage collector (:func:`settle`): with every preset
analysed the server holds about 900,000 Python objects, and each full collection that Python
starts on its own then stops every session for about a second.
``python -m explorer.serve`` starts it; ``EXPLORER_WARMUP`` picks the presets
(comma-separated, ``all`` by default, ``common`` for the common ones, ``none`` for no warm-up).
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from explorer.ui.session import DEFAULT_PRESET

if TYPE_CHECKING:
    from explorer.graph import ModelGraph
    from explorer.spec import Spec

# The default preset first (every new session opens it), then the presets classes open most;
# then the others, in the registry's order.
COMMON = (DEFAULT_PRESET, "resnet20", "resnet56", "resnet110", "densenet-40-12", "ynet",
          "resnet50", "densenet121")
YIELD_MAX_S = 30.0  # the longest the warm-up waits for sessions before its next preset
QUIET_S = 3.0  # with every preset from disk: Keras is imported once sessions have been idle this long
QUIET_MAX_S = 120.0  # ... or after this long at most

_log = logging.getLogger(__name__)
_started = threading.Event()
_done = threading.Event()
_lock = threading.Lock()
timings: dict[str, float] = {}  # what was warmed and how long each step took (for logs and tests)
from_disk: list[str] = []  # the presets read from the disk cache


def presets() -> list[str]:
    """The presets to warm, from ``EXPLORER_WARMUP``: ``all`` (default), ``common``, ``none`` or names."""
    from explorer.builders import PRESETS

    raw = os.environ.get("EXPLORER_WARMUP", "").strip().lower() or "all"
    if raw in ("none", "0", "off", "false"):
        return []
    if raw == "common":
        return list(COMMON)
    if raw == "all":
        return list(dict.fromkeys([*COMMON, *PRESETS]))
    return [p.strip() for p in raw.split(",") if p.strip()]


def sessions_busy() -> bool:
    """True while some session's script is running (Streamlit runs each in a ScriptRunner thread)."""
    return any(t.name.startswith("ScriptRunner") for t in threading.enumerate())


def _yield_to_sessions(limit: float = YIELD_MAX_S) -> None:
    deadline = time.monotonic() + limit
    while sessions_busy() and time.monotonic() < deadline:
        time.sleep(0.1)


def settle() -> None:
    """Collect the garbage made since the last call, then freeze what survives out of the collector.

    Objects that live as long as the server (modules, cached analyses and their Keras models)
    need never be scanned again; a full collection after a freeze scans only newer objects, so
    it costs milliseconds instead of the ~0.9 s it takes over every preset's objects.
    """
    gc.collect()
    gc.freeze()


def _wait_quiet(quiet: float, limit: float = QUIET_MAX_S) -> None:
    """Wait until no session has run for ``quiet`` seconds (at most ``limit`` seconds)."""
    start = last_busy = time.monotonic()
    while time.monotonic() - last_busy < quiet and time.monotonic() - start < limit:
        if sessions_busy():
            last_busy = time.monotonic()
        time.sleep(0.1)


def warm(names: list[str], quiet: float = QUIET_S, server: bool = True) -> dict[str, float]:
    """Warm the presets ``names``; returns seconds per step (a preset, ``imports`` or ``keras``).

    First every preset the disk cache holds (no Keras: its analysis and first layout), then the
    pages' libraries, then Keras (once no session has run for ``quiet`` seconds when every preset
    came from disk), then the other presets, built as the pages would.
    A preset that fails (an unknown name in ``EXPLORER_WARMUP``, graphviz missing) is logged and
    skipped: warming never stops the server. ``server=False`` (``python -m explorer.serve
    --prepare``) only fills the disk cache: no libraries, and Keras only for presets not on disk.
    """
    from explorer.analysis import analyse, cached

    missing = []
    for name in names:  # from disk: milliseconds each, so no waiting for sessions here
        t0 = time.perf_counter()
        try:
            a = cached(_spec(name))
            if a is None:
                missing.append(name)
                continue
            _lay_out(a.graph)
        except Exception as exc:  # a bad name or a graphviz failure: log it, go on
            _log.warning("warm-up of %s failed: %s", name, exc)
            continue
        timings[name] = time.perf_counter() - t0
        from_disk.append(name)
    if from_disk:
        settle()  # the graphs read stay for the server's life: out of every later full collection

    if not server and not missing:
        return dict(timings)
    _yield_to_sessions()
    t0 = time.perf_counter()
    import pandas  # noqa: F401  (st.dataframe's, imported by the first table otherwise)
    import plotly.graph_objects  # noqa: F401  (the charts')
    import pyarrow  # noqa: F401

    # Streamlit's first element of the process calls inspect.stack(), whose inspect.getmodule
    # scans every module in sys.modules (thousands with Keras): 1.5 s of one session's run, with
    # the GIL. Fill inspect's module-by-file cache now, off the sessions' path (again after Keras).
    inspect.stack()
    settle()
    timings["imports"] = time.perf_counter() - t0

    if not missing:  # every preset came from disk: no student needs Keras now, so import it
        _wait_quiet(quiet)  # when none is waiting (seconds of CPU, mostly holding the GIL)
    t0 = time.perf_counter()
    from explorer import keras_compat

    keras_compat.skip_tensorflow_probe()  # imports Keras (numpy backend), never TensorFlow
    keras_compat.guard_clear_session()  # as app.py does: Streamlit clears Keras's session after each run
    inspect.stack()
    settle()
    timings["keras"] = time.perf_counter() - t0
    for name in missing:
        _yield_to_sessions()
        t0 = time.perf_counter()
        try:
            _lay_out(analyse(_spec(name)).graph)
        except Exception as exc:  # a bad name or a graphviz failure: log it, go on
            _log.warning("warm-up of %s failed: %s", name, exc)
            continue
        settle()  # this preset's objects stay for the server's life: out of every later full collection
        timings[name] = time.perf_counter() - t0
    return dict(timings)


def _spec(name: str) -> Spec:
    """The Spec a page opens for ``name``: ``?preset=ynet`` is ``Spec('ynet', 'ynet')``, which
    :func:`~explorer.builders.resolve` reads as the builder ``ynet`` (another memo key)."""
    from explorer.builders import PRESETS, resolve
    from explorer.spec import Spec

    return Spec(PRESETS[name].builder, name) if name in PRESETS else resolve(name)


def _lay_out(graph: ModelGraph) -> None:
    """The layout a page first shows of ``graph`` (when graphviz is installed)."""
    from explorer.render import have_dot, svg
    from explorer.ui.graph_viewer import default_dot

    if have_dot():
        svg(default_dot(graph))


def _server_up() -> bool:
    """True once Streamlit's runtime is serving (its health check answers)."""
    try:
        from streamlit.runtime import Runtime, RuntimeState
    except ImportError:
        return True
    if not Runtime.exists():
        return False
    return Runtime.instance().state in (RuntimeState.NO_SESSIONS_CONNECTED, RuntimeState.ONE_OR_MORE_SESSIONS_CONNECTED)


def _run(names: list[str], wait_for_server: float) -> None:
    deadline = time.monotonic() + wait_for_server
    while not _server_up() and time.monotonic() < deadline:  # start-up first: the health check must answer
        time.sleep(0.05)
    try:
        warm(names)
        # One line in the server's log (benchmarks/load.py waits for it before its warm cases).
        print("explorer warm-up done: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
              + f" ({len(from_disk)} of {len(names)} presets from the disk cache)", file=sys.stderr, flush=True)
    finally:
        _done.set()


def start(names: list[str] | None = None, *, wait_for_server: float = 60.0) -> bool:
    """Start the warm-up thread once per process; returns False when it already started or is off.

    Args:
        names: presets to warm (default :func:`presets`).
        wait_for_server: seconds to wait for Streamlit's runtime to serve before warming anyway.
    """
    names = presets() if names is None else names
    with _lock:
        if _started.is_set() or not names:
            return False
        _started.set()
    threading.Thread(target=_run, args=(names, wait_for_server), name="explorer-warmup", daemon=True).start()
    return True


def wait(timeout: float | None = None) -> bool:
    """Wait for a started warm-up to finish; True when it has."""
    return _done.wait(timeout)
