"""Command-line start-up: ``python -m explorer --help``, ``list`` and ``runs``, now and before.

Each command runs in a fresh interpreter (as a user types it), several times; the script prints
the median wall time and the peak memory (``ru_maxrss`` of that child, from ``os.wait4``) and
which heavy modules the command imported. The baseline is the same commands in a temporary git
worktree of ``--baseline`` (default: the commit before the CLI imported lazily), run in the same
process, alternating with the current tree, so machine noise hits both alike. ``import keras``
alone is printed as a reference.

Goal: commands that need no model answer in <= 0.3 s.

Usage: python benchmarks/cli_startup.py [--repeat 5] [--baseline REF | --no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "db1a4b3"  # main before issue 11: every command imported Keras
HEAVY = ("keras", "jax", "scipy", "tensorflow", "numpy")
COMMANDS = {
    "--help": ["--help"],
    "list --json": ["list", "--json"],
    "runs": ["runs", "--store", "{tmp}/runs.sqlite"],
}
PROBE = ("import runpy, sys\n"
         "sys.argv = ['explorer'] + sys.argv[1:]\n"
         "try:\n    runpy.run_module('explorer', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         f"sys.stderr.write('HEAVY ' + ','.join(m for m in {HEAVY!r} if m in sys.modules) + '\\n')\n")


def run_once(argv: list[str], cwd: Path, probe: bool = False) -> tuple[float, float, str]:
    """(seconds, peak MB, heavy modules) of one ``python -m explorer ARGV`` in ``cwd``."""
    cmd = [sys.executable, "-c", PROBE, *argv] if probe else [sys.executable, "-m", "explorer", *argv]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.strip()[-300:]}")
    heavy = next((line[6:] for line in err.splitlines() if line.startswith("HEAVY ")), "")
    return seconds, usage.ru_maxrss / 1024, heavy


def reference_import(module: str, repeat: int) -> tuple[float, float]:
    """Median seconds and peak MB of ``python -c 'import MODULE'`` (the analysis backend)."""
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    times, peaks = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", f"import {module}"], env=env)
        _, _, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(peaks)


@contextlib.contextmanager
def worktree(ref: str):
    """A temporary detached git worktree of ``ref`` (removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix="explorer-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), ref], cwd=ROOT, check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--baseline", default=BEFORE, help=f"git ref to compare against (default {BEFORE})")
    p.add_argument("--no-baseline", action="store_true")
    a = p.parse_args()
    trees = {"now": ROOT}
    with contextlib.ExitStack() as stack:
        if not a.no_baseline:
            try:
                trees = {"before": stack.enter_context(worktree(a.baseline)), "now": ROOT}
            except subprocess.CalledProcessError:
                print(f"baseline {a.baseline} is not in this clone; measuring the current tree only")
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        results: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
        for name, argv in COMMANDS.items():
            argv = [x.format(tmp=tmp) for x in argv]
            for tree, cwd in trees.items():
                run_once(argv, cwd)  # compile .pyc files and warm the page cache once
                results[(name, tree)] = [run_once(argv, cwd, probe=True)]
            for _ in range(a.repeat):
                for tree, cwd in trees.items():  # alternate, so noise hits both trees alike
                    results[(name, tree)].append(run_once(argv, cwd))
        ref_s, ref_mb = reference_import("keras", a.repeat)
    print(f"python -m explorer, median of {a.repeat} fresh interpreters ({os.cpu_count()} cores); "
          f"reference: import keras (numpy backend) {ref_s:.2f} s, {ref_mb:.0f} MB")
    print(f"{'command':<14} {'tree':<7} {'median s':>9} {'peak MB':>8}  heavy modules imported")
    for name in COMMANDS:
        for tree in trees:
            rows = results[(name, tree)]
            med = statistics.median(r[0] for r in rows[1:])
            peak = max(r[1] for r in rows[1:])
            print(f"{name:<14} {tree:<7} {med:>9.2f} {peak:>8.0f}  {rows[0][2] or '-'}")
        if "before" in trees:
            b = statistics.median(r[0] for r in results[(name, 'before')][1:])
            n = statistics.median(r[0] for r in results[(name, 'now')][1:])
            print(f"{'':<14} {'ratio':<7} {b / n:>8.1f}x faster")


if __name__ == "__main__":
    main()
