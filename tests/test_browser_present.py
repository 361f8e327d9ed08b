"""The teacher's view in a real browser: Present frames every step, the Build graph opens readable,
the form guides. Debian's Chromium (Playwright) against ``streamlit run app.py``.

Label sizes are measured from the SVG's rendered text boxes (``getBoundingClientRect`` of each
node's ``<text>``); "in view" means a node's box lies inside both the viewer and the window.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import pytest

from tests.conftest import no_exception, wait_app_idle

pytestmark = pytest.mark.browser

# The viewer lives in a shadow root: find it from the page.
PROBE = """(want) => {
  const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)];
  const root = roots.map(x => x.querySelector('.gv-root')).filter(Boolean)[0];
  if (!root) return null;
  const canvas = root.querySelector('.gv-canvas');  // the drawing on screen (parked ones are .gv-parked)
  if (!canvas) return null;
  const vr = root.getBoundingClientRect();
  const nodes = [...canvas.querySelectorAll('g.node')].map(g => {
    const id = g.querySelector('title').textContent;
    const b = g.getBoundingClientRect();
    const texts = [...g.querySelectorAll('text')].map(t => t.getBoundingClientRect().height);
    return {id, cls: g.getAttribute('class'), left: b.left, right: b.right, top: b.top, bottom: b.bottom,
            text: texts.length ? Math.min(...texts) : 0};
  });
  return {frame: canvas.dataset.frame || '', top: vr.top, bottom: vr.bottom, left: vr.left, right: vr.right,
          winW: innerWidth, winH: innerHeight, nodes, fullscreen: !!document.fullscreenElement};
}"""


def probe(page) -> dict:
    return page.evaluate(PROBE, None)


def wait_frame(page, sig: str) -> dict:
    """Wait until the viewer has framed step ``sig`` (``stage:3``) and return the probe."""
    page.wait_for_function(
        """(sig) => [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)]
             .some(r => { const c = r.querySelector('.gv-canvas'); return c && c.dataset.frame === sig; })""",
        arg=sig, timeout=60_000, polling=50)
    page.wait_for_timeout(50)  # the frame after the mark: nothing is animating (svg-pan-zoom sets a matrix)
    return probe(page)


def inside(n: dict, p: dict) -> bool:
    tol = 1.0
    return (n["left"] >= max(p["left"], 0) - tol and n["right"] <= min(p["right"], p["winW"]) + tol
            and n["top"] >= max(p["top"], 0) - tol and n["bottom"] <= min(p["bottom"], p["winH"]) + tol)


def open_present(open_page, app_url, preset: str, size: tuple[int, int] = (1280, 720)) -> tuple:
    """Present opened on a ResNet preset at its first stage: framed, idle, no exception; returns (page, probe)."""
    page = open_page(*size)
    page.goto(f"{app_url}/present?builder=resnet&preset={preset}&reveal=1")
    p = wait_frame(page, "stage:1")
    wait_app_idle(page)
    no_exception(page)
    return page, p


def step(page, key: str, sig: str) -> dict:
    """Press a presenter key and wait until the viewer frames step ``sig``; return the probe."""
    page.keyboard.press(key)
    return wait_frame(page, sig)


SIZES = [(1280, 720), (1400, 900)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("by", ["stage", "block"])
def test_present_frames_every_step_of_resnet110(open_page, app_url, artifacts, by, size):
    w, h = size
    page, p = open_present(open_page, app_url, "resnet110", size)
    if by == "block":
        page.get_by_role("radio", name="by block").click()
        page.get_by_text("Block 1 of 57").wait_for(timeout=60_000)
        p = wait_frame(page, "block:1")
    total = 6 if by == "stage" else 57
    smallest = []
    for n in range(1, total + 1):
        if n > 1:
            p = step(page, "ArrowRight", f"{by}:{n}")  # no click into the graph first
        new = [x for x in p["nodes"] if "gv-new" in (x["cls"] or "")]
        assert new, f"step {n}: nothing highlighted"
        for x in new:
            assert inside(x, p), f"{by} step {n}: {x['id']} is outside the view at {w}x{h}"
        smallest.append(min(x["text"] for x in new))
        assert all("gv-old" in (x["cls"] or "") for x in p["nodes"] if x not in new)  # dimmed, not hidden
        if n in (1, 3, total) or (by == "block" and n in (9, 21)):
            page.screenshot(path=str(artifacts / f"present-{by}-{n}-{w}x{h}.png"))
    assert min(smallest) >= 18, smallest
    overview = page.locator(".st-key-present-overview p").first
    assert overview.inner_text().startswith(f"{by.title()} {total} of {total}")
    box = overview.bounding_box()
    assert box["x"] + box["width"] <= w  # never cut
    no_exception(page)


def test_presenter_keys_and_full_screen(open_page, app_url, artifacts):
    page, _ = open_present(open_page, app_url, "resnet56")
    for key, sig in [("PageDown", "stage:2"), ("Space", "stage:3"), ("ArrowLeft", "stage:2"), ("End", "stage:6"),
                     ("PageUp", "stage:5"), ("Home", "stage:1")]:
        step(page, key, sig)
    page.keyboard.press("f")
    page.wait_for_function("() => !!document.fullscreenElement", timeout=10_000)
    page.screenshot(path=str(artifacts / "present-fullscreen.png"))
    page.keyboard.press("Escape")
    page.evaluate("() => document.fullscreenElement && document.exitFullscreen()")  # headless Esc may not leave
    page.wait_for_function("() => !document.fullscreenElement", timeout=10_000)
    no_exception(page)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_build_graph_opens_readable_below_the_numbers(open_page, app_url, artifacts, size):
    w, h = size
    page = open_page(w, h)
    page.goto(f"{app_url}/build?builder=resnet&preset=resnet56")
    page.get_by_text("861,770").first.wait_for(timeout=90_000)
    page.wait_for_function("""() => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)
        .some(r => { const c = r.querySelector('.gv-canvas'); return c && c.dataset.frame; })""", timeout=60_000)
    wait_app_idle(page)
    page.wait_for_timeout(100)
    p = probe(page)
    assert p["top"] < h * 0.55  # the graph starts in the first screen, under the title and numbers
    shown = [x for x in p["nodes"] if inside(x, p)]
    assert shown and min(x["text"] for x in shown) >= 12
    lefts, rights = [x["left"] for x in p["nodes"]], [x["right"] for x in p["nodes"]]
    assert min(lefts) >= p["left"] - 1 and max(rights) <= p["right"] + 1  # the whole width
    page.screenshot(path=str(artifacts / f"build-graph-{w}x{h}.png"))
    # Keyboard zoom, toolbar and tooltips.
    before = shown[0]["text"]
    page.keyboard.press("+")
    page.wait_for_timeout(100)
    assert probe(page)["nodes"][0]["text"] > before * 1.1
    page.locator(".gv-bar button[data-act='all']").click()
    assert page.locator(".gv-canvas g.node title").count() > 0
    tips = page.evaluate("""() => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)
        .flatMap(r => [...r.querySelectorAll('g.node a')]).map(a => a.getAttribute('xlink:title') || '')""")
    assert tips and all(tips)  # every node has a tooltip (DOT tooltip attribute)
    page.locator(".gv-bar button[data-act='full']").click()
    page.wait_for_function("() => !!document.fullscreenElement", timeout=10_000)
    page.evaluate("() => document.exitFullscreen()")
    no_exception(page)


def test_form_steps_through_valid_depths_and_keeps_the_last_graph_under_an_error(open_page, app_url, artifacts):
    page = open_page(1400, 900)
    page.goto(f"{app_url}/build?builder=resnet&preset=resnet32")
    page.get_by_text("470,218").first.wait_for(timeout=90_000)
    wait_app_idle(page)
    depth = page.get_by_label("depth", exact=True)
    page.locator("[data-testid='stNumberInput']").filter(has=depth).locator("[data-testid='stNumberInputStepUp']").click()  # +
    page.get_by_text("568,106").first.wait_for(timeout=90_000)  # 32 + 6 = 38
    assert depth.input_value() == "38"
    wait_app_idle(page)
    # v2-only fields are disabled for v1, and say why.
    bw = page.get_by_role("spinbutton", name="bottleneck width — applies only when version is 2")
    assert bw.is_disabled()
    # An invalid value: refused with a message, the last graph stays, dimmed and marked.
    depth.fill("39")
    depth.press("Enter")
    page.get_by_text("depth 39 is not 6n+2").wait_for(timeout=60_000)
    wait_app_idle(page)
    stale = page.locator(".st-key-build-stale")
    assert stale.is_visible() and "Not updated" in stale.inner_text() and "568,106" in stale.inner_text()
    assert float(stale.evaluate("e => getComputedStyle(e).opacity")) < 0.8
    assert stale.locator(".gv-canvas svg").count() == 1 or page.locator(".gv-canvas svg").count() == 1
    page.screenshot(path=str(artifacts / "build-stale-under-error.png"))
    no_exception(page)
