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

The worker reports the device it got (the GPU's name, or CPU), saves the trained model as
``.keras`` in the store's ``models/`` folder (under a name no other run shares), and ends the run as finished, stopped or failed (with the reason:
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
    prep = datasets.prepare(datasets.load(req.dataset), req.data, seed=hp.seed)
    timings["data_s"] = time.time() - t
    spec = req.spec(prep.input_shape, prep.num_classes)
    t = time.time()
    keras.utils.set_random_seed(hp.seed)
    model = build_model(spec)
    model.compile(optimizer=_optimizer(hp.optimizer, hp.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timings["build_s"] = time.time() - t
    two = len(model.inputs) == 2

    def feed(x):
        return [x, x] if two else x

    n = len(prep.x_train)
    steps = math.ceil(n / hp.batch_size)
    epochs = hp.epochs or 100_000
    store.update(run.id, epochs=hp.epochs or None, steps_per_epoch=steps, train_size=n)
    cb = StoreCallback(store, run.id, batch_size=hp.batch_size, train_size=n, steps_per_epoch=steps,
                       max_seconds=hp.max_seconds)
    if req.data.augments:
        train = _Augmented(prep.x_train, prep.y_train, hp.batch_size, req.data, hp.seed, two)
        model.fit(train, epochs=epochs, validation_data=(feed(prep.x_val), prep.y_val), verbose=0, callbacks=[cb])
    else:
        model.fit(feed(prep.x_train), prep.y_train, batch_size=hp.batch_size, epochs=epochs,
                  validation_data=(feed(prep.x_val), prep.y_val), verbose=0, callbacks=[cb], shuffle=True)
    if cb.first_point_time:
        timings["first_point"] = cb.first_point_time
    final = dict(getattr(cb, "last_epoch_logs", {}))
    final["epochs_done"] = cb.epoch + 1 if hasattr(cb, "last_epoch_logs") else 0
    final["steps_done"] = cb.global_step
    final["train_seconds"] = time.perf_counter() - cb.t0
    if cb.batches_after_stop is not None:
        final["batches_after_stop"] = cb.batches_after_stop
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
