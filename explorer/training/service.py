"""The app's scheduler service: one :class:`Scheduler` per store, advanced by a background thread.

The thread advances the queue every half second whether or not a page is open, so queued runs
start, dead workers are marked interrupted and ignored stops are enforced. Settings come from the
environment: ``EXPLORER_STORE``, ``EXPLORER_MAX_RUNS``, ``EXPLORER_SESSION_RUNS``,
``EXPLORER_WARM_WORKERS`` (default 1: after the first launch, one worker with TensorFlow
already imported waits for the next run), and the retention settings ``EXPLORER_KEEP_DAYS`` and
``EXPLORER_MAX_MODELS`` (applied every ten minutes, see :meth:`RunStore.prune`), and the executor:
``EXPLORER_EXECUTOR=ray`` with ``EXPLORER_RAY_ADDRESS`` trains on a Ray cluster (see
:mod:`explorer.training.executors`; with warm workers on, one Ray worker imports TensorFlow ahead).
"""

from __future__ import annotations

import os
import threading
import time

from explorer.training.executors import executor_from
from explorer.training.scheduler import Scheduler
from explorer.training.store import RunStore

PRUNE_EVERY_S = 600.0


def start_service(store_path: str | None = None, interval: float = 0.5, warm: int | None = None) -> Scheduler:
    """Create a scheduler for the store and a daemon thread that advances it.

    Args:
        store_path: the store file (default ``EXPLORER_STORE`` or ``./runs/runs.sqlite``).
        interval: seconds between advances.
        warm: warm workers to keep (default ``EXPLORER_WARM_WORKERS``, else 1).

    Returns:
        The scheduler (its ``store`` is shared with the thread; connections are per thread).
    """
    if warm is None:
        try:
            warm = int(os.environ.get("EXPLORER_WARM_WORKERS", "1"))
        except ValueError:
            warm = 1
    store = RunStore(store_path)
    executor = executor_from()
    sched = Scheduler(store, warm=warm, executor=executor)
    if executor is not None and warm > 0:
        executor.prewarm()

    def loop() -> None:
        last_prune = 0.0
        while True:
            try:
                sched.advance()
                if time.monotonic() - last_prune > PRUNE_EVERY_S:  # retention (EXPLORER_KEEP_DAYS, _MAX_MODELS)
                    sched.store.prune()
                    last_prune = time.monotonic()
            except Exception:
                pass
            time.sleep(interval)

    threading.Thread(target=loop, name="explorer-scheduler", daemon=True).start()
    return sched
