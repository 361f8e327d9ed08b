"""Real browser at 1400x900: Home, Compare (the diff graph), Budget and Code, as a student reads them.

Screenshots land in test-artifacts/ (``reading-*.png``); they were looked at when these pages
changed. Reuses the session server of tests/conftest.py.
"""

from __future__ import annotations

import pytest

from tests.conftest import no_exception, wait_app_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def wide(open_page):
    """A fresh browser page at 1400x900."""
    return open_page(1400, 900)


def test_home_explains_pages_draws_the_primer_and_its_first_step_opens_compare(wide, app_url, artifacts):
    wide.goto(app_url)
    wait_app_idle(wide)
    wide.get_by_text("Two ideas to know").wait_for(timeout=60_000)
    wide.locator(".primer img").nth(1).wait_for(timeout=60_000)
    no_exception(wide)
    main = wide.locator("[data-testid='stMain']")
    for title in ("Build", "Budget", "Compare", "Code", "Train", "Present", "Inspect"):
        main.get_by_role("link", name=title, exact=True).first.wait_for(timeout=60_000)  # a link to each page
    # the primer's drawings are the explorer's own graphs, drawn (not broken images)
    for i in range(2):
        assert wide.locator(".primer img").nth(i).evaluate("e => e.complete && e.naturalWidth > 100")
    wide.screenshot(path=str(artifacts / "reading-home.png"))
    wide.locator(".primer").first.evaluate("e => e.scrollIntoView()")
    wide.screenshot(path=str(artifacts / "reading-home-primer.png"))
    wide.get_by_role("button", name="Compare k=12 and k=24").click()
    wide.wait_for_function("() => location.pathname.endsWith('/compare')", timeout=60_000)  # any query
    wait_app_idle(wide)
    wide.locator("svg g.node.changed").first.wait_for(state="attached", timeout=180_000)
    no_exception(wide)
    assert wide.locator("svg g.node.added").count() == 0


def test_compare_shows_a_and_b_side_by_side_and_the_diff_graph(wide, app_url, artifacts):
    wide.goto(f"{app_url}/compare?builder=resnet&preset=resnet20")
    wait_app_idle(wide)
    wide.get_by_text("What changed, on the graph").wait_for(timeout=90_000)
    # B defaults to the Build config with a suggested tweak (depth=56): 18 blocks added
    try:
        wide.locator("svg g.node.added").first.wait_for(state="attached", timeout=180_000)
    finally:
        wide.screenshot(path=str(artifacts / "reading-compare.png"))
    wide.wait_for_function("() => document.querySelectorAll(\"[data-testid='stMetric']\").length === 8",
                           timeout=60_000)  # A's four metrics and B's four
    wait_app_idle(wide)
    no_exception(wide)
    wide.screenshot(path=str(artifacts / "reading-compare.png"))
    wide.get_by_text("What changed, on the graph").evaluate("e => e.scrollIntoView()")
    wide.locator("svg g.node.added").nth(17).wait_for(state="attached", timeout=30_000)
    wide.screenshot(path=str(artifacts / "reading-compare-diff.png"))
    assert wide.locator("svg g.node.added").count() == 18


def test_budget_charts_and_row_click_drill_in(wide, app_url, artifacts):
    wide.goto(f"{app_url}/budget?builder=resnet&preset=resnet56")
    wait_app_idle(wide)
    wide.locator(".js-plotly-plot").nth(3).wait_for(state="attached", timeout=180_000)
    wait_app_idle(wide)
    no_exception(wide)
    # plotly's own export button is there
    assert wide.locator(".modebar-btn[data-title*='Download']").count() >= 1
    wide.screenshot(path=str(artifacts / "reading-budget.png"))
    wide.locator(".js-plotly-plot").nth(2).evaluate("e => e.scrollIntoView()")
    wide.screenshot(path=str(artifacts / "reading-budget-charts.png"))
    wide.get_by_text("Download the block table (CSV)").evaluate("e => e.scrollIntoView()")
    wide.screenshot(path=str(artifacts / "reading-budget-tables.png"))


def test_code_fits_the_box(wide, app_url, artifacts):
    wide.goto(f"{app_url}/code?builder=resnet&preset=resnet110")
    wait_app_idle(wide)
    wide.get_by_text("def stage_block(inputs, filters, name):").wait_for(timeout=180_000)
    no_exception(wide)
    code = wide.locator("[data-testid='stCode'] pre").first
    box = code.bounding_box()
    scroll_w = code.evaluate("e => e.scrollWidth")
    client_w = code.evaluate("e => e.clientWidth")
    assert scroll_w <= client_w + 2, (scroll_w, client_w)  # no name cut off at the right edge
    assert box["width"] < 1400
    wide.screenshot(path=str(artifacts / "reading-code.png"))
