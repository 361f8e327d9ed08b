"""``train``: queue a training run, follow its progress, print the result (JSON with ``--json``).

Progress lines go to stderr; stdout gets the result (one JSON object with ``--json``). Exit
status: 0 when the run finished, 1 when it failed, stopped or was interrupted, 2 for bad input.
Ctrl-C asks the run to stop and waits for it (130). ``--no-wait`` queues the run, prints it and
exits 0 (the app or a later ``runs`` advances the queue).

:func:`add_train_args` and :func:`request_from_args` are shared with ``sweep``.

``--executor ray`` trains on a Ray cluster (``--ray-address``, else ``EXPLORER_RAY_ADDRESS``, else
a local Ray instance started for the command and shut down at its end); see
:mod:`explorer.training.executors`.
"""

from __future__ import annotations

import argparse
import sys

from explorer import data as datasets
from explorer.cli.common import add_target_args, overrides_for, print_json
from explorer.config import fields_of, make_config
from explorer.errors import ConfigError
from explorer.model_io import looks_like_model_file
from explorer.training.executors import EXECUTORS, executor_from, executor_name
from explorer.training.request import Hyperparams, RunRequest
from explorer.training.scheduler import Scheduler
from explorer.training.store import Run, RunStore


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``train`` command."""
    add_target_args(p)
    add_train_args(p)
    p.set_defaults(func=run)


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The dataset, data and hyperparameter options of ``train`` (and ``sweep``)."""
    p.add_argument("--dataset", default=datasets.DEFAULT_DATASET,
                   help=f"{', '.join(datasets.DATASETS)} or a path to an .npz (default {datasets.DEFAULT_DATASET})")
    hp = {f.name: f for f in fields_of(Hyperparams)}
    p.add_argument("--epochs", type=int, help=hp["epochs"].spec.help + f" Default {hp['epochs'].default}.")
    p.add_argument("--max-seconds", type=float, help=hp["max_seconds"].spec.help)
    p.add_argument("--batch-size", type=int, help=hp["batch_size"].spec.help + f" Default {hp['batch_size'].default}.")
    p.add_argument("--optimizer", help="adam, sgd-momentum or rmsprop (default adam)")
    p.add_argument("--learning-rate", type=float, help="learning rate (default 0.001)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--backend", help="tensorflow (default), jax or torch when installed")
    p.add_argument("--subset", type=int, default=0, help="train on at most this many images (0: all)")
    p.add_argument("--validation", default="split", choices=("split", "test"),
                   help="validate on a split of the training set (default) or on the test set")
    p.add_argument("--val-fraction", type=float, default=0.1, help="fraction held out by --validation split")
    p.add_argument("--normalise", default="scale", choices=("scale", "standardise", "none"),
                   help="scale 0..255 to 0..1 (default), standardise per channel, or none")
    p.add_argument("--flip", action="store_true", help="augment with random horizontal flips")
    p.add_argument("--shift", type=float, default=0.0, help="augment with random shifts up to this fraction")
    p.add_argument("--precision", choices=("float32", "mixed_float16", "mixed_bfloat16"),
                   help="compute dtype (default float32; mixed precision is for GPUs)")
    p.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    p.add_argument("--lr-schedule", choices=("constant", "book"), help="learning-rate schedule (default constant)")
    p.add_argument("--grad-every", type=int,
                   help=hp["grad_every"].spec.help + f" Default {hp['grad_every'].default}.")
    p.add_argument("--store", help="run store file (default $EXPLORER_STORE or ./runs/runs.sqlite)")
    add_executor_args(p)
    p.add_argument("--no-wait", action="store_true", help="queue and return at once (exit 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """Add ``--executor local|ray`` and ``--ray-address``."""
    p.add_argument("--executor", choices=EXECUTORS,
                   help="where runs train: local worker processes or a Ray cluster (default $EXPLORER_EXECUTOR, "
                        "else local)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="Ray cluster: auto, host:port or ray://host:port (default $EXPLORER_RAY_ADDRESS; unset: "
                        "a local Ray instance for this command)")


def request_from_args(args: argparse.Namespace) -> RunRequest:
    """The run request the arguments describe.

    Raises:
        ConfigError, DataError: bad names, values or dataset.
    """
    if looks_like_model_file(args.builder):
        raise ConfigError("train takes a builder or preset name, not a saved model file.")
    overrides = overrides_for(args.builder, args.preset, args.assignments)
    epochs = args.epochs
    if epochs is None and args.max_seconds:
        epochs = 0  # only a time budget: train until it runs out
    hp = make_config(
        Hyperparams, epochs=epochs, max_seconds=args.max_seconds, batch_size=args.batch_size,
        optimizer=args.optimizer, learning_rate=args.learning_rate, seed=args.seed, backend=args.backend,
        precision=args.precision, jit_compile=args.jit_compile or None, lr_schedule=args.lr_schedule,
        grad_every=args.grad_every,
    )
    opts = datasets.DataOptions(subset=args.subset, validation=args.validation, val_fraction=args.val_fraction,
                                normalise=args.normalise, flip=args.flip, shift=args.shift)
    return RunRequest(args.builder, args.preset, overrides, args.dataset, opts, hp)


def result_dict(run: Run) -> dict:
    """The JSON result of a run."""
    return {
        "run_id": run.id, "label": run.label, "status": run.status, "error": run.error, "device": run.device,
        "node": run.node, "executor": "ray" if run.worker == "ray" else "local",
        "backend": run.backend, "final": run.final, "model_path": run.model_path, "params": run.params,
        "macs": run.macs, "adaptation": run.adaptation,
        "seconds": round(run.ended - run.created, 3) if run.ended else None,
    }


def run(args: argparse.Namespace) -> int:
    """Queue the run, wait for it while printing progress, print the result."""
    req = request_from_args(args)
    store = RunStore(args.store)
    req.check()  # bad input fails before a Ray instance is started
    sched = scheduler_for(args, store)
    try:
        return _follow(sched, req, args)
    finally:
        sched.shutdown()


def scheduler_for(args: argparse.Namespace, store: RunStore) -> Scheduler:
    """The scheduler for ``train`` and ``sweep``: on the executor that ``--executor`` (or the environment) names.

    Raises:
        ConfigError: an unknown executor, Ray missing or unreachable, or ``--no-wait`` with Ray (a
            run on Ray lives only as long as the command that placed it).
    """
    if args.no_wait and executor_name(args.executor) == "ray":
        raise ConfigError("--no-wait works with the local executor only: runs on Ray end with the command that "
                          "placed them (use the app with EXPLORER_EXECUTOR=ray to queue and leave).")
    return Scheduler(store, executor=executor_from(args.executor, args.ray_address))


def _follow(sched: Scheduler, req: RunRequest, args: argparse.Namespace) -> int:
    store = sched.store
    run_id = sched.submit(req, check=False)
    say = sys.stderr.write
    say(f"run {run_id}: {req.label} queued in {store.path}\n")
    if args.no_wait:
        _print(store.get(run_id), args.json)
        return 0
    last = [None]

    def progress(r: Run) -> None:
        key = (r.status, r.epoch, r.step)
        if key == last[0]:
            return
        last[0] = key
        if r.step:  # the latest progress (also once more when the run ends between two polls)
            ips = f"{r.images_per_s:,.0f} img/s" if r.images_per_s else ""
            total = f"/{r.epochs}" if r.epochs else ""
            on = f"{r.device} on {r.node}" if r.node else r.device
            say(f"  epoch {r.epoch}{total} step {r.step}/{r.steps_per_epoch} {ips} on {on}\n")
        if r.status != "running" or r.step is None:
            say(f"  {r.status}\n")

    try:
        final = sched.wait(run_id, poll=0.5, on_update=progress)
    except KeyboardInterrupt:
        say(f"stopping run {run_id}...\n")
        sched.stop(run_id)
        final = sched.wait(run_id, poll=0.5)
        _print(final, args.json)
        return 130
    _print(final, args.json)
    return 0 if final.status == "finished" else 1


def _print(r: Run, as_json: bool) -> None:
    if as_json:
        print_json(result_dict(r))
        return
    print(f"run {r.id} {r.status}" + (f": {r.error}" if r.error else ""))
    for k in ("loss", "accuracy", "val_loss", "val_accuracy", "test_accuracy"):
        if k in r.final and r.final[k] is not None:
            print(f"  {k:<14} {r.final[k]:.4f}")
    if r.model_path:
        print(f"  model          {r.model_path}")
