"""Real browser: Debian's Chromium (Playwright) against ``streamlit run app.py``.

Screenshots land in test-artifacts/. These tests look at what a person sees: pages render with
no exception box, a preset jump works, uploads are inspected or refused with a message.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from explorer.builders import build_model, resolve
from explorer.training.scheduler import Scheduler
from tests import hostile_files
from tests.conftest import no_exception, streamlit_server, wait_app_idle

pytestmark = pytest.mark.browser

PAGES = ["", "build", "budget", "compare", "inspect", "code", "train"]


def test_a_deep_link_is_the_first_request_of_a_fresh_server(page, artifacts):
    """Streamlit runs pages/*.py on their own until st.navigation has run once; pages reroute."""
    with streamlit_server() as url:
        page.goto(f"{url}/code?builder=resnet&preset=resnet20&depth=56")
        page.get_by_text("depth = 56").first.wait_for(timeout=90_000)
        no_exception(page)
        assert page.get_by_role("link", name="Home").count() == 1  # st.navigation, not the pages/ list
        page.screenshot(path=str(artifacts / "deep-link-fresh-server.png"))



@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(page, app_url, artifacts, path):
    page.goto(f"{app_url}/{path}")
    # Generous bounds: a page's first run on a shared 2-core machine can take minutes (Compare
    # analyses two architectures and imports plotly); each wait ends as soon as its condition holds.
    page.locator("h1").first.wait_for(timeout=240_000)  # the page's script has drawn its title
    wait_app_idle(page, timeout=240_000)  # ... and finished
    no_exception(page)
    page.screenshot(path=str(artifacts / f"page-{path or 'home'}.png"))


def test_home_jumps_to_a_preset_on_build(page, app_url, artifacts):
    page.goto(app_url)
    wait_app_idle(page)
    page.get_by_role("button", name="resnet56", exact=True).click()
    # the path, whatever the query: the app may add the link's query before Playwright looks
    page.wait_for_function("() => location.pathname.endsWith('/build')", timeout=60_000)
    wait_app_idle(page)
    page.get_by_text("861,770").first.wait_for(timeout=60_000)
    no_exception(page)
    page.screenshot(path=str(artifacts / "home-to-resnet56.png"))


def test_inspect_an_upload_and_refuse_garbage(page, app_url, artifacts, tmp_path):
    good = tmp_path / "small_resnet.keras"
    build_model(resolve("resnet", overrides={"depth": 8})).save(good)
    bad = tmp_path / "garbage.keras"
    bad.write_bytes(os.urandom(4096))
    page.goto(f"{app_url}/inspect")
    wait_app_idle(page)
    page.locator("input[type='file']").set_input_files(str(good))
    page.get_by_text("small_resnet.keras — resnet8_v1").wait_for(timeout=90_000)
    wait_app_idle(page)
    no_exception(page)
    page.get_by_text("78,666").first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "inspect-good.png"), full_page=True)
    page.locator("input[type='file']").set_input_files(str(bad))
    page.get_by_text("is not a .keras archive").wait_for(timeout=60_000)
    no_exception(page)
    page.screenshot(path=str(artifacts / "inspect-garbage.png"))
    page.locator("input[type='file']").set_input_files(str(hostile_files.lambda_layer(tmp_path)))
    page.get_by_text("model file lambda.keras: layer 'evil' is a Lambda layer").wait_for(timeout=60_000)
    no_exception(page)
    page.screenshot(path=str(artifacts / "inspect-lambda.png"))


def test_code_page_shows_source(page, app_url, artifacts):
    page.goto(f"{app_url}/code")
    wait_app_idle(page)
    page.get_by_text("def build_model():").first.wait_for(timeout=60_000)
    no_exception(page)
    page.screenshot(path=str(artifacts / "code.png"))


def test_a_shared_link_opens_the_same_architecture_and_the_url_follows_the_form(page, app_url, artifacts):
    page.goto(f"{app_url}/build?builder=resnet&preset=resnet20&depth=56&view=blocks")
    page.get_by_text("861,770").first.wait_for(timeout=90_000)
    wait_app_idle(page)
    no_exception(page)
    assert "depth=56" in page.url
    depth = page.get_by_label("depth", exact=True)
    depth.fill("44")
    depth.press("Enter")
    page.get_by_text("665,994").first.wait_for(timeout=90_000)
    page.wait_for_function("() => location.search.includes('depth=44')", timeout=30_000)
    no_exception(page)
    page.screenshot(path=str(artifacts / "link-resnet44.png"))
    # A view switch reruns the graph panel only (a fragment); the link still follows it.
    page.get_by_role("radio", name="Layers", exact=True).first.click()
    page.wait_for_function("() => location.search.includes('view=layers') && location.search.includes('depth=44')",
                           timeout=30_000)
    page.get_by_role("radio", name="→ right", exact=True).first.click()
    page.wait_for_function("() => location.search.includes('dir=LR') && location.search.includes('view=layers')",
                           timeout=30_000)
    no_exception(page)


# Notes, on every animation frame from navigation start, whether the sidebar is visible.
SIDEBAR_FRAMES = """
window.__sidebarSeen = false;
(function tick() {
  const s = document.querySelector("[data-testid='stSidebar']");
  if (s && s.getClientRects().length && getComputedStyle(s).display !== "none") window.__sidebarSeen = true;
  requestAnimationFrame(tick);
})();
"""


def test_presentation_mode_on_a_projector(open_page, app_url, artifacts):
    # A server runs a deep link through Streamlit's pages/ design (its own sidebar) until a session
    # has called st.navigation: open one first, so this test sees the app as every later visitor does.
    first = open_page(1280, 720)
    first.goto(app_url)
    first.locator("h1").first.wait_for(timeout=90_000)
    page = open_page(1280, 720)
    page.add_init_script(SIDEBAR_FRAMES)
    page.goto(f"{app_url}/present?builder=resnet&preset=resnet110&reveal=3")
    page.get_by_text("stage1").first.wait_for(timeout=90_000)
    wait_app_idle(page)
    no_exception(page)
    # Never shown, not for a frame: the navigation hides it before the page's own CSS arrives.
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    assert not page.evaluate("window.__sidebarSeen")
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Stage 4 of 6").wait_for(timeout=60_000)
    page.wait_for_function("() => location.search.includes('reveal=4')", timeout=30_000)
    no_exception(page)
    assert not page.evaluate("window.__sidebarSeen")
    page.screenshot(path=str(artifacts / "present-1280x720.png"))
    page.get_by_role("button", name="Exit").click()  # back to Build: its sidebar returns
    page.locator("[data-testid='stSidebar']").wait_for(state="visible", timeout=60_000)
    page.get_by_role("link", name="Present").wait_for(timeout=30_000)


def test_a_tiny_run_shows_a_growing_curve_and_stop_stops_it(page, app_url, artifacts):
    from explorer.training.store import RunStore

    store = RunStore(str(artifacts / "browser-runs.sqlite"))  # the app_url server's store
    run_id = max((r.id for r in store.runs(limit=1)), default=0) + 1  # the run this test launches
    page.goto(f"{app_url}/train?builder=cnn&conv_layers=1&filters=4")
    page.get_by_role("button", name="Launch", exact=True).wait_for(timeout=90_000)
    wait_app_idle(page)
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("500")
    epochs.press("Enter")
    wait_app_idle(page)
    page.get_by_role("button", name="Launch", exact=True).click()
    try:
        # This run's status row ("#7 cnn ... | training · 0:12 | epoch 1/500 · step 12/57 ... | Stop"),
        # never an earlier run's: the store outlives test sessions. Training moves it forward by
        # construction (500 epochs, no time budget); the bounds are generous because the end of an
        # epoch (validation, a first trace) or a busy machine can hold it for seconds.
        row = (page.locator('[data-testid="stHorizontalBlock"]').filter(has_text=f"#{run_id} ")
               .filter(has=page.get_by_role("button", name="Stop")).last)
        pattern = re.compile(r"epoch (\d[\d,]*)/\S+ · step (\d[\d,]*)/")

        def progress() -> tuple[int, int] | None:
            try:
                m = pattern.search(" ".join(row.inner_text(timeout=5_000).split()))
            except PlaywrightError:  # the row is being redrawn
                return None
            return (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else None

        def wait_until(check, seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while not check():
                assert time.monotonic() < deadline, "timed out"
                page.wait_for_timeout(250)  # let the page poll the store again

        wait_until(lambda: (p := progress()) is not None and p[1] >= 1, 240)  # training
        shown = progress()
        wait_until(lambda: (p := progress()) is not None and p > shown, 120)  # it keeps moving
        assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 1
        no_exception(page)
        page.screenshot(path=str(artifacts / "train-live.png"))
        row.get_by_role("button", name="Stop").click()
        wait_until(lambda: not store.get(run_id).active, 120)
        assert store.get(run_id).status == "stopped"
        no_exception(page)
        page.screenshot(path=str(artifacts / "train-stopped.png"))
    finally:  # a failed test must not leave its worker training 500 epochs after the server is gone
        if (run := store.get(run_id)) is not None and run.active:
            Scheduler(store).stop(run_id)
