"""Property-based: any config a user can type either works end to end or raises ConfigError.

Each draw goes config -> build -> graph -> budget -> DOT. Values are drawn mostly inside each
field's range (kept small so builds stay fast) and sometimes outside it or of the wrong type.
Any exception other than ConfigError is a bug.
"""

from __future__ import annotations

import pydot
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.builders import REGISTRY, resolve
from explorer.config import FieldInfo, fields_of
from explorer.errors import ConfigError
from explorer.render import to_dot

# Keep builds small: the largest value drawn inside the range for these fields.
SMALL = {"depth": 60, "filters": 48, "growth_rate": 16, "num_classes": 50, "dense_units": 64,
         "bottleneck_width": 24, "stem_filters": 32, "conv_layers": 5}
SHAPE_MAX = 80
WRONG = st.one_of(st.text(max_size=300), st.none(), st.floats(allow_nan=True), st.lists(st.integers(), max_size=4))


def field_values(info: FieldInfo) -> st.SearchStrategy:
    """Values for one field: mostly valid-looking, sometimes out of range or of the wrong type."""
    spec = info.spec
    lo = spec.min if spec.min is not None else -10
    hi = min(spec.max if spec.max is not None else 1000, SMALL.get(info.name, 10**9))
    if info.kind == "int":
        good = st.integers(int(lo), int(hi))
        bad = st.integers(-5, 10**6)
    elif info.kind == "float":
        good = st.floats(lo, min(hi, 1.0), allow_nan=False)
        bad = st.floats(allow_nan=True, allow_infinity=True)
    elif info.kind == "bool":
        good = st.booleans()
        bad = st.integers(0, 2)
    elif info.kind == "str":
        good = st.sampled_from(spec.choices) if spec.choices else st.text(max_size=20)
        bad = st.text(max_size=300)
    else:  # int tuple (shapes, filter lists)
        n = (spec.length or (3,))
        good = st.integers(min(n), max(n)).flatmap(
            lambda k: st.tuples(*[st.integers(int(lo), min(int(hi), SHAPE_MAX)) for _ in range(k)])
        )
        bad = st.lists(st.integers(-3, 5000), max_size=5).map(tuple)
    return st.one_of(good, good, good, bad, WRONG)


def overrides_for(builder: str) -> st.SearchStrategy:
    infos = [f for f in fields_of(REGISTRY[builder].config_cls)
             if not (builder == "keras_app" and f.name == "weights")]  # imagenet downloads
    return st.fixed_dictionaries({}, optional={f.name: field_values(f) for f in infos})


@pytest.mark.parametrize("builder", list(REGISTRY))
def test_any_config_works_end_to_end_or_is_a_config_error(builder):
    @settings(max_examples=10 if builder == "keras_app" else 25, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(overrides=overrides_for(builder))
    def check(overrides):
        try:
            spec = resolve(builder, overrides=overrides)
        except ConfigError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg and "Traceback" not in msg
            return
        g = analyse(spec).graph
        b = budget(g)
        assert b.total.params == g.total_params
        for view in ("blocks", "layers"):
            dot = to_dot(g, view)
            assert pydot.graph_from_dot_data(dot)

    check()


FIELD_NAMES = sorted({f.name for b in REGISTRY.values() for f in fields_of(b.config_cls)})
TEXT = st.one_of(
    st.integers(-10, 2000).map(str), st.text(max_size=40), st.text(min_size=200, max_size=400),
    st.lists(st.integers(-2, 300), max_size=4).map(lambda xs: ",".join(map(str, xs))),
    st.sampled_from(["true", "false", "nan", "inf", "-1", "1e9", "", "=", "same", "paper"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # read per draw
@given(target=st.sampled_from([*REGISTRY, "resnet20", "mnist-cnn", "no-such-thing"]),
       sets=st.lists(st.tuples(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12)), TEXT), max_size=3))
def test_cli_summary_exits_0_or_2_with_one_line(target, sets, capsys):
    from explorer.cli import main

    if target == "keras_app":
        sets = [(k, v) for k, v in sets if k not in ("input_shape", "weights")]  # keep builds small, offline
    args = ["summary", target, "--json"]
    for k, v in sets:
        args += ["--set", f"{k}={v}"]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    else:
        assert '"total_params"' in out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape_text=TEXT, params=st.dictionaries(st.sampled_from(["builder", "preset", "depth", "view", "growth_rate",
                                                                "input_shape", "reveal", "x" * 70]),
                                               TEXT, max_size=4))
def test_the_app_shows_errors_not_exceptions_for_any_form_text_or_link(shape_text, params):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    at.switch_page("pages/build.py").run()
    assert not at.exception, [e.value for e in at.exception]
    box = [t for t in at.sidebar.text_input if t.key and t.key.endswith(":input_shape")]
    if box:
        box[0].set_value(shape_text[:200]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.error or at.metric  # either a message or the analysed model
