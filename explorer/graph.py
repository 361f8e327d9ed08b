"""keras.Model -> ModelGraph: plain data for renderers and budgets.

This is the only module that reads Keras internals (inbound nodes, tensor history). Everything
downstream (render, budget, charts, CLI) consumes :class:`ModelGraph` and never imports Keras.

Blocks: a layer's block path comes, in order of preference, from
1. its ``keras.name_scope`` path (``layer.path == "stage2/block3/stage2_block3_1_conv"``),
2. the Keras naming convention (``conv3_block2_1_conv`` -> ``conv3/block2``, ``pool2_conv`` ->
   ``pool2``, ``stem_conv`` -> ``stem``), used when most layers follow it,
3. nested sub-models (each one a block),
4. else every layer is its own block (flat).
Input layers form the block ``input``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from explorer.errors import GraphError

Shape = tuple[int | None, ...]

MERGE_CLASSES = frozenset(
    {"Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"}
)
INPUT_BLOCK = "input"

# Config keys worth keeping (JSON-friendly values only).
_CONFIG_KEYS = (
    "filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "depth_multiplier",
    "units", "activation", "use_bias", "rate", "pool_size", "axis", "momentum", "epsilon",
    "target_shape", "size", "cropping", "negative_slope", "alpha", "data_format", "keepdims",
    "output_padding", "center", "scale", "dims", "n", "num_heads", "key_dim",
)


@dataclass(frozen=True)
class Call:
    """One call of a layer: the shapes that went in and came out (batch dim is None)."""

    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]


@dataclass(frozen=True)
class Node:
    """One layer (a shared layer is one node with several calls).

    Attributes:
        id: the layer name, unique within its model and stable across builds.
        cls: the layer's class name (``Conv2D``).
        block: its block path (``stage2/block3``), see the module docstring.
        calls: every call of the layer within this model, in order.
        trainable_params: number of trainable weights' elements.
        non_trainable_params: number of non-trainable weights' elements.
        config: a JSON-friendly subset of ``layer.get_config()`` (filters, kernel_size, ...).
        summary: a short human description of that config (``64 3x3 /2 relu``).
        children: the graph of a nested model, else None.
    """

    id: str
    cls: str
    block: str
    calls: tuple[Call, ...]
    trainable_params: int
    non_trainable_params: int
    config: dict[str, Any] = field(hash=False, compare=True)
    summary: str = ""
    children: ModelGraph | None = None

    @property
    def params(self) -> int:
        """All parameters of the layer."""
        return self.trainable_params + self.non_trainable_params

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """Input shapes of the first call."""
        return self.calls[0].input_shapes if self.calls else ()

    @property
    def output_shapes(self) -> tuple[Shape, ...]:
        """Output shapes of the first call."""
        return self.calls[0].output_shapes if self.calls else ()

    @property
    def is_merge(self) -> bool:
        """True for merge layers (Add, Concatenate, ...)."""
        return self.cls in MERGE_CLASSES

    @property
    def is_input(self) -> bool:
        """True for input layers."""
        return self.cls == "InputLayer"


@dataclass(frozen=True)
class Edge:
    """A tensor flowing from one layer's output to another layer's input.

    Attributes:
        src: source node id.
        dst: destination node id.
        shape: the tensor's shape.
        src_output: which output of ``src`` (tensor index).
        dst_input: position among ``dst``'s inputs in that call.
        call: which call of ``dst`` (shared layers have several).
    """

    src: str
    dst: str
    shape: Shape
    src_output: int = 0
    dst_input: int = 0
    call: int = 0


@dataclass(frozen=True)
class ModelGraph:
    """A functional model as plain data.

    Attributes:
        name: the model's name.
        nodes: nodes in topological order.
        edges: edges in the order of the destination's inputs.
        inputs: ids of the input nodes.
        outputs: ids of the nodes producing the model's outputs.
        total_params: ``model.count_params()``.
        trainable_params: elements of the model's trainable weights.
        non_trainable_params: elements of the model's non-trainable weights.
        grouping: how blocks were found: ``scopes``, ``names``, ``submodels`` or ``flat``.
    """

    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    grouping: str

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id`` (KeyError if absent)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def blocks(self) -> list[str]:
        """Block paths in order of first appearance (they partition the nodes)."""
        return list(dict.fromkeys(n.block for n in self.nodes))

    def nodes_in(self, block: str) -> list[Node]:
        """Nodes whose block is ``block`` or below it (``stage2`` includes ``stage2/block1``)."""
        return [n for n in self.nodes if n.block == block or n.block.startswith(block + "/")]

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every node, nested ones included, with its dotted prefix (``encoder.conv1``)."""
        for n in self.nodes:
            yield "", n
            if n.children is not None:
                for prefix, child in n.children.walk():
                    yield f"{n.id}.{prefix}" if prefix else n.id, child


def _shape(t: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in t.shape)


def _count(weights: list) -> int:
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) or x is None for x in v):
        return list(v)
    return None


def _config(layer: Any) -> dict[str, Any]:
    # Read attributes rather than get_config(): faster, and Keras's serializer imports
    # TensorFlow just to check types, which the analysis server must not pay for.
    out = {}
    for key in _CONFIG_KEYS:
        v = getattr(layer, key, None)
        if key == "activation" and callable(v):
            v = getattr(v, "__name__", type(v).__name__)
        v = _jsonable(v)
        if v is not None:
            out[key] = v
    return out


def _dims(v: Any) -> str:
    if isinstance(v, list):
        return "x".join(str(x) for x in v)
    return str(v)


def config_summary(cls: str, config: dict[str, Any]) -> str:
    """A short description of a layer's config for labels, e.g. ``64 3x3 /2 relu``."""
    parts: list[str] = []
    if "filters" in config:
        parts.append(str(config["filters"]))
    if "units" in config:
        parts.append(str(config["units"]))
    if "depth_multiplier" in config and "filters" not in config:
        parts.append(f"x{config['depth_multiplier']}")
    if "kernel_size" in config:
        parts.append(_dims(config["kernel_size"]))
    if "pool_size" in config:
        parts.append(_dims(config["pool_size"]))
    strides = config.get("strides")
    if strides is not None and any(s != 1 for s in (strides if isinstance(strides, list) else [strides])):
        parts.append(f"/{_dims(strides)}")
    dil = config.get("dilation_rate")
    if dil is not None and any(d != 1 for d in (dil if isinstance(dil, list) else [dil])):
        parts.append(f"dil {_dims(dil)}")
    if config.get("groups", 1) not in (1, None):
        parts.append(f"g{config['groups']}")
    if "rate" in config:
        parts.append(f"rate {config['rate']}")
    act = config.get("activation")
    if act and act != "linear":
        parts.append(str(act))
    if cls == "Reshape" and "target_shape" in config:
        parts.append(_dims(config["target_shape"]))
    return " ".join(parts)


def _functional(model: Any) -> Any:
    """The functional graph behind a Functional or Sequential model."""
    import keras

    if isinstance(model, keras.Sequential):
        fm = getattr(model, "_functional", None)
        if fm is None:
            raise GraphError(
                "this Sequential model has no input shape yet, so it has no graph; "
                "give its first layer an Input or build it before saving."
            )
        return fm
    if not hasattr(model, "_nodes") or not hasattr(model, "_operations"):
        raise GraphError(
            f"{type(model).__name__} is a subclassed model without a functional graph; "
            "only functional and Sequential models can be drawn."
        )
    return model


_BLOCK_RE = re.compile(r"^([a-z]+\d*)_((?:block|layer)\d+)_")
_GROUP_RE = re.compile(r"^((?:conv|pool|stage|dense|transition|block)\d+|stem|head)_")


def _name_block(name: str) -> str | None:
    m = _BLOCK_RE.match(name)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    m = _GROUP_RE.match(name)
    return m.group(1) if m else None


def _scope_block(layer: Any) -> str | None:
    # The name scope the layer was called in (layers without weights have no ``path``).
    parent = getattr(layer, "_parent_path", None)
    if parent:
        return parent
    path = getattr(layer, "path", None)
    return path.rsplit("/", 1)[0] if path and "/" in path else None


def _assign_blocks(layers: list[Any]) -> tuple[list[str], str]:
    """Block path of each layer (same order), and the grouping that produced them."""
    is_input = [type(la).__name__ == "InputLayer" for la in layers]
    body = [la for la, inp in zip(layers, is_input, strict=True) if not inp]
    scoped = [_scope_block(la) for la in layers]
    if body and sum(s is not None for s, inp in zip(scoped, is_input, strict=True) if not inp) * 2 >= len(body):
        found, grouping = scoped, "scopes"
    else:
        named = [_name_block(la.name) for la in layers]
        if body and sum(n is not None for n, inp in zip(named, is_input, strict=True) if not inp) * 2 >= len(body):
            found, grouping = named, "names"
        elif any(_is_model(la) for la in body):
            found = [la.name if _is_model(la) else None for la in layers]
            grouping = "submodels"
        else:
            return [INPUT_BLOCK if inp else la.name for la, inp in zip(layers, is_input, strict=True)], "flat"
    # Fill the gaps: before the first found block -> stem, after the last -> head,
    # in between -> the block of the previous layer.
    known = [i for i, b in enumerate(found) if b is not None and not is_input[i]]
    first, last = (known[0], known[-1]) if known else (len(layers), -1)
    out: list[str] = []
    prev = "stem"
    for i, (b, inp) in enumerate(zip(found, is_input, strict=True)):
        if inp:
            out.append(INPUT_BLOCK)
            continue
        if b is None:
            if grouping == "submodels":
                b = layers[i].name
            elif i < first:
                b = "stem"
            elif i > last:
                b = "head"
            else:
                b = prev
        out.append(b)
        prev = b
    return out, grouping


def _is_model(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def extract(model: Any) -> ModelGraph:
    """Read a functional (or Sequential) Keras model into a :class:`ModelGraph`.

    Args:
        model: a built ``keras.Model``; weights need not be initialised.

    Returns:
        The model's graph: one node per layer, one edge per tensor connection.

    Raises:
        GraphError: for models without a functional graph.
    """
    fm = _functional(model)
    layers = list(fm.layers)
    own_nodes = fm._nodes  # keys f"{id(layer)}_ib-{node_index}" of the calls in this graph
    blocks, grouping = _assign_blocks(layers)

    nodes: list[Node] = []
    edges: list[Edge] = []
    for layer, block in zip(layers, blocks, strict=True):
        calls = []
        for k, node in enumerate(layer._inbound_nodes):
            if f"{id(layer)}_ib-{k}" not in own_nodes:
                continue
            call_index = len(calls)
            ins = tuple(_shape(t) for t in node.input_tensors)
            outs = tuple(_shape(t) for t in node.output_tensors)
            calls.append(Call(ins, outs))
            for pos, t in enumerate(node.input_tensors):
                hist = t._keras_history
                edges.append(Edge(hist.operation.name, layer.name, _shape(t), hist.tensor_index, pos, call_index))
        cls = type(layer).__name__
        if cls == "InputLayer" and not calls:
            out_shape = _shape(layer.output)
            calls.append(Call((), (out_shape,)))
        config = _config(layer)
        children = extract(layer) if _is_model(layer) else None
        nodes.append(
            Node(
                id=layer.name,
                cls=cls,
                block=block,
                calls=tuple(calls),
                trainable_params=_count(layer.trainable_weights),
                non_trainable_params=_count(layer.non_trainable_weights),
                config=config,
                summary=config_summary(cls, config),
                children=children,
            )
        )
    inputs = tuple(t._keras_history.operation.name for t in _flat(fm.inputs))
    outputs = tuple(t._keras_history.operation.name for t in _flat(fm.outputs))
    return ModelGraph(
        name=model.name,
        nodes=tuple(nodes),
        edges=tuple(edges),
        inputs=inputs,
        outputs=outputs,
        total_params=int(model.count_params()),
        trainable_params=_count(model.trainable_weights),
        non_trainable_params=_count(model.non_trainable_weights),
        grouping=grouping,
    )


def _flat(x: Any) -> list:
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat(v)]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat(v)]
    return [x]
