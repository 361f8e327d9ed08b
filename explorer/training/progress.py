"""Plain-data views of runs for the Train page and the CLI: progress, ETA, table rows.

No Streamlit here, so this is testable on its own.
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


def placement(run: Run) -> str | None:
    """Where a run trains: its device, plus the node for a run on a Ray cluster (None before it starts).

    E.g. ``CPU (2 cores)`` or ``GPU: NVIDIA H100 80GB HBM3 · node gpu-3 (10.0.0.7)``.
    """
    if not run.device:
        return None
    return f"{run.device} · node {run.node}" if run.node else run.device


def run_row(run: Run) -> dict[str, Any]:
    """One row of the runs table."""
    f = run.final or {}
    hp = run.request.get("hp", {})
    end = run.ended or (time.time() if run.active and run.started else None)
    return {
        "id": run.id,
        "status": run.status,
        "run": run.label,
        "started": time.strftime("%H:%M:%S", time.localtime(run.started or run.created)),
        "seconds": round(end - (run.started or run.created), 1) if end else None,
        "epochs": run.epoch,
        "batch": hp.get("batch_size"),
        "optimizer": f"{hp.get('optimizer')} {hp.get('learning_rate')}",
        "loss": f.get("loss"),
        "accuracy": f.get("accuracy"),
        "val_accuracy": f.get("val_accuracy"),
        "test_accuracy": f.get("test_accuracy"),
        "device": placement(run),
        "error": run.error,
    }
