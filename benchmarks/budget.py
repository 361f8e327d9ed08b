"""Budget statistics, and grouping + receptive field + training memory, vs analysing (building)
the model, measured in the same run.

For each target (default: every preset, plus keras_app:densenet201, keras_app:convnexttiny and
keras_app:nasnetmobile; ``keras_app:ARCH`` names a Keras Applications model), times
  analyse: build without weights + graph extraction (uncached), what the app does first;
  budget:  everything the Budget page computes from the graph: per-layer stats, the roll-up of
           every block level, the leaf and stage partitions, and the block and layer tables;
  extras:  block grouping (``assign_blocks`` on the model's operations, also inside analyse),
           receptive fields of every layer and block, and the training-memory rows;
keeping the fastest of several repeats (the machine is shared and noisy), and prints the ratios
budget / analyse (goal: under 5%) and extras / analyse (goal: under 10%).

Usage: python benchmarks/budget.py [TARGET ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import explorer  # noqa: F401  (numpy analysis backend before Keras loads)
from explorer.budget import block_table, budget, layer_table
from explorer.builders import PRESETS, build_model, resolve
from explorer.graph import extract, grouping_inputs
from explorer.grouping import assign_blocks
from explorer.memory import training_memory, training_total
from explorer.receptive import block_fields, receptive_fields

REPEATS_ANALYSE = 3
REPEATS_BUDGET = 20
GOAL = 0.05
GOAL_EXTRAS = 0.10
BIG = ["keras_app:densenet201", "keras_app:convnexttiny", "keras_app:nasnetmobile"]


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


def extras(model, graph) -> None:
    """Grouping, receptive fields (layers, blocks, stages) and training memory (blocks, stages)."""
    assign_blocks(*grouping_inputs(model))
    fields = receptive_fields(graph)
    block_fields(graph, fields)
    block_fields(graph, fields, 1)
    b = budget(graph, 32, "float32")
    training_memory(b, "adam")
    training_memory(b, "adam", 1)
    training_total(b, "adam")


def spec_of(name: str):
    """A preset, or ``builder:arch``."""
    if ":" in name:
        builder, arch = name.split(":", 1)
        return resolve(builder, overrides={"arch": arch})
    return resolve(name)


def main(names: list[str]) -> int:
    """Print seconds and the ratios per target; exit 1 when a ratio misses its goal."""
    build_model(resolve("cnn", overrides={"conv_layers": 1}), weights=False)  # warm-up
    print(f"{'target':<24} {'layers':>6} {'grouping':>9} {'analyse s':>10} {'budget s':>9} {'budget/an':>10} "
          f"{'extras s':>9} {'extras/an':>10}")
    ok = ok_extras = True
    worst = 0.0
    for name in names:
        spec = spec_of(name)
        t_analyse, graph = best_of(REPEATS_ANALYSE, lambda spec=spec: extract(build_model(spec, weights=False)))
        model = build_model(spec, weights=False)
        t_budget, _ = best_of(REPEATS_BUDGET, lambda graph=graph: stats(graph))
        t_extras, _ = best_of(REPEATS_BUDGET // 2, lambda graph=graph, model=model: extras(model, graph))
        ratio, ratio_extras = t_budget / t_analyse, t_extras / t_analyse
        ok &= ratio < GOAL
        ok_extras &= ratio_extras < GOAL_EXTRAS
        worst = max(worst, ratio_extras)
        print(f"{name:<24} {len(graph.nodes):>6} {graph.grouping:>9} {t_analyse:>10.3f} {t_budget:>9.4f} "
              f"{100 * ratio:>9.2f}% {t_extras:>9.4f} {100 * ratio_extras:>9.2f}%")
    print(f"goal: budget < {100 * GOAL:.0f}% of analyse: {'met' if ok else 'MISSED'}")
    print(f"goal: grouping + receptive field + memory < {100 * GOAL_EXTRAS:.0f}% of analyse: "
          f"{'met' if ok_extras else 'MISSED'} (worst {100 * worst:.2f}%)")
    return 0 if ok and ok_extras else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or [*PRESETS, *BIG]))
