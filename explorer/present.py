"""Presentation mode's build-up: the first N blocks of a graph, so a class sees a model grow.

``reveal(graph, n)`` keeps the nodes of the first ``n`` blocks (in graph order, input first) and
the edges between them; its totals are those of the kept nodes, so the budget grows with it.

A step is one unit (a stage such as ``stage2``, or a leaf block such as ``stage2/block1``).
:func:`step_info` describes it as plain data: :meth:`StepInfo.overview` is the one line above
the graph ("Stage 4 of 6 · stage2 · 18 blocks · 176K params") and :func:`note` the sentences a
teacher reads aloud (what the unit does, its shape change, its share of params and MACs).
:func:`convert_step` keeps the position when the reveal switches between stages and blocks, and
:func:`frame_ids` names the drawing's nodes the viewer frames (the new unit and the one before).
No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from explorer import blockpath
from explorer.fmt import format_shape, human
from explorer.graph import INPUT_BLOCK, ModelGraph, Node
from explorer.memo import per_graph

BY = ("stage", "block")


def stages(graph: ModelGraph) -> list[str]:
    """The units the build-up reveals: top-level blocks (``stage2``), in order of appearance."""
    return list(dict.fromkeys(blockpath.stage(n.block) for n in graph.nodes))


@per_graph()
def units(graph: ModelGraph, by: str) -> list[str]:
    """The steps of a build-up: stages (``by="stage"``) or leaf blocks (``by="block"``)."""
    return stages(graph) if by == "stage" else graph.blocks()


def _key(by: str):
    return (lambda b: b) if by == "block" else blockpath.stage


def unit_nodes(graph: ModelGraph, by: str, unit: str) -> list[Node]:
    """The layers of one unit (a stage or a leaf block), in graph order."""
    key = _key(by)
    return [x for x in graph.nodes if key(x.block) == unit]


def clamp(n: int, total: int) -> int:
    """A step number clamped to ``1..total``."""
    return max(1, min(int(n), max(total, 1)))


@per_graph()
def reveal(graph: ModelGraph, n: int, by: str = "block") -> ModelGraph:
    """The first ``n`` blocks (``by="block"``) or stages (``by="stage"``) of ``graph``.

    Args:
        graph: the whole model's graph.
        n: how many units to keep (clamped to 1..all).
        by: ``"block"`` for leaf blocks, ``"stage"`` for top-level blocks.

    Returns:
        A graph with only those nodes, the edges among them, and their own totals.
    """
    all_units = units(graph, by)
    n = clamp(n, len(all_units))
    keep_units = set(all_units[:n])
    key = _key(by)
    nodes = tuple(x for x in graph.nodes if key(x.block) in keep_units)
    ids = {x.id for x in nodes}
    edges = tuple(e for e in graph.edges if e.src in ids and e.dst in ids)
    consumed = {e.src for e in edges}
    outputs = tuple(x.id for x in nodes if x.id not in consumed and not x.is_input) or (nodes[-1].id,)
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


def convert_step(graph: ModelGraph, n: int, from_by: str, to_by: str) -> int:
    """The step of ``to_by`` that shows the same place as step ``n`` of ``from_by``.

    Stages to blocks: the first block of the current stage. Blocks to stages: the stage that
    holds the current block.
    """
    src = units(graph, from_by)
    n = clamp(n, len(src))
    if from_by == to_by:
        return n
    dst = units(graph, to_by)
    here = src[n - 1]
    if to_by == "block":
        return next((i for i, b in enumerate(dst, 1) if blockpath.stage(b) == here), 1)
    return dst.index(blockpath.stage(here)) + 1 if blockpath.stage(here) in dst else 1


@dataclass(frozen=True)
class StepInfo:
    """One step of the build-up as plain data (numbers, no formatting decisions but the text methods).

    Attributes:
        by: ``stage`` or ``block``.
        n: the step (1-based).
        total: how many steps there are.
        unit: the unit's block path (``stage2``, ``stage2/block1``).
        layers: its layers.
        blocks: its leaf blocks (1 for a block).
        params: its parameters.
        macs: its multiply-accumulates.
        model_params: the whole model's parameters.
        model_macs: the whole model's MACs.
        in_shape: the shape entering the unit (None for an input).
        out_shape: the shape leaving it.
    """

    by: str
    n: int
    total: int
    unit: str
    layers: int
    blocks: int
    params: int
    macs: int
    model_params: int
    model_macs: int
    in_shape: tuple | None
    out_shape: tuple | None

    @property
    def param_share(self) -> float:
        """The unit's share of the model's parameters (0..1)."""
        return self.params / self.model_params if self.model_params else 0.0

    @property
    def mac_share(self) -> float:
        """The unit's share of the model's MACs (0..1)."""
        return self.macs / self.model_macs if self.model_macs else 0.0

    def overview(self) -> str:
        """``Stage 4 of 6 · stage2 · 18 blocks · 176K params`` (the whole name, never cut)."""
        size = f"{self.blocks} blocks" if self.blocks > 1 else f"{self.layers} layers" if self.layers > 1 else "1 layer"
        return f"{self.by.title()} {self.n} of {self.total} · {self.unit} · {size} · {human(self.params)} params"


def _macs_of(nodes: list[Node]) -> int:
    from explorer.budget import node_macs

    return sum(node_macs(x) for x in nodes)


@per_graph()
def step_info(graph: ModelGraph, n: int, by: str, model_macs: int | None = None) -> StepInfo:
    """Describe step ``n`` of the build-up of ``graph`` by ``by``.

    Args:
        graph: the whole model's graph.
        n: the step (clamped to the valid range).
        by: ``stage`` or ``block``.
        model_macs: the whole model's MACs, if already known (else summed here).

    Returns:
        The step's :class:`StepInfo`.
    """
    all_units = units(graph, by)
    n = clamp(n, len(all_units))
    unit = all_units[n - 1]
    nodes = unit_nodes(graph, by, unit)
    ids = {x.id for x in nodes}
    outside = {e.src for e in graph.edges if e.dst in ids and e.src not in ids}
    entering = [x for x in graph.nodes if x.id in outside]
    in_shape = entering[0].output_shapes[0] if entering and entering[0].output_shapes else None
    last = nodes[-1] if nodes else None
    out_shape = last.output_shapes[0] if last is not None and last.output_shapes else None
    return StepInfo(
        by=by, n=n, total=len(all_units), unit=unit, layers=len(nodes),
        blocks=len({x.block for x in nodes}), params=sum(x.params for x in nodes), macs=_macs_of(nodes),
        model_params=graph.total_params, model_macs=model_macs if model_macs is not None else _macs_of(list(graph.nodes)),
        in_shape=in_shape, out_shape=out_shape,
    )


def _strided(x: Node) -> bool:
    s = x.config.get("strides")
    return s is not None and any(v != 1 for v in (s if isinstance(s, list) else [s]))


def _kernel(x: Node) -> str:
    k = x.config.get("kernel_size") or x.config.get("pool_size")
    if isinstance(k, list):
        return "×".join(str(v) for v in k)
    return str(k) if k is not None else ""


def _what(graph: ModelGraph, info: StepInfo, nodes: list[Node]) -> str:
    """What the unit does, in one sentence built from its layers."""
    name = info.unit
    if info.unit == INPUT_BLOCK or all(x.is_input for x in nodes):
        return f"The input: {format_shape(info.out_shape)} images enter the network."
    classes = [x.cls for x in nodes]
    convs = [x for x in nodes if "Conv" in x.cls]
    parts: list[str] = []
    if info.blocks > 1:
        merges = {x.cls for x in nodes if x.is_merge}
        kind = "residual blocks" if "Add" in merges else "dense layers" if "Concatenate" in merges else "blocks"
        parts.append(f"{info.blocks} {kind}")
    elif convs:
        kernels = list(dict.fromkeys(_kernel(x) for x in convs))
        parts.append(f"{len(convs)} convolution{'s' if len(convs) > 1 else ''} ({', '.join(kernels)})")
    strided = [x for x in nodes if _strided(x) and ("Conv" in x.cls or "Pool" in x.cls)]
    pools = [x for x in nodes if "Pooling" in x.cls and "Global" not in x.cls]
    halves = info.in_shape is not None and info.out_shape is not None and len(info.in_shape) == 4 \
        and len(info.out_shape) == 4 and info.in_shape[1] and info.out_shape[1] and info.out_shape[1] < info.in_shape[1]
    sentence = f"{name}: " + (", ".join(parts) if parts else ", ".join(dict.fromkeys(classes[:4])))
    extras: list[str] = []
    if halves:
        exact = info.out_shape[1] * 2 == info.in_shape[1]
        verb = "halves the resolution" if exact else "shrinks the resolution"
        how = "a stride-2 convolution" if any("Conv" in x.cls for x in strided) else "pooling" if pools or strided else ""
        extras.append(f"{verb} with {how}" if how else verb)
    shortcut = [x for x in convs if "shortcut" in x.id or "short" in x.id]
    if shortcut and _kernel(shortcut[0]) == "1×1":
        extras.append("a 1×1 projection adapts the shortcut")
    elif "Add" in classes and info.blocks == 1:
        extras.append("adds its input back (a residual connection)")
    if "Concatenate" in classes and info.blocks == 1:
        extras.append("concatenates its new channels onto its input (a dense connection)")
    dense = [x for x in nodes if x.cls == "Dense"]
    if dense and dense[-1].id in graph.outputs:
        units_ = dense[-1].config.get("units")
        pooled = any("Pooling" in x.cls for x in nodes)
        how = "pools and flattens the features" if pooled else "flattens the features"
        extras.append(f"{how}, and a Dense layer scores {units_} classes")
    if extras:
        sentence += "; it " + "; ".join(extras)
    return sentence + "."


@per_graph()
def note(graph: ModelGraph, n: int, by: str, model_macs: int | None = None) -> str:
    """A short note for the teacher about step ``n``: what it does, its shape change, its shares.

    Example: "stage2: 18 residual blocks; it halves the resolution with a stride-2 convolution;
    a 1×1 projection adapts the shortcut. Shape 32x32x16 → 16x16x32. 9.8% of the parameters,
    33% of the MACs."
    """
    info = step_info(graph, n, by, model_macs)
    nodes = unit_nodes(graph, by, info.unit)
    text = _what(graph, info, nodes)
    if info.in_shape is not None and info.out_shape is not None:
        text += f" Shape {format_shape(info.in_shape)} → {format_shape(info.out_shape)}."
    if info.params or info.macs:
        text += f" {_pct(info.param_share)} of the parameters, {_pct(info.mac_share)} of the MACs."
    return text


def _pct(x: float) -> str:
    v = 100 * x
    return f"{v:.2g}%" if v < 10 else f"{v:.0f}%"


def frame_ids(shown: Mapping[str, str], graph: ModelGraph, n: int, by: str) -> tuple[list[str], list[str]]:
    """The drawing's node ids of step ``n`` (new) and of step ``n-1`` (context).

    Args:
        shown: layer id -> DOT node id in the drawing (:func:`explorer.render.display_ids`).
        graph: the whole model's graph.
        n: the step.
        by: ``stage`` or ``block``.

    Returns:
        ``(new, context)``: DOT ids, each without repeats, in graph order.
    """
    all_units = units(graph, by)
    n = clamp(n, len(all_units))

    def ids(unit: str) -> list[str]:
        return list(dict.fromkeys(shown[x.id] for x in unit_nodes(graph, by, unit) if x.id in shown))

    new = ids(all_units[n - 1])
    context = [i for i in ids(all_units[n - 2]) if i not in new] if n > 1 else []
    return new, context


def enlarge_fonts(dot_text: str, factor: float = 1.6) -> str:
    """Scale every ``fontsize`` in DOT text (graph labels readable on a projector)."""
    return re.sub(r'fontsize="?(\d+(?:\.\d+)?)"?', lambda m: f'fontsize="{float(m.group(1)) * factor:g}"', dot_text)
