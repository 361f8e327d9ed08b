"""Real browser on the Train page with real worker processes: each active run has its own row and
its own Stop, and the Stop of a row stops that run (and only that one).
"""

from __future__ import annotations

import pytest

from explorer.data import DataOptions
from explorer.training import Hyperparams, RunRequest, RunStore, Scheduler
from tests.conftest import advance_until, streamlit_server, wait_app_idle

pytestmark = pytest.mark.browser
DEADLINE_S = 300


def long_tiny() -> RunRequest:
    return RunRequest("cnn", None, {"conv_layers": 1, "filters": 2}, "mnist-5k", DataOptions(subset=256),
                      Hyperparams(epochs=1000, batch_size=16, grad_every=0))


def until(sched: Scheduler, check, what: str):
    """Advance the scheduler until ``check()`` returns something truthy; return it."""
    return advance_until(sched, check, what, DEADLINE_S, 0.2)


def test_the_stop_of_a_row_stops_that_run(browser, artifacts, tmp_path):
    store_file = tmp_path / "runs.sqlite"
    store = RunStore(store_file)
    sched = Scheduler(store, max_running=2)
    a = sched.submit(long_tiny())
    b = sched.submit(long_tiny())
    env = {"EXPLORER_STORE": str(store_file), "EXPLORER_MAX_RUNS": "2", "EXPLORER_WARM_WORKERS": "0"}
    try:
        until(sched, lambda: store.points(a) and store.points(b), "both runs to train")
        with streamlit_server(env=env) as url:
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(f"{url}/train")
            wait_app_idle(page, 120_000)
            page.get_by_role("button", name="Launch", exact=True).wait_for(timeout=120_000)
            top = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stSidebar'] button")]
                .find(b => b.innerText.trim().endsWith('Launch')).getBoundingClientRect().bottom""")
            assert top < 900  # Launch is above the fold of a 900 px window
            for rid in (a, b):
                page.locator(f"[class~='st-key-train-stop-{rid}'] button:visible").first.wait_for(timeout=120_000)
            page.screenshot(path=str(artifacts / "train-two-active-runs.png"))
            # (while a fragment reruns, Streamlit may briefly show the old row next to the new one)
            page.locator(f"[class~='st-key-train-stop-{b}'] button:visible").first.click()
            until(sched, lambda: not store.get(b).active, "the second run to stop")
            assert store.get(b).status == "stopped"
            assert store.get(a).status == "running" and store.get(a).stop_requested is None
            row_b = page.locator(f"[class~='st-key-train-stop-{b}'] button:visible").first
            row_b.wait_for(state="detached", timeout=60_000)
            page.screenshot(path=str(artifacts / "train-one-stopped.png"))
            ctx.close()
    finally:
        for rid in (a, b):
            sched.stop(rid)
        until(sched, lambda: not store.get(a).active and not store.get(b).active, "both runs to end")
