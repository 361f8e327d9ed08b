"""Architecture diff: A and B as one graph, each node added, removed, changed or same, in the DOT too."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import explorer  # noqa: F401  (numpy backend before Keras loads)
from explorer.analysis import analyse
from explorer.builders import resolve
from explorer.cli import main
from explorer.diff import STATUSES, diff_graphs, toggle_expand
from explorer.errors import ConfigError
from explorer.graph import INPUT_BLOCK
from explorer.render import ViewOptions, diff_dot, display_ids

NODE = re.compile(r'^\s*"([^"]+)" \[.*class="(\w+)"', re.M)


def node_classes(dot: str) -> dict[str, str]:
    """DOT node id -> its class attribute (edge lines carry ``->`` and are left out)."""
    return {m.group(1): m.group(2) for m in NODE.finditer(dot) if "->" not in m.group(0)}


def graph(name: str, **changes):
    spec = resolve(name)
    return analyse(spec.with_changes(**changes) if changes else spec).graph


def test_resnet20_vs_resnet32_six_blocks_added_the_rest_same():
    dot = diff_dot(diff_graphs(graph("resnet20"), graph("resnet32")))
    classes = node_classes(dot)
    added = sorted(k for k, v in classes.items() if v == "added")
    assert added == [f"block:stage{s}/block{b}" for s in (1, 2, 3) for b in (4, 5)]
    assert {v for k, v in classes.items() if k not in added} == {"same"}
    # every block node of both models is drawn once
    b = graph("resnet32")
    assert set(classes) == set(display_ids(b, ViewOptions("blocks")).values())


def test_densenet_growth_rate_changes_every_dense_layer():
    a, b = graph("densenet-bc-100-12"), graph("densenet-bc-100-12", growth_rate=24)
    classes = node_classes(diff_dot(diff_graphs(a, b)))
    dense = {k: v for k, v in classes.items() if k.startswith("block:dense")}
    assert len(dense) == 3 * 16 and set(dense.values()) == {"changed"}
    assert classes["image"] == "same"
    # deltas on a changed block: A -> B and the signed difference
    dot = diff_dot(diff_graphs(a, b))
    assert re.search(r"params [\d.,k]+ → [\d.,k]+ \(\+", dot)


@pytest.mark.parametrize("pair", [("resnet20", "resnet56v2"), ("mnist-cnn", "ynet"), ("resnet50", "densenet121"),
                                  ("densenet-40-12", "densenet-bc-100-12")])
@pytest.mark.parametrize("opts", [ViewOptions("blocks"), ViewOptions("blocks", depth=1), ViewOptions("layers")],
                         ids=["blocks", "stages", "layers"])
def test_every_node_of_a_and_b_appears_once(pair, opts):
    a, b = graph(pair[0]), graph(pair[1])
    d = diff_graphs(a, b, opts)
    shown_a = set(display_ids(a, opts).values())
    shown_b = set(display_ids(b, opts).values())
    assert sorted(n.a.key for n in d.nodes if n.a) == sorted(shown_a)
    assert sorted(n.b.key for n in d.nodes if n.b) == sorted(shown_b)
    assert len({n.id for n in d.nodes}) == len(d.nodes)
    ids = {n.id for n in d.nodes}
    assert all(e.src in ids and e.dst in ids for e in d.edges)
    for n in d.nodes:
        assert n.status in STATUSES
        assert (n.status == "added") == (n.a is None) and (n.status == "removed") == (n.b is None)
        if n.status == "same":
            assert n.delta("params") == 0 and n.delta("macs") == 0
    # deltas over the nodes add up to the models' params difference
    assert sum(n.delta("params") for n in d.nodes) == b.total_params - a.total_params
    assert set(node_classes(diff_dot(d))) == ids


@pytest.mark.parametrize("name", ["resnet20", "ynet", "densenet-40-12"])
def test_a_model_against_itself_is_all_same(name):
    g = graph(name)
    d = diff_graphs(g, g, ViewOptions("mixed", expand=(g.blocks()[2],)))
    assert d.counts() == {"added": 0, "removed": 0, "changed": 0, "same": len(d.nodes)}
    assert {e.status for e in d.edges} == {"same"}


def test_renamed_blocks_match_by_structure():
    """Two builders that name their blocks differently still pair block by block."""
    g = graph("resnet20")
    renamed_nodes = tuple(
        n if n.block == INPUT_BLOCK else dataclasses.replace(n, block="net_" + n.block.replace("/", "/unit_"))
        for n in g.nodes
    )
    renamed = dataclasses.replace(g, nodes=renamed_nodes)
    d = diff_graphs(g, renamed)
    assert d.counts() == {"added": 0, "removed": 0, "changed": 0, "same": len(d.nodes)}
    assert {n.matched_by for n in d.nodes if n.is_block} == {"structure"}


def test_mixed_view_matches_layers_and_clicks_toggle():
    a, b = graph("resnet20"), graph("resnet32")
    d = diff_graphs(a, b, ViewOptions("mixed", expand=("stage1/block3",)))
    layers = [n for n in d.nodes if not n.is_block and n.side.block == "stage1/block3"]
    assert layers and all(n.status == "same" and n.matched_by == "name" for n in layers)
    assert toggle_expand(d, "block:stage2/block1") == ("stage1/block3", "stage2/block1")
    assert toggle_expand(d, layers[0].id) == ()
    assert toggle_expand(d, "nope") is None
    with pytest.raises(ConfigError, match="not a block of A or B"):
        diff_graphs(a, b, ViewOptions("mixed", expand=("stage9",)))


def test_cli_compare_draws_the_diff(tmp_path, capsys):
    out = tmp_path / "diff.svg"
    assert main(["compare", "resnet20", "resnet32", "-o", str(out)]) == 0
    svg = out.read_text()
    assert svg.count('class="node added"') == 6 and 'class="node same"' in svg
    assert "removed" not in capsys.readouterr().out
    dot = tmp_path / "diff.dot"
    assert main(["compare", "resnet20", "resnet32", "--expand", "stage1", "-o", str(dot)]) == 0
    assert "stage1_block4_1_conv" in dot.read_text()
    png = tmp_path / "diff.png"
    assert main(["compare", "resnet20", "resnet32", "--depth", "1", "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_compare_rejects_bad_output(tmp_path, capsys):
    assert main(["compare", "resnet20", "resnet32", "-o", str(tmp_path / "d.txt")]) == 2
    err = capsys.readouterr().err
    assert "must end in .dot, .svg or .png" in err and "Traceback" not in err
    assert not Path(tmp_path / "d.txt").exists()
