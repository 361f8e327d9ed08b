"""ModelGraph -> parameter, compute and activation budgets per layer, per block and in total.

Plain data in, plain data out: this module never imports Keras. Everything is counted for **one
example** (batch size 1); activation memory is then scaled by a chosen batch size and dtype.

Counting conventions
--------------------
* **Params**: a layer's trainable and non-trainable weights, counted once per layer (a shared
  layer called several times still owns one set of weights), so layer params add up exactly to
  ``model.count_params()``.
* **MACs** (multiply-accumulates) of the linear layers, the textbook way; the bias add is **not**
  counted (it is one add per output element, usually well under 1% of the layer):

  - ``ConvND``: ``out_elements * prod(kernel_size) * C_in / groups`` (strides, dilation and
    padding act through the output size, which comes from the graph's shapes).
  - ``ConvNDTranspose``: ``in_elements * prod(kernel_size) * filters / groups``.
  - ``DepthwiseConvND``: ``out_elements * prod(kernel_size)``.
  - ``SeparableConvND``: depthwise ``out_positions * C_in * depth_multiplier * prod(kernel_size)``
    plus pointwise ``out_positions * C_in * depth_multiplier * filters``.
  - ``Dense`` on any rank: ``in_elements * units`` (every leading position is a matmul row).

* **Element-wise and reduction work counts one MAC per elementary operation per element**: an
  add, a compare, a multiply or a multiply-add each count as one MAC. So:

  - ``BatchNormalization``: 1 per element (at inference it folds to ``x * a + b``).
  - ``LayerNormalization`` / ``GroupNormalization``: 3 per element (mean, variance, scale-shift).
  - activations (``Activation``, ``ReLU``, ``Softmax``, ..., and the ``activation=`` fused into
    a Conv/Dense layer): 1 per output element.
  - ``Add``/``Subtract``/``Multiply``/``Maximum``/``Minimum``: ``(inputs - 1)`` per output
    element; ``Average``: ``inputs`` per output element.
  - pooling: ``out_elements * prod(pool_size)``; global pooling: ``in_elements``.
  - ``Rescaling`` / ``Normalization``: 1 per element.
  - data movement costs nothing: ``Concatenate``, ``Flatten``, ``Reshape``, ``Permute``,
    padding, cropping, dropout, ``UpSampling`` (nearest), input layers.

  - ``LayerScale`` (ConvNeXt), ``CustomScaleLayer`` (InceptionResNetV2's ``a + b * scale``):
    1 per element; ``RMSNormalization``: 2 per element.
  - ``Resizing``: 4 per output element (bilinear and the other interpolations), nearest 0.

  Element-wise work is a few percent of a CNN's MACs; FLOPs are always ``2 * MACs``, so they
  overstate element-wise work by up to 2x, which is the usual trade for one simple rule.
* **Keras ops** called on symbolic tensors (``x * gamma``, ``ops.add``, ``x @ w``; nodes with
  ``op=True``):

  - element-wise ops, binary (``add``, ``multiply``, ``maximum``, comparisons...) and unary
    (``exp``, ``sqrt``, ``relu``, ``sigmoid``, ``softmax``...): 1 per output element;
  - reductions (``mean``, ``sum``, ``max``...): 1 per input element;
  - ``matmul``/``dot``: ``out_elements * K`` (K the contracted size, the first operand's last
    dimension); ``einsum``: the product of the sizes of all its indices;
  - data movement (``reshape``, ``transpose``, ``concatenate``, slicing, ``cast``...): 0.
* **Recurrent layers**, per time step times the number of steps ``T`` (input ``(T, F)``,
  ``U`` units): ``SimpleRNN`` ``U*(F+U) + U``; ``GRU`` ``3*U*(F+U) + 7*U`` (two sigmoid gates,
  the reset product, tanh, the interpolation ``z*h + (1-z)*h~`` as 3); ``LSTM``
  ``4*U*(F+U) + 8*U`` (three sigmoids, two tanh, ``f*c + i*g`` as 2, ``o*tanh(c)``).
  ``Bidirectional``: twice the wrapped layer, plus 1 per output element for a ``sum``, ``mul``
  or ``ave`` merge. ``TimeDistributed``: the wrapped layer's formula per step times ``T``.
* **Attention** (``Tq``, ``Tv`` query and value positions): ``MultiHeadAttention`` with ``H``
  heads, key size ``dk`` and value size ``dv``: projections ``Tq*dq*H*dk + Tv*dkey*H*dk +
  Tv*dval*H*dv``, scores ``QK^T`` ``H*Tq*Tv*dk``, softmax ``H*Tq*Tv``, ``AV`` ``H*Tq*Tv*dv``,
  output projection ``Tq*H*dv*d_out``. ``Attention`` (dot-product): ``2*Tq*Tv*d + Tq*Tv``;
  ``EinsumDense``: the product of the output's and the contracted indices' sizes.
* **Unknown sizes**: a ``None`` dimension other than the batch (an input of ``(None, None,
  3)``) makes the per-example counts meaningless. Such layers are listed in
  :attr:`Budget.unknown_dims`; the summary refuses the MAC count for them and asks for a size
  (``summary --input-size 224,224`` re-traces the model at that size).
* A shared layer's MACs are counted **per call** (``Node.calls``). A nested model's MACs are its
  own graph's total per call. Layers without a formula (``Lambda``, custom layers, unknown ops)
  count 0 MACs and are listed in :attr:`Budget.uncounted`.
* **Activations**: the elements of every output tensor of every call (the model's input
  included), per example; bytes = elements * batch size * bytes per element of the dtype.
  Unknown (``None``) non-batch dimensions count as 1.

Blocks: a layer in block ``stage2/block3`` belongs to ``stage2/block3`` and to ``stage2``;
:meth:`Budget.hierarchy` rolls stats up to every level, :meth:`Budget.partition` groups the
layers by their block path cut to a depth, so a partition's rows always add up to the totals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from explorer.blockpath import cut
from explorer.errors import ConfigError
from explorer.fmt import format_shape
from explorer.graph import Call, ModelGraph, Node, Shape
from explorer.memo import per_graph

# Bytes per element of the dtypes offered for activation memory.
DTYPES: dict[str, int] = {
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1, "float8": 1,
}
DEFAULT_DTYPE = "float32"
MAX_BATCH = 1_000_000

_CONV = {"Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D"}
_CONV_T = {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
           "Convolution2DTranspose", "Convolution3DTranspose"}
_DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
_SEPARABLE = {"SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"}
_POOL = {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
         "AveragePooling3D"}
_GLOBAL_POOL = {"GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"}
_ACTIVATIONS = {"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU"}
_PER_ELEMENT = {"BatchNormalization": 1, "LayerNormalization": 3, "GroupNormalization": 3,
                "UnitNormalization": 3, "Rescaling": 1, "Normalization": 1, "RMSNormalization": 2,
                "LayerScale": 1, "CustomScaleLayer": 1}
_MERGE_MINUS_ONE = {"Add", "Subtract", "Multiply", "Maximum", "Minimum"}
_FREE = {"InputLayer", "Concatenate", "Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout1D",
         "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
         "ActivityRegularization", "RepeatVector", "Identity", "Masking", "Embedding",
         "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
         "UpSampling1D", "UpSampling2D", "UpSampling3D"}
_FUSED_ACTIVATION = _CONV | _CONV_T | _DEPTHWISE | _SEPARABLE | {"Dense"}
_RNN = {"SimpleRNN": (1, 1), "GRU": (3, 7), "LSTM": (4, 8)}  # (matmul gates, element-wise ops per unit)
_LAYER_FORMULAS = {"MultiHeadAttention", "Attention", "EinsumDense", "Bidirectional", "TimeDistributed", "Resizing"}

# Keras ops (nodes with op=True), by class name.
_OP_BINARY = {"Add", "Subtract", "Multiply", "Divide", "DivideNoNan", "TrueDivide", "FloorDivide", "Power",
              "Maximum", "Minimum", "Fmax", "Fmin", "Mod", "Fmod", "Arctan2", "Hypot", "Equal", "NotEqual",
              "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr", "LogicalXor",
              "Logaddexp", "Logaddexp2", "Where", "Heaviside", "Ldexp", "Nextafter"}
_OP_UNARY = {"Abs", "Absolute", "Fabs", "Negative", "Square", "Sqrt", "Rsqrt", "Reciprocal", "Exp", "Exp2", "Expm1",
             "Log", "Log1p", "Log2", "Log10", "Sin", "Cos", "Tan", "Tanh", "Sinh", "Cosh", "Arcsin", "Arccos",
             "Arctan", "Arcsinh", "Arccosh", "Arctanh", "Sign", "Round", "Floor", "Ceil", "Trunc", "Clip", "Erf",
             "Erfc", "Erfinv", "Cbrt", "LogicalNot", "NanToNum", "Isnan", "Isinf", "Isfinite", "Relu", "Relu6",
             "Sigmoid", "SparseSigmoid", "Softplus", "Softsign", "Silu", "LogSigmoid", "LeakyRelu", "HardSigmoid",
             "HardSilu", "Elu", "Selu", "Gelu", "Celu", "Glu", "HardTanh", "Softmax", "LogSoftmax", "Squareplus",
             "TanhShrink", "SoftShrink", "HardShrink", "Threshold", "SparsePlus", "Sparsemax"}
_OP_REDUCE = {"Sum", "Mean", "Max", "Min", "Amax", "Amin", "Prod", "Std", "Var", "Logsumexp", "Argmax", "Argmin",
              "Cumsum", "Cumprod", "Any", "All", "CountNonzero", "Moments", "Median", "Nanmean", "Nansum",
              "Nanmax", "Nanmin", "Ptp", "Trace"}
_OP_FREE = {"Reshape", "Transpose", "Swapaxes", "Moveaxis", "Squeeze", "ExpandDims", "Concatenate", "Stack",
            "Hstack", "Vstack", "Dstack", "Split", "ArraySplit", "Hsplit", "Vsplit", "Dsplit", "GetItem", "Slice",
            "Take", "TakeAlongAxis", "Tile", "Repeat", "BroadcastTo", "Pad", "Flip", "Fliplr", "Flipud", "Roll",
            "Ravel", "Cast", "SaturateCast", "ConvertToTensor", "StopGradient", "Copy", "Unstack", "ZerosLike",
            "OnesLike", "FullLike", "EmptyLike", "View", "Array", "Rot90", "DepthToSpace", "SpaceToDepth",
            "Tril", "Triu", "Size", "Ndim", "Diagonal", "Identity"}
_OP_CONTRACT = {"Matmul", "Dot", "Einsum", "Tensordot", "Inner", "Outer", "Vdot"}


def elements(shape: Shape | None) -> int:
    """Elements of one example of a tensor: the product of the non-batch dimensions.

    Args:
        shape: a shape whose first dimension is the batch (``(None, 32, 32, 16)``).

    Returns:
        The product of ``shape[1:]``, unknown dimensions counting as 1 (a scalar gives 1).
    """
    if not shape:
        return 0
    n = 1
    for d in shape[1:]:
        n *= d if d else 1
    return n


def _as_list(v: Any, rank: int) -> list[int]:
    if isinstance(v, (list, tuple)):
        return [int(x) for x in v]
    return [int(v)] * rank if v is not None else [1] * rank


def _channels(shape: Shape, config: dict[str, Any]) -> int:
    axis = 1 if config.get("data_format") == "channels_first" else -1
    d = shape[axis] if len(shape) > 1 else 1
    return d or 1


def _spatial_rank(cls: str) -> int:
    for r in (1, 2, 3):
        if f"{r}D" in cls:
            return r
    return 2


def call_macs(node: Node, call: Call, fused_activation: bool = True) -> int:
    """MACs of one call of a layer for one example (see the module docstring for the rules).

    Args:
        node: the layer.
        call: one of ``node.calls``.
        fused_activation: count the ``activation=`` of a Conv/Dense layer (1 per output element);
            False gives the bare linear MACs.

    Returns:
        Multiply-accumulates of that call; 0 for layers without a formula.
    """
    if node.op:
        return _op_macs(node, call)
    cls, cfg = node.cls, node.config
    ins, outs = call.input_shapes, call.output_shapes
    out = sum(elements(s) for s in outs)
    inp = sum(elements(s) for s in ins)
    rank = _spatial_rank(cls)
    macs = 0
    if cls in _CONV:
        k = math.prod(_as_list(cfg.get("kernel_size"), rank))
        macs = out * k * _channels(ins[0], cfg) // max(int(cfg.get("groups") or 1), 1)
    elif cls in _CONV_T:
        k = math.prod(_as_list(cfg.get("kernel_size"), rank))
        macs = inp * k * int(cfg.get("filters") or _channels(outs[0], cfg)) // max(int(cfg.get("groups") or 1), 1)
    elif cls in _DEPTHWISE:
        macs = out * math.prod(_as_list(cfg.get("kernel_size"), rank))
    elif cls in _SEPARABLE:
        k = math.prod(_as_list(cfg.get("kernel_size"), rank))
        c_mid = _channels(ins[0], cfg) * int(cfg.get("depth_multiplier") or 1)
        positions = out // max(_channels(outs[0], cfg), 1)
        macs = positions * c_mid * k + positions * c_mid * _channels(outs[0], cfg)
    elif cls == "Dense":
        macs = inp * int(cfg.get("units") or _channels(outs[0], cfg))
    elif cls in _POOL:
        macs = out * math.prod(_as_list(cfg.get("pool_size"), rank))
    elif cls in _GLOBAL_POOL:
        macs = inp
    elif cls in _ACTIVATIONS:
        macs = out if cfg.get("activation", "relu") not in ("linear", None) else 0
    elif cls in _PER_ELEMENT:
        macs = _PER_ELEMENT[cls] * out
    elif cls in _MERGE_MINUS_ONE:
        macs = (len(ins) - 1) * out
    elif cls == "Average":
        macs = len(ins) * out
    elif cls == "Dot" and ins:
        axes = cfg.get("axes", -1)
        axis = axes[0] if isinstance(axes, list) else axes
        macs = max(out, 1) * (_dim(ins[0][axis]) if len(ins[0]) > 1 else 1)
    elif cls in _RNN and ins:
        macs = _rnn_macs(cls, cfg, ins[0])
    elif cls == "Bidirectional" and ins:
        inner = cfg.get("inner", {})
        macs = 2 * _rnn_macs(inner.get("cls", ""), inner, ins[0])
        macs += out if cfg.get("merge_mode") in ("sum", "mul", "ave") else 0
    elif cls == "TimeDistributed" and ins and outs:
        inner = cfg.get("inner", {})
        steps = _dim(ins[0][1]) if len(ins[0]) > 1 else 1
        step = Call(tuple((s[0], *s[2:]) for s in ins), tuple((s[0], *s[2:]) for s in outs))
        inner_node = Node(id=node.id, cls=inner.get("cls", ""), block=node.block, calls=(step,),
                          trainable_params=0, non_trainable_params=0, config=inner)
        macs = steps * call_macs(inner_node, step, fused_activation)
    elif cls == "MultiHeadAttention" and ins and outs:
        macs = _mha_macs(cfg, ins, outs[0])
    elif cls == "Attention" and ins and outs:
        q, v = ins[0], ins[1] if len(ins) > 1 else ins[0]
        tq, tv, d = _positions(q), _positions(v), _dim(q[-1])
        macs = 2 * tq * tv * d + tq * tv
    elif cls == "EinsumDense" and ins and outs:
        macs = _einsum_dense_macs(str(cfg.get("equation", "")), ins[0], outs[0])
    elif cls == "Resizing":
        macs = 0 if cfg.get("interpolation") == "nearest" else 4 * out
    if fused_activation and cls in _FUSED_ACTIVATION and cfg.get("activation") not in (None, "linear"):
        macs += out
    return macs


def _dim(d: int | None) -> int:
    return d if d else 1


def _positions(shape: Shape) -> int:
    """Positions of a (batch, ..., features) tensor: the product of its middle dimensions."""
    return math.prod(_dim(d) for d in shape[1:-1]) if len(shape) > 2 else 1


def _rnn_macs(cls: str, cfg: dict[str, Any], shape: Shape) -> int:
    """A recurrent layer over a ``(batch, T, F)`` input (see the module docstring)."""
    if cls not in _RNN or len(shape) < 3:
        return 0
    gates, elementwise = _RNN[cls]
    units = int(cfg.get("units") or 0)
    steps, features = _dim(shape[1]), _dim(shape[-1])
    return steps * (gates * units * (features + units) + elementwise * units)


def _mha_macs(cfg: dict[str, Any], ins: tuple[Shape, ...], out: Shape) -> int:
    """MultiHeadAttention: projections, QK^T, softmax, AV, output projection."""
    q = ins[0]
    v = ins[1] if len(ins) > 1 else q
    k = ins[2] if len(ins) > 2 else v
    heads = int(cfg.get("num_heads") or 1)
    dk = int(cfg.get("key_dim") or 1)
    dv = int(cfg.get("value_dim") or dk)
    tq, tv = _positions(q), _positions(v)
    d_out = _dim(out[-1])
    projections = tq * _dim(q[-1]) * heads * dk + tv * _dim(k[-1]) * heads * dk + tv * _dim(v[-1]) * heads * dv
    attention = heads * tq * tv * dk + heads * tq * tv + heads * tq * tv * dv
    return projections + attention + tq * heads * dv * d_out


def _einsum_dense_macs(equation: str, inp: Shape, out: Shape) -> int:
    """EinsumDense ``ab,bc->ac``: the output's size times the contracted indices' sizes."""
    try:
        lhs, out_idx = equation.split("->")
        in_idx, kernel_idx = lhs.split(",")
    except ValueError:
        return 0
    sizes = {c: _dim(d) for c, d in zip(in_idx[1:], inp[1:], strict=False)}
    contracted = [c for c in in_idx if c in kernel_idx and c not in out_idx]
    return elements(out) * math.prod(sizes.get(c, 1) for c in contracted)


def _op_macs(node: Node, call: Call) -> int:
    """MACs of a Keras op called on symbolic tensors (see the module docstring)."""
    cls = node.cls
    out = sum(elements(s) for s in call.output_shapes)
    if cls in _OP_BINARY or cls in _OP_UNARY:
        return out
    if cls in _OP_REDUCE:
        return sum(elements(s) for s in call.input_shapes)
    if cls in _OP_CONTRACT:
        operands = [tuple(o) for o in node.config.get("operands", [])]
        if cls == "Einsum":
            return _einsum_macs(str(node.config.get("subscripts", "")), operands)
        if cls in ("Outer",):
            return out
        first = operands[0] if operands else (call.input_shapes[0] if call.input_shapes else ())
        return out * (_dim(first[-1]) if first else 1)
    return 0


def _einsum_macs(subscripts: str, operands: list[tuple]) -> int:
    """``einsum``: the product of the sizes of all its indices (batch ``None`` counts 1)."""
    lhs = subscripts.replace(" ", "").split("->")[0]
    sizes: dict[str, int] = {}
    for idx, shape in zip(lhs.split(","), operands, strict=False):
        for c, d in zip(idx, shape, strict=False):
            if c.isalpha():
                sizes[c] = max(sizes.get(c, 1), _dim(d))
    return math.prod(sizes.values()) if sizes else 0


def unknown_dims(node: Node) -> bool:
    """True when a call of the layer has a ``None`` dimension other than the batch."""
    return any(d is None for c in node.calls for s in (*c.input_shapes, *c.output_shapes) for d in s[1:])


def counted(node: Node) -> bool:
    """True when :func:`node_macs` has a formula for this layer's class (or it is a nested model)."""
    if node.op:
        return node.cls in _KNOWN_OPS
    if node.cls in ("Bidirectional", "TimeDistributed"):
        inner = node.config.get("inner", {}).get("cls", "")
        return inner in _RNN if node.cls == "Bidirectional" else inner in _KNOWN
    return node.children is not None or node.cls in _KNOWN


_KNOWN = (_CONV | _CONV_T | _DEPTHWISE | _SEPARABLE | _POOL | _GLOBAL_POOL | _ACTIVATIONS
          | set(_PER_ELEMENT) | _MERGE_MINUS_ONE | _FREE | set(_RNN) | _LAYER_FORMULAS
          | {"Dense", "Average", "Dot"})
_KNOWN_OPS = _OP_BINARY | _OP_UNARY | _OP_REDUCE | _OP_FREE | _OP_CONTRACT


def node_macs(node: Node, fused_activation: bool = True) -> int:
    """MACs of a layer for one example, summed over all its calls (shared layers count per call).

    Args:
        node: a graph node; a nested model counts its own graph's total per call.
        fused_activation: see :func:`call_macs`.

    Returns:
        Multiply-accumulates for one example (FLOPs are twice this).
    """
    if node.children is not None:
        return _graph_macs(node.children, fused_activation) * max(len(node.calls), 1)
    return sum(call_macs(node, c, fused_activation) for c in node.calls)


def _graph_macs(graph: ModelGraph, fused_activation: bool = True) -> int:
    return sum(node_macs(n, fused_activation) for n in graph.nodes)


def node_activations(node: Node) -> int:
    """Output elements of a layer for one example, summed over calls and outputs.

    A nested model counts every activation inside it (its input layers excluded) per call.
    """
    if node.children is not None:
        inner = sum(node_activations(n) for n in node.children.nodes if not n.is_input)
        return inner * max(len(node.calls), 1)
    return sum(elements(s) for c in node.calls for s in c.output_shapes)


def check_batch_dtype(batch_size: Any, dtype: str) -> tuple[int, int]:
    """Validate the activation-memory settings.

    Returns:
        ``(batch_size, bytes_per_element)``.

    Raises:
        ConfigError: a batch size outside 1..1,000,000 or an unknown dtype.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise ConfigError(f"batch_size {str(batch_size)[:40]} is not allowed; use a whole number from 1 to {MAX_BATCH:,}.")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {str(dtype)[:40]!r} is not allowed; choose one of {', '.join(DTYPES)}.")
    return batch_size, DTYPES[dtype]


class _Counts:
    """``params`` and ``flops`` from the counts a layer's or a block's stats hold."""

    trainable_params: int
    non_trainable_params: int
    macs: int

    @property
    def params(self) -> int:
        """All parameters."""
        return self.trainable_params + self.non_trainable_params

    @property
    def flops(self) -> int:
        """Floating-point operations: 2 x MACs."""
        return 2 * self.macs


@dataclass(frozen=True)
class LayerBudget(_Counts):
    """Stats of one layer for one example.

    Attributes:
        id: layer name.
        cls: layer class.
        block: its block path.
        calls: how many times the model calls it.
        trainable_params: trainable weight elements.
        non_trainable_params: non-trainable weight elements.
        macs: multiply-accumulates over all calls.
        activations: output elements over all calls.
        output_shape: the first output shape of the first call.
        counted: False when no MAC formula exists for its class (its MACs are 0).
        unknown: True when a shape has an unknown (None) dimension besides the batch, so its
            per-example MACs and activations are not meaningful.
    """

    id: str
    cls: str
    block: str
    calls: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    activations: int
    output_shape: Shape | None
    counted: bool = True
    unknown: bool = False


@dataclass(frozen=True)
class BlockBudget(_Counts):
    """Stats of a block (or of the whole model when ``path == ""``), summed over its layers.

    Attributes:
        path: the block path (``stage2`` or ``stage2/block3``); ``""`` for the model.
        depth: number of path parts (0 for the model).
        parent: the parent path (``""`` for a stage, None for the model).
        layers: number of layers.
        trainable_params, non_trainable_params, macs, activations: sums over the layers.
        output_shape: the first output shape of its last layer in graph order.
    """

    path: str
    depth: int
    parent: str | None
    layers: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    activations: int
    output_shape: Shape | None

    @property
    def name(self) -> str:
        """The last part of the path (the model's name is ``""``)."""
        return self.path.rsplit("/", 1)[-1]


def _aggregate(path: str, layers: list[LayerBudget]) -> BlockBudget:
    depth = path.count("/") + 1 if path else 0
    parent = None if not path else (path.rsplit("/", 1)[0] if "/" in path else "")
    return BlockBudget(
        path=path,
        depth=depth,
        parent=parent,
        layers=len(layers),
        trainable_params=sum(la.trainable_params for la in layers),
        non_trainable_params=sum(la.non_trainable_params for la in layers),
        macs=sum(la.macs for la in layers),
        activations=sum(la.activations for la in layers),
        output_shape=layers[-1].output_shape if layers else None,
    )


@dataclass(frozen=True)
class Budget:
    """The budget of a model: per-layer stats and the settings for activation memory.

    Attributes:
        name: the model's name.
        layers: one :class:`LayerBudget` per graph node, in graph order.
        total_params: the graph's ``total_params`` (``model.count_params()``).
        batch_size: batch size for activation bytes.
        dtype: dtype for activation bytes.
    """

    name: str
    layers: tuple[LayerBudget, ...]
    total_params: int
    batch_size: int = 1
    dtype: str = DEFAULT_DTYPE

    @cached_property
    def total(self) -> BlockBudget:
        """The whole model as one block (path ``""``)."""
        return _aggregate("", list(self.layers))

    @property
    def macs(self) -> int:
        """Total MACs for one example."""
        return self.total.macs

    @property
    def flops(self) -> int:
        """Total FLOPs for one example (2 x MACs)."""
        return 2 * self.total.macs

    @property
    def bytes_per_element(self) -> int:
        """Bytes of one element of :attr:`dtype`."""
        return DTYPES[self.dtype]

    def activation_bytes(self, activations: int) -> int:
        """Bytes of ``activations`` elements (per example) at this budget's batch size and dtype."""
        return activations * self.batch_size * self.bytes_per_element

    @property
    def uncounted(self) -> tuple[str, ...]:
        """Layer classes without a MAC formula (counted as 0), sorted."""
        return tuple(sorted({la.cls for la in self.layers if not la.counted}))

    @property
    def unknown_dims(self) -> tuple[str, ...]:
        """Layers whose shapes have an unknown (None) dimension besides the batch, in graph order.

        When not empty, per-example MACs and activations are not meaningful (unknown sizes count
        as 1); fix the input size (``summary --input-size``) to count them.
        """
        return tuple(la.id for la in self.layers if la.unknown)

    @cached_property
    def max_depth(self) -> int:
        """The deepest block path's number of parts."""
        return max((la.block.count("/") + 1 for la in self.layers), default=0)

    @cached_property
    def _by_path(self) -> dict[str, list[LayerBudget]]:
        groups: dict[str, list[LayerBudget]] = {}
        for la in self.layers:
            parts = la.block.split("/")
            for i in range(1, len(parts) + 1):
                groups.setdefault("/".join(parts[:i]), []).append(la)
        return groups

    @cached_property
    def _hierarchy(self) -> tuple[BlockBudget, ...]:
        return tuple(_aggregate(p, ls) for p, ls in self._by_path.items())

    def hierarchy(self) -> list[BlockBudget]:
        """Every block at every level, rolled up (a stage includes its blocks), parents first."""
        return list(self._hierarchy)

    def block(self, path: str) -> BlockBudget:
        """The rolled-up stats of ``path`` (``""`` is the model).

        Raises:
            KeyError: for an unknown path.
        """
        if path == "":
            return self.total
        for b in self._hierarchy:
            if b.path == path:
                return b
        raise KeyError(path)

    def layers_in(self, path: str) -> list[LayerBudget]:
        """Layers in ``path`` or below it, in graph order (``""``: all layers)."""
        if path == "":
            return list(self.layers)
        return list(self._by_path.get(path, []))

    def partition(self, depth: int | None = None) -> list[BlockBudget]:
        """Rows that partition the layers: each layer goes to its block path cut to ``depth``.

        Args:
            depth: 1 rolls blocks up to stages, 2 to ``stage/block``...; None keeps leaf paths.

        Returns:
            Rows in order of first appearance; their sums equal the totals.
        """
        groups: dict[str, list[LayerBudget]] = {}
        for la in self.layers:
            groups.setdefault(cut(la.block, depth), []).append(la)
        return [_aggregate(p, ls) for p, ls in groups.items()]

    def share(self, value: int, metric: str) -> float:
        """``value`` as a fraction of the model's total ``metric`` (0 when the total is 0)."""
        total = getattr(self.total, metric)
        return value / total if total else 0.0


@per_graph()
def budget(graph: ModelGraph, batch_size: int = 1, dtype: str = DEFAULT_DTYPE) -> Budget:
    """Compute the budget of a model graph (memoised per graph object and arguments: shared, read-only).

    Args:
        graph: the model's graph.
        batch_size: batch size for activation bytes (1..1,000,000).
        dtype: a key of :data:`DTYPES` for activation bytes.

    Returns:
        The :class:`Budget`: per-layer stats, block roll-ups and totals.

    Raises:
        ConfigError: a bad batch size or dtype.
    """
    check_batch_dtype(batch_size, dtype)
    layers = []
    for n in graph.nodes:
        outs = n.output_shapes
        layers.append(
            LayerBudget(
                id=n.id,
                cls=n.cls,
                block=n.block,
                calls=len(n.calls),
                trainable_params=n.trainable_params,
                non_trainable_params=n.non_trainable_params,
                macs=node_macs(n),
                activations=node_activations(n),
                output_shape=outs[0] if outs else None,
                counted=counted(n),
                unknown=unknown_dims(n),
            )
        )
    return Budget(graph.name, tuple(layers), graph.total_params, batch_size, dtype)


def block_table(b: Budget, depth: int | None = None, hierarchy: bool = False) -> list[dict[str, Any]]:
    """Rows for a table of blocks: plain numbers, shares in percent.

    Args:
        b: the budget.
        depth: cut block paths to this depth (see :meth:`Budget.partition`).
        hierarchy: list every level rolled up instead of a partition.
    """
    rows = b.hierarchy() if hierarchy else b.partition(depth)
    return [
        {
            "block": r.path,
            "layers": r.layers,
            **_count_columns(b, r, digits=2),
        }
        for r in rows
    ]


def layer_table(b: Budget, path: str = "") -> list[dict[str, Any]]:
    """Rows for a table of the layers in ``path`` (``""``: all layers)."""
    return [
        {
            "layer": la.id,
            "type": la.cls,
            "block": la.block,
            "calls": la.calls,
            **_count_columns(b, la, digits=3),
        }
        for la in b.layers_in(path)
    ]


def _count_columns(b: Budget, r: LayerBudget | BlockBudget, digits: int) -> dict[str, Any]:
    """The table columns a layer and a block share: counts, shares (rounded to ``digits``), output shape."""
    return {
        "params": r.params,
        "params %": round(100 * b.share(r.params, "params"), digits),
        "trainable": r.trainable_params,
        "non-trainable": r.non_trainable_params,
        "MACs": r.macs,
        "MACs %": round(100 * b.share(r.macs, "macs"), digits),
        "FLOPs": r.flops,
        "activations": r.activations,
        "activation bytes": b.activation_bytes(r.activations),
        "output": format_shape(r.output_shape),
    }
