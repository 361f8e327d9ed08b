"""Shareable links: encode/decode round trips, garbage falls back with messages, the app restores them."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.builders import PRESETS, resolve
from explorer.links import decode, encode

ROOT = Path(__file__).resolve().parent.parent

TWEAKS = {"cnn": {"filters": 32, "input_shape": (32, 32, 3)}, "ynet": {"filters": (16, 32)},
          "resnet": {"depth": 56, "l2": 0.0005}, "densenet": {"growth_rate": 24, "bottleneck": False, "compression": 1.0},
          "keras_app": {"num_classes": 10, "input_shape": (64, 64, 3)}}


@pytest.mark.parametrize("name", list(PRESETS))
def test_round_trip_for_every_preset(name):
    builder = PRESETS[name].builder
    spec = resolve(name, overrides=TWEAKS[builder])
    params = encode(spec, {"view": "layers"})
    assert all(isinstance(v, str) for v in params.values())
    link = decode(params)
    assert link.messages == []
    assert resolve(link.builder, link.preset, link.overrides) == spec
    assert link.view == {"view": "layers"}


@pytest.mark.parametrize(
    "params,words",
    [
        ({"builder": "nope"}, "builder 'nope' is unknown"),
        ({"preset": "resnet21"}, "preset 'resnet21' is unknown"),
        ({"builder": "resnet", "depth": "21"}, "depth 21 is not 6n+2"),
        ({"builder": "resnet", "depth": "deep"}, "depth must be a whole number"),
        ({"builder": "resnet", "colour": "red"}, "'colour' is not a field of resnet"),
        ({"builder": "cnn", "filters": "9" * 500}, "too long"),
        ({"builder": "resnet", "preset": "densenet-40-12"}, "does not belong"),
        ({"depth": "20"}, "names no builder"),
    ],
)
def test_garbage_becomes_messages_not_errors(params, words):
    link = decode(params)
    assert any(words in m for m in link.messages), link.messages
    if link.builder:
        resolve(link.builder, link.preset, link.overrides)  # what is kept is valid


def app_with(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_a_link_restores_the_architecture_and_view():
    at = app_with({"builder": "densenet", "preset": "densenet-40-12", "growth_rate": "24", "view": "layers", "dir": "LR"})
    assert not at.exception and not at.warning
    at.switch_page("pages/build.py").run()
    assert not at.exception
    spec = at.session_state["spec"]
    assert spec == resolve("densenet-40-12", overrides={"growth_rate": 24})
    assert at.number_input(key="cfg:densenet:densenet-40-12:growth_rate").value == 24
    assert at.session_state["graph:view:densenet:densenet-40-12"] == "layers"
    assert at.session_state["graph:rankdir:densenet:densenet-40-12"] == "LR"


def test_a_bad_link_warns_and_falls_back():
    at = app_with({"builder": "resnet", "preset": "resnet20", "depth": "21", "view": "zzz", "x": "1"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "depth 21 is not 6n+2" in warnings and "view 'zzz'" in warnings and "'x' is not a field" in warnings
    at.switch_page("pages/build.py").run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "274,442"


@pytest.mark.parametrize("page,title", [("code.py", "Code: resnet56"), ("budget.py", "Budget: resnet56")])
def test_a_link_to_another_page_uses_the_linked_architecture(page, title):
    at = app_with({"builder": "resnet", "preset": "resnet20", "depth": "56"})
    at.switch_page(f"pages/{page}").run()
    assert not at.exception
    assert at.title[0].value == title
    assert at.session_state["spec"].config.depth == 56
