"""The Keras callback that streams a run's metrics to the store and obeys its stop flag.

Imported only inside a worker process, after the worker has chosen its Keras backend.

Per batch: checks the stop flag and the time budget (``model.stop_training = True``), and a
NaN/inf loss; writes a ``batch`` point (running train loss/accuracy of the epoch, images/s) at
the first batch and then every ``every`` batches or ``every_s`` seconds. Per epoch: an ``epoch``
point with all metrics (loss, accuracy, val_loss, val_accuracy) and the epoch's images/s.
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
