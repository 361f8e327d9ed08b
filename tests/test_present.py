"""Presentation mode: the build-up reveals a model block by block; the page works without a keyboard."""

from __future__ import annotations

from pathlib import Path

import pydot
import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.builders import resolve
from explorer.present import enlarge_fonts, reveal, stages
from explorer.render import ViewOptions, to_dot

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


def test_present_page_steps_with_buttons():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["builder"] = "resnet"
    at.query_params["preset"] = "resnet110"
    at.query_params["reveal"] = "2"
    at.run().switch_page("pages/present.py").run()
    assert not at.exception
    assert at.metric[0].value == "stem"
    next_button = next(b for b in at.button if b.label == "Next ▶")
    next_button.click().run()
    assert not at.exception and at.metric[0].value == "stage1"
    back = next(b for b in at.button if b.label == "◀ Back")
    back.click().run()
    back = next(b for b in at.button if b.label == "◀ Back")
    back.click().run()
    assert at.metric[0].value == "input" and at.metric[1].value == "0"
