"""The model summary: totals and a per-block partition (data first, formatting second).

Block values (params, MACs, activations) come from :mod:`explorer.budget`; the ``blocks`` list
is always a partition of the layers, so its rows add up to the totals. ``depth`` cuts block paths
(``stage2/block3`` -> ``stage2`` at depth 1), which rolls blocks up to stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.budget import DEFAULT_DTYPE, Budget, budget
from explorer.config import config_to_dict
from explorer.errors import ConfigError
from explorer.fmt import format_shape, human
from explorer.graph import ModelGraph, Shape


@dataclass(frozen=True)
class BlockRow:
    """One block of the partition: its params, compute and the shape that leaves it.

    Attributes:
        path: block path.
        params: all parameters of its layers.
        trainable_params: trainable parameters.
        layers: number of layers.
        output_shape: the first output shape of its last layer.
        macs: multiply-accumulates for one example.
        activations: output elements of its layers for one example.
    """

    path: str
    params: int
    trainable_params: int
    layers: int
    output_shape: Shape | None
    macs: int = 0
    activations: int = 0


def check_depth(depth: int | None, b: Budget | None = None) -> int | None:
    """Validate a ``--depth`` value (None or a whole number from 1).

    Raises:
        ConfigError: for a depth below 1.
    """
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ConfigError(f"depth {depth!r} is not allowed; use a whole number from 1 (1 = stages).")
    return depth


def block_rows(graph: ModelGraph, depth: int | None = None, b: Budget | None = None) -> list[BlockRow]:
    """One row per block path (cut to ``depth``), in graph order; they add up to the totals.

    Args:
        graph: the model graph.
        depth: cut block paths to this many parts (None: leaf blocks).
        b: a budget of ``graph`` already computed (computed here otherwise).
    """
    b = b or budget(graph)
    return [
        BlockRow(r.path, r.params, r.trainable_params, r.layers, r.output_shape, r.macs, r.activations)
        for r in b.partition(check_depth(depth))
    ]


def summary_dict(
    label: str,
    spec: Any,
    graph: ModelGraph,
    depth: int | None = None,
    batch_size: int = 1,
    dtype: str = DEFAULT_DTYPE,
) -> dict[str, Any]:
    """The JSON object of ``python -m explorer summary --json``.

    Args:
        label: the architecture's label (:attr:`explorer.spec.Spec.label`, or the file name).
        spec: the resolved :class:`~explorer.spec.Spec` (None for a model file).
        graph: the model graph.
        depth: cut block paths to this depth (None: leaf blocks).
        batch_size: batch size for ``activation_bytes``.
        dtype: dtype for ``activation_bytes``.

    Returns:
        Totals (params, ``macs``, ``flops``, ``activations`` per example, ``activation_bytes``) and
        ``blocks``: a partition of the layers with the same fields per block.
    """
    b = budget(graph, batch_size, dtype)
    return {
        "label": label,
        "builder": spec.builder if spec is not None else None,
        "preset": spec.preset if spec is not None else None,
        "overrides": config_to_dict(spec.config, list(spec.overrides)) if spec is not None else None,
        "model": graph.name,
        "config": config_to_dict(spec.config) if spec is not None else None,
        "total_params": graph.total_params,
        "trainable_params": graph.trainable_params,
        "non_trainable_params": graph.non_trainable_params,
        "layers": len(graph.nodes),
        "macs": b.macs,
        "flops": b.flops,
        "activations": b.total.activations,
        "activation_bytes": b.activation_bytes(b.total.activations),
        "batch_size": batch_size,
        "dtype": dtype,
        "uncounted_layer_types": list(b.uncounted),
        "inputs": [list(graph.node(i).output_shapes[0]) for i in graph.inputs],
        "outputs": [list(graph.node(o).output_shapes[0]) for o in graph.outputs],
        "grouping": graph.grouping,
        "depth": depth,
        "blocks": [
            {
                "path": r.path,
                "params": r.params,
                "trainable_params": r.trainable_params,
                "non_trainable_params": r.non_trainable_params,
                "layers": r.layers,
                "macs": r.macs,
                "flops": r.flops,
                "activations": r.activations,
                "activation_bytes": b.activation_bytes(r.activations),
                "output_shape": list(r.output_shape) if r.output_shape is not None else None,
            }
            for r in b.partition(check_depth(depth))
        ],
    }


def summary_text(
    label: str, graph: ModelGraph, depth: int | None = None, batch_size: int = 1, dtype: str = DEFAULT_DTYPE
) -> str:
    """A plain-text table of the blocks (cut to ``depth``) and the totals."""
    b = budget(graph, batch_size, dtype)
    rows = b.partition(check_depth(depth))
    width = max([len(r.path) for r in rows] + [5])
    act_head = f"act x{batch_size} {dtype}"
    head = (f"{'block':<{width}}  {'layers':>6}  {'output':>14}  {'params':>12}  {'params%':>7}  "
            f"{'MACs':>8}  {'MACs%':>6}  {act_head:>16}")
    lines = [f"{label}  ({graph.name}, {len(graph.nodes)} layers)", "", head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.path:<{width}}  {r.layers:>6}  {format_shape(r.output_shape):>14}  {r.params:>12,}  "
            f"{100 * b.share(r.params, 'params'):>6.1f}%  {human(r.macs):>8}  {100 * b.share(r.macs, 'macs'):>5.1f}%  "
            f"{human(b.activation_bytes(r.activations), 'B'):>16}"
        )
    lines.append("-" * len(head))
    lines.append(f"Total params:         {graph.total_params:,}")
    lines.append(f"Trainable params:     {graph.trainable_params:,}")
    lines.append(f"Non-trainable params: {graph.non_trainable_params:,}")
    lines.append(f"MACs (one example):   {b.macs:,} ({human(b.macs)}; FLOPs = 2 x MACs = {human(b.flops)})")
    lines.append(
        f"Activations:          {b.total.activations:,} elements per example; "
        f"{human(b.activation_bytes(b.total.activations), 'B')} at batch {batch_size}, {dtype}"
    )
    if b.uncounted:
        lines.append(f"No MAC formula (counted as 0): {', '.join(b.uncounted)}")
    return "\n".join(lines)
