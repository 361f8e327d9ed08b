"""The run store: one SQLite file (WAL mode) holding runs, their metric points and warm workers.

Location: the ``--store`` flag of the CLI, else the ``EXPLORER_STORE`` environment variable, else
``./runs/runs.sqlite``. Each store keeps its files in its own artefact folder next to it,
named after the store file (``runs.sqlite`` -> ``runs.sqlite-files/``, like SQLite's own
``-wal`` and ``-shm`` files): ``models/`` (trained models, each under a name no other run
shares), ``uploads/`` (models and datasets users uploaded) and ``logs/`` (worker output). Two
stores in one folder never share a file.

Any process (the app, the CLI, a worker) opens the same file; SQLite's locking keeps it
consistent, and the store *is* the scheduler's state, so runs survive page reloads and app
restarts. Connections are per thread.

A damaged store is one sentence, never a traceback: opening it checks the small tables' pages
(``PRAGMA quick_check`` of ``runs`` and ``workers``, milliseconds; the large ``points`` table is
not scanned), and every SQLite error a damaged or unreadable file raises later, from any query,
becomes a :class:`StoreError` naming the file and what to do.

Experiments (a grid of runs launched together) live in the ``experiments`` table; their runs
carry ``experiment_id``. A worker reports its phase (``starting worker``, ``importing
TensorFlow``, ``loading data``, ``building``, ``compiling``, ``training``) in ``phase`` and
``phase_since``, and each block's gradient and weight norms every few steps in ``grad_norms``.
Stores from before these columns get them added on open.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.errors import DataError


class StoreError(DataError):
    """The store file is damaged or cannot be read (one sentence naming it)."""


def shown_path(path: Any, limit: int = 200) -> str:
    """A path as echoed in an error: whole, or its start and end when longer than ``limit``."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:limit // 2 - 2]}...{text[-(limit // 2 - 2):]}"


def _damaged(path: Any, exc: BaseException) -> StoreError:
    reason = " ".join(str(exc).split())[:120] or type(exc).__name__
    return StoreError(f"the run store {shown_path(path)} is damaged or unreadable ({reason}); move it aside (keep a copy) "
                      "or point EXPLORER_STORE (or --store) at another file.")


# Errors of the file, not of the caller's SQL (those stay as they are, for tests to find).
_FILE_ERRORS = (sqlite3.OperationalError, sqlite3.InternalError, sqlite3.DataError, sqlite3.NotSupportedError)


def _is_file_error(exc: sqlite3.DatabaseError) -> bool:
    return type(exc) is sqlite3.DatabaseError or isinstance(exc, _FILE_ERRORS)


class _Cursor(sqlite3.Cursor):
    """A cursor whose file errors (malformed pages, I/O errors) are :class:`StoreError` sentences."""

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            if _is_file_error(exc):
                raise _damaged(getattr(self.connection, "store_path", "?"), exc) from None
            raise

    def execute(self, *args: Any) -> Any:  # type: ignore[override]
        return self._call(super().execute, *args)

    def executemany(self, *args: Any) -> Any:  # type: ignore[override]
        return self._call(super().executemany, *args)

    def executescript(self, *args: Any) -> Any:  # type: ignore[override]
        return self._call(super().executescript, *args)

    def fetchone(self) -> Any:
        return self._call(super().fetchone)

    def fetchall(self) -> Any:
        return self._call(super().fetchall)

    def fetchmany(self, *args: Any) -> Any:
        return self._call(super().fetchmany, *args)

    def __next__(self) -> Any:
        return self._call(super().__next__)


class _Connection(sqlite3.Connection):
    """A connection whose cursors are :class:`_Cursor` (``execute`` goes through ``cursor()``)."""

    store_path: Any = None

    def cursor(self, factory: Any = _Cursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().executemany(*args)

    def executescript(self, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().executescript(*args)

DEFAULT_STORE = os.path.join("runs", "runs.sqlite")
STATUSES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    session TEXT,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    claimed REAL,
    started REAL,
    ended REAL,
    pid INTEGER,
    pid_start TEXT,
    worker TEXT,
    gpu INTEGER,
    backend TEXT,
    device TEXT,
    stop_requested REAL,
    error TEXT,
    final TEXT,
    model_path TEXT,
    timings TEXT,
    epochs INTEGER,
    steps_per_epoch INTEGER,
    train_size INTEGER,
    epoch INTEGER,
    step INTEGER,
    elapsed REAL,
    images_per_s REAL
);
CREATE TABLE IF NOT EXISTS points (
    run_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    elapsed REAL NOT NULL,
    loss REAL,
    accuracy REAL,
    val_loss REAL,
    val_accuracy REAL,
    images_per_s REAL
);
CREATE INDEX IF NOT EXISTS points_by_run ON points (run_id, kind, step);
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    session TEXT,
    grid TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grad_norms (
    run_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    block TEXT NOT NULL,
    grad_norm REAL,
    weight_norm REAL
);
CREATE INDEX IF NOT EXISTS grad_norms_by_run ON grad_norms (run_id, step);
CREATE TABLE IF NOT EXISTS workers (
    pid INTEGER PRIMARY KEY,
    pid_start TEXT,
    backend TEXT NOT NULL,
    gpu INTEGER,
    state TEXT NOT NULL,
    run_id INTEGER,
    started REAL NOT NULL,
    ready REAL
);
"""


# Columns added after the first release (ALTER TABLE on open when missing).
_NEW_RUN_COLUMNS = (("experiment_id", "INTEGER"), ("phase", "TEXT"), ("phase_since", "REAL"), ("params", "INTEGER"),
                    ("macs", "INTEGER"), ("adaptation", "TEXT"), ("node", "TEXT"), ("remote_pid", "INTEGER"))


def _env_float(name: str) -> float | None:
    """A non-negative number from the environment, or None when unset or not a number."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def store_path(path: str | os.PathLike | None = None) -> Path:
    """The store file, absolute: ``path``, else ``$EXPLORER_STORE``, else ``./runs/runs.sqlite``.

    A relative path means the same as in the shell that gave it (it is resolved against the
    current directory here, before any worker, which runs elsewhere, sees it).
    """
    return Path(path or os.environ.get("EXPLORER_STORE") or DEFAULT_STORE).expanduser().resolve()


def artefacts_dir(path: str | os.PathLike) -> Path:
    """The folder of a store's files: ``<store file name>-files`` next to it."""
    p = Path(path)
    return p.with_name(p.name + "-files")


@dataclass
class Run:
    """One row of the ``runs`` table, with JSON columns decoded."""

    id: int
    label: str
    session: str | None
    request: dict[str, Any]
    status: str
    created: float
    claimed: float | None = None
    started: float | None = None
    ended: float | None = None
    pid: int | None = None
    pid_start: str | None = None
    worker: str | None = None
    gpu: int | None = None
    backend: str | None = None
    device: str | None = None
    stop_requested: float | None = None
    error: str | None = None
    final: dict[str, Any] = field(default_factory=dict)
    model_path: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    steps_per_epoch: int | None = None
    train_size: int | None = None
    epoch: int | None = None
    step: int | None = None
    elapsed: float | None = None
    images_per_s: float | None = None
    experiment_id: int | None = None
    phase: str | None = None
    phase_since: float | None = None
    params: int | None = None
    macs: int | None = None
    adaptation: str | None = None
    node: str | None = None  # the cluster node a run trained on (Ray executor); None: this machine
    remote_pid: int | None = None  # the worker's pid on that node

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE


def process_start_token(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
        return text.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int | None, start_token: str | None = None) -> bool:
    """True when process ``pid`` runs (not a zombie) and, if given, started at ``start_token``."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            rest = fh.read().rsplit(")", 1)[1].split()
        if rest[0] == "Z":
            try:  # our own dead child: reap it
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return False
        return start_token is None or rest[19] == start_token
    except (OSError, IndexError):
        return True


class RunStore:
    """Access to the store file; safe to share between threads (one connection per thread)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        """Open (and create) the store.

        Args:
            path: the SQLite file; see :func:`store_path` for the default.
        """
        self.path = store_path(path)
        self.files_dir = artefacts_dir(self.path)
        self.models_dir = self.files_dir / "models"
        self.uploads_dir = self.files_dir / "uploads"
        self.logs_dir = self.files_dir / "logs"
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db.executescript(_SCHEMA)
            have = {r["name"] for r in self.db.execute("PRAGMA table_info(runs)").fetchall()}
            for name, kind in _NEW_RUN_COLUMNS:
                if name not in have:
                    try:
                        self.db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                    except StoreError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise
        except StoreError as exc:
            if not any(w in str(exc) for w in ("readonly", "unable to open", "permission")):
                raise
            reason = str(exc).split(" (", 1)[1].split(");", 1)[0]
            raise DataError(
                f"the run store {shown_path(self.path)} cannot be opened for writing ({reason}); "
                "set EXPLORER_STORE (or --store) to a writable file."
            ) from None
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:120]
            raise DataError(
                f"the run store {shown_path(self.path)} cannot be opened for writing ({reason}); "
                "set EXPLORER_STORE (or --store) to a writable file."
            ) from None
        for table in ("runs", "workers"):  # small tables: checked page by page in milliseconds
            problems = [r[0] for r in self.db.execute(f"PRAGMA quick_check({table})").fetchall() if r[0] != "ok"]
            if problems:
                raise _damaged(self.path, RuntimeError(f"table {table}: {problems[0]}"))

    # -- connections -------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; WAL; waits up to 30 s for a lock)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=_Connection)
            except sqlite3.DatabaseError as exc:
                if _is_file_error(exc) and self.path.parent.is_dir() and os.access(self.path.parent, os.W_OK):
                    raise _damaged(self.path, exc) from None
                raise
            conn.store_path = self.path
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def transaction(self):
        """A write transaction taken up front (``BEGIN IMMEDIATE``), as a context manager."""
        return _Transaction(self.db)

    # -- runs --------------------------------------------------------------------------------
    def add_run(self, label: str, request: dict[str, Any], session: str | None = None) -> int:
        """Queue a run; returns its id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (label, session, request, status, created, phase, phase_since) "
                "VALUES (?, ?, ?, 'queued', ?, 'queued', ?)",
                (label, session, json.dumps(request), time.time(), time.time()),
            )
            return int(cur.lastrowid)

    def add_experiment(self, label: str, grid: dict[str, Any], runs: list[tuple[str, dict[str, Any]]],
                       session: str | None = None) -> tuple[int, list[int]]:
        """Queue an experiment's runs in one transaction.

        Args:
            label: the experiment's name (the base architecture and the grid).
            grid: the swept fields and their values (for the record).
            runs: ``(label, request dict)`` of every run, in launch order.
            session: the browser session, if any.

        Returns:
            ``(experiment id, run ids)``.
        """
        now = time.time()
        with self.transaction() as db:
            eid = int(db.execute("INSERT INTO experiments (label, session, grid, created) VALUES (?, ?, ?, ?)",
                                 (label, session, json.dumps(grid), now)).lastrowid)
            ids = [
                int(db.execute(
                    "INSERT INTO runs (label, session, request, status, created, experiment_id, phase, phase_since) "
                    "VALUES (?, ?, ?, 'queued', ?, ?, 'queued', ?)",
                    (lab, session, json.dumps(req), now, eid, now),
                ).lastrowid)
                for lab, req in runs
            ]
        return eid, ids

    def experiments(self, limit: int = 100) -> list[dict[str, Any]]:
        """Experiments, newest first: ``{id, label, session, grid, created, runs}`` (runs: their ids)."""
        rows = self.db.execute("SELECT * FROM experiments ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["grid"] = json.loads(d["grid"])
            d["runs"] = [x[0] for x in self.db.execute(
                "SELECT id FROM runs WHERE experiment_id = ? ORDER BY id", (d["id"],)).fetchall()]
            out.append(d)
        return out

    def experiment(self, experiment_id: int) -> dict[str, Any] | None:
        """One experiment (as :meth:`experiments` gives them), or None."""
        row = self.db.execute("SELECT * FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["grid"] = json.loads(d["grid"])
        d["runs"] = [x[0] for x in self.db.execute(
            "SELECT id FROM runs WHERE experiment_id = ? ORDER BY id", (experiment_id,)).fetchall()]
        return d

    def experiment_runs(self, experiment_id: int) -> list[Run]:
        """The runs of an experiment, in launch order."""
        rows = self.db.execute("SELECT * FROM runs WHERE experiment_id = ? ORDER BY id", (experiment_id,)).fetchall()
        return [_run(r) for r in rows]

    def queue_positions(self) -> dict[int, int]:
        """Queued run id -> its place in the queue (1: starts next)."""
        rows = self.db.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY id").fetchall()
        return {int(r[0]): i + 1 for i, r in enumerate(rows)}

    def set_phase(self, run_id: int, phase: str) -> None:
        """A worker reports what it is doing (shown with the time since)."""
        self.db.execute("UPDATE runs SET phase = ?, phase_since = ? WHERE id = ?", (phase, time.time(), run_id))

    # -- gradient flow -----------------------------------------------------------------------
    def add_grad_norms(self, run_id: int, step: int, norms: dict[str, tuple[float, float]]) -> None:
        """Record each block's ``(gradient norm, weight norm)`` at a step."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO grad_norms (run_id, step, block, grad_norm, weight_norm) VALUES (?, ?, ?, ?, ?)",
                [(run_id, step, b, g, w) for b, (g, w) in norms.items()],
            )

    def grad_norms(self, run_id: int, which: str = "grad_norm") -> dict[str, list[list[float]]]:
        """``{block path: [[step, norm], ...]}`` (``which``: ``grad_norm`` or ``weight_norm``), blocks in model order."""
        if which not in ("grad_norm", "weight_norm"):
            raise ValueError(which)
        out: dict[str, list[list[float]]] = {}
        for r in self.db.execute(
            f"SELECT step, block, {which} FROM grad_norms WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall():
            out.setdefault(r["block"], []).append([int(r["step"]), r[which]])
        return out

    def get(self, run_id: int) -> Run | None:
        """One run, or None."""
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def runs(self, status: str | tuple[str, ...] | None = None, limit: int = 500) -> list[Run]:
        """Runs, newest first, optionally of some statuses."""
        if status is None:
            rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        else:
            wanted = (status,) if isinstance(status, str) else tuple(status)
            marks = ",".join("?" * len(wanted))
            rows = self.db.execute(
                f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY id DESC LIMIT ?", (*wanted, limit)
            ).fetchall()
        return [_run(r) for r in rows]

    def update(self, run_id: int, only_if_status: str | tuple[str, ...] | None = None, **values: Any) -> bool:
        """Set columns of a run (dicts are stored as JSON); returns whether a row changed.

        Args:
            run_id: the run.
            only_if_status: change it only while its status is one of these.
            values: column values.
        """
        cols = []
        args: list[Any] = []
        for k, v in values.items():
            cols.append(f"{k} = ?")
            args.append(json.dumps(v) if isinstance(v, dict) else v)
        sql = f"UPDATE runs SET {', '.join(cols)} WHERE id = ?"
        args.append(run_id)
        if only_if_status is not None:
            wanted = (only_if_status,) if isinstance(only_if_status, str) else tuple(only_if_status)
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
            args.extend(wanted)
        return self.db.execute(sql, args).rowcount > 0

    def request_stop(self, run_id: int) -> bool:
        """Ask a run to stop: a queued run stops at once, a running one at its next batch.

        Returns:
            Whether the run was active.
        """
        now = time.time()
        with self.transaction() as db:
            if db.execute(
                "UPDATE runs SET status = 'stopped', stop_requested = ?, ended = ? WHERE id = ? AND status = 'queued'",
                (now, now, run_id),
            ).rowcount:
                return True
            return db.execute(
                "UPDATE runs SET stop_requested = COALESCE(stop_requested, ?) WHERE id = ? AND status = 'running'",
                (now, run_id),
            ).rowcount > 0

    def stop_requested(self, run_id: int) -> float | None:
        """When a stop was asked for (a Unix time), or None (checked by the worker every batch)."""
        row = self.db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row and row[0] else None

    def prune(self, keep_days: float | None = None, max_models: int | None = None, now: float | None = None) -> dict[str, int]:
        """Apply the retention settings: forget old runs, cap the stored models.

        Args:
            keep_days: delete ended runs (their points and model) that ended more than this many
                days ago (default ``EXPLORER_KEEP_DAYS``; unset: keep all).
            max_models: keep at most this many trained ``.keras`` files, the newest (default
                ``EXPLORER_MAX_MODELS``; unset: no cap). Older runs keep their metrics.
            now: the current time (for tests).

        Returns:
            ``{"runs": deleted runs, "models": deleted model files}``.
        """
        keep_days = _env_float("EXPLORER_KEEP_DAYS") if keep_days is None else keep_days
        max_models = _env_float("EXPLORER_MAX_MODELS") if max_models is None else max_models
        now = time.time() if now is None else now
        deleted = {"runs": 0, "models": 0}
        ended = [r for r in self.runs(limit=1_000_000) if not r.active and r.status != "queued"]
        if keep_days is not None:
            for r in ended:
                if r.ended and now - r.ended > keep_days * 86400:
                    self.delete(r.id)
                    deleted["runs"] += 1
            ended = [r for r in ended if self.get(r.id) is not None]
        if max_models is not None:
            with_models = sorted((r for r in ended if r.model_path), key=lambda r: r.ended or 0, reverse=True)
            for r in with_models[int(max_models):]:
                if os.path.exists(r.model_path):
                    os.remove(r.model_path)
                self.update(r.id, model_path=None)
                deleted["models"] += 1
        return deleted

    def delete(self, run_id: int) -> None:
        """Delete a finished run, its points and its model file."""
        run = self.get(run_id)
        if run is None or run.active:
            return
        with self.transaction() as db:
            db.execute("DELETE FROM points WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM grad_norms WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if run.model_path and os.path.exists(run.model_path):
            os.remove(run.model_path)

    # -- points ------------------------------------------------------------------------------
    def add_points(self, run_id: int, points: list[dict[str, Any]], progress: dict[str, Any] | None = None) -> None:
        """Append metric points (``kind`` batch or epoch) and update the run's progress columns."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO points (run_id, kind, epoch, step, elapsed, loss, accuracy, val_loss, val_accuracy, "
                "images_per_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, p["kind"], p["epoch"], p["step"], p["elapsed"], *(p.get(m) for m in METRICS),
                     p.get("images_per_s"))
                    for p in points
                ],
            )
            if progress:
                cols = ", ".join(f"{k} = ?" for k in progress)
                db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*progress.values(), run_id))

    def points(self, run_id: int, kind: str | None = None, after_rowid: int = 0) -> list[dict[str, Any]]:
        """Metric points of a run in order (``kind``: batch, epoch or both)."""
        sql = "SELECT rowid, * FROM points WHERE run_id = ? AND rowid > ?"
        args: list[Any] = [run_id, after_rowid]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        rows = self.db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [dict(r) for r in rows]

    def history_csv(self, run_id: int) -> str:
        """The run's points as CSV text (one row per point)."""
        cols = ["kind", "epoch", "step", "elapsed", *METRICS, "images_per_s"]
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(cols)
        for p in self.points(run_id):
            w.writerow([p[c] for c in cols])
        return out.getvalue()

    # -- warm workers ------------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Registered warm workers."""
        return [dict(r) for r in self.db.execute("SELECT * FROM workers ORDER BY started").fetchall()]


    # -- workers and claims (the scheduler and the workers call these; no SQL outside the store) ----
    def register_worker(self, pid: int, backend: str, gpu: int | None, started: float) -> None:
        """A warm worker announces itself (state ``starting`` while it imports its backend)."""
        self.db.execute(
            "INSERT OR REPLACE INTO workers (pid, pid_start, backend, gpu, state, started) "
            "VALUES (?, ?, ?, ?, 'starting', ?)",
            (pid, process_start_token(pid), backend, gpu, started),
        )

    def worker_ready(self, pid: int) -> None:
        """A warm worker has imported its backend and waits for a run."""
        self.db.execute("UPDATE workers SET state = 'idle', ready = ? WHERE pid = ?", (time.time(), pid))

    def worker_assignment(self, pid: int) -> tuple[str, int | None] | None:
        """A worker's state and assigned run id, or None when it was forgotten (it should leave)."""
        row = self.db.execute("SELECT state, run_id FROM workers WHERE pid = ?", (pid,)).fetchone()
        return None if row is None else (row["state"], row["run_id"])

    def forget_worker(self, pid: int, only_idle: bool = False) -> bool:
        """Remove a worker's row (only an idle one with ``only_idle``); True when a row went."""
        sql = "DELETE FROM workers WHERE pid = ?" + (" AND state = 'idle'" if only_idle else "")
        return self.db.execute(sql, (pid,)).rowcount > 0

    def retire_idle_worker(self, pid: int) -> bool:
        """An idle worker whose app is gone leaves, unless it was just given a run; True when it may leave."""
        if self.db.execute("UPDATE workers SET state = 'gone' WHERE pid = ? AND state = 'idle'", (pid,)).rowcount:
            self.forget_worker(pid)
            return True
        return False

    def claim_next(self, max_running: int, gpus: int, warm_wait_s: float,
                   use_warm: bool = True) -> tuple[int, str, int | None, int | None] | None:
        """Atomically move the oldest queued run to running, on a free GPU and an idle warm worker if any.

        Args:
            max_running: how many runs may run at once.
            gpus: GPUs to spread runs over (0: CPU).
            warm_wait_s: a warm worker that started importing less than this ago will take the run:
                wait for it instead of starting a cold one.
            use_warm: hand the run to a local warm worker when one is idle (False: an executor
                other than local places it).

        Returns:
            ``(run id, backend, gpu, warm worker pid or None)``, or None when nothing may start now.
        """
        with self.transaction() as db:
            running = db.execute("SELECT gpu FROM runs WHERE status = 'running'").fetchall()
            if len(running) >= max_running:
                return None
            row = db.execute("SELECT id, request FROM runs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            backend = json.loads(row["request"]).get("hp", {}).get("backend", "tensorflow")
            gpu = None
            if gpus:
                busy = {r["gpu"] for r in running}
                gpu = next((i for i in range(gpus) if i not in busy), 0)
            now = time.time()
            warm = db.execute(
                "SELECT pid, pid_start FROM workers WHERE state = 'idle' AND backend = ? AND gpu IS ? ORDER BY ready",
                (backend, gpu),
            ).fetchall() if use_warm else []
            warm_pid = None
            if use_warm and not warm and db.execute(
                "SELECT 1 FROM workers WHERE state = 'starting' AND backend = ? AND gpu IS ? AND started > ?",
                (backend, gpu, now - warm_wait_s),
            ).fetchone():
                return None  # a warm worker is importing the backend: it takes the run in a moment
            for w in warm:
                if pid_alive(w["pid"], w["pid_start"]) and db.execute(
                    "UPDATE workers SET state = 'busy', run_id = ? WHERE pid = ? AND state = 'idle'", (row["id"], w["pid"])
                ).rowcount:
                    warm_pid = int(w["pid"])
                    break
            db.execute(
                "UPDATE runs SET status = 'running', claimed = ?, gpu = ?, backend = ?, worker = ?, pid = ?, "
                "pid_start = (SELECT pid_start FROM workers WHERE pid = ?), phase = ?, phase_since = ? WHERE id = ?",
                (now, gpu, backend, "warm" if warm_pid else "cold", warm_pid, warm_pid,
                 "loading data" if warm_pid else "starting worker", now, row["id"]),
            )
            return int(row["id"]), backend, gpu, warm_pid


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _run(row: sqlite3.Row) -> Run:
    d = dict(row)
    for k in ("request", "final", "timings"):
        d[k] = json.loads(d[k]) if d[k] else {}
    return Run(**d)
