"""``sweep``: launch an experiment, a grid over config fields and/or hyperparameters, and follow it.

``python -m explorer sweep BUILDER [--preset P] [--set ...] --grid field=v1,v2[,...] [--grid ...]``
with the options of ``train`` (``--executor ray [--ray-address A]`` spreads the runs over a Ray
cluster, as many at once as it has GPUs, or CPUs per ``EXPLORER_RAY_CPUS_PER_RUN``). Every combination is one run; the runs queue like any run and
share the dataset, data options and budget. Progress lines go to stderr; stdout gets the result
(with ``--json``: ``{experiment_id, label, runs: [{run_id, label, overrides, status, params,
macs, final{...}}]}``). Exit status as ``train``: 0 when every run finished, 1 when one failed,
stopped or was interrupted, 2 for bad input, 130 after Ctrl-C (which stops the runs);
``--no-wait`` queues the experiment and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time

from explorer.cli.common import add_target_args, print_json
from explorer.cli.train import add_train_args, request_from_args, scheduler_for
from explorer.training.experiment import parse_grid, run_summary
from explorer.training.scheduler import Scheduler
from explorer.training.store import RunStore


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``sweep`` command."""
    add_target_args(p)
    p.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                   help="a config field or hyperparameter and its values (repeatable), e.g. --grid depth=20,32")
    add_train_args(p)
    p.set_defaults(func=run)


def result(store: RunStore, experiment_id: int) -> dict:
    """The experiment as JSON-ready data."""
    exp = store.experiment(experiment_id) or {}
    return {"experiment_id": experiment_id, "label": exp.get("label"), "grid": exp.get("grid"),
            "runs": [run_summary(r) for r in store.experiment_runs(experiment_id)]}


def run(args: argparse.Namespace) -> int:
    """Queue the experiment, wait for its runs while printing progress, print the result."""
    base = request_from_args(args)
    grid = parse_grid(args.grid)
    store = RunStore(args.store)
    sched = scheduler_for(args, store)
    try:
        return _follow(sched, base, grid, args)
    finally:
        sched.shutdown()


def _follow(sched: Scheduler, base, grid, args: argparse.Namespace) -> int:
    store = sched.store
    eid, ids = sched.submit_experiment(base, grid)
    say = sys.stderr.write
    say(f"experiment {eid}: {len(ids)} runs queued in {store.path}\n")
    for r in store.experiment_runs(eid):
        say(f"  run {r.id}: {r.label}\n")
    if args.no_wait:
        _print(store, eid, args.json)
        return 0
    seen: dict[int, tuple] = {}
    try:
        while True:
            sched.advance()
            runs = store.experiment_runs(eid)
            for r in runs:
                key = (r.status, r.epoch)
                if seen.get(r.id) != key:
                    seen[r.id] = key
                    where = f" epoch {r.epoch}/{r.epochs or '∞'}" if r.epoch else ""
                    say(f"  run {r.id} {r.status}{where}" + (f": {r.error}" if r.error else "") + "\n")
            if not any(r.active for r in runs):
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        say(f"stopping experiment {eid}...\n")
        for i in ids:
            sched.stop(i)
        for i in ids:
            sched.wait(i, poll=0.5)
        _print(store, eid, args.json)
        return 130
    _print(store, eid, args.json)
    return 0 if all(r.status == "finished" for r in store.experiment_runs(eid)) else 1


def _print(store: RunStore, eid: int, as_json: bool) -> None:
    res = result(store, eid)
    if as_json:
        print_json(res)
        return
    print(f"experiment {eid}: {res['label']}")
    print(f"{'id':>4}  {'status':<11} {'params':>10} {'MMACs':>9} {'seconds':>8} {'val_acc':>7}  label")
    for r in res["runs"]:
        f = r["final"]
        val, secs, macs = f.get("val_accuracy"), f.get("train_seconds"), r["macs"]
        print(f"{r['run_id']:>4}  {r['status']:<11} {r['params'] or '':>10} "
              f"{'' if macs is None else f'{macs / 1e6:.2f}':>9} "
              f"{'' if secs is None else f'{secs:.1f}':>8} {'' if val is None else f'{val:.3f}':>7}  {r['label']}")
