"""Presentation mode's build-up: the first N blocks of a graph, so a class sees a model grow.

``reveal(graph, n)`` keeps the nodes of the first ``n`` blocks (in graph order, input first) and
the edges between them; its totals are those of the kept nodes, so the budget grows with it.
"""

from __future__ import annotations

import dataclasses
import re

from explorer import blockpath
from explorer.graph import ModelGraph


def stages(graph: ModelGraph) -> list[str]:
    """The units the build-up reveals: top-level blocks (``stage2``), in order of appearance."""
    return list(dict.fromkeys(blockpath.stage(n.block) for n in graph.nodes))


def reveal(graph: ModelGraph, n: int, by: str = "block") -> ModelGraph:
    """The first ``n`` blocks (``by="block"``) or stages (``by="stage"``) of ``graph``.

    Args:
        graph: the whole model's graph.
        n: how many units to keep (clamped to 1..all).
        by: ``"block"`` for leaf blocks, ``"stage"`` for top-level blocks.

    Returns:
        A graph with only those nodes, the edges among them, and their own totals.
    """
    units = graph.blocks() if by == "block" else stages(graph)
    n = max(1, min(n, len(units)))
    keep_units = set(units[:n])
    key = (lambda b: b) if by == "block" else blockpath.stage
    nodes = tuple(x for x in graph.nodes if key(x.block) in keep_units)
    ids = {x.id for x in nodes}
    edges = tuple(e for e in graph.edges if e.src in ids and e.dst in ids)
    consumed = {e.src for e in edges}
    outputs = tuple(x.id for x in nodes if x.id not in consumed and not x.is_input) or graph.outputs
    trainable = sum(x.trainable_params for x in nodes)
    non_trainable = sum(x.non_trainable_params for x in nodes)
    return dataclasses.replace(
        graph,
        nodes=nodes,
        edges=edges,
        inputs=tuple(i for i in graph.inputs if i in ids),
        outputs=outputs,
        total_params=trainable + non_trainable,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
    )


def enlarge_fonts(dot_text: str, factor: float = 1.6) -> str:
    """Scale every ``fontsize`` in DOT text (graph labels readable on a projector)."""
    return re.sub(r'fontsize="?(\d+(?:\.\d+)?)"?', lambda m: f'fontsize="{float(m.group(1)) * factor:g}"', dot_text)
