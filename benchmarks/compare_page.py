"""How long the Compare page takes to show after it is opened, against the Build page (same run).

For pairs of presets A and B, runs the Compare page through Streamlit's ``AppTest`` (the whole
script: pickers, metrics, the diff graph laid out by graphviz, charts, table):
  cold:  the first open in this process (A and B are built and analysed, the diff laid out);
  warm:  opening it again in a new session (analyses and layouts are cached per process, as on
         a server where someone already looked at these presets);
and the Build page's warm run for A as the baseline (the page students open first), keeping the
fastest of a few repeats. Prints seconds and the ratio Compare warm / Build warm. Goal: Compare
warm under 1 s.

Usage: python benchmarks/compare_page.py [A:B ...]   (default: resnet20:resnet32
       densenet-bc-100-12:densenet-bc-250-24 resnet56:resnet110)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

import explorer  # noqa: F401,E402  (numpy analysis backend before Keras loads)
from explorer.builders import resolve  # noqa: E402
from explorer.ui import session as state  # noqa: E402

REPEATS = 3
GOAL_S = 1.0
DEFAULT = ["resnet20:resnet32", "densenet-bc-100-12:densenet-bc-250-24", "resnet56:resnet110"]


def open_page(page: str, a: str, b: str) -> float:
    """Seconds for one run of ``page`` with A and B picked (a fresh session)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state[state.SPEC] = resolve(a)
    at.session_state[state.widget("cmp", "A:target")] = a
    at.session_state[state.widget("cmp", "B:target")] = b
    at.run()  # Home (the default page) first, as in a browser
    t = time.perf_counter()
    at.switch_page(page).run()
    took = time.perf_counter() - t
    if at.exception or at.error:
        raise SystemExit(f"{page} failed for {a} vs {b}: {[e.value for e in [*at.exception, *at.error]]}")
    return took


def main(pairs: list[str]) -> int:
    """Print the table; exit 1 when a warm Compare misses the goal."""
    print(f"{'A vs B':<42} {'cold s':>7} {'warm s':>7} {'Build s':>8} {'Compare/Build':>14}")
    ok = True
    for pair in pairs:
        a, b = pair.split(":")
        cold = open_page("pages/compare.py", a, b)
        warm = min(open_page("pages/compare.py", a, b) for _ in range(REPEATS))
        build = min(open_page("pages/build.py", a, b) for _ in range(REPEATS))
        ok &= warm < GOAL_S
        print(f"{a + ' vs ' + b:<42} {cold:>7.2f} {warm:>7.2f} {build:>8.2f} {warm / build:>13.2f}x")
    print(f"goal: Compare warm under {GOAL_S:g} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT))
