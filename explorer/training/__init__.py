"""Training runs: a run store (SQLite), worker processes, a FIFO scheduler, and curve charts.

Nothing here imports Keras in the calling process; workers pick their own backend.
"""

from explorer.training.request import Hyperparams, RunRequest
from explorer.training.scheduler import Scheduler
from explorer.training.store import Run, RunStore, store_path

__all__ = ["Hyperparams", "Run", "RunRequest", "RunStore", "Scheduler", "store_path"]
