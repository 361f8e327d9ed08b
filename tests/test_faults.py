"""Faults: each ends with a clear status and message, nothing already written is lost.

Covered elsewhere: kill -9 of a worker, a worker that ignores Stop, a NaN loss (test_training.py).
Here: a worker whose data vanished, a model that cannot be saved (a failing write standing in
for a full disk), an app restart while a run trains, and a store that cannot be written.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.data import DataOptions
from explorer.errors import DataError
from explorer.training import Hyperparams, RunRequest, RunStore, Scheduler

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 240
TINY = {"conv_layers": 1, "filters": 4}


def request(dataset: str = "mnist-5k", epochs: int = 1, subset: int = 64) -> RunRequest:
    return RunRequest("cnn", None, dict(TINY), dataset, DataOptions(subset=subset), Hyperparams(epochs=epochs, batch_size=32))


def wait_final(sched: Scheduler, run_id: int):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        sched.advance()
        run = sched.store.get(run_id)
        if run.status in ("finished", "stopped", "failed", "interrupted"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def test_a_worker_whose_data_vanished_fails_with_the_reason(tmp_path):
    data = tmp_path / "mine.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x_train=rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), y_train=rng.integers(0, 10, 64),
             x_test=rng.integers(0, 255, (16, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 10, 16))
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, warm=0)
    rid = sched.submit(request(str(data)))
    data.unlink()  # gone before the worker reads it
    run = wait_final(sched, rid)
    assert run.status == "failed"
    assert "mine.npz" in run.error and "\n" not in run.error
    sched.shutdown()


def test_a_model_that_cannot_be_saved_fails_but_keeps_its_metrics(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.models_dir.parent.mkdir(parents=True, exist_ok=True)
    store.models_dir.write_text("a file where the models folder should be")  # every save fails
    sched = Scheduler(store, warm=0)
    rid = sched.submit(request(epochs=2))
    run = wait_final(sched, rid)
    assert run.status == "failed"
    assert "could not be saved" in run.error and "metrics are kept" in run.error
    assert len(store.points(rid, "epoch")) == 2 and store.points(rid, "batch")
    assert run.final.get("epochs_done") == 2
    sched.shutdown()


def test_an_app_restart_while_a_run_trains_loses_nothing(tmp_path):
    store_path = tmp_path / "runs.sqlite"
    first = Scheduler(RunStore(store_path), warm=0)
    rid = first.submit(request(epochs=3, subset=256))
    deadline = time.monotonic() + DEADLINE_S
    while not first.store.points(rid, "batch"):
        assert time.monotonic() < deadline, "no points"
        first.advance()
        time.sleep(0.2)
    points_before = len(first.store.points(rid))
    del first  # the app process goes away; the worker lives in its own session
    second = Scheduler(RunStore(store_path), warm=0)  # the restarted app
    run = wait_final(second, rid)
    assert run.status == "finished", run.error
    assert len(second.store.points(rid)) >= points_before
    assert len(second.store.points(rid, "epoch")) == 3
    second.shutdown()


def test_an_unwritable_store_is_one_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    bad = blocker / "runs.sqlite"
    with pytest.raises(DataError, match="cannot be opened for writing"):
        RunStore(bad)
    r = subprocess.run([sys.executable, "-m", "explorer", "runs", "--store", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "EXPLORER_STORE" in r.stderr
    monkeypatch.setenv("EXPLORER_STORE", str(bad))
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run().switch_page("pages/train.py").run()
    assert not at.exception
    assert any("cannot be opened for writing" in e.value for e in at.error)
    # the rest of the app keeps working
    at.switch_page("pages/build.py").run()
    assert not at.exception and at.metric[0].value == "80,266"


def test_thirty_launches_at_once_queue_and_all_end(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    sched = Scheduler(store, warm=0, max_running=2, session_limit=100)
    ids = [sched.submit(request(epochs=1, subset=32), session=f"student{i % 30}") for i in range(30)]
    assert len(set(ids)) == 30
    deadline = time.monotonic() + 900
    most = 0
    while True:
        sched.advance()
        runs = [store.get(i) for i in ids]
        most = max(most, sum(r.status == "running" for r in runs))
        if all(r.status in ("finished", "failed", "stopped", "interrupted") for r in runs):
            break
        assert time.monotonic() < deadline, [r.status for r in runs]
        time.sleep(0.2)
    assert [r.status for r in runs] == ["finished"] * 30
    assert most <= 2
    assert len(store.runs(limit=100)) == 30  # none lost or duplicated
    claimed = [r.claimed for r in runs]
    assert claimed == sorted(claimed)  # taken from the queue first in, first out
    sched.shutdown()


def test_retention_forgets_old_runs_and_caps_models(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.models_dir.mkdir(parents=True)
    now = 1_000_000_000.0
    ids = []
    for age_days in (30, 10, 2, 1, 0):
        rid = store.add_run(f"run {age_days}", {"builder": "cnn"})
        model = store.models_dir / f"run-{rid}.keras"
        model.write_bytes(b"model")
        store.update(rid, status="finished", ended=now - age_days * 86400, model_path=str(model))
        store.add_points(rid, [{"kind": "epoch", "step": 1, "epoch": 0, "elapsed": 1.0, "loss": 1.0}])
        ids.append(rid)
    assert store.prune(keep_days=7, max_models=2, now=now) == {"runs": 2, "models": 1}
    left = {r.id: r for r in store.runs()}
    assert sorted(left) == ids[2:]
    assert [left[i].model_path is not None for i in ids[2:]] == [False, True, True]
    assert not (store.models_dir / f"run-{ids[0]}.keras").exists()
    assert not (store.models_dir / f"run-{ids[2]}.keras").exists()
    assert all(store.points(i) for i in ids[2:])  # metrics stay
    assert store.prune(now=now) == {"runs": 0, "models": 0}  # nothing set: keep everything


def _corrupt_table(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage; the header and the schema (page 1) stay intact."""
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    assert root > 1
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(np.random.default_rng(0).integers(0, 256, page, dtype=np.uint8).tobytes())


def _filled_store(path: Path) -> RunStore:
    store = RunStore(path)
    for i in range(40):  # enough rows for the runs table to span several pages
        rid = store.add_run(f"run {i}", {"builder": "cnn", "note": "x" * 400})
        store.add_points(rid, [{"kind": "batch", "epoch": 0, "step": s, "elapsed": 0.1, "loss": 1.0} for s in range(50)])
    return store


def test_a_store_with_a_garbage_page_is_one_line_everywhere(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    _filled_store(path).close()
    _corrupt_table(path, "runs")
    for _ in range(2):  # the check on opening, also when the file is opened again
        with pytest.raises(DataError, match="is damaged or unreadable") as info:
            RunStore(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    for args in (["runs", "--store", str(path)], ["runs", "--store", str(path), "--json"],
                 ["train", "cnn", "--set", "conv_layers=1", "--epochs", "1", "--subset", "32", "--store", str(path)]):
        r = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "damaged or unreadable" in r.stderr and not r.stdout
    monkeypatch.setenv("EXPLORER_STORE", str(path))
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run().switch_page("pages/train.py").run()
    assert not at.exception
    assert [e.value for e in at.error if "damaged or unreadable" in e.value]
    at.switch_page("pages/build.py").run()
    assert not at.exception and at.metric[0].value == "80,266"


def test_a_page_that_goes_bad_after_opening_is_one_line_too(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = _filled_store(path)
    store.close()
    _corrupt_table(path, "points")  # not scanned on opening (it is the large table)
    store = RunStore(path)
    with pytest.raises(DataError, match="is damaged or unreadable") as info:
        store.points(1)
    assert "\n" not in str(info.value)


def test_two_stores_in_one_folder_keep_every_file_apart(tmp_path):
    a, b = RunStore(tmp_path / "a.db"), RunStore(tmp_path / "b.db")
    folders = [(s.models_dir, s.uploads_dir, s.logs_dir) for s in (a, b)]
    assert not set(folders[0]) & set(folders[1])
    assert all(f.parent.name.endswith(".db-files") for f in folders[0] + folders[1])
    sa, sb = Scheduler(a, warm=0), Scheduler(b, warm=0)
    ra, rb = sa.submit(request()), sb.submit(request())
    assert ra == rb == 1  # the same run id in both stores
    run_a, run_b = wait_final(sa, ra), wait_final(sb, rb)
    assert run_a.status == run_b.status == "finished", (run_a.error, run_b.error)
    assert run_a.model_path != run_b.model_path
    assert Path(run_a.model_path).parent == a.models_dir and Path(run_b.model_path).parent == b.models_dir
    assert Path(run_a.model_path).is_file() and Path(run_b.model_path).is_file()
    assert [p.name for p in a.logs_dir.iterdir()] and [p.name for p in b.logs_dir.iterdir()]
    assert not [p for p in a.models_dir.iterdir() if p.name.startswith(".tmp")]  # renamed into place


def test_paths_on_the_command_line_mean_what_they_meant_in_the_shell(tmp_path):
    import json
    import os

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x_train=rng.integers(0, 255, (64, 28, 28), dtype=np.uint8),
             y_train=np.arange(64) % 10, x_test=rng.integers(0, 255, (16, 28, 28), dtype=np.uint8),
             y_test=np.arange(16) % 10)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "explorer", "train", "cnn", "--set", "conv_layers=1", "--set", "filters=4",
                        "--dataset", "mine.npz", "--store", "sub/runs.db", "--epochs", "1", "--json"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert Path(result["model_path"]).parent == tmp_path / "sub" / "runs.db-files" / "models"
    run = RunStore(tmp_path / "sub" / "runs.db").get(result["run_id"])
    assert run.request["dataset"] == str(tmp_path / "mine.npz")
    r = subprocess.run([sys.executable, "-m", "explorer", "summary", Path(result["model_path"]).name, "--json"],
                       cwd=Path(result["model_path"]).parent, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_params"] == 40 + 26 * 26 * 4 * 10 + 10
