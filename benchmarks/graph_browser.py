"""Build page in a real browser: time from a config change to the new block view of DenseNet201.

Starts ``streamlit run app.py`` on a free port, drives Debian's Chromium with Playwright, opens
the Build page on ``densenet201`` (block view of its stages, its default), then changes ``num classes`` and
waits until the graph viewer shows a new drawing (its ``data-sig``, a hash of the DOT text,
changes). Three figures:

* ``new config``: a config never analysed before (build + extract + DOT + layout + transfer);
* ``analysed config``: back to a config analysed earlier in the run (the goal: under 1.5 s);
* ``view toggle``: Blocks -> Layers -> Blocks on the same model.

Screenshots of the three views go to ``test-artifacts/bench-graph-*.png``.

Usage: ``python benchmarks/graph_browser.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_app_idle  # noqa: E402

SIG = ".gv-canvas[data-sig]"


def current_sig(page) -> str:
    """The viewer's drawing signature (empty before the first drawing)."""
    loc = page.locator(SIG)
    return loc.last.get_attribute("data-sig") if loc.count() else ""


def wait_new_sig(page, old: str, timeout: float = 120.0) -> float:
    """Seconds until the viewer shows a drawing other than ``old``."""
    t0 = time.perf_counter()
    page.wait_for_function(
        """(old) => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)
             .flatMap(r => [...r.querySelectorAll('.gv-canvas[data-sig]')])
             .concat([...document.querySelectorAll('.gv-canvas[data-sig]')])
             .some(el => el.dataset.sig !== old && el.querySelector('svg'))""",
        arg=old, timeout=timeout * 1000, polling=20,
    )
    return time.perf_counter() - t0


def set_classes(page, value: int) -> float:
    """Type a new ``num classes`` and return seconds until the new graph is shown."""
    old = current_sig(page)
    box = page.get_by_label("num classes", exact=True).and_(page.locator("input"))
    box.fill(str(value))
    t0 = time.perf_counter()
    box.press("Enter")
    try:
        wait_new_sig(page, old)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "bench-graph-timeout.png"))
        raise
    return time.perf_counter() - t0


def click_view(page, label: str) -> float:
    """Click a view button and return seconds until the new graph is shown."""
    old = current_sig(page)
    t0 = time.perf_counter()
    page.get_by_role("radio", name=label, exact=True).first.click()
    wait_new_sig(page, old)
    return time.perf_counter() - t0


def main() -> int:
    """Run the measurements and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        wait_app_idle(page)
        page.get_by_role("button", name="densenet201", exact=True).click()
        page.wait_for_selector(".gv-canvas svg", timeout=180_000)
        wait_app_idle(page, 180_000)
        page.screenshot(path=str(ARTIFACTS / "bench-graph-blocks.png"))

        new_cfg, analysed, toggles = [], [], []
        for i in range(args.repeats):
            new_cfg.append(set_classes(page, 10 + i))  # never analysed before
            wait_app_idle(page, 180_000)
            analysed.append(set_classes(page, 1000))  # the preset's value: analysed at page load
            wait_app_idle(page, 180_000)
        for _ in range(args.repeats):
            toggles.append(click_view(page, "Layers"))
            wait_app_idle(page, 180_000)
            page.screenshot(path=str(ARTIFACTS / "bench-graph-layers.png"))
            toggles.append(click_view(page, "Blocks"))
            wait_app_idle(page, 180_000)
        page.get_by_role("radio", name="Mixed", exact=True).first.click()
        wait_app_idle(page, 180_000)
        old = current_sig(page)
        t0 = time.perf_counter()
        page.locator(".gv-canvas g.node", has_text="conv3").first.dispatch_event("click")  # stage conv3 -> its blocks
        wait_new_sig(page, old)
        expand_s = time.perf_counter() - t0
        wait_app_idle(page, 180_000)
        old = current_sig(page)
        page.locator(".gv-canvas g.node", has_text="block2").first.dispatch_event("click")  # conv3/block2 -> its layers
        wait_new_sig(page, old)
        wait_app_idle(page, 180_000)
        page.screenshot(path=str(ARTIFACTS / "bench-graph-mixed.png"))
        browser.close()

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

    print("densenet201 on the Build page, Chromium, block view:")
    print(f"  config change, new config (analyse + draw): {fmt(new_cfg)}")
    print(f"  config change, analysed config:            {fmt(analysed)}   goal < 1.5 s")
    print(f"  view toggle (blocks <-> layers):           {fmt(toggles)}")
    print(f"  click a block to expand it (mixed view):   {expand_s:.2f} s")
    print(f"  analysed-config change vs new-config change: {statistics.median(analysed) / statistics.median(new_cfg):.2f}x")
    print(f"screenshots: {ARTIFACTS}/bench-graph-{{blocks,layers,mixed}}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
