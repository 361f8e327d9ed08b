"""Training-memory estimate vs TensorFlow's allocator peak for one training step, on CPU.

For each preset and batch size, a fresh TensorFlow process (``TF_CPU_ALLOCATOR_USE_BFC=true``,
so the CPU allocator keeps statistics) builds the model, compiles it with the optimizer, runs
one warm-up ``train_on_batch`` (which creates the optimizer slots and traces the step), resets
the allocator's peak and runs a second step. Its peak (``tf.config.experimental.get_memory_info``)
is compared with :func:`explorer.memory.training_total` for the same batch, float32, optimizer.

Prints, per row, the estimate, the measured peak and the ratio measured / estimate; also the
ratio of the batch-dependent parts (peak minus the memory held before the step, vs gradients +
activations), which is what changes with the batch size.

Usage: python benchmarks/memory.py [PRESET:BATCH ...]   (default: mnist-cnn:32 resnet20:32
resnet20:128 densenet-40-12:32 resnet56:64)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPTIMIZER = "adam"
DEFAULT = ["mnist-cnn:32", "resnet20:32", "resnet20:128", "densenet-40-12:32", "resnet56:64"]


def measure(preset: str, batch: int, optimizer: str = OPTIMIZER) -> dict:
    """Run one training step of ``preset`` in a TensorFlow subprocess and return its allocator stats."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "TF_CPU_ALLOCATOR_USE_BFC": "true", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, __file__, "--child", preset, str(batch), optimizer], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(preset: str, batch: int, optimizer: str) -> None:
    """In the TensorFlow process: one warm-up step, reset the peak, one measured step."""
    import numpy as np
    import tensorflow as tf

    from explorer.builders import build_model, resolve

    model = build_model(resolve(preset), weights=True)
    opt = {"adam": "adam", "sgd-momentum": tf.keras.optimizers.SGD(momentum=0.9), "sgd": "sgd"}[optimizer]
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    inputs = model.inputs
    xs = [np.random.rand(batch, *t.shape[1:]).astype("float32") for t in inputs]
    ys = np.zeros((batch,), dtype="int32")
    x = xs if len(xs) > 1 else xs[0]
    model.train_on_batch(x, ys)
    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    model.train_on_batch(x, ys)
    info = tf.config.experimental.get_memory_info("CPU:0")
    print(json.dumps({"before": before, "peak": info["peak"], "params": int(model.count_params())}))


def main(argv: list[str]) -> int:
    """Print the estimate, the measured peak and their ratios per preset and batch."""
    import explorer  # noqa: F401
    from explorer.analysis import analyse
    from explorer.budget import budget
    from explorer.builders import resolve
    from explorer.fmt import human
    from explorer.memory import training_total

    print(f"{'preset':<16} {'batch':>5} {'estimate':>10} {'peak':>10} {'peak/est':>9} "
          f"{'step extra':>10} {'grads+act':>10} {'extra/est':>9}")
    for item in argv or DEFAULT:
        preset, batch = item.split(":")
        b = budget(analyse(resolve(preset)).graph, int(batch), "float32")
        est = training_total(b, OPTIMIZER)
        m = measure(preset, int(batch))
        variable = est.gradients + est.activations
        extra = m["peak"] - m["before"]
        print(f"{preset:<16} {batch:>5} {human(est.total, 'B'):>10} {human(m['peak'], 'B'):>10} "
              f"{m['peak'] / est.total:>9.2f} {human(extra, 'B'):>10} {human(variable, 'B'):>10} "
              f"{extra / variable:>9.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(main(sys.argv[1:]))
