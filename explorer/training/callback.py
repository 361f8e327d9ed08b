"""The Keras callback that streams a run's metrics to the store and obeys its stop flag.

Imported only inside a worker process, after the worker has chosen its Keras backend.

Per batch: checks the stop flag and the time budget (``model.stop_training = True``), and a
NaN/inf loss; writes a ``batch`` point (running train loss/accuracy of the epoch, images/s) at
the first batch and then every ``every`` batches or ``every_s`` seconds. Per epoch: an ``epoch``
point with all metrics (loss, accuracy, val_loss, val_accuracy) and the epoch's images/s.
Its first point also sets the run's phase to ``training``.

:class:`GradNormCallback` records each block's gradient and weight norms every few steps.
"""

from __future__ import annotations

import math
import time
from collections import deque

import keras

from explorer.training.store import RunStore


class StoreCallback(keras.callbacks.Callback):
    """Write metrics to the run store; stop on request, on the time budget or on a NaN loss."""

    def __init__(
        self, store: RunStore, run_id: int, *, batch_size: int, train_size: int, steps_per_epoch: int,
        max_seconds: float = 0.0, every: int = 10, every_s: float = 0.5,
    ) -> None:
        """Create the callback.

        Args:
            store: the run store (this process's connection).
            run_id: the run being trained.
            batch_size: images per batch (for images/s).
            train_size: training images per epoch.
            steps_per_epoch: batches per epoch.
            max_seconds: stop after this much training time (0: no budget).
            every: write a batch point at least every this many batches.
            every_s: ... or when this many seconds passed since the last one.
        """
        super().__init__()
        self.store, self.run_id = store, run_id
        self.batch_size, self.train_size, self.steps = batch_size, train_size, steps_per_epoch
        self.max_seconds, self.every, self.every_s = max_seconds, every, every_s
        self.reason: str | None = None  # "stop" | "budget" | "nan"
        self.batch_ends: deque[float] = deque(maxlen=512)  # wall times of recent batch ends
        self.batches_after_stop: int | None = None  # batches that ended after the stop request
        self.nan_at: tuple[int, int] | None = None
        self.first_point_time: float | None = None
        self.global_step = 0
        self.epoch = 0

    def on_train_begin(self, logs=None) -> None:
        """Start the clocks."""
        self.t0 = time.perf_counter()
        self.t_last, self.step_last = self.t0, 0
        self.train_time = 0.0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Note the epoch and when its training starts."""
        self.epoch = epoch
        self.t_epoch = time.perf_counter()
        self.epoch_seen = 0

    def on_train_batch_end(self, batch, logs=None) -> None:
        """Check stop, budget and NaN; write a batch point now and then."""
        logs = logs or {}
        now = time.perf_counter()
        self.global_step += 1
        self.t_batch_end = now
        self.batch_ends.append(time.time())
        self.epoch_seen = min(self.train_size, (batch + 1) * self.batch_size)
        self.epoch_batches = batch + 1
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.reason = "nan"
            self.nan_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True
        elif (asked := self.store.stop_requested(self.run_id)) is not None:
            self.reason = "stop"
            self.batches_after_stop = sum(1 for t in self.batch_ends if t >= asked)
            self.model.stop_training = True
        elif self.max_seconds and now - self.t0 >= self.max_seconds:
            self.reason = "budget"
            self.model.stop_training = True
        due = self.global_step == 1 or self.global_step - self.step_last >= self.every or now - self.t_last >= self.every_s
        if due or self.model.stop_training:
            self._write_batch(logs, now, batch)

    def _write_batch(self, logs, now: float, batch: int) -> None:
        steps = self.global_step - self.step_last
        ips = steps * self.batch_size / max(now - self.t_last, 1e-9) if steps else None
        point = {
            "kind": "batch", "epoch": self.epoch + 1, "step": self.global_step, "elapsed": now - self.t0,
            "loss": _num(logs.get("loss")), "accuracy": _num(logs.get("accuracy")), "images_per_s": ips,
        }
        self.store.add_points(
            self.run_id, [point],
            {"epoch": self.epoch + 1, "step": batch + 1, "elapsed": now - self.t0, "images_per_s": ips},
        )
        if self.first_point_time is None:
            self.first_point_time = time.time()
            self.store.set_phase(self.run_id, "training")
        self.t_last, self.step_last = now, self.global_step

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Write the epoch's metrics (train and validation) and images/s."""
        logs = logs or {}
        now = time.perf_counter()
        # The epoch's wall time includes validation; images/s counts the training part only.
        train_seconds = max(getattr(self, "t_batch_end", now) - self.t_epoch, 1e-9)
        ips = self.epoch_seen / train_seconds if self.epoch_seen else None
        point = {"kind": "epoch", "epoch": epoch + 1, "step": self.global_step, "elapsed": now - self.t0,
                 "images_per_s": ips}
        for m in ("loss", "accuracy", "val_loss", "val_accuracy"):
            point[m] = _num(logs.get(m))
        self.store.add_points(self.run_id, [point], {"epoch": epoch + 1, "step": getattr(self, "epoch_batches", 0),
                                                     "elapsed": now - self.t0, "images_per_s": ips})
        self.last_epoch_logs = {k: _num(v) for k, v in logs.items()}


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class GradNormCallback(keras.callbacks.Callback):
    """Every ``every`` steps, each block's gradient norm and weight norm on a fixed probe batch.

    The gradients come from one extra forward and backward pass (a compiled ``tf.function`` with
    a ``GradientTape``) on a probe batch held from the start, in training mode; the layers'
    non-trainable state (BatchNorm's moving statistics) is put back afterwards, so the probe
    does not change the run. Its cost is about one training step per ``every`` steps. A block is
    a layer's block path cut to two levels (``stage2/block3``); norms are L2 over the block's
    trainable weights. TensorFlow backend only (other backends record nothing).
    """

    def __init__(self, store: RunStore, run_id: int, probe_x, probe_y, block_of: dict[str, str], every: int = 50):
        """Create the callback.

        Args:
            store: the run store.
            run_id: the run.
            probe_x: the probe batch's inputs (what ``model`` takes).
            probe_y: its labels.
            block_of: layer name -> block path.
            every: steps between recordings (the first step is recorded too).
        """
        super().__init__()
        self.store, self.run_id, self.every = store, run_id, max(1, int(every))
        self.probe_x, self.probe_y, self.block_of = probe_x, probe_y, block_of
        self.step = 0
        self._fn = None
        self.seconds = 0.0  # time spent in the probe (for the benchmark)
        self.recorded = 0

    def _prepare(self) -> None:
        import tensorflow as tf

        model = self.model
        groups: dict[str, list] = {}
        for layer in model.layers:
            block = self.block_of.get(layer.name)
            if block is None:
                continue
            for v in layer.trainable_weights:
                groups.setdefault(block, []).append(v)
        self.blocks = list(groups)
        variables = [v for b in self.blocks for v in groups[b]]
        sizes = [len(groups[b]) for b in self.blocks]
        state = list(model.non_trainable_weights)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        @tf.function(reduce_retracing=True)
        def probe(x, y):
            saved = [tf.identity(s) for s in state]
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                loss = tf.cast(loss_fn(y, tf.cast(out, tf.float32)), tf.float32)
            grads = tape.gradient(loss, variables)
            for s, v in zip(state, saved, strict=True):
                s.assign(v)
            gsq = [tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) if g is not None else tf.constant(0.0)
                   for g in grads]
            wsq = [tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables]
            g_out, w_out, i = [], [], 0
            for n in sizes:
                g_out.append(tf.sqrt(tf.add_n(gsq[i:i + n])))
                w_out.append(tf.sqrt(tf.add_n(wsq[i:i + n])))
                i += n
            return tf.stack(g_out), tf.stack(w_out)

        self._fn = probe

    def on_train_batch_end(self, batch, logs=None) -> None:
        """Record the norms at step 1 and every ``every`` steps."""
        self.step += 1
        if self.step != 1 and self.step % self.every:
            return
        t = time.perf_counter()
        if self._fn is None:
            self._prepare()
        if not self.blocks:
            return
        g, w = self._fn(self.probe_x, self.probe_y)
        g, w = g.numpy().tolist(), w.numpy().tolist()
        self.store.add_grad_norms(self.run_id, self.step, {
            b: (_finite(gv), _finite(wv)) for b, gv, wv in zip(self.blocks, g, w, strict=True)
        })
        self.recorded += 1
        self.seconds += time.perf_counter() - t


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
