"""Build page in a real browser: time from a config change to the new block view of DenseNet201.

Starts the served app (``python -m explorer.serve``, the README's run command) on a free port, drives Debian's Chromium with Playwright, opens
the Build page on ``densenet201`` (block view of its stages, its default), then changes ``num classes`` and
waits until the graph viewer shows a new drawing (its ``data-sig``, a hash of the DOT text,
changes). Three figures:

* ``new config``: a config never analysed before (build + extract + DOT + layout + transfer);
* ``analysed config``: back to a config analysed earlier in the run (the goal: under 1.5 s);
* ``view toggle``: Blocks -> Layers -> Blocks on the same model (the first Layers is a new
  drawing; after it both views are kept in the page).

Then page-open figures (a fresh page on a warm server, from the page's navigation start until
the viewer's ``gv-frame`` performance mark, which it sets once the framed drawing is on screen;
the smallest visible label is measured from the SVG's text boxes then; reading the mark needs no
DOM polling, which on a 709-node page took CPU from the page being measured): DenseNet201's layer
view and blocks view, the Home page (a Streamlit page with no graph, the baseline), and Netron
(``pip install netron``; serving the same model saved as ``.keras``) side by side in the same
run; and Present: Next (the → key) until the new step is framed, ResNet-110 in block mode.
A fresh Build page comes graph first (:func:`explorer.ui.graph_viewer.graph_first`: the title
and the drawing, then the rest once the drawing is on screen), so the time until the whole page
(form, numbers, downloads) is on screen is printed too. The layer view's first frame lays out
what is in view (and a view around it); its far part joins right after (the ``gv-frame`` mark
counts the drawing's nodes, those still waiting included).
Page opens (ours and Netron's) are new tabs of one browser context, a returning visitor whose
HTTP cache holds the scripts; a new context per tab would recompile every script each time.

Screenshots of the views go to ``test-artifacts/bench-graph-*.png``.

Usage: ``python benchmarks/graph_browser.py [--repeats N] [--no-netron]``
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

from conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_app_idle, wait_warmed  # noqa: E402

from explorer.ui.session import DEFAULT_PRESET  # noqa: E402

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
    # Found before the clock starts: Playwright's role query walks the page on its main thread
    # (~60-80 ms on this page), which a user's click does not.
    button = page.get_by_role("radio", name=label, exact=True).first.element_handle()
    t0 = time.perf_counter()
    button.click()
    wait_new_sig(page, old)
    return time.perf_counter() - t0


LABEL_PROBE = """() => {
  const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)];
  const root = roots.map(x => x.querySelector('.gv-root')).filter(Boolean)[0];
  const vr = root.getBoundingClientRect();
  const hs = [...root.querySelectorAll('.gv-canvas g.node text')].map(t => t.getBoundingClientRect())
    .filter(b => b.top >= vr.top && b.bottom <= vr.bottom && b.left >= vr.left && b.right <= vr.right).map(b => b.height);
  return hs.length ? Math.min(...hs) : 0;
}"""
FRAMED = """(n) => [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)]
  .some(r => { const c = r.querySelector('.gv-canvas'); return c && c.dataset.frame && c.querySelectorAll('g.node').length >= n; })"""


FRAME_MARK = "(n) => performance.getEntriesByName('gv-frame').some(m => m.detail && m.detail.nodes >= n)"
# The whole Build page: the sidebar's config form, the numbers and the downloads are on screen
# (noted once, on the animation frame it happens: two selector lookups per frame).
WHOLE_PAGE = """(function tick() {
  if (document.querySelector("[data-testid='stSidebarUserContent'] [data-testid='stSelectbox']")
      && document.querySelector("[data-testid='stMetric']") && document.querySelector("[data-testid='stDownloadButton']")) {
    window.__whole = performance.now(); return; }
  requestAnimationFrame(tick);
})();"""


def open_page(browser, url: str, min_nodes: int, shot: str | None = None) -> tuple[float, float, float]:  # a context
    """Seconds from navigation start until the viewer has framed >= ``min_nodes`` nodes (its
    ``gv-frame`` mark), the smallest label (px) in view then, and seconds until the whole page
    (form, numbers, downloads) was on screen."""
    page = browser.new_page()
    page.add_init_script(WHOLE_PAGE)
    page.goto(url, wait_until="commit")
    page.wait_for_function(FRAME_MARK, arg=min_nodes, timeout=180_000, polling=50)
    took = page.evaluate("() => performance.getEntriesByName('gv-frame').at(-1).startTime") / 1000
    label = page.evaluate(LABEL_PROBE)
    if shot:
        page.screenshot(path=str(ARTIFACTS / shot))
    page.wait_for_function("() => window.__whole", timeout=180_000, polling=100)
    whole = page.evaluate("() => window.__whole") / 1000
    page.close()
    return took, label, whole


def open_home(browser, url: str) -> float:  # browser: a context
    """Seconds from navigation start until the Home page's title shows (a Streamlit page with no graph)."""
    page = browser.new_page()
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => document.querySelector('h1') && (window.__h1 = window.__h1 || performance.now())",
                           timeout=120_000, polling="raf")
    took = page.evaluate("() => window.__h1") / 1000
    page.close()
    return took


# Netron replaces ``window.eval``, which Playwright's ``evaluate``/``wait_for_function`` use (and
# an init script watching its DOM stopped it from loading the model), so the benchmark waits with
# a locator (Playwright's own world) and then reads ``performance.now()`` through CDP: the time
# from navigation start until the nodes were seen (an over-estimate by the locator's polling
# interval, tens of milliseconds, against Netron).
NETRON_LABEL = """(() => { const hs = [...document.querySelectorAll('svg .node text')]
  .map(t => t.getBoundingClientRect()).filter(b => b.top >= 0 && b.bottom <= innerHeight && b.height > 0)
  .map(b => b.height); return hs.length ? Math.min(...hs) : 0; })()"""


def _cdp_value(page, expression: str):
    """Evaluate ``expression`` in the page through CDP (not ``window.eval``)."""
    cdp = page.context.new_cdp_session(page)
    try:
        return cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")
    finally:
        cdp.detach()


def netron_times(browser, repeats: int, model: Path | None = None) -> tuple[list[float], float, int] | None:
    """Netron serving DenseNet201 (.keras): seconds until its graph's nodes are drawn, label px, nodes."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("netron") or str(Path(sys.executable).with_name("netron"))
    if not Path(exe).exists():
        print("netron is not installed (pip install netron): no side-by-side figure.")
        return None
    from conftest import free_port, wait_healthy  # noqa: F401

    from explorer.builders import build_model, resolve

    tmp = Path(tempfile.mkdtemp())
    if model is None:
        model = tmp / "densenet201.keras"
        build_model(resolve("densenet201")).save(model)  # 83 MB with its random weights
    port = free_port()
    proc = subprocess.Popen([exe, str(model), "--port", str(port), "--host", "127.0.0.1", "--verbosity", "quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        import urllib.request
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        times, label, nodes = [], 0.0, 0
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        # A returning user: Netron's consent cookie set (Netron cannot set it itself on 127.0.0.1, its
        # cookie domain becomes ".0.1", so it would ask on every load and wait for a click).
        ctx.add_cookies([{"name": "consent", "value": str(int(time.time() * 1000)), "url": url}])
        for i in range(repeats + 1):
            page = ctx.new_page()
            page.goto(url)  # times are read from navigation start, so waiting for "load" costs nothing
            try:
                page.locator("svg g.node").nth(699).wait_for(state="attached", timeout=90_000)
                page.locator("body.default").wait_for(state="attached", timeout=90_000)  # drawn and shown
                took = _cdp_value(page, "performance.now()")
            except Exception as exc:  # report, do not fail the other figures
                page.screenshot(path=str(ARTIFACTS / "bench-netron.png"))
                print(f"Netron did not draw the model within 90 s (screenshot bench-netron.png): {exc}")
                page.close()
                return None
            if i:
                times.append(took / 1000)  # the first load warms the server, as for the app
            nodes = _cdp_value(page, "document.querySelectorAll('svg g.node').length")
            label = _cdp_value(page, NETRON_LABEL)
            page.screenshot(path=str(ARTIFACTS / "bench-netron.png"))
            page.close()
        ctx.close()
        return times, label, nodes
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def present_next(browser, url: str, steps: int) -> list[float]:
    """Seconds from the → key until the next step is framed, ResNet-110 in block mode."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/present?builder=resnet&preset=resnet110&reveal=1")
    page.wait_for_function(FRAMED, arg=1, timeout=180_000)
    wait_app_idle(page, 180_000)
    page.get_by_role("radio", name="by block").click()
    page.get_by_text("Block 1 of 57").wait_for(timeout=60_000)
    wait_app_idle(page, 180_000)
    times = []
    for n in range(2, steps + 2):
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            """(sig) => [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)]
                 .some(r => { const c = r.querySelector('.gv-canvas'); return c && c.dataset.frame === sig; })""",
            arg=f"block:{n}", timeout=60_000, polling=10)
        times.append(time.perf_counter() - t0)
        wait_app_idle(page, 60_000)
    page.close()
    return times


def main() -> int:
    """Run the measurements and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-netron", action="store_true", help="skip the Netron side-by-side")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    import tempfile

    # Its own empty disk cache: a "new config" is then really analysed for the first time. A warm
    # server: its warm-up analyses the presets measured here (not all of them: with an empty cache
    # that is minutes of builds, on the same 2 cores as the browser being timed) and is done first.
    cache = tempfile.mkdtemp(prefix="explorer-bench-cache-")
    env = {"EXPLORER_CACHE_DIR": cache, "EXPLORER_WARMUP": f"{DEFAULT_PRESET},densenet201,resnet110"}
    with streamlit_server(command=[sys.executable, "-m", "explorer.serve"], env=env) as url, \
            sync_playwright() as pw:
        wait_warmed(url)
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/build?builder=keras_app&preset=densenet201")
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
            toggles.append(click_view(page, "Blocks"))
            wait_app_idle(page, 180_000)
        # The screenshot outside the timed switches: the switch after a screenshot took ~0.15 s more.
        click_view(page, "Layers")
        wait_app_idle(page, 180_000)
        page.screenshot(path=str(ARTIFACTS / "bench-graph-layers.png"))
        click_view(page, "Blocks")
        wait_app_idle(page, 180_000)
        page.get_by_role("radio", name="Mixed", exact=True).first.click()
        wait_app_idle(page, 180_000)
        expands = []
        for stage in ("conv3", "conv4", "conv5"):  # a stage -> its blocks (a new layout on the server each)
            old = current_sig(page)
            node = page.locator(".gv-canvas g.node", has_text=stage).first.element_handle()
            t0 = time.perf_counter()
            node.dispatch_event("click")
            wait_new_sig(page, old)
            expands.append(time.perf_counter() - t0)
            wait_app_idle(page, 180_000)
        old = current_sig(page)
        page.locator(".gv-canvas g.node", has_text="block2").first.dispatch_event("click")  # conv3/block2 -> its layers
        wait_new_sig(page, old)
        wait_app_idle(page, 180_000)
        page.screenshot(path=str(ARTIFACTS / "bench-graph-mixed.png"))
        # Page-open figures on the warm server (each a fresh page).
        layers_url = f"{url}/build?builder=keras_app&preset=densenet201&view=layers"
        blocks_url = f"{url}/build?builder=keras_app&preset=densenet201&view=blocks"
        # One browser context for every page open, as Netron's below: a returning student's browser,
        # its HTTP cache holding the app's scripts (each open is still a new tab and a new session).
        visits = browser.new_context(viewport={"width": 1400, "height": 900})
        open_page(visits, layers_url, 700)  # warm: analysis, DOT and layout cached, scripts cached
        layer_open, layer_px, block_open, block_px, home, layer_whole, block_whole = [], [], [], [], [], [], []
        for i in range(args.repeats):
            t, px, whole = open_page(visits, layers_url, 700, "bench-graph-open-layers.png" if not i else None)
            layer_open.append(t)
            layer_px.append(px)
            layer_whole.append(whole)
            t, px, whole = open_page(visits, blocks_url, 5, "bench-graph-open-blocks.png" if not i else None)
            block_open.append(t)
            block_px.append(px)
            block_whole.append(whole)
            home.append(open_home(visits, url))
        nxt = present_next(browser, url, 5 * args.repeats)
        print(f"(page open so far: layers {layer_open}, blocks {block_open}, home {home}, next {nxt})", flush=True)
        netron = None if args.no_netron else netron_times(browser, args.repeats)
        browser.close()

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

    print("densenet201 on the Build page, Chromium, block view:")
    print(f"  config change, new config (analyse + draw): {fmt(new_cfg)}")
    print(f"  config change, analysed config:            {fmt(analysed)}   goal < 1.5 s")
    print(f"  view toggle, first Layers (a new drawing): {toggles[0]:.2f} s")
    print(f"  view toggle, back and forth (kept ones):   {fmt(toggles[1:])}   goal <= 0.4 s")
    print(f"    each: {' '.join(f'{t:.2f}' for t in toggles)}")
    print(f"  click a stage to expand it (mixed view):   {fmt(expands)}   goal <= 0.4 s")
    print(f"  analysed-config change vs new-config change: {statistics.median(analysed) / statistics.median(new_cfg):.2f}x")
    print("page open (fresh page, warm server, 1400x900) until the drawing is framed:")
    print(f"  densenet201 layer view (709 nodes): {fmt(layer_open)}, smallest label {min(layer_px):.1f} px   goal <= 2.0 s, >= 12 px")
    print(f"  densenet201 blocks view:            {fmt(block_open)}, smallest label {min(block_px):.1f} px   goal <= 1.7 s")
    print(f"  Home page (no graph, baseline):     {fmt(home)}")
    print(f"  whole page (form, numbers, downloads): layer view {fmt(layer_whole)}; blocks view {fmt(block_whole)}")
    # The goals were set where Home opened in 1.4 s and Netron in 2.4 s; on another machine the
    # ratios to those baselines, measured in this run, are the comparable figures.
    med = statistics.median
    print(f"  layer view / Home: {med(layer_open) / med(home):.2f}x (goal 2.0/1.4 = 1.43x); "
          f"blocks view / Home: {med(block_open) / med(home):.2f}x (goal 1.7/1.4 = 1.21x)")
    if netron:
        times, px, nodes = netron
        print(f"  Netron 9 (densenet201.keras, {nodes} nodes): {fmt(times)}, smallest label {px:.1f} px")
        print(f"  layer view / Netron: {med(layer_open) / med(times):.2f}x (goal 2.0/2.4 = 0.83x)")
    print(f"Present, ResNet-110 by block, → until framed (1280x720): {fmt(nxt)}   goal <= 0.5 s")
    print(f"screenshots: {ARTIFACTS}/bench-graph-*.png, bench-netron.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
