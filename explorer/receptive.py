"""Receptive field and jump of every layer and block: how much of the input one output element sees.

Plain data in (:class:`~explorer.graph.ModelGraph`), plain data out; no Keras here.

For one element of a layer's output, along each spatial axis of the model's input (height and
width for images; one axis for sequences; none for flat vectors):

* **size**: how many input positions can influence it;
* **jump**: the distance, in input positions, between two neighbouring output elements (the
  product of the strides on the way, the "effective stride").

Rules, applied in graph order (padding is ignored, so a field can be larger than the input):

* convolution and pooling with kernel ``k``, dilation ``d`` and stride ``s``:
  ``size += ((k - 1) * d) * jump``, ``jump *= s`` (depthwise and separable alike);
* transposed convolution: ``size += (ceil(k / s) - 1) * jump``, ``jump /= s``;
  up-sampling by ``f``: ``jump /= f``;
* **several inputs** (Add, Concatenate, Multiply, attention...): the maximum size over the
  inputs, so a field goes through every path (a squeeze-and-excitation gate makes it global),
  and the maximum jump over the inputs of the largest spatial size (a broadcast 1x1 gate does
  not change the stride);
* layers that mix all positions (global pooling, Flatten, recurrent layers, attention, a
  reshape that changes the rank): the element sees the **whole input** (``whole``; size = the
  input's size, or the field so far when larger), ``jump *= n`` over the ``n`` positions of
  their input; a whole field stays whole (later windows do not widen it);
* padding and cropping keep the field;
* every other layer keeps the field when it keeps the spatial size (activations, norms,
  element-wise ops, Dense per position); one that shrinks it ``f`` times counts as a ``f``-wide
  window with stride ``f``, one that grows it as an up-sampling;
* a nested model composes its own fields with its input's.

Sizes are None along an axis whose extent is unknown (an input of ``(None, None, 3)`` through
a global layer). Numbers are floats when a jump went below 1 (transposed convolutions), else
whole numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.graph import ModelGraph, Node, Shape
from explorer.memo import per_graph

Size = tuple[float | None, ...]

_WINDOW_KEYS = ("kernel_size", "pool_size")
_GLOBAL_CLASSES = {
    "Flatten", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "RNN", "MultiHeadAttention", "Attention",
    "AdditiveAttention", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
}
_TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")


@dataclass(frozen=True)
class Field:
    """The receptive field of one output element on the model's input.

    Attributes:
        size: positions of the input it sees, per spatial axis (None: unknown extent).
        jump: input positions between two neighbouring output elements, per spatial axis.
        whole: the element sees the whole input (a global layer on the way); ``size`` is then
            the input's size.
    """

    size: Size
    jump: Size
    whole: bool = False

    def as_lists(self) -> tuple[list, list]:
        """``(size, jump)`` as JSON-friendly lists (whole numbers where they are whole)."""
        return [_num(v) for v in self.size], [_num(v) for v in self.jump]

    def text(self) -> str:
        """``RF 35x35 · jump 8x8`` (an empty string without spatial axes)."""
        if not self.size:
            return ""
        size, jump = self.as_lists()
        fmt = "x".join
        whole = " (global)" if self.whole else ""
        return (f"RF {fmt('?' if v is None else str(v) for v in size)}{whole} · "
                f"jump {fmt('?' if v is None else str(v) for v in jump)}")


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else round(v, 3)


def spatial_rank(graph: ModelGraph) -> int:
    """Spatial axes of the model's first input: its rank minus batch and channels (0 for vectors)."""
    if not graph.inputs:
        return 0
    shapes = graph.node(graph.inputs[0]).output_shapes
    return max(len(shapes[0]) - 2, 0) if shapes else 0


def _spatial(shape: Shape | None, channels_first: bool) -> tuple[int | None, ...]:
    if not shape or len(shape) < 3:
        return ()
    return tuple(shape[2:]) if channels_first else tuple(shape[1:-1])


def _per_axis(v: object, rank: int) -> list[int]:
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v]
        return (vals + [1] * rank)[:rank] if len(vals) < rank else vals[-rank:] if rank else []
    return [int(v)] * rank if v is not None else [1] * rank


def _global(f: Field, positions: tuple[int | None, ...], extent: Size) -> Field:
    """A layer that mixes all ``positions`` of its input: the element sees the whole input."""
    jump = []
    for i, j in enumerate(f.jump):
        n = positions[i] if i < len(positions) else None
        jump.append(None if n is None or j is None else j * n)
    size = tuple(None if e is None or s is None else max(e, s) for e, s in zip(extent, f.size, strict=True))
    return Field(size, tuple(jump), True)


def _window(f: Field, kernel: list[int], stride: list[int], dilation: list[int]) -> Field:
    if f.whole:
        return Field(f.size, tuple(None if j is None else j * st for j, st in zip(f.jump, stride, strict=True)), True)
    size = tuple(None if s is None or j is None else s + (k - 1) * d * j
                 for s, j, k, d in zip(f.size, f.jump, kernel, dilation, strict=True))
    jump = tuple(None if j is None else j * st for j, st in zip(f.jump, stride, strict=True))
    return Field(size, jump)


def _merge(fields: list[Field]) -> Field:
    def mx(vals: list[float | None]) -> float | None:
        return None if any(v is None for v in vals) else max(vals)  # type: ignore[type-var]

    rank = len(fields[0].size)
    return Field(tuple(mx([f.size[i] for f in fields]) for i in range(rank)),
                 tuple(mx([f.jump[i] for f in fields]) for i in range(rank)),
                 any(f.whole for f in fields))


def _merge_inputs(node: Node, srcs: list[tuple[Field, Shape]]) -> Field:
    """The field of a node's inputs: the largest size over all of them; the jump of those that
    are not broadcast (a squeeze-and-excitation gate of 1x1 widens the field, not the stride)."""
    if len(srcs) == 1:
        return srcs[0][0]
    channels_first = node.config.get("data_format") == "channels_first"
    widest = max((len(_spatial(shape, channels_first)) for _, shape in srcs), default=0)
    sizes = [_spatial(shape, channels_first) for _, shape in srcs]
    biggest = max((sp for sp in sizes if len(sp) == widest), key=lambda sp: [d or 0 for d in sp], default=())
    full = [f for (f, _), sp in zip(srcs, sizes, strict=True) if sp == biggest] or [f for f, _ in srcs]
    merged = _merge([f for f, _ in srcs])
    return Field(merged.size, _merge(full).jump, merged.whole)


def _apply(node: Node, f: Field, rank: int, extent: Size) -> Field:
    """The field after ``node``, given the field of its (merged) input."""
    cfg = node.config
    channels_first = cfg.get("data_format") == "channels_first"
    ins = node.input_shapes
    outs = node.output_shapes
    in_sp = _spatial(ins[0] if ins else None, channels_first)
    out_sp = _spatial(outs[0] if outs else None, channels_first)
    if not rank or len(in_sp) != rank:
        return f  # nothing spatial (left) to widen: a vector model, or already global
    if "Padding" in node.cls or "Cropping" in node.cls or node.cls == "Pad":
        return f  # padding is ignored
    in_rank_ok = True
    window = next((cfg[k] for k in _WINDOW_KEYS if k in cfg), None)
    if node.cls in _GLOBAL_CLASSES:
        return _global(f, in_sp, extent)
    if node.cls in _TRANSPOSED and in_rank_ok:
        k = _per_axis(window, rank)
        s = _per_axis(cfg.get("strides", 1), rank)
        size = tuple(None if a is None or j is None else a if f.whole else a + (math.ceil(kk / ss) - 1) * j
                     for a, j, kk, ss in zip(f.size, f.jump, k, s, strict=True))
        return Field(size, tuple(None if j is None else j / ss for j, ss in zip(f.jump, s, strict=True)), f.whole)
    if window is not None and in_rank_ok and len(out_sp) == rank:
        k = _per_axis(window, rank)
        s = _per_axis(cfg.get("strides") if cfg.get("strides") is not None else window, rank)
        d = _per_axis(cfg.get("dilation_rate", 1), rank)
        return _window(f, k, s, d)
    if len(out_sp) != rank:
        return _global(f, in_sp, extent)
    # Any other layer: same spatial size keeps the field; a shrink is a window, a growth an up-sampling.
    if in_sp == out_sp:
        return f
    size, jump = [], []
    for a, j, n_in, n_out in zip(f.size, f.jump, in_sp, out_sp, strict=True):
        if a is None or j is None or not n_in or not n_out:
            size.append(None if n_in != n_out else a)
            jump.append(None if n_in != n_out else j)
        elif n_out < n_in:
            factor = n_in / n_out
            size.append(a if f.whole else a + (factor - 1) * j)
            jump.append(j * factor)
        else:
            size.append(a)
            jump.append(j * n_in / n_out)
    return Field(tuple(size), tuple(jump), f.whole)


@per_graph()
def receptive_fields(graph: ModelGraph, rank: int | None = None) -> dict[str, Field]:
    """The field of every node's output (first output), by node id (memoised per graph: shared, read-only).

    Args:
        graph: the model graph.
        rank: spatial axes to follow (default: the first input's, see :func:`spatial_rank`).

    Returns:
        ``{node id: Field}``; fields have ``rank`` axes (none for a model on flat vectors).
    """
    rank = spatial_rank(graph) if rank is None else rank
    one = Field((1.0,) * rank, (1.0,) * rank)
    first = graph.node(graph.inputs[0]).output_shapes[0] if graph.inputs else None
    extent: Size = tuple(_spatial(first, False)) if first and len(first) - 2 == rank else (None,) * rank
    return _fields(graph, rank, one, extent)


def _fields(graph: ModelGraph, rank: int, one: Field, extent: Size) -> dict[str, Field]:
    incoming: dict[str, list[tuple[str, Shape]]] = {}
    for e in graph.edges:
        incoming.setdefault(e.dst, []).append((e.src, e.shape))
    out: dict[str, Field] = {}
    for n in graph.nodes:
        srcs = [(out[s], shape) for s, shape in incoming.get(n.id, ()) if s in out]
        f = _merge_inputs(n, srcs) if srcs else one
        if n.children is not None:
            inner = _fields(n.children, rank, one, (None,) * rank)
            outs = [inner[o] for o in n.children.outputs if o in inner]
            if outs:
                g = _merge(outs)
                if g.whole:
                    f = _global(f, (None,) * rank, extent)
                elif not f.whole:
                    f = Field(
                        tuple(None if a is None or b is None or j is None else a + (b - 1) * j
                              for a, b, j in zip(f.size, g.size, f.jump, strict=True)),
                        tuple(None if j is None or k is None else j * k for j, k in zip(f.jump, g.jump, strict=True)),
                    )
            out[n.id] = f
            continue
        out[n.id] = f if n.is_input else _apply(n, f, rank, extent)
    return out


def block_fields(graph: ModelGraph, fields: dict[str, Field] | None = None, depth: int | None = None) -> dict[str, Field]:
    """The field of each block's output: the largest over its layers that feed another block or
    are model outputs (its last layer when none does).

    Args:
        graph: the model graph.
        fields: :func:`receptive_fields` of ``graph`` (computed when None).
        depth: cut block paths to this many parts (None: leaf blocks).
    """
    fields = receptive_fields(graph) if fields is None else fields

    def key(block: str) -> str:
        return block if depth is None else "/".join(block.split("/")[:depth])

    block_of = {n.id: key(n.block) for n in graph.nodes}
    exits: dict[str, list[str]] = {}
    last: dict[str, str] = {}
    for n in graph.nodes:
        last[block_of[n.id]] = n.id
    for e in graph.edges:
        if block_of.get(e.src) != block_of.get(e.dst):
            exits.setdefault(block_of[e.src], []).append(e.src)
    for o in graph.outputs:
        exits.setdefault(block_of[o], []).append(o)
    out: dict[str, Field] = {}
    for block, node_id in last.items():
        ids = exits.get(block) or [node_id]
        out[block] = _merge([fields[i] for i in dict.fromkeys(ids)])
    return out
