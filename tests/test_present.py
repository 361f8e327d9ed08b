"""Presentation mode: the build-up reveals a model block by block; the page works without a keyboard."""

from __future__ import annotations

from pathlib import Path

import pydot
import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.builders import resolve
from explorer.present import convert_step, enlarge_fonts, frame_ids, note, reveal, stages, step_info, units
from explorer.render import ViewOptions, display_ids, to_dot
from explorer.ui.session import REVEAL_BY, Session

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["resnet20", "ynet", "densenet-40-12", "resnet50"])
@pytest.mark.parametrize("by", ["block", "stage"])
def test_reveal_grows_monotonically_to_the_whole_model(name, by):
    g = analyse(resolve(name)).graph
    units = g.blocks() if by == "block" else stages(g)
    previous = -1
    for n in range(1, len(units) + 1):
        part = reveal(g, n, by)
        assert part.total_params == sum(x.params for x in part.nodes)
        assert part.total_params >= previous
        previous = part.total_params
        ids = {x.id for x in part.nodes}
        assert all(e.src in ids and e.dst in ids for e in part.edges)
        assert budget(part).total.params == part.total_params
        assert pydot.graph_from_dot_data(to_dot(part, ViewOptions("blocks", depth=1 if by == "stage" else None)))
    whole = reveal(g, len(units), by)
    assert whole.nodes == g.nodes and whole.edges == g.edges and whole.total_params == g.total_params
    assert reveal(g, 0, by).nodes == reveal(g, 1, by).nodes  # clamped


def test_stages_of_a_resnet():
    assert stages(analyse(resolve("resnet110")).graph) == ["input", "stem", "stage1", "stage2", "stage3", "head"]


def test_enlarge_fonts_scales_every_size():
    dot = to_dot(analyse(resolve("mnist-cnn")).graph, "layers")
    big = enlarge_fonts(dot, 2.0)
    assert 'fontsize="22"' in big and 'fontsize="11"' not in big
    assert pydot.graph_from_dot_data(big)


def _present(reveal: int, via: str | None = None) -> AppTest:
    """The app opened on a resnet110 link at step ``reveal``, then on Present (through page ``via``)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(builder="resnet", preset="resnet110", reveal=str(reveal))
    at.run()
    if via:
        at.switch_page(f"pages/{via}.py").run()
    at.switch_page("pages/present.py").run()
    assert not at.exception
    return at


def _click(at: AppTest, label: str, times: int = 1) -> None:
    for _ in range(times):
        next(b for b in at.button if b.label == label).click().run()


def test_present_page_steps_with_buttons():
    at = _present(2)
    assert at.markdown[0].value.startswith("Stage 2 of 6 · stem")
    _click(at, "Next ▶")
    assert not at.exception and at.markdown[0].value.startswith("Stage 3 of 6 · stage1 · 18 blocks")
    _click(at, "◀ Back", 2)
    assert at.markdown[0].value.startswith("Stage 1 of 6 · input") and at.metric[0].value == "0"


def test_present_from_build_starts_at_step_one_and_mode_switch_keeps_the_place():
    at = _present(5, via="build")
    assert at.markdown[0].value.startswith("Stage 1 of 6")  # opened from Build: the first step
    _click(at, "Next ▶", 3)
    assert at.markdown[0].value.startswith("Stage 4 of 6 · stage2")
    at.segmented_control(key="present:by").set_value("block").run()
    assert at.markdown[0].value.startswith("Block 21 of 57 · stage2/block1")  # the stage's first block
    _click(at, "Next ▶")
    at.segmented_control(key="present:by").set_value("stage").run()
    assert at.markdown[0].value.startswith("Stage 4 of 6 · stage2")


@pytest.mark.parametrize("name", ["resnet110", "densenet-bc-100-12", "ynet", "mnist-cnn"])
@pytest.mark.parametrize("by", ["stage", "block"])
def test_every_step_has_an_overview_a_note_and_a_frame(name, by):
    g = analyse(resolve(name)).graph
    total_macs = budget(g).total.macs
    steps = units(g, by)
    params = macs = 0
    for n in range(1, len(steps) + 1):
        info = step_info(g, n, by, total_macs)
        assert info.overview().startswith(f"{by.title()} {n} of {len(steps)} · {steps[n - 1]} ·")
        params += info.params
        macs += info.macs
        text = note(g, n, by, total_macs)
        assert steps[n - 1].split("/")[-1] in text or "input" in text
        part = reveal(g, n, by)
        opts = ViewOptions("blocks", "LR", depth=1 if by == "stage" else None, legend=False)
        new, context = frame_ids(display_ids(part, opts), g, n, by)
        drawn = set(display_ids(part, opts).values())
        assert new and set(new) <= drawn and set(context) <= drawn and not set(new) & set(context)
        assert (n == 1) == (not context)
    assert params == g.total_params and macs == total_macs  # the steps partition the model


def test_the_note_says_what_a_resnet_stage_does():
    g = analyse(resolve("resnet110")).graph
    text = note(g, 4, "stage")
    assert "stage2" in text and "stride-2" in text and "1×1 projection" in text and "32x32x16 → 16x16x32" in text
    assert "% of the parameters" in text and "% of the MACs" in text


def test_convert_step_round_trips_to_the_same_stage():
    g = analyse(resolve("resnet56")).graph
    for n, stage in enumerate(stages(g), 1):
        b = convert_step(g, n, "stage", "block")
        assert g.blocks()[b - 1].split("/")[0] == stage
        assert convert_step(g, b, "block", "stage") == n


def test_the_session_owns_presents_keys_and_the_slider_follows_the_step():
    state: dict = {}
    ses = Session(state)
    assert ses.reveal_by_widget() == "present:by" and state["present:by"] == "stage"  # links count stages
    ses.set_reveal(4, "block")
    assert (ses.reveal, ses.reveal_by, ses.reveal_slider) == (4, "block", 4)
    assert state[ses.reveal_step_widget] == 4
    ses.reveal_by_widget()
    assert state["present:by"] == "stage"  # the control keeps what it was set to
    fresh: dict = {REVEAL_BY: "block"}
    Session(fresh).reveal_by_widget()
    assert fresh["present:by"] == "block"
    assert ses.reveal_viewer("stage") != ses.reveal_viewer("block")
    assert ses.presenter_key("stage") == ""
    state[ses.reveal_viewer("stage")] = {"key": "next:17"}
    assert ses.presenter_key("stage") == "next" and ses.presenter_key("block") == ""
