"""AppTest: every page runs without an exception; the Build page reacts to its widgets."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
TIMEOUT = 120


def app() -> AppTest:
    """A fresh AppTest of app.py (the default page runs first)."""
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "runs.sqlite"))
    at = app()
    assert not at.exception
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_home_jumps_to_a_preset():
    at = app()
    at.button(key="home:preset:resnet110").click().run()
    assert not at.exception
    assert at.session_state["spec"].label == "resnet110"
    at.switch_page("pages/build.py").run()
    assert at.metric[0].value == "1,742,762"


def test_build_page_follows_builder_preset_and_fields():
    at = app().switch_page("pages/build.py").run()
    assert at.metric[0].value == "80,266"
    at.sidebar.selectbox[0].set_value("resnet").run()
    assert at.sidebar.selectbox[1].value == "resnet20"
    assert at.metric[0].value == "274,442"
    at.sidebar.number_input(key="cfg:resnet:resnet20:depth").set_value(21).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["depth 21 is not 6n+2 (ResNet v1); nearest valid depths are 20 and 26."]
    at.sidebar.number_input(key="cfg:resnet:resnet20:depth").set_value(56).run()
    assert not at.error and at.metric[0].value == "861,770"


def test_build_caption_says_what_changed_once():
    at = app().switch_page("pages/build.py").run()
    at.sidebar.selectbox[0].set_value("resnet").run()
    at.sidebar.number_input(key="cfg:resnet:resnet20:depth").set_value(38).run()
    caption = at.caption[0].value
    assert at.title[0].value == "resnet20 · depth=38"
    assert caption.count("depth=38") == 1 and "resnet20" in caption, caption  # said once, with where it came from
    at.sidebar.number_input(key="cfg:resnet:resnet20:depth").set_value(32).run()  # preset resnet32's config
    assert at.title[0].value == "resnet32"
    assert "resnet20 with `depth=32`" in at.caption[0].value  # resnet32's description, and where it came from


def test_build_tables_open_on_demand_and_add_up():
    at = app().switch_page("pages/build.py").run()
    assert not at.dataframe  # closed: not sent with the page
    at.session_state["build:tables"] = True  # the expander opened (its state, as a click sets it)
    at.run()
    blocks, layers = (d.value for d in at.dataframe)
    total = int(at.metric[0].value.replace(",", ""))
    assert blocks["params"].sum() == total and layers["params"].sum() == total
    assert list(layers.columns[:2]) == ["layer", "type"] and "RF" in layers.columns


def test_build_page_bad_shape_text_is_an_error_not_a_traceback():
    at = app().switch_page("pages/build.py").run()
    at.sidebar.text_input(key="cfg:cnn:mnist-cnn:input_shape").set_value("28,x,1").run()
    assert not at.exception
    assert any("input_shape" in e.value for e in at.error)


def test_passcode_guards_uploads(monkeypatch):
    monkeypatch.setenv("EXPLORER_PASSCODE", "owl")
    at = app().switch_page("pages/inspect.py").run()
    assert not at.exception
    assert not at.get("file_uploader")
    at.text_input[0].set_value("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["That passcode is not right."]
    at.text_input[0].set_value("owl")
    at.button[0].click().run()
    assert not at.exception and at.get("file_uploader")


def test_passcode_guards_training_launches(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_PASSCODE", "owl")
    monkeypatch.setenv("EXPLORER_STORE", str(tmp_path / "runs.sqlite"))
    monkeypatch.setenv("EXPLORER_WARM_WORKERS", "0")
    at = app().switch_page("pages/train.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Launch"]
    at.text_input[0].set_value("owl")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert not at.exception
    assert [b for b in at.button if b.label == "Launch"]
