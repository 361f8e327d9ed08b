"""Executors: where the scheduler places the runs it takes off the queue.

* ``local`` (the default): worker processes on this machine, started and watched by the
  :class:`~explorer.training.scheduler.Scheduler` itself (cold or warm, one per run).
* ``ray``: :class:`RayExecutor` places each run as a Ray task on a Ray cluster (or on a local Ray
  instance it starts for the process), with one GPU per run when the cluster has GPUs, else
  ``EXPLORER_RAY_CPUS_PER_RUN`` CPUs (default 1). The run store stays the one record of runs: the
  task reports through a relay actor that :meth:`RayExecutor.advance` drains into the store, and
  the trained model comes back as bytes through Ray's object store (or is saved to
  ``EXPLORER_RAY_MODELS_DIR``, a folder every node and the server share). See
  :mod:`explorer.training.ray_worker` for the cluster side.

Choosing: ``EXPLORER_EXECUTOR`` (``local`` or ``ray``) and ``EXPLORER_RAY_ADDRESS`` (``auto``,
``host:port`` or ``ray://host:port``; unset: a local Ray instance started for the process and
shut down with it), or the CLI's ``--executor`` and ``--ray-address``. Ray is optional: the
default install runs without it (``pip install -r requirements-ray.txt`` adds it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any

from explorer.errors import ConfigError
from explorer.training.store import RunStore, process_start_token

EXECUTORS = ("local", "ray")
ROOT = Path(__file__).resolve().parents[2]
CAPACITY_TTL_S = 5.0  # how long the cluster's size is cached (nodes may join or leave)
# What a cluster's workers get of the project when the app ships its code (runtime_env working_dir).
SHIP_EXCLUDES = [".git", ".venv", "venv", "runs", "test-artifacts", "tests", "benchmarks", "**/__pycache__", "*.keras",
                 "*.sqlite*", "node_modules"]


def ray_installed() -> bool:
    """Whether the ``ray`` package is installed (without importing it)."""
    return importlib.util.find_spec("ray") is not None


def executor_name(name: str | None = None) -> str:
    """``local`` or ``ray``: ``name``, else ``EXPLORER_EXECUTOR``, else ``local``.

    Raises:
        ConfigError: any other name.
    """
    name = (name or os.environ.get("EXPLORER_EXECUTOR") or "local").strip().lower()
    if name not in EXECUTORS:
        raise ConfigError(f"executor {name!r} is unknown; use local or ray.")
    return name


def executor_from(name: str | None = None, address: str | None = None) -> RayExecutor | None:
    """The executor named by the arguments or the environment; None for the local one.

    Args:
        name: ``local`` or ``ray`` (default ``EXPLORER_EXECUTOR``, else ``local``).
        address: the Ray cluster (default ``EXPLORER_RAY_ADDRESS``; unset: a local Ray instance).

    Raises:
        ConfigError: an unknown executor, an address without Ray, or Ray not installed.
    """
    name = executor_name(name)
    if name == "local":
        if address:
            raise ConfigError("--ray-address needs --executor ray.")
        return None
    return RayExecutor(address or os.environ.get("EXPLORER_RAY_ADDRESS") or None)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux ``/proc``): a local Ray's daemons are its starter's children."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _from_lasting_thread(fn):
    """Call ``fn`` from a thread that lives as long as the process, and return its result.

    Ray starts a local instance's daemons with ``PR_SET_PDEATHSIG``, which Linux fires when the
    *thread* that started them ends. Streamlit runs page scripts in threads that end after every
    run, so there a local Ray would be killed a moment after it started.
    """
    if threading.current_thread() is threading.main_thread():
        return fn()
    box: queue.Queue = queue.Queue()

    def keeper() -> None:
        try:
            box.put((fn(), None))
        except BaseException as exc:  # handed to the caller
            box.put((None, exc))
            return
        threading.Event().wait()  # stay: the Ray daemons live as long as this thread

    threading.Thread(target=keeper, name="explorer-ray-keeper", daemon=True).start()
    result, exc = box.get()
    if exc is not None:
        raise exc
    return result


def start_local_ray(attempts: int = 2, **kwargs: Any) -> None:
    """``ray.init`` a new local instance (no dashboard); on a busy machine its 30 s start limit may pass:
    then the processes that attempt started are ended and it tries again.

    Raises:
        Exception: Ray's own, after the last attempt.
    """
    import ray

    for attempt in range(attempts):
        before = descendants(os.getpid())
        try:
            ray.init(address="local", include_dashboard=False, **kwargs)
            return
        except Exception:
            for pid in descendants(os.getpid()) - before:  # only what this attempt started
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if attempt == attempts - 1:
                raise


def _positive_env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


class RayExecutor:
    """Place runs as Ray tasks and bring their points, status and models back into the store."""

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_run: float | None = None,
                 models_dir: str | None = None, local_cpus: int | None = None) -> None:
        """Connect to a Ray cluster, or start a local Ray instance, and create the relay actor.

        Args:
            address: ``auto``, ``host:port`` or ``ray://host:port``; None: use the Ray this
                process is already connected to, else start a local instance (shut down by
                :meth:`shutdown`).
            cpus_per_run: CPUs a run asks for on a cluster without GPUs (default
                ``EXPLORER_RAY_CPUS_PER_RUN``, else 1).
            models_dir: a folder shared by the nodes and the server to save models in (default
                ``EXPLORER_RAY_MODELS_DIR``; unset: models come back through the object store).
            local_cpus: CPUs of a local instance (default: all of this machine's).

        Raises:
            ConfigError: Ray is not installed, or the cluster cannot be reached.
        """
        if not ray_installed():
            raise ConfigError("the ray executor needs Ray, which is not installed here; "
                              "install it (pip install -r requirements-ray.txt, or make setup-ray) or choose the local executor.")
        import ray

        from explorer.training import ray_worker

        self._ray, self._worker = ray, ray_worker
        self.address = address
        self.cpus_per_run = cpus_per_run or _positive_env("EXPLORER_RAY_CPUS_PER_RUN", 1.0)
        self.models_dir = models_dir or os.environ.get("EXPLORER_RAY_MODELS_DIR") or None
        self.started_here = False
        if not ray.is_initialized():
            opts: dict[str, Any] = {"namespace": "explorer", "logging_level": "ERROR", "log_to_driver": False}
            try:
                if address:
                    ray.init(address=address, runtime_env={"working_dir": str(ROOT), "excludes": SHIP_EXCLUDES},
                             **opts)
                else:
                    _from_lasting_thread(lambda: start_local_ray(num_cpus=local_cpus,
                                                                 object_store_memory=256 * 2**20, **opts))
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError or a bare Exception
                msg = " ".join(str(exc).split())[:200]
                if address:
                    raise ConfigError(f"cannot reach the Ray cluster at {address} ({msg}); check --ray-address.") \
                        from None
                raise ConfigError(f"a local Ray instance did not start ({msg}).") from None
            self.started_here = True
        node = ray.get_runtime_context().get_node_id()
        self.relay = ray_worker.Relay.options(
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node, soft=True),
        ).remote()
        self.tasks: dict[int, Any] = {}  # run id -> the task's ObjectRef
        self._stops_sent: set[int] = set()
        self._resources: tuple[float, dict[str, float]] | None = None
        self._env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        if not address:  # a local instance's workers import the package from this checkout
            self._env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

    # -- the scheduler's side of the seam ---------------------------------------------------------
    def resources(self) -> dict[str, float]:
        """The cluster's total resources (CPU, GPU, ...), cached for a few seconds."""
        now = time.monotonic()
        if self._resources is None or now - self._resources[0] > CAPACITY_TTL_S:
            self._resources = (now, self._ray.cluster_resources())
        return self._resources[1]

    def capacity(self) -> int:
        """How many runs fit on the cluster at once: its GPUs, else its CPUs / CPUs per run."""
        res = self.resources()
        gpus = int(res.get("GPU", 0))
        return max(1, gpus if gpus else int(res.get("CPU", 1) // self.cpus_per_run))

    def launch(self, store: RunStore, run_id: int, backend: str) -> None:
        """Submit a claimed run as a Ray task; the run's pid becomes this (the owning) process's."""
        run = store.get(run_id)
        try:
            ref = self._worker.train_task.options(**self._task_options(backend), name=f"explorer-run-{run_id}").remote(
                run_id, run.request, run.label, backend, self.relay, self.models_dir)
        except Exception as exc:  # e.g. the connection to the cluster is gone
            store.update(run_id, "running", status="failed", ended=time.time(), worker="ray",
                         error=f"the run could not be placed on Ray ({' '.join(str(exc).split())[:200]}).")
            return
        self.tasks[run_id] = ref
        # The task lives as long as this process (Ray ends a job's tasks with its driver), so the
        # store's liveness check of the run's pid tells every other process whether it still runs.
        pid = os.getpid()
        store.update(run_id, "running", pid=pid, pid_start=process_start_token(pid), worker="ray")

    def _task_options(self, backend: str) -> dict[str, Any]:
        gpus = 1 if self.resources().get("GPU", 0) else 0
        # The same runtime_env for every task of a backend: Ray reuses a worker process (its
        # imported backend) only between tasks with the same runtime_env.
        return {"num_cpus": 1 if gpus else self.cpus_per_run, "num_gpus": gpus,
                "runtime_env": {"env_vars": {**self._env, "KERAS_BACKEND": backend}}}

    def prewarm(self, backend: str = "tensorflow") -> Any:
        """Have a Ray worker import the backend now, so the next run there skips that (a warm start).

        Returns:
            The prewarm task's ObjectRef (its value is the worker's pid).
        """
        return self._worker.prewarm_task.options(**self._task_options(backend), name="explorer-prewarm").remote(backend)

    def advance(self, store: RunStore, grace: float) -> None:
        """Drain points into the store, pass on stop requests, end finished or dead tasks."""
        if not self.tasks:
            return
        ray = self._ray
        self._drain(store)
        now = time.time()
        for run in store.runs("running"):
            ref = self.tasks.get(run.id)
            if ref is None or not run.stop_requested:
                continue
            if run.id not in self._stops_sent:
                self.relay.set_stop.remote(run.id, run.stop_requested)
                self._stops_sent.add(run.id)
            if now - run.stop_requested > grace:
                ray.cancel(ref, force=True)
                store.update(run.id, "running", status="stopped", ended=now,
                             error=f"the run ignored the stop request for {grace:g} s and was killed.")
                self._forget(run.id)
        refs = list(self.tasks.values())
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0) if refs else ([], [])
        if ready:
            self._drain(store)
            ended = {ref: rid for rid, ref in self.tasks.items() if ref in ready}
            for ref, rid in ended.items():
                self._end(store, rid, ref)

    def shutdown(self) -> None:
        """Disconnect from Ray (stopping a local instance started here); runs still placed end with it."""
        ray = self._ray
        if not ray.is_initialized():
            return
        if self.started_here:
            ray.shutdown()
        else:
            try:
                ray.kill(self.relay)
            except Exception:
                pass

    # -- steps ---------------------------------------------------------------------------------
    def _drain(self, store: RunStore) -> None:
        """Move what the relay holds into the store (a relay that does not answer is skipped this round:
        the runs' ends still come back with their tasks)."""
        try:
            events = self._ray.get(self.relay.drain.remote(), timeout=60)
        except self._ray.exceptions.RayError:
            return
        self._apply(store, events)

    def _apply(self, store: RunStore, events: list[tuple[int, str, Any]]) -> None:
        """Write drained events to the store: one points write per run, updates in order."""
        points: dict[int, tuple[list[dict], dict | None]] = {}
        for rid, kind, payload in events:
            if kind == "points":
                pts, progress = payload
                have = points.setdefault(rid, ([], None))
                points[rid] = (have[0] + pts, progress or have[1])
            elif kind == "grad_norms":
                store.add_grad_norms(rid, *payload)
            else:
                if rid in points:  # keep the order: points sent before this update first
                    store.add_points(rid, *points.pop(rid))
                store.update(rid, "running", **payload)
        for rid, (pts, progress) in points.items():
            store.add_points(rid, pts, progress)

    def _end(self, store: RunStore, run_id: int, ref) -> None:
        ray = self._ray
        now = time.time()
        try:
            out = ray.get(ref, timeout=60)
        except ray.exceptions.RayError as exc:
            node = (store.get(run_id).node or "") if store.get(run_id) else ""
            where = f" on {node}" if node else ""
            store.update(run_id, "running", status="interrupted", ended=now,
                         error=f"the Ray worker{where} ended without finishing ({type(exc).__name__}); "
                               "its points are kept.")
            self._forget(run_id)
            return
        values = dict(out.get("values") or {})
        if not values:
            values = {"status": "failed", "error": "the Ray task ended without a result.", "ended": now}
        values["timings"] = {**values.get("timings", {}), "collected": now}  # when the server learnt of the end
        if out.get("model"):
            path = store.models_dir / f"run-{run_id}.keras"
            try:
                store.models_dir.mkdir(parents=True, exist_ok=True)
                path.write_bytes(out["model"])
                values["model_path"] = str(path)
            except OSError as exc:
                values.update(status="failed", model_path=None,
                              error=f"the run trained, but its model could not be saved to {path} "
                                    f"({exc.strerror or exc}); its metrics are kept.")
        store.update(run_id, "running", **values)
        self._forget(run_id)

    def _forget(self, run_id: int) -> None:
        self.tasks.pop(run_id, None)
        self._stops_sent.discard(run_id)
        self.relay.forget.remote(run_id)
