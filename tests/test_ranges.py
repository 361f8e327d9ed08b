"""Every config field's whole allowed range builds or is refused with one line; enormous values too.

Parametrized over the registry: for each numeric field, its minimum and its maximum (one field at
a time, the rest at their defaults), plus the deepest valid ResNets and DenseNets, which once
ended in ``RecursionError``. Builds are weightless, as the analysis does them.
"""

from __future__ import annotations

import pytest

from explorer.builders import REGISTRY, build_model, resolve
from explorer.config import fields_of, parse_assignments
from explorer.errors import ConfigError
from explorer.graph import extract


def _extremes():
    for name, builder in REGISTRY.items():
        for f in fields_of(builder.config_cls):
            if f.spec.min is None or f.spec.max is None:
                continue
            for end in (f.spec.min, f.spec.max):
                if f.kind == "int":
                    yield name, {f.name: int(end)}
                elif f.kind == "float":
                    yield name, {f.name: float(end)}
                elif f.kind == "int_tuple":
                    n = max(f.spec.length or (1,))
                    yield name, {f.name: tuple([int(end)] * n)}
    yield "resnet", {"version": 1, "depth": 998}  # the deepest v1 (6n+2 under the maximum 1001)
    yield "resnet", {"version": 2, "depth": 1001}
    yield "densenet", {"depth": 400, "bottleneck": False}  # 132 plain layers per dense block
    yield "densenet", {"depth": 400, "growth_rate": 128}


CASES = list(_extremes())


@pytest.mark.slow
@pytest.mark.parametrize("builder,overrides", CASES, ids=[f"{b}-{'-'.join(f'{k}={v}' for k, v in o.items())[:60]}"
                                                          for b, o in CASES])
def test_every_field_extreme_builds_or_is_one_line(builder, overrides):
    try:
        spec = resolve(builder, overrides=overrides)
    except ConfigError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300, str(exc)
        return
    graph = extract(build_model(spec, weights=False))
    assert graph.total_params > 0 and len(graph.nodes) > 2


ENORMOUS = ["9" * 4000, "-" + "9" * 4000, "1e308", "-1e308", "inf", "nan", ",".join(["7"] * 5000), "x" * 100_000, ""]


@pytest.mark.parametrize("builder", list(REGISTRY))
def test_enormous_values_give_one_short_line_for_every_field(builder):
    cls = REGISTRY[builder].config_cls
    for f in fields_of(cls):
        for text in ENORMOUS:
            try:
                resolve(builder, overrides=parse_assignments(cls, [f"{f.name}={text}"]))
            except ConfigError as exc:
                msg = str(exc)
                assert "\n" not in msg and len(msg) < 300, (f.name, text[:20], msg[:400])


BIG = "9" * 4000


@pytest.mark.parametrize("args", [
    ["runs", "--limit", BIG], ["runs", "--limit", "-5"], ["runs", "--store", "/tmp/" + "z" * 5000 + "/runs.db"],
    ["summary", "cnn", "--batch-size", BIG], ["summary", "cnn", "--dtype", "x" * 5000],
    ["summary", "cnn", "--set", f"conv_layers={BIG}"], ["summary", "/tmp/" + "y" * 5000 + ".keras"],
    ["train", "cnn", "--epochs", BIG], ["train", "cnn", "--val-fraction", "1e308"], ["train", "cnn", "--shift", "nan"],
    ["train", "cnn", "--learning-rate", "nan"], ["train", "cnn", "--dataset", "x" * 5000],
    ["train", "cnn", "--dataset", "/tmp/" + "x" * 5000 + ".npz"],
], ids=lambda a: " ".join(x[:12] for x in a))
def test_enormous_command_line_values_are_one_short_line(tmp_path, capsys, args):
    from explorer.cli import main

    if "--store" not in args:
        args = [*args, "--store", str(tmp_path / "runs.db")] if args[0] in ("runs", "train") else args
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and len(err) < 400, err[:500]
