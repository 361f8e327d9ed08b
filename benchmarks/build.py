"""Analysis on Keras's numpy backend vs building on TensorFlow, per preset, in one run.

Each backend runs in its own child process (Keras picks its backend at import). In each, after a
warm-up build of a tiny model, every preset is analysed uncached (a new build each time; the
fastest of 3 is kept, as the machine is shared and noisy):
  numpy:      build without weights + graph extraction (what the app and CLI do)
  tensorflow: a plain build with initialised weights (what a TensorFlow app would do)
Prints seconds per preset and the ratio tensorflow / numpy. Goals: analysis < 1 s, ratio >= 3.

Usage: python benchmarks/build.py [PRESET ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import explorer
import keras
from explorer.builders import PRESETS, resolve, build_model
from explorer.graph import extract
import_s = time.perf_counter() - t0
mode, REPEATS = sys.argv[1], int(sys.argv[2])
names = sys.argv[3:] or list(PRESETS)
build_model(resolve("cnn", overrides={"conv_layers": 1}), weights=(mode != "analysis"))  # warm-up
out = {"backend": keras.backend.backend(), "import_s": import_s, "times": {}}
for name in names:
    spec = resolve(name)
    best = float("inf")
    for _ in range(REPEATS):  # every build is a fresh, uncached one; keep the fastest (noisy machine)
        t = time.perf_counter()
        if mode == "analysis":
            extract(build_model(spec, weights=False))
        else:
            build_model(spec)
        best = min(best, time.perf_counter() - t)
    out["times"][name] = best
print(json.dumps(out))
"""


def run_child(backend: str, mode: str, names: list[str]) -> dict:
    """Time every preset in a fresh process on ``backend``."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(REPEATS), *names], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    names = sys.argv[1:]
    t = time.perf_counter()
    numpy = run_child("numpy", "analysis", names)
    tf = run_child("tensorflow", "build", names)
    print(f"import keras: numpy {numpy['import_s']:.2f} s, tensorflow {tf['import_s']:.2f} s "
          f"(ratio {tf['import_s'] / numpy['import_s']:.1f}x)")
    print(f"{'preset':<22} {'analysis (numpy)':>17} {'build (TF)':>11} {'TF / analysis':>14}  goal")
    worst_ratio, worst_time = float("inf"), 0.0
    for name, a in numpy["times"].items():
        b = tf["times"][name]
        ratio = b / a
        worst_ratio, worst_time = min(worst_ratio, ratio), max(worst_time, a)
        ok = "ok" if a < 1.0 and ratio >= 3 else "MISS"
        print(f"{name:<22} {a:>15.3f} s {b:>9.3f} s {ratio:>13.1f}x  {ok}")
    print(f"slowest analysis {worst_time:.3f} s (goal < 1 s); smallest ratio {worst_ratio:.1f}x (goal >= 3x); "
          f"total {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
