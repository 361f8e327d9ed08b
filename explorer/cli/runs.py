"""``runs``: list the runs in a store (advancing its queue first: dead workers become interrupted).

``--experiment ID`` lists one experiment's runs; ``--json`` gives each run's ``grad_norms``
(``{block path: [[step, norm], ...]}``) and ``weight_norms`` too.
"""

from __future__ import annotations

import argparse
import time

from explorer.cli.common import print_json
from explorer.errors import ConfigError
from explorer.training.scheduler import Scheduler
from explorer.training.store import RunStore


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``runs`` command."""
    p.add_argument("--store", help="run store file (default $EXPLORER_STORE or ./runs/runs.sqlite)")
    p.add_argument("--limit", type=int, default=50, help="show at most this many runs (newest first)")
    p.add_argument("--experiment", type=int, metavar="ID", help="only the runs of this experiment")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the runs as a table or JSON."""
    if not 1 <= args.limit <= 1_000_000:
        raise ConfigError(f"--limit {str(args.limit)[:40]} is out of range; it must be between 1 and 1,000,000.")
    store = RunStore(args.store)
    Scheduler(store).advance()
    if args.experiment is not None:
        if store.experiment(args.experiment) is None:
            raise ConfigError(f"experiment {args.experiment} does not exist in {store.path}.")
        runs = store.experiment_runs(args.experiment)
    else:
        runs = store.runs(limit=args.limit)
    if args.json:
        print_json({
            "store": str(store.path),
            **({"experiment": store.experiment(args.experiment)} if args.experiment is not None else {}),
            "runs": [
                {
                    "run_id": r.id, "label": r.label, "status": r.status, "created": r.created,
                    "started": r.started, "ended": r.ended, "device": r.device, "node": r.node,
                    "backend": r.backend,
                    "epoch": r.epoch, "step": r.step, "error": r.error, "final": r.final,
                    "model_path": r.model_path, "request": r.request, "experiment_id": r.experiment_id,
                    "params": r.params, "macs": r.macs, "adaptation": r.adaptation, "phase": r.phase,
                    "grad_norms": store.grad_norms(r.id), "weight_norms": store.grad_norms(r.id, "weight_norm"),
                }
                for r in runs
            ],
        })
        return 0
    if not runs:
        print(f"no runs in {store.path}")
        return 0
    print(f"{'id':>4}  {'status':<11} {'started':<19} {'epochs':>7} {'acc':>6} {'val_acc':>7}  label")
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started or r.created))
        acc, val = r.final.get("accuracy"), r.final.get("val_accuracy")
        asked = r.request.get("hp", {}).get("epochs") or "∞"
        print(f"{r.id:>4}  {r.status:<11} {when:<19} {f'{r.epoch or 0}/{asked}':>7} "
              f"{'' if acc is None else f'{acc:.3f}':>6} {'' if val is None else f'{val:.3f}':>7}  {r.label}")
    return 0
