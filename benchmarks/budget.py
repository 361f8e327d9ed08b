"""Budget statistics vs analysing (building) the model, measured in the same run.

For each preset (default: densenet201 and densenet-bc-190-40, the largest graphs), times
  analyse: build without weights + graph extraction (uncached), what the app does first;
  budget:  everything the Budget page computes from the graph: per-layer stats, the roll-up of
           every block level, the leaf and stage partitions, and the block and layer tables;
keeping the fastest of several repeats (the machine is shared and noisy), and prints the ratio
budget / analyse. Goal: under 5%.

Usage: python benchmarks/budget.py [PRESET ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import explorer  # noqa: F401  (numpy analysis backend before Keras loads)
from explorer.budget import block_table, budget, layer_table
from explorer.builders import build_model, resolve
from explorer.graph import extract

REPEATS_ANALYSE = 3
REPEATS_BUDGET = 20
GOAL = 0.05


def best_of(n: int, fn) -> tuple[float, object]:
    """The fastest of ``n`` timed calls of ``fn`` and its last result."""
    best, result = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def stats(graph) -> None:
    """What the Budget page computes for one view."""
    b = budget(graph, 32, "float16")
    b.hierarchy()
    block_table(b, None)
    block_table(b, 1)
    layer_table(b)


def main(names: list[str]) -> int:
    """Print seconds and the ratio per preset; exit 1 when a ratio misses the goal."""
    build_model(resolve("cnn", overrides={"conv_layers": 1}), weights=False)  # warm-up
    print(f"{'preset':<22} {'layers':>6} {'analyse s':>10} {'budget s':>10} {'budget/analyse':>15}")
    ok = True
    for name in names:
        spec = resolve(name)
        t_analyse, graph = best_of(REPEATS_ANALYSE, lambda spec=spec: extract(build_model(spec, weights=False)))
        t_budget, _ = best_of(REPEATS_BUDGET, lambda graph=graph: stats(graph))
        ratio = t_budget / t_analyse
        ok &= ratio < GOAL
        print(f"{name:<22} {len(graph.nodes):>6} {t_analyse:>10.3f} {t_budget:>10.4f} {100 * ratio:>14.2f}%")
    print(f"goal: budget < {100 * GOAL:.0f}% of analyse: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["densenet201", "densenet-bc-190-40"]))
