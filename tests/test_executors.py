"""The executor seam without a cluster: choosing an executor, and where a run trained on the Train page.

(Runs on a real Ray instance are in ``test_ray.py``.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.errors import ConfigError
from explorer.training import RunStore
from explorer.training.executors import executor_from, executor_name
from explorer.training.progress import placement, run_row

ROOT = Path(__file__).resolve().parent.parent


def test_executor_choice_errors_are_one_sentence(monkeypatch):
    with pytest.raises(ConfigError, match="local or ray"):
        executor_from("spark")
    with pytest.raises(ConfigError, match="needs --executor ray"):
        executor_from("local", "ray://head:10001")
    monkeypatch.setenv("EXPLORER_EXECUTOR", "local")
    assert executor_from() is None and executor_name() == "local"
    monkeypatch.setenv("EXPLORER_EXECUTOR", " Ray ")
    assert executor_name() == "ray"
    monkeypatch.delenv("EXPLORER_EXECUTOR")
    assert executor_name() == "local"  # the default needs nothing new


def ray_run(store: RunStore) -> int:
    """A finished run as the Ray executor records it (device and node of the cluster's worker)."""
    rid = store.add_run("cnn · mnist-5k", {"builder": "cnn", "hp": {"epochs": 1}})
    now = time.time()
    store.update(rid, status="finished", worker="ray", started=now - 2, ended=now, device="GPU: NVIDIA H100 80GB HBM3",
                 node="gpu-3 (10.0.0.7)", remote_pid=4242, final={"accuracy": 0.5})
    return rid


def test_a_run_shows_its_device_and_node(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run = store.get(ray_run(store))
    assert placement(run) == "GPU: NVIDIA H100 80GB HBM3 · node gpu-3 (10.0.0.7)"
    assert run_row(run)["device"] == placement(run)
    local = store.get(store.add_run("local", {}))
    assert placement(local) is None  # not started yet
    store.update(local.id, device="CPU (2 cores)")
    assert placement(store.get(local.id)) == "CPU (2 cores)"


def test_train_page_shows_the_node_of_a_ray_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    ray_run(RunStore(tmp_path / "runs.sqlite"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("node gpu-3 (10.0.0.7)" in str(v) for v in at.dataframe[0].value["device"])


def test_train_page_says_in_one_line_when_the_executor_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("EXPLORER_EXECUTOR", "spark")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("local or ray" in e.value for e in at.error)
