"""What-if comparison: deltas add up, blocks match by path, tweaks, the compare CLI and page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import explorer  # noqa: F401  (numpy backend before Keras loads)
from explorer.analysis import analyse
from explorer.budget import budget
from explorer.builders import resolve
from explorer.cli import main
from explorer.compare import (
    METRICS,
    apply_tweaks,
    compare_budgets,
    compare_specs,
    compare_targets,
    comparison_dict,
    suggest_tweak,
)
from explorer.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

PAIRS = [
    ("resnet20", "resnet56", {}, {}),
    ("resnet20", "resnet20", {}, {"version": 2, "depth": 20 + 9}),  # v1 vs v2 (9n+2)
    ("densenet-bc-100-12", "densenet-bc-100-12", {}, {"growth_rate": 24}),
    ("mnist-cnn", "ynet", {}, {}),  # different builders, partly different block paths
    ("resnet50", "densenet121", {}, {}),
]


def _ids(p):
    return f"{p[0]}{p[2] or ''}-vs-{p[1]}{p[3] or ''}"


@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
@pytest.mark.parametrize("depth", [None, 1])
def test_block_deltas_add_up_to_total_delta(pair, depth):
    a, b, ov_a, ov_b = pair
    c, ana_a, ana_b = compare_targets(a, b, ov_a, ov_b, depth=depth)
    t = c.totals
    for m in METRICS:
        assert sum(r.delta[m] for r in c.blocks) == t["delta"][m] == t["b"][m] - t["a"][m], m
        assert sum(r.a[m] for r in c.blocks) == t["a"][m]
        assert sum(r.b[m] for r in c.blocks) == t["b"][m]
    assert t["a"]["params"] == ana_a.graph.total_params and t["b"]["params"] == ana_b.graph.total_params
    assert len({r.path for r in c.blocks}) == len(c.blocks)  # each path once
    for r in c.blocks:
        if r.side == "a":
            assert r.b == dict.fromkeys(METRICS, 0)
        if r.side == "b":
            assert r.a == dict.fromkeys(METRICS, 0)


def test_resnet20_vs_resnet56_matches_blocks_by_path():
    c, _, _ = compare_targets("resnet20", "resnet56")
    sides = {r.path: r.side for r in c.blocks}
    assert sides["stage1/block3"] == "both" and sides["stage1/block4"] == "b" and sides["head"] == "both"
    # 6 extra basic blocks per stage, each identical to block2/3 of its stage: 18 blocks only in B
    assert sum(s == "b" for s in sides.values()) == 18 and "a" not in sides.values()
    order = [r.path for r in c.blocks]
    assert order.index("stage1/block9") < order.index("stage2/block1")  # B-only blocks sit in B's order
    for r in c.blocks:
        if r.side == "both":
            assert r.delta["params"] == 0 and r.delta["macs"] == 0  # same stages, same widths
    # resnet56 - resnet20 = 6 extra blocks per stage: 6 * (4768 + 18752 + 74368)
    assert c.totals["delta"]["params"] == 6 * (4768 + 18752 + 74368)


def test_growth_rate_tweak():
    spec = resolve("densenet-bc-100-12")
    tweaked, overrides = apply_tweaks(spec, "growth_rate=24")
    assert overrides == {"growth_rate": 24} and tweaked.config.growth_rate == 24 and tweaked.preset == spec.preset
    c, _, _ = compare_specs(spec, tweaked, "k=12", "k=24", depth=1)
    # Conv weights of a dense block grow ~4x when k doubles (both in and out channels scale with k).
    dense1 = next(r for r in c.blocks if r.path == "dense1")
    assert 3.5 < dense1.b["params"] / dense1.a["params"] < 4.0
    assert all(r.delta["macs"] >= 0 for r in c.blocks)
    assert apply_tweaks(spec, "  ") == (spec, {})


@pytest.mark.parametrize("text", ["growth=24", "growth_rate=abc", "depth=3"])
def test_bad_tweaks_raise_config_error(text):
    with pytest.raises(ConfigError):
        apply_tweaks(resolve("densenet-bc-100-12"), text)


def test_compare_budgets_of_the_same_model_is_all_zero():
    b = budget(analyse(resolve("ynet")).graph)
    c = compare_budgets(b, b)
    assert all(r.side == "both" and not any(r.delta.values()) for r in c.blocks)


def test_comparison_dict_fields():
    c, a, b = compare_targets("resnet20", "resnet56", batch_size=4, dtype="float16")
    d = comparison_dict(c, a, b)
    assert set(d) >= {"a", "b", "delta", "blocks", "depth", "batch_size", "dtype"}
    for side, ana in (("a", a), ("b", b)):
        assert d[side]["total_params"] == ana.graph.total_params
        assert d[side]["macs"] == budget(ana.graph).macs
        assert d[side]["activation_bytes"] == budget(ana.graph).total.activations * 4 * 2
    assert d["delta"]["macs"] == d["b"]["macs"] - d["a"]["macs"]
    json.dumps(d)  # plain JSON


# --- CLI -------------------------------------------------------------------------------------


def test_cli_compare_json(capsys):
    assert main(["compare", "densenet-bc-100-12", "densenet-bc-100-12", "--set-b", "growth_rate=24", "--json",
                 "--depth", "1"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["b"]["config"]["growth_rate"] == 24 and d["a"]["config"]["growth_rate"] == 12
    assert d["depth"] == 1
    assert [r["path"] for r in d["blocks"]][:3] == ["input", "stem", "dense1"]
    for m in ("params", "macs", "activations", "layers"):
        assert sum(r["delta"][m] for r in d["blocks"]) == d["delta"][m]
    assert d["delta"]["params"] == d["b"]["total_params"] - d["a"]["total_params"]


def test_cli_compare_presets_and_builders(capsys):
    assert main(["compare", "resnet20", "resnet", "--preset-b", "resnet56", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["a"]["preset"] == "resnet20" and d["b"]["preset"] == "resnet56"
    assert main(["compare", "resnet20", "resnet56"]) == 0
    out = capsys.readouterr().out
    assert "stage1/block9" in out and "B - A" in out


@pytest.mark.parametrize("argv", [
    ["compare", "resnet20", "nope"],
    ["compare", "resnet20", "resnet56", "--set-b", "depth=3"],
    ["compare", "resnet20", "resnet56", "--set-a", "nofield=1"],
    ["compare", "resnet20", "resnet56", "--depth", "0"],
    ["compare", "resnet20", "resnet56", "--dtype", "float13"],
    ["compare", "resnet20", "resnet56", "--preset-a", "densenet121"],
])
def test_cli_compare_errors_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_cli_compare_missing_argument_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "resnet20"])
    assert exc.value.code == 2


# --- Compare page ----------------------------------------------------------------------------


TWEAKS_B = "cmp:B:tweaks:(the Build page's config)"


def test_suggested_tweaks_are_valid_and_change_something():
    from explorer.builders import PRESETS

    for name in PRESETS:
        spec = resolve(name)
        text = suggest_tweak(spec)
        tweaked, overrides = apply_tweaks(spec, text)
        assert overrides and tweaked != spec, name


def test_compare_page_tweaks_change_the_deltas():
    from streamlit.testing.v1 import AppTest

    from explorer.ui import session as state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.session_state[state.SPEC] = resolve("resnet20")
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    # Defaults: A = the Build config (resnet20), B = its preset with depth=56.
    table = at.dataframe[0].value
    c, _, _ = compare_targets("resnet20", "resnet20", {}, {"depth": 56}, depth=1)
    assert int(table["Δ params"].sum()) == c.totals["delta"]["params"]
    # A and B each have their own column of metrics, in Budget's units; B's deltas are signed
    metrics = [(m.label, m.value, m.delta) for m in at.metric]
    assert [m[0] for m in metrics] == ["Params", "MACs", "Activations", "Layers"] * 2
    assert not metrics[0][2] and metrics[4][2].startswith("+")
    assert metrics[2][1].endswith("B") and metrics[6][1].endswith("B")  # bytes, as on Budget
    # the diff graph: 6 extra blocks per stage were added, the rest is the same
    assert any("**18** added" in cap.value and "**0** changed" in cap.value for cap in at.caption)
    at.text_input(key=TWEAKS_B).set_value("depth=110 version=1").run()
    assert not at.exception and not at.error
    c110, _, _ = compare_targets("resnet20", "resnet110", depth=1)
    assert int(at.dataframe[0].value["Δ params"].sum()) == c110.totals["delta"]["params"]
    at.text_input(key=TWEAKS_B).set_value("depth=3").run()
    assert at.error and "depth" in at.error[0].value and not at.exception
    at.selectbox(key="cmp:B:target").set_value("densenet121").run()
    assert at.text_input(key="cmp:B:tweaks:densenet121").value == ""  # suggestions only for the Build config
    at.radio(key="cmp:level").set_value("blocks").run()
    assert not at.exception and not at.error
    blocks = list(at.dataframe[0].value["block"])
    assert "conv2/block1" in blocks and "stage1/block1" in blocks


def test_home_growth_rate_step_opens_compare_with_the_diff():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.button(key="home:step:growth").click().run()
    assert not at.exception
    at.switch_page("pages/compare.py").run()  # AppTest does not follow st.switch_page
    assert not at.exception and not at.error
    assert at.text_input(key=TWEAKS_B).value == "growth_rate=24"
    # every dense layer (3 x 16 blocks) and the rest changes: nothing added, nothing the same but the input
    cap = next(c.value for c in at.caption if "added" in c.value and "changed" in c.value)
    assert "**0** added" in cap and "**0** removed" in cap and "**1** the same" in cap
