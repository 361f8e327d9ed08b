"""The model summary: totals and a per-block partition (data first, formatting second)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.config import config_to_dict
from explorer.graph import ModelGraph, Shape


@dataclass(frozen=True)
class BlockRow:
    """One block of the partition: its params and the shape that leaves it."""

    path: str
    params: int
    trainable_params: int
    layers: int
    output_shape: Shape | None


def block_rows(graph: ModelGraph) -> list[BlockRow]:
    """One row per leaf block path, in graph order; their params add up to the total."""
    rows = []
    for path in graph.blocks():
        nodes = [n for n in graph.nodes if n.block == path]
        out = nodes[-1].output_shapes
        rows.append(
            BlockRow(
                path=path,
                params=sum(n.params for n in nodes),
                trainable_params=sum(n.trainable_params for n in nodes),
                layers=len(nodes),
                output_shape=out[0] if out else None,
            )
        )
    return rows


def summary_dict(label: str, builder: str | None, config: Any, graph: ModelGraph) -> dict[str, Any]:
    """The JSON object of ``python -m explorer summary --json``."""
    return {
        "builder": builder,
        "preset": label if builder and label != builder else None,
        "model": graph.name,
        "config": config_to_dict(config) if config is not None else None,
        "total_params": graph.total_params,
        "trainable_params": graph.trainable_params,
        "non_trainable_params": graph.non_trainable_params,
        "layers": len(graph.nodes),
        "inputs": [list(graph.node(i).output_shapes[0]) for i in graph.inputs],
        "outputs": [list(graph.node(o).output_shapes[0]) for o in graph.outputs],
        "grouping": graph.grouping,
        "blocks": [
            {
                "path": r.path,
                "params": r.params,
                "trainable_params": r.trainable_params,
                "layers": r.layers,
                "output_shape": list(r.output_shape) if r.output_shape is not None else None,
            }
            for r in block_rows(graph)
        ],
    }


def format_shape(shape: Shape | None) -> str:
    """``(None, 32, 32, 16)`` -> ``32x32x16``."""
    if not shape:
        return "-"
    dims = [str(d) for d in shape[1:]] if shape[0] is None else [str(d) for d in shape]
    return "x".join(dims) or "scalar"


def summary_text(label: str, graph: ModelGraph) -> str:
    """A plain-text table of the blocks and the totals."""
    rows = block_rows(graph)
    width = max([len(r.path) for r in rows] + [5])
    lines = [f"{label}  ({graph.name}, {len(graph.nodes)} layers)", ""]
    lines.append(f"{'block':<{width}}  {'layers':>6}  {'output':>14}  {'params':>12}")
    lines.append("-" * (width + 40))
    for r in rows:
        lines.append(f"{r.path:<{width}}  {r.layers:>6}  {format_shape(r.output_shape):>14}  {r.params:>12,}")
    lines.append("-" * (width + 40))
    lines.append(f"Total params:         {graph.total_params:,}")
    lines.append(f"Trainable params:     {graph.trainable_params:,}")
    lines.append(f"Non-trainable params: {graph.non_trainable_params:,}")
    return "\n".join(lines)
