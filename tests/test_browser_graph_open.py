"""The Build graph in a real browser: it opens graph first and does not move when the rest of the
page comes; a tall drawing's far part joins it after the first view; a view switch shows the
drawing kept from before (same SVG, no new parse), at the same size.

Debian's Chromium (Playwright). The graph-first test runs on a server of its own: the first pass
is skipped while other sessions' pages are running (:func:`explorer.ui.nav.others_running`), and
the shared server of the other browser tests may still be finishing one.
"""

from __future__ import annotations

import threading

import pytest

from explorer.analysis import analyse
from explorer.builders import resolve
from explorer.render import ViewOptions, svg
from explorer.ui import nav
from explorer.ui.graph_viewer import page_dot
from tests.conftest import no_exception, streamlit_server, wait_app_idle

# The viewer lives in a shadow root. On every animation frame from navigation start, note (when it
# changed): the viewer's top and height, its drawing's size, whether the sidebar's config form and
# the numbers are there, and how many drawings were framed.
RECORD = """
window.__rec = [];
(function tick() {
  const root = [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)
    .map(r => r.querySelector('.gv-root')).filter(Boolean)[0];
  const canvas = root && root.querySelector('.gv-canvas');
  const box = root && root.getBoundingClientRect();
  const row = {
    top: box ? Math.round(box.top) : null, height: box ? Math.round(box.height) : null,
    canvas: canvas ? canvas.offsetWidth + 'x' + canvas.offsetHeight : null,
    form: !!document.querySelector("[data-testid='stSidebarUserContent'] [data-testid='stNumberInput']"),
    numbers: !!document.querySelector("[data-testid='stMetric']"),
    frames: performance.getEntriesByName('gv-frame').length,
  };
  const last = window.__rec.at(-1);
  if (!last || JSON.stringify(last.row) !== JSON.stringify(row)) window.__rec.push({t: performance.now(), row});
  requestAnimationFrame(tick);
})();
"""
VIEWER = """() => [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)
  .map(r => r.querySelector('.gv-root')).filter(Boolean)[0]"""


def viewer_state(page) -> dict:
    """The drawing on screen and the parked ones, as the viewer holds them."""
    return page.evaluate(f"""() => {{
      const root = ({VIEWER})();
      const canvas = root.querySelector('.gv-canvas');
      return {{
        sig: canvas ? canvas.dataset.sig : null, frame: canvas ? canvas.dataset.frame || '' : '',
        on_screen: root.querySelectorAll('.gv-canvas').length, parked: root.querySelectorAll('.gv-parked').length,
        kept: !!(canvas && canvas.querySelector('svg') && canvas.querySelector('svg').__kept),
        bar: root.querySelector('.gv-bar').offsetHeight,
        canvas: canvas ? [canvas.offsetWidth, canvas.offsetHeight] : null,
        nodes: canvas ? canvas.querySelectorAll('g.node').length : 0,
      }};
    }}""")


def wait_drawn(page, old_sig: str | None) -> dict:
    """Wait until the viewer frames a drawing other than ``old_sig``; return its state."""
    page.wait_for_function(f"""(old) => {{
      const root = ({VIEWER})();
      const c = root && root.querySelector('.gv-canvas');
      return c && c.dataset.sig !== old && c.dataset.frame !== undefined && c.querySelector('svg');
    }}""", arg=old_sig, timeout=90_000, polling=50)
    wait_app_idle(page)
    return viewer_state(page)


@pytest.fixture(scope="module")
def own_server():
    with streamlit_server() as url:
        yield url


def layer_view_nodes(preset: str) -> int:
    """Nodes in the server's drawing of ``preset``'s layer view (what the page must end up holding)."""
    g = analyse(resolve(preset)).graph
    return svg(page_dot(g, ViewOptions("layers", "TB", ()))).count('class="node"')


@pytest.mark.browser
def test_build_opens_graph_first_and_nothing_moves_when_the_page_completes(own_server, open_page, artifacts):
    page = open_page(1400, 900)
    page.add_init_script(RECORD)
    total = f"{analyse(resolve('resnet110')).graph.total_params:,}"
    page.goto(f"{own_server}/build?builder=resnet&preset=resnet110&view=layers")
    page.get_by_label("depth", exact=True).wait_for(timeout=120_000)  # the whole page came, with no click
    page.get_by_text(total).first.wait_for(timeout=60_000)
    wait_app_idle(page)
    page.wait_for_timeout(300)
    no_exception(page)
    rec = [r["row"] for r in page.evaluate("window.__rec")]
    framed = [r for r in rec if r["frames"]]
    assert framed, rec
    first = framed[0]
    assert not first["form"] and not first["numbers"], "the drawing should reach the screen before the form"
    assert all(r["frames"] == 1 for r in framed), "the whole page must not draw the graph again"
    # The drawing stays where it was framed, at its size, while the form, numbers and controls come.
    assert {(r["top"], r["height"], r["canvas"]) for r in framed} == {(first["top"], first["height"], first["canvas"])}
    assert framed[-1]["form"] and framed[-1]["numbers"]
    # The far part of the tall layer view joined the drawing after the first view.
    state = viewer_state(page)
    assert state["nodes"] == layer_view_nodes("resnet110")
    page.screenshot(path=str(artifacts / "build-graph-first-resnet110-layers.png"))
    # The joined nodes take part: a search hit far down is centred in view.
    page.get_by_label("Find layers").fill("stage3_block18_add")
    page.get_by_label("Find layers").press("Enter")
    page.wait_for_selector(".gv-canvas g.node.gv-hit", timeout=60_000)
    wait_app_idle(page)
    page.wait_for_timeout(100)
    hit = page.evaluate(f"""() => {{
      const root = ({VIEWER})();
      const v = root.querySelector('.gv-canvas').getBoundingClientRect();
      const b = root.querySelector('.gv-canvas g.node.gv-hit').getBoundingClientRect();
      return b.top >= v.top && b.bottom <= v.bottom && b.left >= v.left && b.right <= v.right;
    }}""")
    assert hit
    no_exception(page)


@pytest.mark.browser
def test_a_view_switch_shows_the_kept_drawing_again_at_the_same_size(page, app_url):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_url}/build?builder=resnet&preset=resnet56&view=blocks")
    blocks = wait_drawn(page, None)
    page.evaluate(f"() => {{ ({VIEWER})().querySelector('.gv-canvas svg').__kept = 'blocks'; }}")
    page.get_by_role("radio", name="Layers", exact=True).first.click()
    layers = wait_drawn(page, blocks["sig"])
    assert not layers["kept"] and layers["parked"] == 1 and layers["on_screen"] == 1
    # One toolbar height in every view: the drawing's box does not change with the view.
    assert (layers["bar"], layers["canvas"]) == (blocks["bar"], blocks["canvas"])
    page.evaluate(f"() => {{ ({VIEWER})().querySelector('.gv-canvas svg').__kept = 'layers'; }}")
    page.get_by_role("radio", name="Blocks", exact=True).first.click()
    back = wait_drawn(page, layers["sig"])
    assert back["sig"] == blocks["sig"] and back["kept"], "the blocks drawing should come back, not be parsed again"
    assert back["parked"] == 1 and back["on_screen"] == 1 and back["canvas"] == blocks["canvas"]
    assert back["frame"] is not None
    page.get_by_role("radio", name="Layers", exact=True).first.click()
    again = wait_drawn(page, blocks["sig"])
    assert again["sig"] == layers["sig"] and again["kept"]
    no_exception(page)


NODE_IN_VIEW = f"""(title) => {{
  const root = ({VIEWER})();
  const canvas = root.querySelector('.gv-canvas');
  const g = [...canvas.querySelectorAll('g.node')].find(n => n.querySelector(':scope > title').textContent === title);
  if (!g) return null;
  const v = canvas.getBoundingClientRect(), b = g.getBoundingClientRect();
  return b.top >= v.top && b.bottom <= v.bottom && b.left >= v.left && b.right <= v.right;
}}"""


def click_node(page, title: str) -> None:
    """Click the node ``title`` (its DOT id) in the drawing on screen."""
    page.evaluate(f"""(title) => {{
      const canvas = ({VIEWER})().querySelector('.gv-canvas');
      [...canvas.querySelectorAll('g.node')].find(n => n.querySelector(':scope > title').textContent === title)
        .dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
    }}""", title)


@pytest.mark.browser
def test_a_clicked_block_opens_in_view_even_before_the_ones_opened_earlier(page, app_url):
    """DenseNet121's stages: open conv5, then conv2 (earlier in the graph): each new drawing shows
    the block just opened (it centred on the last open block in graph order: conv5, far below)."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{app_url}/build?builder=keras_app&preset=densenet121&view=blocks")
    state = wait_drawn(page, None)
    click_node(page, "block:conv5")
    state = wait_drawn(page, state["sig"])
    assert page.evaluate(NODE_IN_VIEW, "block:conv5/block1") is True
    click_node(page, "block:conv2")
    state = wait_drawn(page, state["sig"])
    assert page.evaluate(NODE_IN_VIEW, "block:conv2/block1") is True
    assert page.evaluate(NODE_IN_VIEW, "block:conv5/block1") is False  # a tall drawing: not both at once
    no_exception(page)


def test_others_running_counts_other_sessions_page_runs():
    """The graph-first pass is skipped while another session's page is running."""
    assert nav.others_running() == 0
    inside, release, seen = threading.Event(), threading.Event(), []

    def other_session() -> None:
        with nav.inside_app():
            with nav.inside_app():  # app.py run again in place (through_app) counts once
                inside.set()
                release.wait(10)

    t = threading.Thread(target=other_session)
    t.start()
    assert inside.wait(10)
    seen.append(nav.others_running())  # not in a page run: every run counts
    with nav.inside_app():
        seen.append(nav.others_running())  # in a page run: the others only
    release.set()
    t.join(10)
    with nav.inside_app():
        seen.append(nav.others_running())
    assert seen == [1, 1, 0]
    assert nav.others_running() == 0

