"""Training runs: a run store (SQLite), worker processes, a FIFO scheduler, and curve charts.

Nothing here imports Keras in the calling process; workers pick their own backend. The names
below load on first use (PEP 562), so ``python -m explorer runs`` reads the store without
importing NumPy and the dataset code.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Hyperparams": "request", "RunRequest": "request", "Scheduler": "scheduler",
    "Run": "store", "RunStore": "store", "store_path": "store",
}

__all__ = ["Hyperparams", "Run", "RunRequest", "RunStore", "Scheduler", "store_path"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"explorer.training.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'explorer.training' has no attribute {name!r}")
