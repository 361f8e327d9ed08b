"""Training benchmark: the explorer's worker path against plain Keras, measured in one run.

1. Throughput: images/s of ``mnist-cnn`` (mnist-5k) and ``resnet20`` (CIFAR-shaped random data)
   trained through a worker process with live metrics (the store callback) vs plain
   ``model.fit(verbose=0)`` in a plain process; same arrays, batch size, epochs and validation.
   Images/s = images of epochs 2..N / time from the end of epoch 1 to the end of epoch N (the
   first epoch holds the trace); each side is measured ``--repeat`` times, alternating the
   order, and the best of each is compared (the machine's load drifts). Goal: ratio >= 0.95.
2. Launch latency: launch to the first curve point in the store, with a warm worker (backend
   already imported) and with a cold one, vs a plain script's process start to its first batch
   end. Goal: warm ratio <= 0.6.
   Also the store callback's own cost, in one process (alternating fits with and without it),
   which the machine's load disturbs far less than a comparison across processes.
3. ``mnist-cnn`` trained 20 epochs on mnist-5k through a worker: its test accuracy.
4. Experiments: launch of a 4-run experiment until all 4 are queued (goal <= 1 s), and the
   Experiment view's figure building (curves, three scatters, table, a gradient heat map) for
   16 finished runs of 20 epochs (goal <= 1 s). The worker side of part 1 runs with gradient-norm
   logging on (every 50 steps, the default); the probe's own share of the training time is printed.

Usage: ``python benchmarks/train.py [--repeat R] [--epochs N] [--skip-latency] [--skip-long]
[--only-experiments] [--json]``. All figures here are CPU-only unless the device line says GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import explorer  # noqa: E402, F401  (analysis backend in this process; workers pick TensorFlow)
from explorer.training import Hyperparams, RunRequest, RunStore, Scheduler  # noqa: E402

PLAIN = r'''
import json, os, sys, time
T_START = float(sys.argv[1])
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, sys.argv[2])
import keras
import explorer  # noqa
from explorer import data as datasets
from explorer.builders import build_model
from explorer.training.request import RunRequest
req = RunRequest.from_dict(json.loads(sys.argv[3]))
hp = req.hp
prep = datasets.prepare(datasets.load(req.dataset), req.data, seed=hp.seed)
spec = req.spec(prep.input_shape, prep.num_classes)
keras.utils.set_random_seed(hp.seed)
model = build_model(spec)
model.compile(optimizer=keras.optimizers.Adam(hp.learning_rate), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
marks = {}
if sys.argv[4] == "overhead":  # the store callback's own cost: same process, same model, alternating
    from explorer.training.callback import StoreCallback
    from explorer.training.store import RunStore
    store = RunStore(os.environ["BENCH_STORE"])
    rid = store.add_run("overhead", {})
    n = len(prep.x_train)
    steps = -(-n // hp.batch_size)
    model.fit(prep.x_train, prep.y_train, batch_size=hp.batch_size, epochs=1, verbose=0)  # trace
    from explorer.training.callback import GradNormCallback
    from explorer.graph import extract
    from explorer import blockpath
    block_of = {nd.id: blockpath.cut(nd.block, 2) for nd in extract(model).nodes}
    k = min(n, hp.batch_size)
    res = {"plain": [], "callback": [], "grad": []}
    for i in range(int(os.environ.get("BENCH_REPEAT", "4"))):
        for mode in (("plain", "callback", "grad") if i % 2 == 0 else ("grad", "callback", "plain")):
            cbs = [StoreCallback(store, rid, batch_size=hp.batch_size, train_size=n, steps_per_epoch=steps)] \
                if mode != "plain" else []
            if mode == "grad":
                cbs.append(GradNormCallback(store, rid, prep.x_train[:k], prep.y_train[:k], block_of, every=50))
                cbs[-1].set_model(model)
                cbs[-1]._prepare()  # trace the probe outside the timed fit (it happens once per run)
                cbs[-1]._fn(prep.x_train[:k], prep.y_train[:k])
            t = time.perf_counter()
            model.fit(prep.x_train, prep.y_train, batch_size=hp.batch_size, epochs=1, verbose=0, callbacks=cbs)
            res[mode].append(n / (time.perf_counter() - t))
    cb = StoreCallback(store, rid, batch_size=hp.batch_size, train_size=n, steps_per_epoch=steps)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    t = time.perf_counter()
    for i in range(2000):  # the callback's own work per batch, without training around it
        cb.on_train_batch_end(i % steps, {"loss": 0.5, "accuracy": 0.5})
    res["callback_us_per_batch"] = (time.perf_counter() - t) / 2000 * 1e6
    print("RESULT " + json.dumps(res))
    sys.exit(0)
class EpochClock(keras.callbacks.Callback):  # epoch ends only: batch dispatch stays as in a plain fit
    def on_epoch_end(self, epoch, logs=None):
        marks.setdefault("epochs", []).append(time.time())
cbs = [EpochClock()]
if sys.argv[4] == "latency":
    class First(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if "first" not in marks:
                marks["first"] = time.time()
                self.model.stop_training = True
    cbs.append(First())
model.fit(prep.x_train, prep.y_train, batch_size=hp.batch_size, epochs=hp.epochs,
          validation_data=(prep.x_val, prep.y_val), verbose=0, callbacks=cbs, shuffle=True)
marks["n_train"] = len(prep.x_train)
marks["t_start"] = T_START
print("RESULT " + json.dumps(marks))
'''


def plain(req: RunRequest, mode: str, **extra_env: str) -> dict:
    """Run the plain script in a fresh process; returns its time marks."""
    t0 = time.time()
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", **extra_env}
    p = subprocess.run([sys.executable, "-c", PLAIN, repr(t0), str(ROOT), json.dumps(req.to_dict()), mode],
                       capture_output=True, text=True, env=env, timeout=1800)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(line[0][7:])


def ips_from_epochs(ends: list[float], n: int) -> float:
    """Images/s over epochs 2..N from epoch end times."""
    return (len(ends) - 1) * n / (ends[-1] - ends[0])


def worker_throughput(sched: Scheduler, req: RunRequest) -> tuple[float, dict]:
    """Images/s of a run through a worker, from the store's epoch points."""
    rid = sched.submit(req)
    run = sched.wait(rid, poll=0.2)
    if run.status != "finished":
        raise RuntimeError(f"run {rid} {run.status}: {run.error}")
    pts = sched.store.points(rid, "epoch")
    ends = [p["elapsed"] for p in pts]
    return ips_from_epochs(ends, run.train_size), {"device": run.device, "run": rid}


def cifar_like(path: Path, n_train: int = 1024, n_test: int = 256) -> str:
    """Random 32x32x3 uint8 images with 10 classes (the shape of CIFAR-10)."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (n_train, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, n_train), x_test=rng.integers(0, 255, (n_test, 32, 32, 3), dtype=np.uint8),
             y_test=rng.integers(0, 10, n_test))
    return str(path)


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4, help="epochs per throughput run (>= 2)")
    ap.add_argument("--repeat", type=int, default=2, help="throughput measurements per side (alternating)")
    ap.add_argument("--skip-latency", action="store_true", help="skip the launch-latency part")
    ap.add_argument("--skip-long", action="store_true", help="skip the 20-epoch accuracy run")
    ap.add_argument("--only-experiments", action="store_true", help="only part 4 (no training)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        experiments(Path(tmp), out)
        if args.only_experiments:
            return _finish(out, args)
        store = RunStore(Path(tmp) / "runs.sqlite")
        sched = Scheduler(store, max_running=1)
        cifar = cifar_like(Path(tmp) / "cifar_like.npz")
        cases = {
            "mnist-cnn": RunRequest("mnist-cnn", dataset="mnist-5k",
                                    hp=Hyperparams(epochs=args.epochs, batch_size=64)),
            "resnet20": RunRequest("resnet20", dataset=cifar, hp=Hyperparams(epochs=args.epochs, batch_size=64)),
        }
        print(f"{'throughput':<12} {'plain img/s':>12} {'worker img/s':>13} {'ratio':>7}   (goal >= 0.95)")
        for name, req in cases.items():
            plains, workers = [], []
            for i in range(args.repeat):  # alternate the order: the machine's load drifts
                for which in (("plain", "worker") if i % 2 == 0 else ("worker", "plain")):
                    if which == "plain":
                        base = plain(req, "throughput")
                        plains.append(ips_from_epochs(base["epochs"], base["n_train"]))
                    else:
                        ips, info = worker_throughput(sched, req)
                        workers.append(ips)
                        out["device"] = info["device"]
            base_ips, ips = max(plains), max(workers)
            out[f"{name}_plain_ips"], out[f"{name}_worker_ips"] = plains, workers
            out[f"{name}_ratio"] = ips / base_ips
            print(f"{name:<12} {base_ips:>12.1f} {ips:>13.1f} {ips / base_ips:>7.3f}   "
                  f"(best of {args.repeat}; all: plain {', '.join(f'{v:.0f}' for v in plains)}; "
                  f"worker {', '.join(f'{v:.0f}' for v in workers)})", flush=True)

        print(f"\n{'callback cost':<12} {'no callback':>12} {'store callback':>14} {'ratio':>7}   "
              "(one process, same model, alternating 1-epoch fits; median)")
        for name, req in cases.items():
            res = plain(req, "overhead", BENCH_STORE=str(Path(tmp) / "overhead.sqlite"),
                        BENCH_REPEAT=str(2 * args.repeat))
            a, b = float(np.median(res["plain"])), float(np.median(res["callback"]))
            g = float(np.median(res["grad"]))
            us = res["callback_us_per_batch"]
            batch_ms = 1000 * req.hp.batch_size / a
            out[f"{name}_callback_ratio"], out[f"{name}_callback_us_per_batch"] = b / a, us
            out[f"{name}_grad_ratio"] = g / a
            print(f"{name:<12} {a:>12.1f} {b:>14.1f} {b / a:>7.3f}   callback work {us:.0f} us per batch "
                  f"= {100 * us / 1000 / batch_ms:.2f}% of a {batch_ms:.0f} ms batch", flush=True)
            print(f"{'':<12} {'':>12} {g:>14.1f} {g / a:>7.3f}   with gradient norms every 50 steps too "
                  "(goal >= 0.95)", flush=True)

        if args.skip_latency:
            return _finish(out, args)
        lat = RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=1, batch_size=64))
        base = plain(lat, "latency")
        base_s = base["first"] - base["t_start"]
        cold = sched.submit(lat)
        t_cold = store.get(cold).created
        run = sched.wait(cold, poll=0.05)
        cold_s = run.timings["first_point"] - t_cold
        warm_sched = Scheduler(store, max_running=1, warm=1)
        warm_sched.start_warm()
        while not any(w["state"] == "idle" for w in store.workers()):
            warm_sched.advance()
            time.sleep(0.1)
        warm_sched.warm = 0
        t0 = time.time()
        wid = warm_sched.submit(lat)
        run = warm_sched.wait(wid, poll=0.05)
        warm_s = run.timings["first_point"] - t0
        assert run.worker == "warm", run.worker
        out.update(plain_first_batch_s=base_s, cold_first_point_s=cold_s, warm_first_point_s=warm_s,
                   warm_ratio=warm_s / base_s, cold_ratio=cold_s / base_s, warm_timings=run.timings)
        print(f"\nlaunch to first point: plain script {base_s:.2f} s | cold worker {cold_s:.2f} s "
              f"({cold_s / base_s:.2f}x) | warm worker {warm_s:.2f} s ({warm_s / base_s:.2f}x)   (goal <= 0.6x)")
        t = run.timings
        print(f"  warm run: data {t.get('data_s', 0):.2f} s, build+compile {t.get('build_s', 0):.2f} s, "
              f"rest (trace, first batch, store) {warm_s - t.get('data_s', 0) - t.get('build_s', 0):.2f} s")

        if not args.skip_long:
            req = RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=20, batch_size=64))
            t0 = time.time()
            rid = sched.submit(req)
            run = sched.wait(rid, poll=1.0)
            out.update(long_status=run.status, long_test_accuracy=run.final.get("test_accuracy"),
                       long_val_accuracy=run.final.get("val_accuracy"), long_seconds=time.time() - t0)
            print(f"\nmnist-cnn, 20 epochs on mnist-5k (3,600 train / 400 val / 1,000 test): {run.status}, "
                  f"test accuracy {run.final.get('test_accuracy', float('nan')):.4f}, "
                  f"val accuracy {run.final.get('val_accuracy', float('nan')):.4f}, {time.time() - t0:.0f} s")
    return _finish(out, args)


def experiments(tmp: Path, out: dict) -> None:
    """Part 4: queueing a 4-run experiment, and the Experiment view's figures for 16 runs."""
    from explorer.training.charts import curves_figure, experiment_scatter, grad_heatmap
    from explorer.training.experiment import parse_grid
    from explorer.training.experiment import view as experiment_view

    store = RunStore(tmp / "exp.sqlite")
    sched = Scheduler(store, max_running=1)
    base = RunRequest("resnet20", dataset="mnist-5k", hp=Hyperparams(epochs=1))
    base.check()  # the builders and the dataset registry loaded once, as in a running app
    t = time.perf_counter()
    eid, ids = sched.submit_experiment(base, parse_grid(["depth=20,32,44,56"]))
    queued_s = time.perf_counter() - t
    assert all(store.get(i).status in ("queued", "running") for i in ids)
    for i in ids:
        sched.stop(i)
    t = time.perf_counter()
    one = sched.submit(base)
    single_s = time.perf_counter() - t
    sched.stop(one)
    out.update(experiment_queue_s=queued_s, single_submit_s=single_s)
    print(f"experiment of 4 runs queued in {queued_s:.3f} s (goal <= 1 s; one plain submit: {single_s:.3f} s)")

    # 16 finished runs of 20 epochs x 10 logged batches, with gradient norms of 11 blocks x 20 steps.
    reqs = [(f"run {i}", RunRequest("resnet20", overrides={"depth": 6 * (i % 8 + 1) + 2},
                                    hp=Hyperparams(learning_rate=1e-3 * (1 + i // 8))).to_dict()) for i in range(16)]
    eid, ids = store.add_experiment("bench", {"depth": []}, reqs)
    rng = np.random.default_rng(0)
    for n, rid in enumerate(ids):
        pts = []
        for e in range(1, 21):
            for s in range(10):
                pts.append({"kind": "batch", "epoch": e, "step": (e - 1) * 10 + s + 1, "elapsed": e, "loss": 1 / e,
                            "accuracy": 1 - 1 / (e + 1)})
            pts.append({"kind": "epoch", "epoch": e, "step": e * 10, "elapsed": e, "loss": 1 / e, "accuracy": 1 - 1 / e,
                        "val_loss": 1 / e, "val_accuracy": 1 - 1 / (e + rng.random())})
        store.add_points(rid, pts)
        store.add_grad_norms(rid, 1, {f"stage{b // 4}/block{b}": (float(rng.random()), 1.0) for b in range(11)})
        store.update(rid, status="finished", params=100_000 * (n + 1), macs=10**7 * (n + 1),
                     final={"val_accuracy": float(rng.random()), "train_seconds": 10.0 * (n + 1)})
    times = []
    for _ in range(3):
        t = time.perf_counter()
        v = experiment_view(store, eid)
        curves_figure(v["curves"], "accuracy").to_dict()
        for x in ("params", "macs", "train_seconds"):
            experiment_scatter(v["rows"], x).to_dict()
        grad_heatmap(store.grad_norms(ids[0])).to_dict()
        times.append(time.perf_counter() - t)
    out["experiment_view_s"] = min(times)
    print(f"Experiment view of 16 runs (data + 5 figures): {min(times):.3f} s (best of 3; goal <= 1 s)\n", flush=True)


def _finish(out: dict, args: argparse.Namespace) -> int:
    print(f"\ndevice: {out.get('device')}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
