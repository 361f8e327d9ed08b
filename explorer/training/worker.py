"""Worker processes: train one run on a real Keras backend and report to the store.

Two entry points, each run in a fresh interpreter that the scheduler starts
(``python -m explorer.training.worker cold RUN_ID STORE BACKEND GPU`` or
``... warm PARENT_PID STORE BACKEND GPU``) with ``KERAS_BACKEND`` already in its environment:

* :func:`cold_main` trains one given run: it sets ``KERAS_BACKEND`` (and ``CUDA_VISIBLE_DEVICES``)
  *before* importing Keras, then trains and exits.
* :func:`warm_main` imports the backend first, registers itself in the store as an idle warm
  worker and waits (polling every 20 ms) until the scheduler hands it a run; then it trains that
  run and exits, so every run still gets a fresh process. A launch then pays only for the build,
  the trace and the data, not for importing TensorFlow.

The worker reports its phase to the store as it goes (importing the backend, loading data,
building, compiling; the callback's first point says ``training``), the device it got (the
GPU's name, or CPU), the model's params and MACs and how the data were adapted to it (padded
to 32x32, channel repeated). On TensorFlow it feeds a ``tf.data`` pipeline (shuffle, batch,
augmentation inside the pipeline, prefetch), honours mixed precision and XLA, and records
each block's gradient norms every ``grad_every`` steps. It saves the trained model as
``.keras`` in the store's ``models/`` folder (under a name no other run shares), and ends the
run as finished, stopped or failed (with the reason:
a NaN loss, a data error, an exception).
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import sys
import time
import traceback

POLL_S = 0.02
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


def _setup(backend: str, gpu: int | None) -> tuple[str, dict[str, float]]:
    """Choose the backend and the GPU before Keras loads; returns (device, timings)."""
    t0 = time.time()
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise RuntimeError(f"Keras was imported with the {sys.modules['keras'].backend.backend()} backend "
                           f"before the worker could choose {backend}.")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    import keras  # noqa: F401  (the backend is imported here)

    device = _device(backend)
    return device, {"backend_import_s": time.time() - t0}


def _device(backend: str) -> str:
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
                return f"GPU: {name}"
        elif backend == "jax":
            import jax

            d = jax.devices()[0]
            if d.platform == "gpu":
                return f"GPU: {d.device_kind}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)}"
    except Exception:
        pass
    return f"CPU ({os.cpu_count()} cores)"


def cold_main(store_path: str, run_id: int, backend: str, gpu: int | None = None) -> None:
    """Entry point of a fresh worker for one run."""
    t_spawned = time.time()
    from explorer.training.store import RunStore, process_start_token

    store = RunStore(store_path)
    store.update(run_id, pid=os.getpid(), pid_start=process_start_token(os.getpid()))
    store.set_phase(run_id, f"importing {BACKEND_NAMES.get(backend, backend)}")
    device, timings = _setup(backend, gpu)
    timings["worker_start"] = t_spawned
    execute(store, run_id, device, backend, timings)


def warm_main(store_path: str, backend: str, gpu: int | None, parent_pid: int) -> None:
    """Entry point of a warm worker: import the backend, wait for a run, train it, exit."""
    t_spawned = time.time()
    from explorer.training.store import RunStore

    store = RunStore(store_path)
    pid = os.getpid()
    store.register_worker(pid, backend, gpu, t_spawned)
    device, timings = _setup(backend, gpu)
    _prewarm(backend)
    store.worker_ready(pid)
    while True:
        assignment = store.worker_assignment(pid)
        if assignment is None:
            return
        state, run_id = assignment
        if state == "busy" and run_id:
            timings["worker_start"] = t_spawned
            try:
                execute(store, int(run_id), device, backend, timings)
            finally:
                store.forget_worker(pid)
            return
        if os.getppid() != parent_pid and store.retire_idle_worker(pid):
            return  # the app that started us is gone, and no run was given meanwhile
        time.sleep(POLL_S)


def _prewarm(backend: str) -> None:
    """Load the modules a run needs (layers, optimizers, the data module) ahead of time."""
    import keras
    import numpy as np

    import explorer.builders
    import explorer.data  # noqa: F401
    from explorer.training import callback  # noqa: F401

    # A tiny fit traces the generic machinery once (optimizer and metric code paths).
    x = np.zeros((4, 4), np.float32)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, np.zeros(4, np.int32), batch_size=2, epochs=1, verbose=0)


def _optimizer(name: str, lr: float):
    import keras

    if name == "sgd-momentum":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)


def execute(store, run_id: int, device: str, backend: str, timings: dict[str, float]) -> str:
    """Train one run and record its end in the store.

    Args:
        store: the run store.
        run_id: the run (status running, claimed by this process).
        device: what the worker trains on, for the record.
        backend: the Keras backend in use.
        timings: times measured so far (added to the run's ``timings``).

    Returns:
        The final status.
    """
    from explorer.errors import ExplorerError
    from explorer.training.store import process_start_token

    pid = os.getpid()
    t_start = time.time()
    timings = dict(timings, run_start=t_start)
    store.update(run_id, pid=pid, pid_start=process_start_token(pid), started=t_start, device=device,
                 backend=backend, timings=timings)
    run = store.get(run_id)
    try:
        status, error, final, model_path, _ = _train(store, run, timings)
    except ExplorerError as exc:
        status, error, final, model_path = "failed", str(exc), {}, None
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        msg = " ".join(str(exc).split())[:300]
        status, error, final, model_path = "failed", f"{type(exc).__name__}: {msg}", {}, None
    timings["end"] = time.time()
    store.update(run_id, status=status, error=error, final=final, model_path=model_path, ended=time.time(),
                 timings=timings)
    return status


def _train(store, run, timings):
    import keras

    from explorer import data as datasets
    from explorer.builders import build_model
    from explorer.training.callback import StoreCallback
    from explorer.training.request import RunRequest

    req = RunRequest.from_dict(run.request)
    hp = req.hp
    t = time.time()
    store.set_phase(run.id, "loading data")
    prep = datasets.prepare(datasets.load(req.dataset), req.data, seed=hp.seed)
    timings["data_s"] = time.time() - t
    spec, how = req.adapted(prep.input_shape, prep.num_classes)
    if how:
        note = how.describe(prep.input_shape)
        prep.x_train, prep.x_val, prep.x_test = (datasets.apply_adaptation(a, how)
                                                 for a in (prep.x_train, prep.x_val, prep.x_test))
        store.update(run.id, adaptation=note)
    t = time.time()
    store.set_phase(run.id, "building")
    keras.utils.set_random_seed(hp.seed)
    if hp.precision != "float32":
        keras.mixed_precision.set_global_policy(hp.precision)
    model = build_model(spec)
    tf_backend = keras.backend.backend() == "tensorflow"
    compile_args = {"jit_compile": hp.jit_compile} if tf_backend else {}
    model.compile(optimizer=_optimizer(hp.optimizer, hp.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], **compile_args)
    timings["build_s"] = time.time() - t
    block_of = _record_size(store, run.id, model)
    two = len(model.inputs) == 2

    def feed(x):
        return [x, x] if two else x

    n = len(prep.x_train)
    steps = math.ceil(n / hp.batch_size)
    epochs = hp.epochs or 100_000
    store.update(run.id, epochs=hp.epochs or None, steps_per_epoch=steps, train_size=n)
    cb = StoreCallback(store, run.id, batch_size=hp.batch_size, train_size=n, steps_per_epoch=steps,
                       max_seconds=hp.max_seconds)
    callbacks = [cb]
    if hp.lr_schedule == "book":
        from explorer.training.request import book_lr

        callbacks.append(keras.callbacks.LearningRateScheduler(lambda e, _lr: book_lr(e, hp.learning_rate)))
    if hp.grad_every and tf_backend:
        from explorer.training.callback import GradNormCallback

        k = min(len(prep.x_train), hp.batch_size)
        callbacks.append(GradNormCallback(store, run.id, feed(prep.x_train[:k]), prep.y_train[:k], block_of,
                                          every=hp.grad_every))
    store.set_phase(run.id, "compiling")  # tracing the train step; the first point says "training"
    val = (feed(prep.x_val), prep.y_val)
    if tf_backend:
        train = _tf_pipeline(prep.x_train, prep.y_train, hp.batch_size, req.data, hp.seed, two)
        model.fit(train, epochs=epochs, validation_data=val, verbose=0, callbacks=callbacks, shuffle=False)
    elif req.data.augments:
        train = _Augmented(prep.x_train, prep.y_train, hp.batch_size, req.data, hp.seed, two)
        model.fit(train, epochs=epochs, validation_data=val, verbose=0, callbacks=callbacks)
    else:
        model.fit(feed(prep.x_train), prep.y_train, batch_size=hp.batch_size, epochs=epochs,
                  validation_data=val, verbose=0, callbacks=callbacks, shuffle=True)
    if cb.first_point_time:
        timings["first_point"] = cb.first_point_time
    final = dict(getattr(cb, "last_epoch_logs", {}))
    final["epochs_done"] = cb.epoch + 1 if hasattr(cb, "last_epoch_logs") else 0
    final["steps_done"] = cb.global_step
    final["train_seconds"] = time.perf_counter() - cb.t0
    if cb.batches_after_stop is not None:
        final["batches_after_stop"] = cb.batches_after_stop
    probes = [c for c in callbacks if hasattr(c, "recorded")]
    if probes:  # the gradient-norm probe's own time (the benchmark compares it with the training time)
        final["grad_norm_seconds"], final["grad_norm_records"] = probes[0].seconds, probes[0].recorded
    if cb.reason == "nan":
        e, s = cb.nan_at
        return ("failed", f"the loss became NaN (not a number) at epoch {e}, batch {s}; "
                "try a lower learning_rate or normalised data.", final, None, cb)
    if cb.reason != "stop":
        test_loss, test_acc = model.evaluate(feed(prep.x_test), prep.y_test, batch_size=max(hp.batch_size, 256),
                                             verbose=0)
        final["test_loss"], final["test_accuracy"] = float(test_loss), float(test_acc)
    # A name no other run can have (the id alone repeats across stores sharing a folder, or after
    # a store is replaced), written under a temporary name and renamed, so no reader ever sees a
    # half-written model and no file another run owns is overwritten.
    token = secrets.token_hex(4)
    path = str(store.models_dir / f"run-{run.id}-{token}.keras")
    tmp = str(store.models_dir / f".tmp-run-{run.id}-{token}.keras")
    try:
        store.models_dir.mkdir(parents=True, exist_ok=True)
        model.save(tmp)
        os.rename(tmp, path)
    except OSError as exc:  # disk full, read-only or missing folder: keep the metrics, say why
        with contextlib.suppress(OSError):
            os.remove(tmp)
        reason = exc.strerror or " ".join(str(exc).split())[:200]
        return ("failed", f"the run trained, but its model could not be saved to {path} ({reason}); "
                "its metrics are kept. Free some disk space or point EXPLORER_STORE elsewhere.", final, None, cb)
    status = "stopped" if cb.reason == "stop" else "finished"
    error = "stopped at the user's request" if status == "stopped" else None
    if cb.reason == "budget":
        final["stopped_by"] = "time budget"
    return status, error, final, path, cb


def _record_size(store, run_id: int, model) -> dict[str, str]:
    """Store the model's params and MACs; return layer name -> block path (two levels) for gradient norms."""
    from explorer import blockpath
    from explorer.budget import budget
    from explorer.graph import extract

    try:
        graph = extract(model)
        store.update(run_id, params=int(model.count_params()), macs=int(budget(graph).macs))
        return {n.id: blockpath.cut(n.block, 2) for n in graph.nodes}
    except Exception:  # the size is a nicety; training goes on without it
        store.update(run_id, params=int(model.count_params()))
        return {layer.name: layer.name for layer in model.layers}


def _tf_pipeline(x, y, batch_size: int, options, seed: int, two: bool):
    """A ``tf.data`` pipeline: shuffle each epoch, batch, augment inside the graph, prefetch.

    Flips and shifts run as TensorFlow ops in the pipeline (on the batch, in parallel with the
    training step), not in Python; the shift pads by the largest shift and crops at random.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    h, w = x.shape[1:3]
    dy, dx = round(h * options.shift), round(w * options.shift)

    def augment(img, label):
        if options.flip:
            img = tf.image.random_flip_left_right(img, seed=seed)
        if dy or dx:
            img = tf.image.pad_to_bounding_box(img, dy, dx, h + 2 * dy, w + 2 * dx)
            img = tf.image.random_crop(img, [h, w, x.shape[3]], seed=seed)
        return img, label

    if options.augments:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if two:
        ds = ds.map(lambda a, b: ((a, a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class _Augmented:
    """Builds a ``keras.utils.PyDataset`` of augmented batches (defined lazily: Keras must be loaded)."""

    def __new__(cls, x, y, batch_size, options, seed, two):
        import keras
        import numpy as np

        from explorer.data import augment_batch

        class Batches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.rng = np.random.default_rng(seed)
                self.order = self.rng.permutation(len(x))

            def __len__(self):
                return math.ceil(len(x) / batch_size)

            def __getitem__(self, i):
                idx = self.order[i * batch_size:(i + 1) * batch_size]
                xb = augment_batch(x[idx], self.rng, options.flip, options.shift)
                return ([xb, xb] if two else xb), y[idx]

            def on_epoch_end(self):
                self.order = self.rng.permutation(len(x))

        return Batches()


def main(argv: list[str]) -> None:
    """Command-line entry: ``cold RUN_ID STORE BACKEND GPU`` or ``warm PARENT_PID STORE BACKEND GPU``."""
    kind, ident, store_path, backend, gpu = argv
    gpu_index = int(gpu) if gpu else None
    if kind == "cold":
        cold_main(store_path, int(ident), backend, gpu_index)
    else:
        warm_main(store_path, backend, gpu_index, int(ident))


if __name__ == "__main__":
    main(sys.argv[1:])
