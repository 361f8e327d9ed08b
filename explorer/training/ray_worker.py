"""The Ray side of the Ray executor: the relay actor and the task that trains one run.

Imported only where Ray is installed (the scheduler's process and the cluster's workers).

* :class:`Relay` is a small actor (no CPU) that the scheduler creates next to itself. A run's task
  pushes its metric points and progress to it; the scheduler drains it into the SQLite store every
  advance and posts stop requests to it. A worker node therefore never touches the server's disk.
* :func:`train_run` is the Ray task. It runs the same worker code as a local worker process
  (:func:`explorer.training.worker.execute`, the same Keras callback) against a
  :class:`RelayChannel`, which looks like the run store to that code: points and progress go to the
  relay, the stop flag comes from it (a thread polls it every 0.1 s), and the run's end (status,
  final metrics) plus the trained ``.keras`` file (as bytes, through Ray's object store) are the
  task's return value. With a shared folder configured, the model is saved there instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ray

ENDED = ("finished", "stopped", "failed", "interrupted")
STOP_POLL_S = 0.1


@ray.remote(num_cpus=0, max_restarts=0)
class Relay:
    """A mailbox between runs on the cluster and the scheduler (calls run one at a time, in order)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, Any]] = []
        self.stops: dict[int, float] = {}

    def push(self, run_id: int, kind: str, payload: Any) -> None:
        """A run reports ``points`` (points, progress), ``grad_norms`` (step, norms) or an ``update`` (column values)."""
        self.events.append((run_id, kind, payload))

    def drain(self) -> list[tuple[int, str, Any]]:
        """Everything pushed since the last drain, in order."""
        events, self.events = self.events, []
        return events

    def set_stop(self, run_id: int, when: float) -> None:
        """The scheduler passes on a stop request (a Unix time)."""
        self.stops[run_id] = when

    def stop_time(self, run_id: int) -> float | None:
        """When a stop was asked for, or None."""
        return self.stops.get(run_id)

    def forget(self, run_id: int) -> None:
        """Drop an ended run's stop flag."""
        self.stops.pop(run_id, None)

    def ping(self) -> bool:
        """A round trip: every earlier call from the same caller has been handled when it returns."""
        return True


def node_name() -> str:
    """``hostname (ip)`` of the node this process runs on."""
    host = socket.gethostname()
    ip = ray.util.get_node_ip_address()
    return host if host == ip else f"{host} ({ip})"


class RelayChannel:
    """What the worker code needs of a run store, over the relay actor (see the module docstring)."""

    def __init__(self, relay, run_id: int, request: dict, label: str, models_dir: str | None) -> None:
        self.relay, self.run_id = relay, run_id
        self._run = SimpleNamespace(id=run_id, request=request, label=label)
        self.shared = models_dir is not None
        self.models_dir = Path(models_dir) if models_dir else Path(tempfile.mkdtemp(prefix="explorer-ray-run-"))
        self.node = node_name()
        self.final: dict[str, Any] = {}
        self._stop: float | None = None
        self._done = threading.Event()
        self._poller = threading.Thread(target=self._poll_stop, name="explorer-stop-poll", daemon=True)
        self._poller.start()

    def _poll_stop(self) -> None:
        while not self._done.is_set():
            try:
                self._stop = ray.get(self.relay.stop_time.remote(self.run_id), timeout=10) or self._stop
            except Exception:  # the relay is gone (the scheduler ended): the task ends with it anyway
                pass
            self._done.wait(STOP_POLL_S)

    # -- the run store's interface, as far as the worker and the callback use it ------------------
    def get(self, run_id: int) -> SimpleNamespace:
        """The run (id, request and label)."""
        return self._run

    def update(self, run_id: int, only_if_status=None, **values: Any) -> bool:
        """Progress goes to the relay now; the run's end is kept for the task's return value."""
        if values.get("status") in ENDED:
            self.final = values
            return True
        if "pid" in values:  # the worker's own pid: a process on this node, not the server's
            values["remote_pid"] = values.pop("pid")
            values.pop("pid_start", None)
            values["node"] = self.node
        self.relay.push.remote(run_id, "update", values)
        return True

    def add_points(self, run_id: int, points: list[dict], progress: dict | None = None) -> None:
        """Send metric points (and the progress columns) to the relay."""
        self.relay.push.remote(run_id, "points", (points, progress))

    def set_phase(self, run_id: int, phase: str) -> None:
        """What the worker is doing (loading data, building, compiling, training)."""
        self.relay.push.remote(run_id, "update", {"phase": phase, "phase_since": time.time()})

    def add_grad_norms(self, run_id: int, step: int, norms: dict[str, tuple[float, float]]) -> None:
        """Each block's (gradient norm, weight norm) at a step."""
        self.relay.push.remote(run_id, "grad_norms", (step, norms))

    def stop_requested(self, run_id: int) -> float | None:
        """The stop flag as last seen by the polling thread (no round trip per batch)."""
        return self._stop

    # -- the end ------------------------------------------------------------------------------
    def result(self) -> dict[str, Any]:
        """The task's return value: the run's end and, unless saved to a shared folder, the model's bytes."""
        self._done.set()
        ray.get(self.relay.ping.remote())  # every point sent before the end has reached the relay
        values = dict(self.final)
        model = None
        path = values.get("model_path")
        if path and not self.shared:
            model = Path(path).read_bytes()
            values["model_path"] = None
        if not self.shared:
            shutil.rmtree(self.models_dir, ignore_errors=True)
        return {"values": values, "model": model}


def train_run(run_id: int, request: dict, label: str, backend: str, relay, models_dir: str | None) -> dict:
    """The Ray task: train one run with the worker code, reporting through the relay.

    Args:
        run_id: the run's id in the server's store.
        request: the run's request (``RunRequest.to_dict()``).
        label: the run's label.
        backend: the Keras backend (also in the task's environment, so it is set before Keras loads).
        relay: the :class:`Relay` handle.
        models_dir: a folder shared with the server to save the model in, or None (bytes come back).

    Returns:
        ``{"values": the run's final columns, "model": the .keras bytes or None}``.
    """
    t_spawned = time.time()
    from explorer.training import worker

    channel = RelayChannel(relay, run_id, request, label, models_dir)
    reused = "keras" in sys.modules
    device, timings = worker._setup(backend, None)  # Ray has set CUDA_VISIBLE_DEVICES for a GPU task
    if reused:  # a Ray worker process is reused between tasks: start from a clean Keras state
        import keras

        keras.backend.clear_session()
    timings["worker_start"] = t_spawned
    timings["reused_worker"] = float(reused)
    try:
        worker.execute(channel, run_id, device, backend, timings)
    finally:
        channel._done.set()
    return channel.result()


def prewarm(backend: str) -> int:
    """Import the backend and trace a tiny fit in a Ray worker process, which Ray then keeps for later tasks.

    Returns:
        The worker's pid.
    """
    from explorer.training import worker

    worker._setup(backend, None)
    worker._prewarm(backend)
    return os.getpid()


train_task = ray.remote(max_retries=0)(train_run)
prewarm_task = ray.remote(max_retries=0)(prewarm)
