"""What-if training: plain vs residual, data adapted to the architecture, labels and colours that
tell runs apart, experiment grids, the Pareto front, phases, gradient norms, and a real sweep
through the CLI (tiny models, a few batches, real worker processes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import explorer  # noqa: F401  (analysis backend)
from explorer import data as datasets
from explorer import render
from explorer.analysis import analyse
from explorer.builders import PRESETS, REGISTRY, resolve
from explorer.errors import ConfigError
from explorer.training import Hyperparams, RunRequest, RunStore
from explorer.training.experiment import expand, pareto_front, parse_grid
from explorer.training.progress import distinct_labels, epochs_text, phase_text, run_color, run_row

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 400


# -- plain vs residual ---------------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [{"depth": 20}, {"depth": 56}, {"version": 2, "depth": 29}])
def test_shortcut_false_is_a_plain_net_with_fewer_params(overrides):
    res = analyse(resolve("resnet", overrides=overrides)).graph
    plain = analyse(resolve("resnet", overrides={**overrides, "shortcut": False})).graph
    assert any(n.cls == "Add" for n in res.nodes)
    assert not any(n.cls == "Add" for n in plain.nodes)
    assert not any("shortcut" in n.id for n in plain.nodes)
    assert plain.total_params < res.total_params
    # the same weighted layers on the residual path: only the projections are gone
    convs = lambda g: [n.id for n in g.nodes if n.cls == "Conv2D" and "shortcut" not in n.id]  # noqa: E731
    assert convs(plain) == convs(res)


# -- every builder trains offline ----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(set(REGISTRY) | set(PRESETS)))
def test_every_builder_takes_mnist_5k_adapted_or_says_why(name):
    info = datasets.DATASETS["mnist-5k"]
    try:
        spec, how = datasets.adapt(resolve(name), info.input_shape, info.num_classes)
    except ConfigError as exc:
        assert "28x28x1" in str(exc) and "\n" not in str(exc)
        return
    shape = how.shape(info.input_shape)
    assert tuple(spec.config.input_shape) == shape if hasattr(spec.config, "input_shape") else True
    x = datasets.apply_adaptation(np.ones((2, 28, 28, 1), np.float32), how)
    assert x.shape[1:] == shape
    if how.size:  # zero border, the digit centred
        assert x[:, :2].sum() == 0 and x[:, 2:30, 2:30].sum() == 2 * 28 * 28 * x.shape[-1]
        assert "padded 28x28→32x32" in RunRequest(name, dataset="mnist-5k").label


def test_unadaptable_input_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"cannot train on 8x8x1 images"):
        datasets.adapt(resolve("resnet20"), (8, 8, 1), 10)


# -- labels and colours --------------------------------------------------------------------------
def stored(store: RunStore, req: RunRequest) -> int:
    return store.add_run(req.label, req.to_dict())


def test_labels_tell_runs_apart_and_colours_follow_the_run(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    base = RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=5))
    reqs = [base, dataclasses.replace(base, hp=Hyperparams(epochs=50)),
            dataclasses.replace(base, hp=Hyperparams(epochs=5, learning_rate=3e-3)),
            dataclasses.replace(base, overrides={"conv_layers": 2}), base]
    ids = [stored(store, r) for r in reqs]
    runs = [store.get(i) for i in ids]
    labels = distinct_labels(runs)
    assert len(set(labels.values())) == len(runs)
    assert all(lab.startswith("mnist-cnn") for lab in labels.values())
    assert "50 ep" in labels[ids[1]] and "lr 3e-3" in labels[ids[2]] and "conv_layers=2" in labels[ids[3]]
    assert labels[ids[4]].endswith(f"#{ids[4]}")  # the same run twice: told apart by its id
    assert "mnist-5k" not in labels[ids[0]]  # shared by all: left out
    # one colour per run, whatever else is shown and in what order
    assert [run_color(i) for i in ids] == [run_color(i) for i in reversed(ids)][::-1]
    assert len({run_color(i) for i in ids}) == len(ids)


def test_run_row_has_no_none_and_shows_done_over_asked_epochs(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    rid = stored(store, RunRequest("mnist-cnn", hp=Hyperparams(epochs=50)))
    store.update(rid, status="running", epoch=4, step=3, started=1.0)
    run = store.get(rid)
    row = run_row(run)
    assert row["epochs"] == "3/50" == epochs_text(run)
    assert all(v is not None and v != "None" for v in row.values())
    assert phase_text(run).startswith("starting worker")


def test_queue_positions_and_phases(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    ids = [stored(store, RunRequest("mnist-cnn")) for _ in range(3)]
    store.update(ids[0], status="running")
    store.set_phase(ids[0], "compiling")
    places = store.queue_positions()
    assert places == {ids[1]: 1, ids[2]: 2}
    assert phase_text(store.get(ids[2]), places[ids[2]]).startswith("queued #2 ·")
    assert phase_text(store.get(ids[0])).startswith("compiling ·")


def test_an_old_store_gets_the_new_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, session TEXT, "
               "request TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL)")
    db.execute("INSERT INTO runs (label, request, status, created) VALUES ('old', '{}', 'finished', 1.0)")
    db.commit()
    db.close()
    store = RunStore(path)  # noqa: F841  (opening migrates)
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(runs)")}
    assert {"experiment_id", "phase", "params", "macs", "adaptation"} <= cols


# -- experiments ---------------------------------------------------------------------------------
def test_grid_is_the_product_of_its_axes_with_typed_values():
    base = RunRequest("resnet20", dataset="mnist-5k")
    runs = expand(base, parse_grid(["depth=20,32", "lr=1e-3,3e-3", "shortcut=true,false"]))
    assert len(runs) == 8
    combos = {(r.architecture.config.depth, r.hp.learning_rate, r.architecture.config.shortcut) for _c, r in runs}
    assert len(combos) == 8
    assert all(isinstance(c["depth"], int) and isinstance(c["shortcut"], bool) for c, _r in runs)
    assert len({r.label for _c, r in runs}) == 8


@pytest.mark.parametrize(("grid", "words"), [
    (["depth=20,33"], "depth 33"),
    (["nope=1,2"], "neither a field"),
    (["input_shape=32,32,3"], "tuple"),
    (["depth=" + ",".join(str(6 * n + 2) for n in range(1, 18))], "at most 16"),
    (["depth"], "field=v1,v2"),
    (["depth=20", "depth=32"], "twice"),
])
def test_bad_grids_are_refused_in_one_line(grid, words):
    with pytest.raises(ConfigError, match=words) as info:
        expand(RunRequest("resnet20"), parse_grid(grid))
    assert "\n" not in str(info.value)


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.4), (3.0, 0.9), (0.5, 0.1), (3.0, 0.8), (5.0, 0.9)]
    front = pareto_front(pts)
    assert front == [3, 0, 2]
    for i, (c, s) in enumerate(pts):  # nothing off the front beats a front member on both
        if i not in front:
            assert any(pts[j][0] <= c and pts[j][1] >= s for j in front)


def test_blocks_coloured_by_value():
    graph = analyse(resolve("resnet", overrides={"depth": 8})).graph
    dot = render.to_dot(graph, "blocks")
    colors = render.heat_colors({"stem": 1e-3, "stage1/block1": 1e-1, "head": 1.0, "stage2/block1": None})
    assert len(set(colors.values())) == 3 and "stage2/block1" not in colors
    out = render.to_dot(graph, "blocks", styles=render.heat_styles(graph, colors, {"head": "norm 1"}))
    head = next(line for line in out.splitlines() if line.strip().startswith('"block:head"'))
    assert colors["head"] in head and "head: norm 1" in head
    assert out.count("\n") == dot.count("\n")
    # a stage node (blocks cut to stages) shows its first block's heat
    staged = render.to_dot(graph, render.ViewOptions("blocks", depth=1),
                           styles=render.heat_styles(graph, colors))
    stage1 = next(line for line in staged.splitlines() if line.strip().startswith('"block:stage1"'))
    assert colors["stage1/block1"] in stage1


# -- real workers --------------------------------------------------------------------------------
def cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args, "--store", str(store)], cwd=ROOT,
                          capture_output=True, text=True, timeout=DEADLINE_S)


def test_sweep_plain_vs_residual_through_the_cli(tmp_path):
    """Two tiny ResNets on mnist-5k (padded to 32x32): the JSON result, labels, grad norms per stage."""
    store = tmp_path / "runs.sqlite"
    p = cli("sweep", "resnet", "--set", "depth=8", "--set", "filters=4", "--grid", "shortcut=true,false",
            "--subset", "64", "--epochs", "1", "--batch-size", "16", "--grad-every", "2", "--json", store=store)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    runs = out["runs"]
    assert out["experiment_id"] == 1 and len(runs) == 2
    assert [r["status"] for r in runs] == ["finished", "finished"]
    assert [r["overrides"].get("shortcut", True) for r in runs] == [True, False]
    assert runs[1]["params"] < runs[0]["params"] and all(r["macs"] > 0 for r in runs)
    assert len({r["label"] for r in runs}) == 2 and all("padded 28x28→32x32" in r["label"] for r in runs)
    assert all(0 <= r["final"]["val_accuracy"] <= 1 for r in runs)
    p = cli("runs", "--experiment", "1", "--json", store=store)
    assert p.returncode == 0, p.stderr
    listed = json.loads(p.stdout)["runs"]
    assert {r["run_id"] for r in listed} == {r["run_id"] for r in runs}
    for r in listed:
        norms = r["grad_norms"]
        stages = {b.split("/")[0] for b in norms}
        assert {"stem", "stage1", "stage2", "stage3", "head"} <= stages
        assert all(series and all(math.isfinite(v) and v >= 0 for _s, v in series) for series in norms.values())
        assert [s for s, _v in norms["stem"]][:2] == [1, 2]
        assert r["phase"] == "training" and r["adaptation"] == "padded 28x28→32x32"
    p = cli("runs", "--experiment", "9", store=store)
    assert p.returncode == 2 and "experiment 9" in p.stderr
