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
5. With ``--ray`` (Ray installed): the Ray executor on a local Ray instance started here
   (``--ray-cpus``, default 2). Launch to first point on a warm Ray worker (one that already
   imported TensorFlow) vs the local warm worker above (goal <= 1.5x); ``mnist-cnn`` images/s
   through Ray vs plain ``fit`` (goal >= 0.95); the scheduler's overhead per run: created to the
   task's start on a warm worker plus the task's end to the store knowing it (goal <= 0.2 s).
   Then how far the design goes: runs per second the scheduler places (claim + submit a Ray
   task), and points per second the relay carries and the store takes.

Usage: ``python benchmarks/train.py [--repeat R] [--epochs N] [--skip-latency] [--skip-long]
[--only-experiments] [--ray] [--ray-only] [--json]``. All figures here are CPU-only unless the device line
says GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import explorer  # noqa: E402, F401  (analysis backend in this process; workers pick TensorFlow)
from explorer.training import Hyperparams, Run, RunRequest, RunStore, Scheduler  # noqa: E402

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


def plain_ips(req: RunRequest) -> float:
    """Images/s of plain ``fit`` in a fresh process."""
    base = plain(req, "throughput")
    return ips_from_epochs(base["epochs"], base["n_train"])


def alternate(repeat: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each measure taken ``repeat`` times, the order reversed every other round (the machine's load drifts).

    Returns:
        every value of each measure, by name (the caller takes the best).
    """
    got: dict[str, list[float]] = {name: [] for name in measures}
    for i in range(repeat):
        for name in (list(measures) if i % 2 == 0 else list(measures)[::-1]):
            got[name].append(measures[name]())
    return got


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
    ap.add_argument("--ray", action="store_true", help="also measure the Ray executor (a local Ray instance)")
    ap.add_argument("--ray-only", action="store_true", help="only the Ray part (with its local baselines)")
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--only-experiments", action="store_true", help="only part 4 (no training)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    if args.ray_only:
        return ray_part(args, {})
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

            def worker_ips(req: RunRequest = req) -> float:
                ips, info = worker_throughput(sched, req)
                out["device"] = info["device"]
                return ips

            got = alternate(args.repeat, {"plain": lambda req=req: plain_ips(req), "worker": worker_ips})
            plains, workers = got["plain"], got["worker"]
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
        warm_s, run = local_warm_run(Scheduler(store, max_running=1), lat)
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
    if args.ray:
        return ray_part(args, out)
    return _finish(out, args)


def local_warm_run(sched: Scheduler, req: RunRequest) -> tuple[float, Run]:
    """Launch to first point of a run on a local warm worker (waits for the worker to be idle first).

    Returns:
        the seconds, and the finished run.
    """
    store = sched.store
    sched.warm = 1
    sched.start_warm()
    while not any(w["state"] == "idle" for w in store.workers()):
        sched.advance()
        time.sleep(0.1)
    sched.warm = 0
    t0 = time.time()
    run = sched.wait(sched.submit(req), poll=0.05)
    assert run.worker == "warm", run.worker
    return run.timings["first_point"] - t0, run


def ray_part(args: argparse.Namespace, out: dict) -> int:
    """The Ray executor against the local worker and plain fit, measured in this run; then its limits."""
    import ray

    from explorer.training.executors import RayExecutor

    lat = RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=1, batch_size=64))
    thr = RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=args.epochs, batch_size=64))
    with tempfile.TemporaryDirectory() as tmp:
        local = Scheduler(RunStore(Path(tmp) / "local.sqlite"), max_running=1)
        t0 = time.time()
        ex = RayExecutor(local_cpus=args.ray_cpus)
        out["ray_init_s"] = time.time() - t0
        try:
            store = RunStore(Path(tmp) / "ray.sqlite")
            sched = Scheduler(store, executor=ex, max_running=1)
            ray.get(ex.prewarm())  # a Ray worker with TensorFlow imported and a fit traced
            print(f"\nRay: local instance ({args.ray_cpus} CPUs) started in {out['ray_init_s']:.1f} s", flush=True)
            overheads = []

            def overhead(run: Run) -> None:
                t = run.timings
                overheads.append((t["worker_start"] - run.created) + (t["collected"] - t["end"]))

            def ray_first_point() -> float:
                t0 = time.time()
                run = sched.wait(sched.submit(lat), poll=0.05)
                assert run.status == "finished" and run.timings.get("reused_worker"), run.timings
                out["device"] = f"{run.device} (Ray worker on {run.node})"
                overhead(run)
                return run.timings["first_point"] - t0

            got = alternate(args.repeat, {"local": lambda: local_warm_run(local, lat)[0], "ray": ray_first_point})
            local_s, ray_s = got["local"], got["ray"]
            out.update(ray_first_point_s=ray_s, local_warm_first_point_s=local_s,
                       ray_latency_ratio=min(ray_s) / min(local_s))
            print(f"launch to first point: local warm worker {min(local_s):.2f} s | warm Ray worker {min(ray_s):.2f} s "
                  f"({min(ray_s) / min(local_s):.2f}x)   (goal <= 1.5x; best of {args.repeat})", flush=True)

            def ray_ips() -> float:
                run = sched.wait(sched.submit(thr), poll=0.05)
                overhead(run)
                return ips_from_epochs([p["elapsed"] for p in store.points(run.id, "epoch")], run.train_size)

            got = alternate(args.repeat, {"plain": lambda: plain_ips(thr), "ray": ray_ips})
            plains, rays = got["plain"], got["ray"]
            out.update(ray_plain_ips=plains, ray_ips=rays, ray_ips_ratio=max(rays) / max(plains),
                       ray_overhead_s=overheads)
            print(f"mnist-cnn images/s: plain fit {max(plains):.0f} | through Ray {max(rays):.0f} "
                  f"({max(rays) / max(plains):.3f})   (goal >= 0.95; best of {args.repeat})")
            print(f"scheduler overhead per run (created -> task start + task end -> store): "
                  f"median {float(np.median(overheads)):.3f} s, max {max(overheads):.3f} s   (goal <= 0.2 s)",
                  flush=True)
            ray_limits(ex, Path(tmp), out)
        finally:
            ex.shutdown()
    return _finish(out, args)


def ray_limits(ex, tmp: Path, out: dict, n_runs: int = 300, n_events: int = 2000, per_event: int = 5) -> None:
    """How far the design goes: runs/s placed, relay events/s, store points/s."""
    import ray

    store = RunStore(tmp / "limits.sqlite")
    request = RunRequest("mnist-cnn", dataset="mnist-5k").to_dict()
    for _ in range(n_runs):
        store.add_run("placement", request)
    sched = Scheduler(store, executor=ex, max_running=n_runs)
    t0 = time.perf_counter()
    placed = sched.advance()  # claims and submits every queued run (Ray queues what does not fit)
    place_s = time.perf_counter() - t0
    for ref in ex.tasks.values():
        ray.cancel(ref, force=True)
    t0 = time.perf_counter()
    while ex.tasks:
        sched.advance()
    end_s = time.perf_counter() - t0
    assert len(placed) == n_runs
    point = {"kind": "batch", "epoch": 1, "step": 1, "elapsed": 0.1, "loss": 0.5, "accuracy": 0.5, "images_per_s": 1e3}
    t0 = time.perf_counter()
    for i in range(n_events):
        ex.relay.push.remote(1 + i % 50, "points", ([point] * per_event, {"epoch": 1, "step": i}))
    ray.get(ex.relay.ping.remote())
    relay_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    events = ray.get(ex.relay.drain.remote())
    ex._apply(store, events)
    store_s = time.perf_counter() - t0
    n_points = n_events * per_event
    out.update(ray_runs_placed_per_s=n_runs / place_s, ray_runs_ended_per_s=n_runs / end_s,
               relay_events_per_s=n_events / relay_s, store_points_per_s=n_points / store_s)
    print(f"\nlimits: {n_runs / place_s:,.0f} runs/s placed (claim + Ray submit), {n_runs / end_s:,.0f} runs/s ended; "
          f"relay {n_events / relay_s:,.0f} pushes/s ({n_events} pushes of {per_event} points); "
          f"store {n_points / store_s:,.0f} points/s (drain + SQLite, 50 runs)")
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
