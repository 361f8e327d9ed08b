"""Run every benchmark script in one go and print one table of their headline figures.

Each script runs in its own process (they pick their own Keras backends) and prints its own
ratios against a baseline measured in the same run; this collects them. ``--quick`` uses short
settings (fewer repeats, no 20-epoch accuracy run, 10 browser sessions).

Usage: python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, full arguments, quick arguments)
SCRIPTS = [
    ("build.py", [], []),
    ("graph.py", [], ["--repeats", "1"]),
    ("budget.py", [], []),
    ("compare_page.py", [], ["resnet20:resnet32"]),
    ("graph_browser.py", [], ["--repeats", "1"]),
    ("train.py", [], ["--repeat", "1", "--skip-long"]),
    ("load.py", [], ["--servers", "served", "--cases", "fresh,warm", "--sessions", "10"]),
    ("cli_startup.py", [], ["--repeat", "2"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short settings")
    args = ap.parse_args()
    rows = []
    for script, full, quick in SCRIPTS:
        argv = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print(f"\n=== {script} {' '.join(argv[2:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=HERE.parent, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        print(proc.stdout.rstrip())
        if proc.returncode:
            print(proc.stderr.rstrip()[-2000:])
        lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        rows.append((script, "ok" if proc.returncode == 0 else f"exit {proc.returncode}", wall,
                     lines[-1] if lines else ""))
    print("\n| benchmark | status | seconds | last line |\n|---|---|---|---|")
    for script, status, wall, last in rows:
        print(f"| {script} | {status} | {wall:.0f} | {last[:140]} |")
    return 0 if all(r[1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
