"""Training runs in real worker processes (tiny models, a few batches), the CLI, and the Train page.

Waits poll the store with a generous deadline (a hang fails the test instead of blocking the
suite); nothing asserts on how long something took.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import explorer
from explorer.data import DataOptions
from explorer.training import Hyperparams, RunRequest, RunStore, Scheduler
from tests.conftest import advance_until

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 240
TINY = {"conv_layers": 1, "filters": 4}


def tiny(epochs: int = 1, subset: int = 64, batch_size: int = 32, **data) -> RunRequest:
    """A 1-conv, 4-filter CNN on a few hundred mnist-5k images."""
    return RunRequest("cnn", None, dict(TINY), "mnist-5k", DataOptions(subset=subset, **data),
                      Hyperparams(epochs=epochs, batch_size=batch_size))


def until(sched: Scheduler, check, what: str):
    """Advance the scheduler until ``check()`` returns something truthy; return it."""
    return advance_until(sched, check, what, DEADLINE_S, 0.1)


def has_batch_points(store: RunStore, run_id: int) -> bool:
    return bool(store.points(run_id, "batch"))


def test_live_metrics_in_a_warm_worker_then_stop(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, warm=1)
    sched.start_warm()
    until(sched, lambda: any(w["state"] == "idle" for w in store.workers()), "an idle warm worker")
    sched.warm = 0  # no replacement warm worker in this test
    rid = sched.submit(tiny(epochs=500, subset=512, batch_size=16))
    # Metrics appear while the run is still running: per batch, then a full epoch point.
    until(sched, lambda: store.points(rid, "epoch"), "an epoch point")
    run = store.get(rid)
    assert run.status == "running" and run.worker == "warm"
    assert run.device.startswith(("CPU", "GPU")) and run.steps_per_epoch == 32
    epoch = store.points(rid, "epoch")[0]
    assert all(epoch[m] is not None for m in ("loss", "accuracy", "val_loss", "val_accuracy", "images_per_s"))
    batch = store.points(rid, "batch")
    assert batch[0]["step"] == 1 and all(a["step"] < b["step"] for a, b in itertools.pairwise(batch))
    # Stop ends the run within a few batches: the worker counts the batches that ended after the
    # request (its clock and ours are the same machine's).
    last_seen = max(p["step"] for p in store.points(rid))
    assert sched.stop(rid)
    run = sched.wait(rid, timeout=DEADLINE_S)
    assert run.status == "stopped" and run.error and "request" in run.error
    # 2 when the request commits just after a batch's flag check, which then ends after it.
    assert run.final["batches_after_stop"] <= 2 and run.final["steps_done"] >= last_seen
    assert run.model_path and Path(run.model_path).is_file()


def freeze(pid: int, store_file: Path) -> None:
    """SIGSTOP a worker at a moment it does not hold the store's write lock."""
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        probe = sqlite3.connect(store_file, timeout=0.05)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # frozen mid-write: let it finish and try again
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)
        finally:
            probe.close()
    raise AssertionError("could not freeze the worker outside a write")


def test_kill_minus_9_interrupts_and_an_ignored_stop_is_killed(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, max_running=2, grace=0.5)
    a = sched.submit(tiny(epochs=500, subset=256))
    b = sched.submit(tiny(epochs=500, subset=256))
    until(sched, lambda: has_batch_points(store, a) and has_batch_points(store, b), "both runs to train")
    n_points = len(store.points(a))
    os.kill(store.get(a).pid, signal.SIGKILL)
    freeze(store.get(b).pid, store.path)  # a frozen worker cannot see the stop flag
    sched.stop(b)
    until(sched, lambda: not store.get(a).active and not store.get(b).active, "both runs to end")
    ra, rb = store.get(a), store.get(b)
    assert ra.status == "interrupted" and "ended without finishing" in ra.error
    assert len(store.points(a)) >= n_points > 0  # its points stay
    assert rb.status == "stopped" and "ignored the stop request" in rb.error


def test_queue_holds_runs_beyond_the_limit_and_runs_them_in_order(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, max_running=1)
    ids = [sched.submit(tiny(subset=64)) for _ in range(3)]
    assert [store.get(i).status for i in ids] == ["running", "queued", "queued"]
    runs = [sched.wait(i, timeout=DEADLINE_S) for i in ids]
    assert [r.status for r in runs] == ["finished"] * 3, [r.error for r in runs]
    for earlier, later in itertools.pairwise(runs):
        assert later.claimed >= earlier.ended  # never two at once, oldest first
    assert all("test_accuracy" in r.final and Path(r.model_path).is_file() for r in runs)


def test_session_limit_refuses_extra_runs(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, max_running=1, session_limit=1)
    store.add_run("busy", tiny().to_dict(), session="s1")  # queued, never started: no advance here
    with pytest.raises(explorer.errors.ConfigError, match="limit is 1"):
        sched.submit(tiny(), session="s1")


def cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args, "--store", str(store)], cwd=ROOT,
                          capture_output=True, text=True, timeout=DEADLINE_S)


def test_cli_train_and_runs_json(tmp_path):
    store = tmp_path / "runs.sqlite"
    p = cli("train", "cnn", "--set", "conv_layers=1", "--set", "filters=4", "--subset", "64", "--epochs", "1",
            "--json", store=store)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "finished" and 0 <= out["final"]["accuracy"] <= 1 and out["run_id"] == 1
    assert "epoch 1/1" in p.stderr  # progress
    p = cli("runs", "--json", store=store)
    assert p.returncode == 0 and [r["status"] for r in json.loads(p.stdout)["runs"]] == ["finished"]


def test_cli_nan_loss_fails_with_that_reason(tmp_path):
    x = np.full((64, 8, 8, 1), 3e38, np.float32)  # finite, but overflows inside the network
    y = np.arange(64) % 2
    np.savez(tmp_path / "huge.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
    p = cli("train", "cnn", "--set", "conv_layers=1", "--set", "filters=2", "--dataset", str(tmp_path / "huge.npz"),
            "--normalise", "none", "--epochs", "1", "--batch-size", "8", "--json", store=tmp_path / "runs.sqlite")
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert out["status"] == "failed" and "NaN" in out["error"] and out["model_path"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--batch-size", "0"], "batch_size"),
        (["--optimizer", "lion"], "optimizer"),
        (["--dataset", "nowhere/data.npz"], "does not exist"),
        (["--dataset", "cifar10"], "Keras cache"),
        (["--set", "conv_layers=99"], "conv_layers"),
        (["--epochs", "0"], "time budget"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, words):
    env_home = {"KERAS_HOME": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "explorer", "train", "cnn", *args, "--store", str(tmp_path / "r.sqlite")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **env_home})
    assert p.returncode == 2
    assert words in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def prepared_store(path: Path) -> int:
    """A store holding one finished run with batch and epoch points (no training)."""
    store = RunStore(path)
    rid = store.add_run("cnn conv_layers=1 · mnist-5k", tiny(epochs=2).to_dict())
    pts = []
    for step in range(1, 21):
        pts.append({"kind": "batch", "epoch": 1 + (step > 10), "step": step, "elapsed": step / 10,
                    "loss": 2.0 / step, "accuracy": min(1.0, step / 20), "images_per_s": 500.0})
        if step % 10 == 0:
            pts.append({"kind": "epoch", "epoch": step // 10, "step": step, "elapsed": step / 10, "loss": 2.0 / step,
                        "accuracy": step / 20, "val_loss": 2.5 / step, "val_accuracy": step / 25,
                        "images_per_s": 500.0})
    store.add_points(rid, pts)
    now = time.time()
    store.update(rid, status="finished", started=now - 3, ended=now, device="CPU (2 cores)", epochs=2,
                 steps_per_epoch=10, epoch=2, step=10, final={"loss": 0.1, "accuracy": 1.0, "val_accuracy": 0.8})
    return rid


def test_train_page_shows_a_finished_runs_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    rid = prepared_store(tmp_path / "runs.sqlite")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    figs = [json.loads(c.proto.spec) for c in charts]
    for fig, metric in zip(figs, ("loss", "accuracy"), strict=True):
        names = [t["name"] for t in fig["data"]]
        assert names == ["train (per step)", "train (per epoch)", "validation (per epoch)"]
        assert len(fig["data"][0]["x"]) == 20 and len(fig["data"][2]["y"]) == 2
        assert fig["layout"]["yaxis"]["title"]["text"] == metric
    table = at.dataframe[0].value
    assert list(table["id"]) == [rid] and list(table["status"]) == ["finished"]
    # A bad what-if change is refused with a sentence, and nothing is queued.
    at.sidebar.text_area[0].input("conv_layers=99").run()
    at.sidebar.button(key="train:launch").click().run()
    assert any("conv_layers" in e.value for e in at.error)
    assert len(RunStore(tmp_path / "runs.sqlite").runs()) == 1
