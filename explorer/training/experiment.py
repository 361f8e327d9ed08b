"""Experiments: a grid over config fields and/or hyperparameters, launched as one set of runs.

``depth=20,32,44`` (a field of the builder's config) or ``learning_rate=1e-3,3e-3`` (a
hyperparameter; ``lr`` is short for it) names one axis; the experiment is the product of its
axes over a base :class:`RunRequest`. Its runs share the base's dataset, data options and
budget, and queue like any run (see :meth:`Scheduler.submit_experiment`).

Also the plain-data views the Experiment panel and ``sweep --json`` read: one row per run with
params, MACs, training time and final accuracy, and the Pareto front (best accuracy for the cost).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from explorer.config import ConfigError, fields_of, make_config, parse_value
from explorer.spec import format_value
from explorer.training.request import Hyperparams, RunRequest

MAX_RUNS = 16  # runs in one experiment
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "max-seconds": "max_seconds"}
HP_INFOS = {f.name: f for f in fields_of(Hyperparams)}


def parse_grid(texts: list[str]) -> list[tuple[str, list[str]]]:
    """``["depth=20,32", "lr=1e-3,3e-3"]`` -> ``[("depth", ["20", "32"]), ("learning_rate", [...])]``.

    Raises:
        ConfigError: a text without ``=``, no values, or the same field twice.
    """
    out: list[tuple[str, list[str]]] = []
    for text in texts:
        if "=" not in text:
            raise ConfigError(f"--grid expects field=v1,v2,..., not {text[:60]!r}.")
        key, values = text.split("=", 1)
        key = ALIASES.get(key.strip(), key.strip())
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"--grid {key} has no values; give them as {key}=v1,v2.")
        if key in (k for k, _ in out):
            raise ConfigError(f"--grid names {key} twice; give all its values in one --grid {key}=v1,v2.")
        out.append((key, vals))
    return out


def expand(base: RunRequest, grid: list[tuple[str, list[str]]]) -> list[tuple[dict[str, Any], RunRequest]]:
    """Every combination of the grid applied to ``base``: ``[(changed values, request), ...]``.

    Raises:
        ConfigError: an unknown field, a bad value, a tuple field, or more than :data:`MAX_RUNS` runs.
    """
    if not grid:
        raise ConfigError("an experiment needs at least one --grid field=v1,v2.")
    arch = base.architecture
    infos = arch.infos
    typed: list[tuple[str, list[Any]]] = []
    for key, texts in grid:
        info = infos.get(key) or HP_INFOS.get(key)
        if info is None:
            names = ", ".join([*infos, *HP_INFOS])
            raise ConfigError(f"--grid {key[:40]!r} is neither a field of {arch.builder} nor a hyperparameter; "
                              f"choose from {names}.")
        if info.kind == "int_tuple":
            raise ConfigError(f"--grid {key}: tuple fields cannot be swept; set it with --set instead.")
        typed.append((key, list(dict.fromkeys(parse_value(info, t) for t in texts))))
    total = 1
    for _k, vals in typed:
        total *= len(vals)
    if total > MAX_RUNS:
        raise ConfigError(f"the grid makes {total} runs; an experiment may have at most {MAX_RUNS}.")
    out = []
    for combo in itertools.product(*(vals for _k, vals in typed)):
        changes = dict(zip((k for k, _ in typed), combo, strict=True))
        cfg = {k: v for k, v in changes.items() if k in infos}
        hps = {k: v for k, v in changes.items() if k not in infos}
        req = dataclasses.replace(
            base, overrides={**base.overrides, **cfg},
            hp=make_config(Hyperparams, base.hp, **hps) if hps else base.hp,
        )
        req.architecture  # noqa: B018  (validates the combination: raises ConfigError naming the field)
        out.append((changes, req))
    return out


def grid_label(base: RunRequest, grid: list[tuple[str, list[str]]]) -> str:
    """The experiment's name: the base architecture and its axes (``resnet20 · depth ∈ {20, 32}``)."""
    axes = [f"{k} ∈ {{{', '.join(v)}}}" for k, v in grid]
    return " · ".join([base.architecture.label, *axes])


def format_changes(base: RunRequest, changes: dict[str, Any]) -> str:
    """``depth=32 · learning_rate=0.003``: a run's place in the grid."""
    infos = base.architecture.infos
    parts = []
    for k, v in changes.items():
        info = infos.get(k) or HP_INFOS.get(k)
        parts.append(f"{k}={format_value(info, v)}" if info else f"{k}={v}")
    return " · ".join(parts)


def run_summary(run: Any) -> dict[str, Any]:
    """One run of an experiment as plain data: label, overrides, status, params, MACs, final metrics."""
    req = run.request or {}
    final = dict(run.final or {})
    return {
        "run_id": run.id, "label": run.label, "overrides": dict(req.get("overrides") or {}),
        "hp": dict(req.get("hp") or {}), "status": run.status, "params": run.params, "macs": run.macs,
        "train_seconds": final.get("train_seconds"), "final": final, "error": run.error,
    }


def view(store: Any, experiment_id: int) -> dict[str, Any]:
    """Everything the Experiment view draws, as plain data (one store read per run).

    Returns:
        ``{"curves": [(label, epoch points, colour)], "rows": [scatter rows], "table": [table rows]}``;
        labels tell the runs apart (:func:`~explorer.training.progress.distinct_labels`).
    """
    from explorer.training.progress import distinct_labels, run_color

    runs = store.experiment_runs(experiment_id)
    labels = distinct_labels(runs)
    curves, rows, table = [], [], []
    for r in runs:
        final = r.final or {}
        curves.append((f"#{r.id} {labels[r.id]}", store.points(r.id, "epoch"), run_color(r.id)))
        rows.append({"run_id": r.id, "label": labels[r.id], "color": run_color(r.id), "params": r.params,
                     "macs": r.macs, "train_seconds": final.get("train_seconds"),
                     "val_accuracy": final.get("val_accuracy")})
        secs, val = final.get("train_seconds"), final.get("val_accuracy")
        table.append({"id": r.id, "run": labels[r.id], "status": r.status,
                      "params": f"{r.params:,}" if r.params else "", "MACs": f"{r.macs:,}" if r.macs else "",
                      "seconds": "" if secs is None else f"{secs:.1f}",
                      "val_accuracy": "" if val is None else f"{val:.4f}"})
    return {"curves": curves, "rows": rows, "table": table}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower cost (x) and at least as high a score (y).

    Args:
        points: ``(cost, score)`` pairs.

    Returns:
        Indices on the front, by increasing cost.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def make_hp(**values: Any) -> Hyperparams:
    """Hyperparameters from keyword values (None keeps a default)."""
    return make_config(Hyperparams, **values)
