"""Runs on Ray: a local Ray instance started by the tests (2 CPUs, no dashboard), real Ray tasks.

Checks that two runs placed through the Ray executor run at once and finish with their points in
the store and their models saved, that Stop stops one, that killing the Ray worker process of a
running run leaves it ``interrupted`` with its points, that a 2-run ``sweep --executor ray`` (the
CLI connected to the instance as to a cluster) fans out, and that ``train --executor ray`` without
an address starts its own local instance and leaves no process behind, and that the app's service,
started from a short-lived thread as Streamlit does, keeps its local Ray up. In-process tests share the
Ray workers (TensorFlow imported once per worker); each CLI command is a new Ray job with its own. Every Ray process the tests start is ended by them (and checked to be gone).

Ray is in requirements-dev.txt; where it is not installed these tests skip (under CI they fail).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from explorer.data import DataOptions
from explorer.training import Hyperparams, RunRequest, RunStore, Scheduler
from explorer.training.executors import RayExecutor, descendants, ray_installed, start_local_ray
from tests.conftest import advance_until

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 300
TINY = {"conv_layers": 1, "filters": 4}

if not ray_installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("ray is not installed (pip install -r requirements-dev.txt)")
    pytest.skip("ray is not installed", allow_module_level=True)

import ray  # noqa: E402


def tiny(epochs: int = 1, subset: int = 64, batch_size: int = 32) -> RunRequest:
    """A 1-conv, 4-filter CNN on a few mnist-5k images."""
    return RunRequest("cnn", None, dict(TINY), "mnist-5k", DataOptions(subset=subset),
                      Hyperparams(epochs=epochs, batch_size=batch_size))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: set[int]) -> None:
    """Wait (bounded) until none of ``pids`` runs; fail naming the ones left."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"Ray processes left behind: {sorted(left)}")


def until(sched: Scheduler, check, what: str):
    """Advance the scheduler until ``check()`` returns something truthy; return it."""
    return advance_until(sched, check, what, DEADLINE_S, 0.1)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance for the module (2 CPUs, no dashboard); its GCS address. Ended and checked after."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    before = descendants(os.getpid())
    start_local_ray(num_cpus=2, _temp_dir=temp, logging_level="ERROR", object_store_memory=128 * 2**20,
                    log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        started = descendants(os.getpid()) - before
        ray.shutdown()
        wait_gone(started)


def cli(*args: str, store: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "explorer", *args, "--store", str(store)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


TINY_ARGS = ("cnn", "--set", "conv_layers=1", "--set", "filters=4", "--subset", "64", "--epochs", "1", "--json")


def test_two_runs_on_ray_finish_at_once_with_points_and_models(cluster, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, executor=RayExecutor())
    try:
        ids = [sched.submit(tiny()), sched.submit(tiny())]
        assert [store.get(i).status for i in ids] == ["running", "running"]  # room for two: 2 CPUs, 1 per run
        runs = [sched.wait(i, timeout=DEADLINE_S) for i in ids]
    finally:
        sched.shutdown()
    for run in runs:
        assert run.status == "finished", run.error
        assert run.worker == "ray" and run.node and run.device.startswith(("CPU", "GPU"))
        assert run.remote_pid and run.remote_pid != os.getpid() and run.pid == os.getpid()  # placed by us
        epochs = store.points(run.id, "epoch")
        assert len(epochs) == 1 and all(epochs[0][m] is not None for m in ("loss", "val_accuracy"))
        assert store.points(run.id, "batch")[0]["step"] == 1
        assert zipfile.is_zipfile(run.model_path) and Path(run.model_path).parent == store.models_dir
        assert 0 <= run.final["test_accuracy"] <= 1
    assert max(r.claimed for r in runs) < min(r.ended for r in runs)


def test_stop_stops_one_and_a_killed_ray_worker_leaves_its_run_interrupted(cluster, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, executor=RayExecutor(), grace=60)
    try:
        assert sched.executor.capacity() == 2  # two CPUs, one per run: both run at once
        a = sched.submit(tiny(epochs=500, subset=256, batch_size=16))
        b = sched.submit(tiny(epochs=500, subset=256, batch_size=16))
        assert store.get(a).status == store.get(b).status == "running"
        until(sched, lambda: store.points(a, "batch") and store.points(b, "batch") and store.get(b).remote_pid,
              "both runs to train")
        assert sched.stop(a)
        n_points = len(store.points(b))
        os.kill(store.get(b).remote_pid, signal.SIGKILL)
        until(sched, lambda: not store.get(a).active and not store.get(b).active, "both runs to end")
        ra, rb = store.get(a), store.get(b)
        assert ra.status == "stopped" and "request" in ra.error, ra.error
        assert ra.final["batches_after_stop"] >= 0 and zipfile.is_zipfile(ra.model_path)
        assert rb.status == "interrupted" and "ended without finishing" in rb.error, rb.error
        assert len(store.points(b)) >= n_points > 0  # its points stay
        assert not sched.executor.tasks
        # The queue goes on after a worker died: a next run gets a fresh Ray worker and finishes.
        c = sched.submit(tiny())
        assert sched.wait(c, timeout=DEADLINE_S).status == "finished"
    finally:
        sched.shutdown()


def test_cli_without_an_address_starts_its_own_ray_and_leaves_nothing(tmp_path):
    store_file = tmp_path / "runs.sqlite"
    p = cli("train", *TINY_ARGS, "--executor", "ray", store=store_file)
    seen: set[int] = set()
    while p.poll() is None:  # note every process the command starts while it runs
        seen |= descendants(p.pid)
        time.sleep(0.2)
    stdout, stderr = p.communicate(timeout=DEADLINE_S)
    assert p.returncode == 0, stderr[-3000:]
    out = json.loads(stdout)
    assert out["status"] == "finished" and out["executor"] == "ray" and Path(out["model_path"]).is_file()
    assert len(seen) >= 2  # Ray's own processes (GCS, raylet, workers) were started...
    wait_gone(seen)  # ...and all of them ended with the command


def test_a_two_run_sweep_fans_out_over_the_cluster(cluster, tmp_path):
    store_file = tmp_path / "runs.sqlite"
    p = cli("sweep", "cnn", "--set", "conv_layers=1", "--grid", "filters=2,4", "--subset", "64", "--epochs", "1",
            "--executor", "ray", "--ray-address", cluster, "--json", store=store_file)
    stdout, stderr = p.communicate(timeout=DEADLINE_S)
    assert p.returncode == 0, stderr[-3000:]
    out = json.loads(stdout)
    assert [r["status"] for r in out["runs"]] == ["finished", "finished"]
    assert sorted(r["overrides"]["filters"] for r in out["runs"]) == [2, 4]
    store = RunStore(store_file)
    runs = [store.get(r["run_id"]) for r in out["runs"]]
    assert all(r.worker == "ray" and r.node and zipfile.is_zipfile(r.model_path) for r in runs)
    assert all(store.points(r.id, "epoch") for r in runs)
    # The cluster has room for two (2 CPUs, one per run): both were placed before either ended.
    assert max(r.claimed for r in runs) < min(r.ended for r in runs)


def test_no_wait_is_refused_with_ray_in_one_line(tmp_path):
    p = cli("train", *TINY_ARGS, "--executor", "ray", "--no-wait", store=tmp_path / "r.sqlite")
    _, stderr = p.communicate(timeout=DEADLINE_S)
    assert p.returncode == 2 and "--no-wait" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


SERVICE = r"""
import json, sys, threading, time
import explorer
from explorer.data import DataOptions
from explorer.training import Hyperparams, RunRequest
from explorer.training.service import start_service
box = {}
# Streamlit calls start_service from a page script's thread, which ends after the run; a local
# Ray started there must outlive it.
t = threading.Thread(target=lambda: box.setdefault("s", start_service(sys.argv[1])))
t.start()
t.join()
s = box["s"]
req = RunRequest("cnn", None, {"conv_layers": 1, "filters": 4}, "mnist-5k", DataOptions(subset=64),
                 Hyperparams(epochs=1, batch_size=32))
rid = s.submit(req, session="a browser")
deadline = time.monotonic() + 600
while s.store.get(rid).active and time.monotonic() < deadline:
    time.sleep(0.2)  # the service's own thread advances the queue
r = s.store.get(rid)
print(json.dumps({"status": r.status, "error": r.error, "worker": r.worker, "node": r.node, "model": r.model_path}))
s.shutdown()
"""


def test_the_apps_service_on_a_local_ray_started_from_a_passing_thread(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", SERVICE, str(tmp_path / "runs.sqlite")], cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "EXPLORER_EXECUTOR": "ray", "EXPLORER_WARM_WORKERS": "0"})
    seen: set[int] = set()
    while p.poll() is None:
        seen |= descendants(p.pid)
        time.sleep(0.2)
    stdout, stderr = p.communicate(timeout=DEADLINE_S)
    assert p.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["status"] == "finished" and out["worker"] == "ray" and out["node"], out
    assert zipfile.is_zipfile(out["model"])
    wait_gone(seen)
