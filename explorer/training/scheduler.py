"""The scheduler: a FIFO queue of runs with a concurrency limit, over the run store.

The store is the scheduler's whole state, so any process (the app, the CLI) can advance the
queue, and nothing is lost on a page reload or an app restart. :meth:`Scheduler.advance`:

1. marks running runs whose worker process is gone as ``interrupted`` (their points stay);
2. kills (SIGKILL) a worker that ignored a stop request for ``grace`` seconds (``stopped``);
3. starts queued runs, oldest first, while fewer than ``max_running`` run: it hands the run to
   an idle warm worker of the same backend if there is one, else spawns a fresh worker;
4. keeps ``warm`` warm workers ready (only in a long-lived process such as the app).

Where runs go is the executor's business: by default (``executor=None``) local worker processes
as above; an executor from :mod:`explorer.training.executors` (Ray) places claimed runs itself,
is advanced along with the queue (it drains its runs' points into the store and ends them), and
sizes the concurrency limit from its cluster unless ``max_running`` or ``EXPLORER_MAX_RUNS`` is set.

Limits: ``EXPLORER_MAX_RUNS`` (default one per GPU, else one), ``EXPLORER_SESSION_RUNS``
(queued plus running runs per browser session, default 3), ``EXPLORER_WARM_WORKERS``
(the app's default is 1; 0 turns warm workers off).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import ConfigError
from explorer.training.store import Run, RunStore, pid_alive

if TYPE_CHECKING:  # the request module loads the dataset code (NumPy): not needed to list runs
    from explorer.training.request import RunRequest

CLAIM_TIMEOUT_S = 120.0  # a claimed run whose worker never reported its pid is given up after this
DEFAULT_GRACE_S = 10.0
WARM_START_WAIT_S = 60.0  # a queued run waits this long at most for a starting warm worker


def gpu_count() -> int:
    """Number of NVIDIA GPUs (``nvidia-smi -L``), without importing a framework; 0 when none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"])
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Scheduler:
    """Queue, start, stop and watch runs in a store."""

    def __init__(
        self, store: RunStore, *, max_running: int | None = None, session_limit: int | None = None,
        warm: int = 0, grace: float = DEFAULT_GRACE_S, gpus: int | None = None, executor: Any = None,
    ) -> None:
        """Create a scheduler.

        Args:
            store: the run store.
            max_running: concurrent runs (default ``EXPLORER_MAX_RUNS``, else one per GPU, else 1).
            session_limit: queued plus running runs one session may have (default
                ``EXPLORER_SESSION_RUNS``, else 3).
            warm: warm workers to keep ready (for the default backend, TensorFlow), from the first
                :meth:`submit` (or :meth:`start_warm`) on.
            grace: seconds a running worker may ignore a stop request before it is killed.
            gpus: number of GPUs (default: detected with ``nvidia-smi``).
            executor: where runs go: None for local worker processes, or e.g. a
                :class:`~explorer.training.executors.RayExecutor` (see :func:`executors.executor_from`).
        """
        self.store = store
        self.executor = executor
        if executor is not None:  # the executor's cluster has the GPUs and sizes the limit; no local warm workers
            gpus, warm = 0, 0
            self._limit_from_executor = not (max_running or os.environ.get("EXPLORER_MAX_RUNS"))
        self.gpus = gpu_count() if gpus is None else gpus
        self.max_running = max_running or _env_int("EXPLORER_MAX_RUNS", max(1, self.gpus))
        self.session_limit = session_limit or _env_int("EXPLORER_SESSION_RUNS", 3)
        self.warm = warm
        self.warm_active = False  # warm workers start with the first submit (an unused app spawns none)
        self.grace = grace
        self._procs: dict[int, Any] = {}
        self._lock = threading.Lock()

    # -- public API --------------------------------------------------------------------------
    def submit(self, request: RunRequest, session: str | None = None, *, check: bool = True) -> int:
        """Validate and queue a run, then try to start it.

        Args:
            request: what to train.
            session: the browser session (or None), for the per-session limit.
            check: validate the dataset and architecture first.

        Returns:
            The run id.

        Raises:
            ConfigError, DataError: a bad request, or the session has too many active runs.
        """
        if check:
            request.check()
        if session is not None:
            active = [r for r in self.store.runs(("queued", "running")) if r.session == session]
            if len(active) >= self.session_limit:
                raise ConfigError(
                    f"you already have {len(active)} runs queued or running (the limit is {self.session_limit}); "
                    "wait for one to end or stop one."
                )
        run_id = self.store.add_run(request.label, request.to_dict(), session)
        self.warm_active = True
        self.advance()
        return run_id

    def submit_experiment(self, base: RunRequest, grid: list[tuple[str, list[str]]], session: str | None = None,
                          *, check: bool = True) -> tuple[int, list[int]]:
        """Validate and queue every run of a grid over ``base`` as one experiment, then start the first.

        An experiment's runs are queued together (one transaction), in grid order; they do not
        count against the per-session limit one by one, but a session may have one active
        experiment at a time.

        Args:
            base: the run the grid varies.
            grid: ``[(field, [value texts])]`` (see :func:`explorer.training.experiment.parse_grid`).
            session: the browser session, or None.
            check: validate the dataset and the first run's architecture for it.

        Returns:
            ``(experiment id, run ids)``.

        Raises:
            ConfigError, DataError: a bad grid or request, or the session already has an active experiment.
        """
        from explorer.training.experiment import expand, grid_label

        runs = expand(base, grid)
        if check:
            shape, classes = base.dataset_shape()
            for _changes, req in runs:  # every combination must fit the dataset (cheap: no build)
                req.spec(shape, classes)
        if session is not None:
            busy = {r.experiment_id for r in self.store.runs(("queued", "running")) if r.session == session}
            busy.discard(None)
            if busy:
                raise ConfigError(f"experiment {min(busy)} is still running; wait for it to end or stop its runs.")
        eid, ids = self.store.add_experiment(grid_label(base, grid), {k: v for k, v in grid},
                                             [(req.label, req.to_dict()) for _c, req in runs], session)
        self.warm_active = True
        self.advance()
        return eid, ids

    def start_warm(self) -> None:
        """Start keeping ``warm`` warm workers ready now rather than at the first submit."""
        self.warm_active = True
        self.advance()

    def stop(self, run_id: int) -> bool:
        """Ask a run to stop (a queued run stops at once). Returns whether it was active."""
        return self.store.request_stop(run_id)

    def advance(self) -> list[int]:
        """Reap dead workers, enforce stop grace, start queued runs, top up warm workers.

        Returns:
            Ids of the runs started now.
        """
        with self._lock:
            self._reap_children()
            self._mark_interrupted()
            self._kill_ignoring_stop()
            if self.executor is not None:
                self.executor.advance(self.store, self.grace)
            started = self._start_queued()
            self._top_up_warm()
            return started

    def wait(self, run_id: int, poll: float = 0.2, on_update: Callable[[Run], None] | None = None,
             timeout: float | None = None) -> Run:
        """Advance the queue until a run ends; returns the ended run.

        Args:
            run_id: the run.
            poll: seconds between checks.
            on_update: called with the run after every check.
            timeout: give up (and return the still active run) after this many seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.advance()
            run = self.store.get(run_id)
            if run is None:
                raise ConfigError(f"run {run_id} does not exist in {self.store.path}.")
            if on_update:
                on_update(run)
            if not run.active or (deadline is not None and time.monotonic() > deadline):
                return run
            time.sleep(poll)

    def shutdown(self) -> None:
        """Stop this process's idle warm workers (local runs in progress continue) and close the executor."""
        for w in self.store.workers():
            if w["pid"] in self._procs:
                self.store.forget_worker(w["pid"], only_idle=True)
        if self.executor is not None:
            self.executor.shutdown()

    # -- steps -------------------------------------------------------------------------------
    def _reap_children(self) -> None:
        for pid, (proc, _kind) in list(self._procs.items()):
            if proc.poll() is not None:  # ended (and now reaped)
                self._procs.pop(pid, None)

    def _mark_interrupted(self) -> None:
        now = time.time()
        for run in self.store.runs("running"):
            if run.pid is None:
                if run.claimed and now - run.claimed > CLAIM_TIMEOUT_S:
                    self.store.update(run.id, "running", status="interrupted", ended=now,
                                      error="the worker process never started.")
                continue
            if not pid_alive(run.pid, run.pid_start):
                error = ("the process that placed it on Ray ended, and its Ray task with it." if run.worker == "ray"
                         else "the worker process ended without finishing (killed or crashed).")
                self.store.update(run.id, "running", status="interrupted", ended=now, error=error)
        for w in self.store.workers():
            if not pid_alive(w["pid"], w["pid_start"]):
                self.store.forget_worker(w["pid"])

    def _kill_ignoring_stop(self) -> None:
        now = time.time()
        for run in self.store.runs("running"):
            if run.worker == "ray":  # its pid is the process that placed it; that process's executor stops it
                continue
            if run.stop_requested and now - run.stop_requested > self.grace and pid_alive(run.pid, run.pid_start):
                try:
                    os.kill(run.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.store.update(run.id, "running", status="stopped", ended=now,
                                  error=f"the run ignored the stop request for {self.grace:g} s and was killed.")

    def _start_queued(self) -> list[int]:
        started: list[int] = []
        while True:
            claim = self._claim_next()
            if claim is None:
                return started
            run_id, backend, gpu, warm_pid = claim
            if self.executor is not None:
                self.executor.launch(self.store, run_id, backend)
            elif warm_pid is None:
                proc = _spawn(self.store, ["cold", str(run_id)], backend, gpu, f"run-{run_id}.log")
                self._procs[proc.pid] = (proc, "cold")
                from explorer.training.store import process_start_token

                self.store.update(run_id, "running", pid=proc.pid, pid_start=process_start_token(proc.pid))
            started.append(run_id)

    def _claim_next(self) -> tuple[int, str, int | None, int | None] | None:
        """Atomically move the oldest queued run to running; returns (id, backend, gpu, warm pid)."""
        if self.executor is None:
            return self.store.claim_next(self.max_running, self.gpus, WARM_START_WAIT_S)
        limit = self.executor.capacity() if self._limit_from_executor else self.max_running
        return self.store.claim_next(limit, 0, WARM_START_WAIT_S, use_warm=False)

    def _top_up_warm(self) -> None:
        if self.warm <= 0 or not self.warm_active:
            return
        gpu = 0 if self.gpus else None
        mine = [w for w in self.store.workers() if w["pid"] in self._procs and w["state"] in ("starting", "idle")]
        registered = {w["pid"] for w in self.store.workers()}
        starting = [p for p, (_proc, kind) in self._procs.items() if kind == "warm" and p not in registered]
        for _ in range(self.warm - len(mine) - len(starting)):
            proc = _spawn(self.store, ["warm", str(os.getpid())], "tensorflow", gpu, f"warm-{time.time_ns()}.log")
            self._procs[proc.pid] = (proc, "warm")


def _spawn(store: RunStore, args: list[str], backend: str, gpu: int | None, log_name: str) -> subprocess.Popen:
    """Start a worker: a fresh interpreter (``python -m explorer.training.worker``).

    The backend is chosen in the child's environment, so it is set before anything imports
    Keras. (``multiprocessing``'s spawn start method would re-import the parent's main module in
    the child; under Streamlit that is the page script, which imports Keras on the analysis
    backend and would run page code in the worker.) The worker gets its own session: Ctrl-C on
    the app or the CLI does not reach it, and the caller's exit neither waits for nor kills it.
    Its output goes to the store's ``logs/`` folder.
    """
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    store.logs_dir.mkdir(parents=True, exist_ok=True)
    log = open(store.logs_dir / log_name, "ab")  # the child keeps its own copy of the descriptor
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "explorer.training.worker", *args, str(store.path), backend,
             "" if gpu is None else str(gpu)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=root,
        )
    finally:
        log.close()
