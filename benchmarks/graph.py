"""Graph drawing speed: our extraction + DOT + SVG layout against ``keras.utils.plot_model``.

In one run, on the same built models (ResNet-110, DenseNet-BC-190 k=40, DenseNet201), times

* ours, layer view: ``extract(model)`` + ``to_dot(graph, "layers")`` + ``dot -Tsvg``;
* ours, block view: the same with ``"blocks"`` (goal: under 0.3 s each);
* baseline: ``keras.utils.plot_model(model, "x.svg", show_shapes=True)`` (pydot + graphviz).

Every figure is the median of ``--repeats`` runs, with imports done before timing.

The baseline runs in a forked child (it shares the already built model) with a time limit, since
Keras's default ``splines="ortho"`` can take minutes or crash graphviz; a timeout is reported
as "> limit" and the ratio as a lower bound. Goal: the layer view at least 2x faster.

Usage: ``python benchmarks/graph.py [--repeats N] [--limit SECONDS] [--models a,b,c]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer.builders import build_model, resolve
from explorer.graph import extract
from explorer.render import layout, to_dot

MODELS = ("resnet110", "densenet-bc-190-40", "densenet201")


def ours(model, view: str) -> float:
    """Seconds for extraction + DOT + SVG layout of one view (no caches involved)."""
    t0 = time.perf_counter()
    graph = extract(model)
    image = layout(to_dot(graph, view), "svg")
    assert image
    return time.perf_counter() - t0


def _plot_child(model, repeats: int, conn) -> None:
    import keras
    import pydot  # noqa: F401  (imported before timing, as our renderer's imports are)

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            try:
                keras.utils.plot_model(model, to_file=os.path.join(tmp, "model.svg"), show_shapes=True)
            except Exception as exc:  # graphviz crashes surface here
                conn.send(("error", f"{type(exc).__name__}: {str(exc)[:120]}"))
                return
            times.append(time.perf_counter() - t0)
    conn.send(("ok", statistics.median(times)))


def plot_model_time(model, limit: float, repeats: int = 1) -> tuple[str, float | str]:
    """Median seconds ``plot_model(show_shapes=True)`` takes to write an SVG, in a forked child."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_plot_child, args=(model, repeats, child))
    t0 = time.perf_counter()
    proc.start()
    if parent.poll(limit):
        result = parent.recv()
        proc.join(30)
        return result
    proc.kill()  # also leaves graphviz's dot orphaned for a moment; it dies on its closed pipe
    proc.join()
    return ("timeout", time.perf_counter() - t0)


def main() -> int:
    """Run the comparison and print the figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=float, default=600.0, help="seconds allowed to plot_model per model (all repeats)")
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()

    rows = []
    for name in args.models.split(","):
        model = build_model(resolve(name), weights=False)
        layers = [ours(model, "layers") for _ in range(args.repeats)]
        blocks = [ours(model, "blocks") for _ in range(args.repeats)]
        status, base = plot_model_time(model, args.limit, args.repeats)
        rows.append((name, len(model.layers), statistics.median(layers), statistics.median(blocks), status, base))
        print(f"{name}: layers {statistics.median(layers):.3f} s, blocks {statistics.median(blocks):.3f} s, "
              f"plot_model {status} {base if isinstance(base, str) else f'{base:.2f} s'}", flush=True)

    print()
    print(f"{'model':<20} {'layers':>6} {'ours: layer view':>17} {'ours: block view':>17} {'plot_model':>12} "
          f"{'speed-up (layers)':>18}")
    for name, n, lay, blk, status, base in rows:
        if status == "ok":
            base_s, ratio = f"{base:.2f} s", f"{base / lay:.1f}x"
        elif status == "timeout":
            base_s, ratio = f"> {base:.0f} s", f"> {base / lay:.0f}x"
        else:
            base_s, ratio = "failed", "n/a"
        print(f"{name:<20} {n:>6} {lay:>15.3f} s {blk:>15.3f} s {base_s:>12} {ratio:>18}")
    print()
    print("goals: layer view >= 2x faster than plot_model; block view < 0.3 s per model "
          f"(worst here: {max(r[3] for r in rows):.3f} s)")
    failed = [r for r in rows if r[4] == "error"]
    for name, *_rest, msg in failed:
        print(f"plot_model failed on {name}: {msg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
