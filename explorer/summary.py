"""The model summary: totals and a per-block partition (data first, formatting second).

Block values (params, MACs, activations) come from :mod:`explorer.budget`, receptive fields
from :mod:`explorer.receptive`, training memory from :mod:`explorer.memory`; the ``blocks``
list is always a partition of the layers, so its rows add up to the totals. ``depth`` cuts block
paths (``stage2/block3`` -> ``stage2`` at depth 1), which rolls blocks up to stages.

When a shape has an unknown dimension besides the batch (an input of ``(None, None, 3)``), the
MAC count is refused (``macs: null`` and ``macs_refused`` saying why) rather than printed small:
pass an input size (``summary --input-size 224,224``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.budget import DEFAULT_DTYPE, Budget, budget
from explorer.config import config_to_dict
from explorer.errors import ConfigError
from explorer.fmt import format_shape, human
from explorer.graph import ModelGraph, Shape
from explorer.memory import DEFAULT_OPTIMIZER, training_memory, training_total
from explorer.receptive import block_fields, receptive_fields, spatial_rank

UNKNOWN_SIZE = ("the input has an unknown size ({shape}), so MACs and activations per example cannot be "
                "counted; pass --input-size (e.g. --input-size 224,224) to count them at that size.")


def refusal(graph: ModelGraph, unknown: tuple[str, ...]) -> str | None:
    """The sentence that refuses a MAC count when shapes are unknown, else None."""
    if not unknown:
        return None
    shape = format_shape(graph.node(graph.inputs[0]).output_shapes[0]) if graph.inputs else "?"
    return UNKNOWN_SIZE.format(shape=shape)


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
    optimizer: str = DEFAULT_OPTIMIZER,
) -> dict[str, Any]:
    """The JSON object of ``python -m explorer summary --json``.

    Args:
        label: the architecture's label (:attr:`explorer.spec.Spec.label`, or the file name).
        spec: the resolved :class:`~explorer.spec.Spec` (None for a model file).
        graph: the model graph.
        depth: cut block paths to this depth (None: leaf blocks).
        batch_size: batch size for ``activation_bytes``.
        dtype: dtype for ``activation_bytes`` and training memory.
        optimizer: optimizer for training memory (see :data:`explorer.memory.OPTIMIZER_SLOTS`).

    Returns:
        Totals (params, ``macs``, ``flops``, ``activations`` per example, ``activation_bytes``,
        ``training_bytes``), ``grouping``, ``receptive_field`` and ``jump`` of the outputs, and
        ``blocks``: a partition of the layers with the same fields per block plus
        ``receptive_field``, ``jump`` and ``training_bytes``. MACs are null (and
        ``macs_refused`` says why) when shapes have unknown sizes.
    """
    b = budget(graph, batch_size, dtype)
    refused = refusal(graph, b.unknown_dims)
    fields = receptive_fields(graph)
    rows = b.partition(check_depth(depth))
    per_block = block_fields(graph, fields, depth)
    memory = {m.path: m for m in training_memory(b, optimizer, depth)}
    total_memory = training_total(b, optimizer)
    outputs_rf = block_fields(graph, fields, 0)[""] if graph.outputs else None
    rank = spatial_rank(graph)

    def macs(v: int) -> int | None:
        return None if refused else v

    def rf(path: str) -> tuple[list | None, list | None]:
        f = per_block.get(path)
        return f.as_lists() if f is not None and rank else (None, None)

    def whole(path: str) -> bool | None:
        f = per_block.get(path)
        return f.whole if f is not None and rank else None

    out_size, out_jump = outputs_rf.as_lists() if outputs_rf is not None and rank else (None, None)
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
        "macs": macs(b.macs),
        "flops": macs(b.flops),
        "macs_refused": refused,
        "activations": macs(b.total.activations),
        "activation_bytes": macs(b.activation_bytes(b.total.activations)),
        "batch_size": batch_size,
        "dtype": dtype,
        "optimizer": optimizer,
        "training_bytes": macs(total_memory.total),
        "training_memory": {
            "weights": total_memory.weights, "gradients": total_memory.gradients,
            "optimizer": total_memory.optimizer, "activations": macs(total_memory.activations),
        },
        "uncounted_layer_types": list(b.uncounted),
        "inputs": [list(graph.node(i).output_shapes[0]) for i in graph.inputs],
        "outputs": [list(graph.node(o).output_shapes[0]) for o in graph.outputs],
        "grouping": graph.grouping,
        "receptive_field": out_size,
        "jump": out_jump,
        "depth": depth,
        "blocks": [
            {
                "path": r.path,
                "params": r.params,
                "trainable_params": r.trainable_params,
                "non_trainable_params": r.non_trainable_params,
                "layers": r.layers,
                "macs": macs(r.macs),
                "flops": macs(r.flops),
                "activations": macs(r.activations),
                "activation_bytes": macs(b.activation_bytes(r.activations)),
                "training_bytes": macs(memory[r.path].total),
                "output_shape": list(r.output_shape) if r.output_shape is not None else None,
                "receptive_field": rf(r.path)[0],
                "jump": rf(r.path)[1],
                "receptive_field_global": whole(r.path),
            }
            for r in rows
        ],
    }


def _rf_text(size: list | None) -> str:
    return "x".join("?" if v is None else str(v) for v in size) if size else "-"


def summary_text(
    label: str, graph: ModelGraph, depth: int | None = None, batch_size: int = 1, dtype: str = DEFAULT_DTYPE,
    optimizer: str = DEFAULT_OPTIMIZER,
) -> str:
    """A plain-text table of the blocks (cut to ``depth``) and the totals."""
    b = budget(graph, batch_size, dtype)
    rows = b.partition(check_depth(depth))
    fields = block_fields(graph, receptive_fields(graph), depth)
    rank = spatial_rank(graph)
    width = max([len(r.path) for r in rows] + [5])
    act_head = f"act x{batch_size} {dtype}"
    head = (f"{'block':<{width}}  {'layers':>6}  {'output':>14}  {'params':>12}  {'params%':>7}  "
            f"{'MACs':>8}  {'MACs%':>6}  {act_head:>16}  {'RF':>9}  {'jump':>7}")
    lines = [f"{label}  ({graph.name}, {len(graph.nodes)} layers, blocks by {graph.grouping})", "", head,
             "-" * len(head)]
    for r in rows:
        size, jump = fields[r.path].as_lists() if rank and r.path in fields else (None, None)
        lines.append(
            f"{r.path:<{width}}  {r.layers:>6}  {format_shape(r.output_shape):>14}  {r.params:>12,}  "
            f"{100 * b.share(r.params, 'params'):>6.1f}%  {human(r.macs):>8}  {100 * b.share(r.macs, 'macs'):>5.1f}%  "
            f"{human(b.activation_bytes(r.activations), 'B'):>16}  {_rf_text(size):>9}  {_rf_text(jump):>7}"
        )
    lines.append("-" * len(head))
    lines.append(f"Total params:         {graph.total_params:,}")
    lines.append(f"Trainable params:     {graph.trainable_params:,}")
    lines.append(f"Non-trainable params: {graph.non_trainable_params:,}")
    refused = refusal(graph, b.unknown_dims)
    if refused:
        lines.append(f"MACs (one example):   unknown: {refused}")
    else:
        lines.append(f"MACs (one example):   {b.macs:,} ({human(b.macs)}; FLOPs = 2 x MACs = {human(b.flops)})")
    lines.append(
        f"Activations:          {b.total.activations:,} elements per example; "
        f"{human(b.activation_bytes(b.total.activations), 'B')} at batch {batch_size}, {dtype}"
    )
    t = training_total(b, optimizer)
    lines.append(
        f"Training ({optimizer}):     {human(t.total, 'B')} = weights {human(t.weights, 'B')} + gradients "
        f"{human(t.gradients, 'B')} + optimizer {human(t.optimizer, 'B')} + activations {human(t.activations, 'B')}"
    )
    if b.uncounted:
        lines.append(f"No MAC formula (counted as 0): {', '.join(b.uncounted)}")
    return "\n".join(lines)
