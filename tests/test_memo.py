"""Per-graph memoisation (explorer.memo) and the Build page's Arrow tables built on it."""

from __future__ import annotations

import gc

import pytest

from explorer.analysis import analyse
from explorer.budget import budget
from explorer.builders import PRESETS, resolve
from explorer.memo import per_graph
from explorer.receptive import receptive_fields
from explorer.ui import tables


class Thing:
    """A weak-referenceable stand-in key (memo works on any object, graphs are the use)."""


def test_one_result_per_object_and_arguments():
    calls = []

    @per_graph(maxsize=4)
    def f(obj, n=1):
        calls.append((obj, n))
        return [n]

    a, b = Thing(), Thing()
    assert f(a) is f(a)
    assert f(a, 2) is not f(a)
    assert f(b) is not f(a)
    assert len(calls) == 3
    # 1, 1.0 and True are equal keys but different arguments: each is computed.
    f(a, 1.0)
    f(a, True)
    assert len(calls) == 5
    # Unhashable arguments are computed every time, never kept.
    f(a, [1])
    f(a, [1])
    assert len(calls) == 7


def test_a_collected_object_is_never_a_stale_hit_and_the_size_is_bounded():
    seen = []

    @per_graph(maxsize=3)
    def f(obj):
        seen.append(id(obj))
        return object()

    for _ in range(20):  # new objects often reuse a freed id(): each must be a miss
        f(Thing())
        gc.collect()
    assert len(seen) == 20
    keep = [Thing() for _ in range(5)]
    firsts = [f(k) for k in keep]
    assert f(keep[-1]) is firsts[-1]  # the most recent survive
    assert f(keep[0]) is not firsts[0]  # the oldest was dropped (maxsize 3)


def test_budget_and_fields_are_shared_per_graph():
    g = analyse(resolve("resnet20")).graph
    assert budget(g) is budget(g)
    assert budget(g, 8) is not budget(g)
    assert receptive_fields(g) is receptive_fields(g)
    assert budget.uncached(g) == budget(g)


@pytest.mark.parametrize("name", [p for p in ("mnist-cnn", "resnet20", "densenet-40-12", "ynet") if p in PRESETS])
def test_build_tables_add_up(name):
    g = analyse(resolve(name)).graph
    blocks, layers = tables.block_table(g), tables.layer_table(g)
    assert tables.layer_table(g) is layers  # built once per graph
    assert layers.num_rows == len(g.nodes)
    assert layers.column("layer").to_pylist() == [n.id for n in g.nodes]
    assert sum(layers.column("params").to_pylist()) == g.total_params
    assert sum(blocks.column("params").to_pylist()) == g.total_params
    assert len(set(blocks.column("block").to_pylist())) == blocks.num_rows
    if tables.has_fields(g):
        fields = receptive_fields(g)
        rf = dict(zip(layers.column("layer").to_pylist(), layers.column("RF").to_pylist(), strict=True))
        for n in g.nodes:
            assert rf[n.id] == tables.field_text(fields[n.id].as_lists()[0])
    else:
        assert "RF" not in layers.column_names
