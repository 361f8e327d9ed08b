"""Spec is the identity of an architecture: label rules, value text round trips, links, CLI, Code page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorer  # noqa: F401  (analysis backend before Keras loads)
from explorer.builders import PRESETS, REGISTRY, presets_of, resolve
from explorer.config import FieldInfo, fields_of, parse_assignments, parse_value
from explorer.errors import ConfigError
from explorer.spec import Spec, format_value, slugify
from explorer.training.request import Hyperparams, RunRequest

ROOT = Path(__file__).resolve().parents[1]
FIELDS = [(b, f) for b in REGISTRY for f in fields_of(REGISTRY[b].config_cls)]


# -- label rules -----------------------------------------------------------------------------------
def test_a_config_equal_to_a_preset_is_labelled_with_that_preset():
    spec = resolve("resnet56", overrides={"depth": 32})
    assert spec.label == "resnet32"
    assert spec.overrides == {"depth": 32}  # still recorded as a change of resnet56
    assert "ResNet-32" in spec.description


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_reached_from_its_builder_defaults_is_named(name):
    p = PRESETS[name]
    spec = Spec(p.builder, None, p.overrides)
    same = [q.name for q in presets_of(p.builder) if Spec(p.builder, q.name).config == spec.config]
    assert spec.label == same[0]  # the first of equal presets wins
    assert name in same


def test_changed_fields_follow_the_preset_name():
    spec = resolve("resnet56", overrides={"depth": 38})
    assert spec.label == "resnet56 · depth=38"
    assert "ResNet-56" not in spec.description and "depth=38" in spec.description
    spec = resolve("densenet-bc-100-12", overrides={"growth_rate": 24, "compression": 0.25})
    assert spec.label == "densenet-bc-100-12 · growth_rate=24 · compression=0.25"  # field order


def test_builder_only_label_names_the_builder_and_its_changes():
    spec = resolve("cnn", overrides={"filters": 40})
    assert spec.preset is None
    assert spec.label == "cnn · filters=40"
    assert spec.label.startswith("cnn") and spec.changes == ["filters=40"]


def test_overrides_are_the_minimal_diff():
    spec = resolve("resnet56", overrides={"depth": 56, "filters": 16})  # both equal the preset's values
    assert spec.overrides == {} and spec.label == "resnet56"
    assert spec == resolve("resnet56") and hash(spec) == hash(resolve("resnet56"))


def test_a_model_files_label_is_its_file_name(tmp_path):
    from explorer.analysis import analyse_file
    from explorer.model_io import untrained_model_bytes

    path = tmp_path / "my_net.keras"
    path.write_bytes(untrained_model_bytes(resolve("mnist-cnn")))
    assert analyse_file(str(path)).label == "my_net.keras"


def test_bad_specs_are_config_errors():
    with pytest.raises(ConfigError, match="belongs to builder"):
        Spec("resnet", "densenet-40-12")
    with pytest.raises(ConfigError, match="depth"):
        Spec("resnet", "resnet56", {"depth": 21})
    with pytest.raises(ConfigError, match="unknown field"):
        Spec("resnet", None, {"colour": 1})


@pytest.mark.parametrize("label", ["resnet56 · depth=38", "cnn · input_shape=32,32,3", "a/b\\c:d*e", "x" * 300])
def test_slugs_are_safe_file_names(label):
    s = slugify(label)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", s) and len(s) <= 80
    assert not s.startswith(".")


def test_slugs_of_distinct_long_labels_differ():
    assert slugify("x" * 300 + "a") != slugify("x" * 300 + "b")


# -- value text round trips ------------------------------------------------------------------------
def _values(info: FieldInfo) -> st.SearchStrategy:
    spec = info.spec
    lo = spec.min if spec.min is not None else -(10**6)
    hi = spec.max if spec.max is not None else 10**6
    if info.kind == "bool":
        return st.booleans()
    if info.kind == "int":
        return st.integers(int(lo), int(hi))
    if info.kind == "float":
        return st.floats(float(lo), float(hi), allow_nan=False, allow_infinity=False)
    if info.kind == "str":
        return st.sampled_from(spec.choices) if spec.choices else st.text(
            st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=20)
    lengths = spec.length or (1, 2, 3)
    return st.sampled_from(lengths).flatmap(lambda n: st.tuples(*[st.integers(int(lo), int(min(hi, 10**6)))] * n))


@pytest.mark.parametrize("builder,info", FIELDS, ids=[f"{b}.{f.name}" for b, f in FIELDS])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_format_value_is_the_inverse_of_parse_value(builder, info, data):
    value = data.draw(_values(info))
    text = format_value(info, value)
    assert parse_value(info, text) == value
    assert format_value(info, parse_value(info, text)) == text


@pytest.mark.parametrize("name", list(PRESETS))
def test_query_and_args_round_trip_for_every_preset(name):
    builder = PRESETS[name].builder
    tweak = {"cnn": {"filters": 48}, "ynet": {"dropout": 0.25}, "resnet": {"l2": 3e-4},
             "densenet": {"dropout": 0.2}, "keras_app": {"num_classes": 7}}[builder]
    spec = resolve(name, overrides=tweak)
    assert Spec.from_query(spec.to_query()) == spec
    cls = REGISTRY[spec.builder].config_cls
    assert Spec(spec.builder, spec.preset, parse_assignments(cls, spec.to_args())) == spec
    assert all(isinstance(v, str) for v in spec.to_query().values())


# -- everything that names an architecture uses the label --------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_summary_json_has_the_label():
    same = _cli("summary", "resnet56", "--set", "depth=32", "--json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["label"] == "resnet32"
    changed = json.loads(_cli("summary", "resnet56", "--set", "depth=38", "--json").stdout)
    assert changed["label"] == "resnet56 · depth=38"
    assert changed["preset"] == "resnet56" and changed["overrides"] == {"depth": 38}


def test_cli_code_of_a_changed_preset_never_claims_the_preset():
    out = _cli("code", "resnet56", "--set", "depth=38")
    assert out.returncode == 0, out.stderr
    assert "ResNet-56" not in out.stdout
    assert out.stdout.startswith('"""resnet56 · depth=38:')


def test_code_page_title_docstring_and_file_name_follow_a_change():
    from streamlit.testing.v1 import AppTest

    from explorer.ui.session import SPEC

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.session_state[SPEC] = resolve("resnet56", overrides={"depth": 38})
    at.switch_page("pages/code.py").run()
    assert not at.exception
    assert at.title[0].value == "Code: resnet56 · depth=38"
    source = at.code[0].value
    assert "ResNet-56" not in source and "depth = 38" in source
    # The downloads are named by the slug (AppTest does not expose a download's file name).
    assert at.session_state[SPEC].slug == "resnet56_depth-38"
    assert 'f"{spec.slug}_model"' in (ROOT / "pages" / "code.py").read_text()


def test_run_labels_name_the_changes_and_differ():
    base = RunRequest("mnist-cnn", dataset="mnist-5k")
    assert base.label == "mnist-cnn · mnist-5k"
    tweaks = [
        RunRequest("mnist-cnn", overrides={"filters": 48}, dataset="mnist-5k"),
        RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(learning_rate=3e-3)),
        RunRequest("mnist-cnn", dataset="mnist-5k", hp=Hyperparams(epochs=10)),
        RunRequest("resnet56", overrides={"depth": 32}, dataset="mnist-5k"),
    ]
    labels = [r.label for r in tweaks]
    assert labels == ["mnist-cnn · filters=48 · mnist-5k", "mnist-cnn · lr 3e-3 · mnist-5k",
                      "mnist-cnn · 10 ep · mnist-5k", "resnet32 · mnist-5k (padded 28x28→32x32)"]
    assert len({base.label, *labels}) == 5


def test_keras_internals_live_in_two_modules():
    hits = {p.relative_to(ROOT).as_posix() for p in (ROOT / "explorer").rglob("*.py") if "keras.src" in p.read_text()}
    assert hits <= {"explorer/keras_compat.py", "explorer/graph.py"}, hits


def test_pages_touch_session_state_only_through_the_session():
    for page in (ROOT / "pages").glob("*.py"):
        text = page.read_text()
        widgets = re.sub(r"st\.container\(key=\"[^\"]+\"", "", text)  # containers' keys are CSS hooks
        assert not re.search(r"key=\"[^\"]+\"|key=f\"", widgets), f"{page.name} has a literal widget key"
        assert "explorer.ui.state" not in text
