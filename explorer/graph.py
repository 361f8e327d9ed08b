"""keras.Model -> ModelGraph: plain data for renderers and budgets.

This is the only module that reads Keras internals (inbound nodes, tensor history). Everything
downstream (render, budget, charts, CLI) consumes :class:`ModelGraph` and never imports Keras.

Every operation of the functional graph becomes a node: layers, and the Keras ops a model calls
on symbolic tensors (``x * gamma``, ``ops.add(a, b)``, ``x @ w``), which have no weights and are
marked ``op=True`` (their class is the op's, e.g. ``Multiply``).

Blocks come from :mod:`explorer.grouping`: name scopes, else the naming conventions of the
Keras Applications families, else nested sub-models, else the graph's structure, else flat.
Input layers form the block ``input``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from explorer.errors import GraphError
from explorer.fmt import format_shape
from explorer.grouping import INPUT_BLOCK, OpInfo, assign_blocks  # noqa: F401  (INPUT_BLOCK re-exported)

Shape = tuple[int | None, ...]

MERGE_CLASSES = frozenset(
    {"Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"}
)

# Config keys worth keeping (JSON-friendly values only).
_CONFIG_KEYS = (
    "filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "depth_multiplier",
    "units", "activation", "use_bias", "rate", "pool_size", "axis", "momentum", "epsilon",
    "target_shape", "size", "cropping", "negative_slope", "alpha", "data_format", "keepdims",
    "output_padding", "center", "scale", "dims", "n", "axes", "num_heads", "key_dim", "value_dim",
    "return_sequences", "merge_mode", "interpolation", "subscripts", "equation",
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
        op: True for a Keras op called on symbolic tensors (no weights, not a layer).
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
    op: bool = False

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
        grouping: how blocks were found: ``scopes``, ``names``, ``submodels``, ``structure`` or
            ``flat`` (see :mod:`explorer.grouping`).
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
    inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
    if inner is not None and inner is not layer and hasattr(inner, "_inbound_nodes"):
        # Wrappers (Bidirectional, TimeDistributed): the wrapped layer's class and config.
        out["inner"] = {"cls": type(inner).__name__, **_config(inner)}
    return out


def _operands(node: Any) -> list[list[int | None]]:
    """Shapes of every array argument of an op's call (tensors, variables, constants), in order."""
    shapes = []
    for arg in getattr(node.arguments, "_flat_arguments", ()):
        shape = getattr(arg, "shape", None)
        if shape is not None and not isinstance(arg, (str, bytes)):
            try:
                shapes.append([None if d is None else int(d) for d in shape])
            except TypeError:
                continue
    return shapes


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


def _scope_block(layer: Any) -> str | None:
    # The name scope the layer was called in (layers without weights have no ``path``).
    parent = getattr(layer, "_parent_path", None)
    if parent:
        return parent
    path = getattr(layer, "path", None)
    return path.rsplit("/", 1)[0] if path and "/" in path else None


def _is_model(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _read(fm: Any) -> tuple[list, list[Edge], list[OpInfo], list[tuple[int, int]]]:
    """The operations of a functional graph with their calls, the edges, and grouping's inputs."""
    import keras

    operations = list(fm.operations)
    own_nodes = fm._nodes  # keys f"{id(op)}_ib-{node_index}" of the calls in this graph
    index = {op.name: i for i, op in enumerate(operations)}

    raw = []  # (op, calls, op_edges, first keras node)
    edges: list[Edge] = []
    for op in operations:
        calls = []
        first = None
        for k, node in enumerate(op._inbound_nodes):
            if f"{id(op)}_ib-{k}" not in own_nodes:
                continue
            first = first or node
            call_index = len(calls)
            ins = tuple(_shape(t) for t in node.input_tensors)
            outs = tuple(_shape(t) for t in node.output_tensors)
            calls.append(Call(ins, outs))
            for pos, t in enumerate(node.input_tensors):
                hist = t._keras_history
                edges.append(Edge(hist.operation.name, op.name, _shape(t), hist.tensor_index, pos, call_index))
        cls = type(op).__name__
        if cls == "InputLayer" and not calls:
            calls.append(Call((), (_shape(op.output),)))
        raw.append((op, cls, calls, first))

    infos = [
        OpInfo(
            name=op.name,
            cls=cls,
            scope=_scope_block(op) if isinstance(op, keras.layers.Layer) else None,
            is_input=cls == "InputLayer",
            is_model=_is_model(op),
            in_shape=calls[0].input_shapes[0] if calls and calls[0].input_shapes else None,
            out_shape=calls[0].output_shapes[0] if calls and calls[0].output_shapes else None,
        )
        for op, cls, calls, _ in raw
    ]
    pairs = [(index[e.src], index[e.dst]) for e in edges if e.src in index and e.dst in index]
    return raw, edges, infos, pairs


def grouping_inputs(model: Any) -> tuple[list[OpInfo], list[tuple[int, int]]]:
    """What :func:`explorer.grouping.assign_blocks` gets for ``model`` (for benchmarks and tests)."""
    _, _, infos, pairs = _read(_functional(model))
    return infos, pairs


def extract(model: Any) -> ModelGraph:
    """Read a functional (or Sequential) Keras model into a :class:`ModelGraph`.

    Args:
        model: a built ``keras.Model``; weights need not be initialised.

    Returns:
        The model's graph: one node per layer or op, one edge per tensor connection.

    Raises:
        GraphError: for models without a functional graph.
    """
    import keras

    fm = _functional(model)
    raw, edges, infos, pairs = _read(fm)
    blocks, grouping = assign_blocks(infos, pairs)

    nodes: list[Node] = []
    for (op, cls, calls, first), block in zip(raw, blocks, strict=True):
        is_op = not isinstance(op, keras.layers.Layer)
        config = _config(op)
        if is_op and first is not None:
            config["operands"] = _operands(first)
        children = extract(op) if _is_model(op) else None
        nodes.append(
            Node(
                id=op.name,
                cls=cls,
                block=block,
                calls=tuple(calls),
                trainable_params=_count(getattr(op, "trainable_weights", ())),
                non_trainable_params=_count(getattr(op, "non_trainable_weights", ())),
                config=config,
                summary=config_summary(cls, config),
                children=children,
                op=is_op,
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


MAX_INPUT_SIZE = 8192


def parse_input_size(text: str | tuple | list | None) -> tuple[int, ...] | None:
    """``"224,224"`` -> ``(224, 224)``; None stays None.

    Raises:
        ConfigError: anything but whole numbers from 1 to 8192, separated by commas.
    """
    from explorer.errors import ConfigError

    if text is None or text == "":
        return None
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        size = tuple(int(str(p).strip()) for p in parts)
    except ValueError:
        size = ()
    if not size or any(not 1 <= d <= MAX_INPUT_SIZE for d in size):
        raise ConfigError(
            f"input size {text!r} is not allowed; give the unknown dimensions as whole numbers from 1 to "
            f"{MAX_INPUT_SIZE} separated by commas, e.g. 224,224."
        )
    return size


def with_input_size(model: Any, size: tuple[int, ...]) -> Any:
    """The same model traced at a fixed input size: its inputs' unknown (None) dimensions, after
    the batch, become ``size`` in order. Weights are not copied (analysis only).

    Raises:
        ConfigError: the model has no unknown dimensions, or ``size`` gives another number of them.
    """
    import keras

    from explorer.errors import ConfigError

    fm = _functional(model)
    shapes = [tuple(t.shape[1:]) for t in _flat(fm.inputs)]
    unknown = sum(d is None for s in shapes for d in s)
    if unknown == 0:
        raise ConfigError(
            f"input size applies to inputs of unknown size, and {model.name}'s input size is fixed "
            f"({', '.join(format_shape((None, *s)) for s in shapes)})."
        )
    if len(size) != unknown:
        raise ConfigError(
            f"input size {','.join(map(str, size))} gives {len(size)} dimensions but {model.name}'s inputs have "
            f"{unknown} unknown ({', '.join(format_shape((None, *s)).replace('None', '?') for s in shapes)})."
        )
    it = iter(size)
    new_inputs = [keras.Input(tuple(next(it) if d is None else d for d in s), name=t.name if hasattr(t, "name") else None)
                  for s, t in zip(shapes, _flat(fm.inputs), strict=True)]
    from explorer.keras_compat import skip_tensorflow_probe

    skip_tensorflow_probe()  # clone_model serializes configs: keep TensorFlow out on the numpy backend
    with keras.StatelessScope(initialize_variables=False):
        clone = keras.models.clone_model(fm, input_tensors=new_inputs if len(new_inputs) > 1 else new_inputs[0])
    return clone


def _flat(x: Any) -> list:
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat(v)]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat(v)]
    return [x]
