"""Plain-data views of runs for the Train page and the CLI: progress, ETA, phase, labels, table rows.

No Streamlit here, so this is testable on its own. :func:`distinct_labels` names runs by what
tells them apart from the other runs shown; :func:`run_color` gives each run one colour
everywhere (from its id, not from its place in a selection).
"""

from __future__ import annotations

import time
from typing import Any

from explorer.training.store import Run


def fraction_done(run: Run) -> float | None:
    """How far a run is (0..1) by epochs, or by its time budget when it has no epoch count."""
    if run.status == "finished":
        return 1.0
    budget = float(run.request.get("hp", {}).get("max_seconds") or 0)
    by_time = min(1.0, (run.elapsed or 0) / budget) if budget else None
    if run.epochs and run.steps_per_epoch and run.epoch:
        done_steps = (run.epoch - 1) * run.steps_per_epoch + (run.step or 0)
        by_steps = min(1.0, done_steps / (run.epochs * run.steps_per_epoch))
        return max(by_steps, by_time or 0.0)
    return by_time


def eta_seconds(run: Run) -> float | None:
    """Estimated seconds left for a running run (None when unknown)."""
    if run.status != "running" or not run.elapsed:
        return None
    frac = fraction_done(run)
    if not frac:
        return None
    return max(0.0, run.elapsed * (1 - frac) / frac)


def format_seconds(s: float | None) -> str:
    """``75`` -> ``1:15``; None -> ``—``."""
    if s is None:
        return "—"
    s = round(s)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


# Tableau 10: distinct, colour-blind-friendlier than plotly's default cycle.
PALETTE = ("#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
           "#bab0ac")


def run_color(run_id: int) -> str:
    """The run's colour: the same in every chart, table and status row, whatever else is shown."""
    return PALETTE[(int(run_id) - 1) % len(PALETTE)]


def _parts(run: Run) -> list[str]:
    from explorer.training.request import RunRequest

    try:
        return RunRequest.from_dict(run.request).parts()
    except Exception:  # a request from an older version or a broken row: its stored label
        return [run.label]


def distinct_labels(runs: list[Run]) -> dict[int, str]:
    """Labels that tell the given runs apart: the architecture plus what differs between them.

    Each run's label is its Spec's label followed by the hyperparameters, data options and
    dataset that are not the same for every run given (``resnet20 · depth=32 · lr 3e-3 · 10 ep``);
    one run alone gets its stored label. Runs that still read the same get ``#id``.

    Returns:
        Run id -> label.
    """
    if len(runs) <= 1:
        return {r.id: r.label for r in runs}
    parts = {r.id: _parts(r) for r in runs}
    common = set.intersection(*(set(p[1:]) for p in parts.values()))
    labels = {i: " · ".join([p[0], *(x for x in p[1:] if x not in common)]) for i, p in parts.items()}
    counts: dict[str, int] = {}
    for lab in labels.values():
        counts[lab] = counts.get(lab, 0) + 1
    return {i: (f"{lab} · #{i}" if counts[lab] > 1 else lab) for i, lab in labels.items()}


def phase_text(run: Run, queue_position: int | None = None, now: float | None = None) -> str:
    """What a run is doing, with the time it has been doing it: ``queued #2 · 0:04``, ``compiling · 0:03``."""
    now = time.time() if now is None else now
    if run.status == "queued":
        where = f"queued #{queue_position}" if queue_position else "queued"
        return f"{where} · {format_seconds(now - run.created)}"
    if run.status == "running":
        phase = run.phase if run.phase and run.phase != "queued" else "starting worker"
        since = run.phase_since or run.claimed or run.created
        return f"{phase} · {format_seconds(now - since)}"
    return run.status


def epochs_text(run: Run) -> str:
    """Done/asked epochs: ``3/50``, ``2/∞`` (a time budget), ``0/5`` before the first epoch ends."""
    asked = run.request.get("hp", {}).get("epochs") or "∞"
    done = (run.final or {}).get("epochs_done")
    if done is None:
        done = max((run.epoch or 1) - 1, 0) if run.active else (run.epoch or 0)
    return f"{done}/{asked}"


def run_row(run: Run, label: str | None = None) -> dict[str, Any]:
    """One row of the runs table (no empty cells spelled ``None``: blanks are '')."""
    f = run.final or {}
    hp = run.request.get("hp", {})
    end = run.ended or (time.time() if run.active and run.started else None)

    def num(v: Any, digits: int = 4) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    return {
        "id": run.id,
        "status": run.status,
        "run": label or run.label,
        "started": time.strftime("%H:%M:%S", time.localtime(run.started or run.created)),
        "seconds": f"{end - (run.started or run.created):.1f}" if end else "",
        "epochs": epochs_text(run),
        "batch": str(hp.get("batch_size", "")),
        "optimizer": f"{hp.get('optimizer')} {hp.get('learning_rate'):g}" if hp.get("learning_rate") else "",
        "loss": num(f.get("loss")),
        "accuracy": num(f.get("accuracy")),
        "val_accuracy": num(f.get("val_accuracy")),
        "test_accuracy": num(f.get("test_accuracy")),
        "params": f"{run.params:,}" if run.params else "",
        "data": run.adaptation or "",
        "device": run.device or "",
        "error": run.error or "",
    }
