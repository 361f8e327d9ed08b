"""Block paths for any functional model: name scopes, family naming conventions, or structure.

Plain data in (per operation: name, class, scope, shapes; edges as index pairs), block paths
out. No Keras here: :mod:`explorer.graph` reads the model and calls :func:`assign_blocks`.

Methods, in order (the first that covers at least half of the non-input layers wins; the
result's ``grouping`` names it):

1. ``scopes``: the ``keras.name_scope`` each layer was called in (``stage2/block3``).
2. ``names``: the naming conventions of the Keras Applications families and of this project:

   ========================  ==============================  ==========================
   family                    layer name                      block path
   ========================  ==============================  ==========================
   ResNet, DenseNet, ours    ``conv3_block2_1_conv``         ``conv3/block2``
   ConvNeXt                  ``convnext_tiny_stage_1_block_2_...`` ``stage_1/block_2``
   (ConvNeXt downsampling)   ``convnext_tiny_downsampling_block_0`` ``stage_1/downsampling``
   EfficientNet (V1, V2)     ``block4b_expand_conv``         ``block4/block4b``
   MobileNetV2               ``block_13_expand``             ``block_13``
   MobileNetV2/V3 first      ``expanded_conv_depthwise``     ``expanded_conv``
   MobileNetV3               ``expanded_conv_7_expand``      ``expanded_conv_7``
   MobileNet (v1)            ``conv_dw_5``, ``conv_pw_5``    ``conv_block_5``
   NASNet cells              ``separable_conv_1_normal_left1_5`` ``cell_5`` (``cell_reduce_4``, ``cell_stem_1``)
   VGG, Xception, stages     ``block3_conv1``, ``pool2_conv``, ``stem_conv`` ``block3``, ``pool2``, ``stem``
   ========================  ==============================  ==========================

   Layers that match no convention take the block of the previous layer (``stem`` before the
   first match, ``head`` after the last).
3. ``submodels``: each nested model is a block.
4. ``structure``: for names that follow no convention (InceptionV3's ``conv2d_57``). The graph
   is cut at its **cut points**: tensors that every path from the inputs to the outputs
   crosses. The layers between two cut points form a segment; a segment with parallel paths (a
   residual or Inception block) starts a block, which also takes the chain layers after it up
   to the first one that changes the tensor's shape. Chain layers before the first block are
   the ``stem``, after the last the ``head``; a model without any branch is cut after every
   layer that changes the spatial size. Runs of consecutive blocks with the same structure
   (the same layer classes in order) fold into a stage (``block35/block35_4``). A block is
   named after what its layers' names share (``block35_4`` from ``block35_4_mixed``,
   ``block35_4_conv``), else its last named layer (``mixed5``), else ``blockN``.
5. ``flat``: one block per layer.

Input layers form the block ``input``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

INPUT_BLOCK = "input"

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class OpInfo:
    """What grouping needs to know about one operation (layer or op) of the graph.

    Attributes:
        name: the operation's name.
        cls: its class name.
        scope: the name scope it was called in, or None.
        is_input: an input layer.
        is_model: a nested model.
        in_shape: the first input shape of its first call (None for inputs).
        out_shape: the first output shape of its first call.
    """

    name: str
    cls: str
    scope: str | None = None
    is_input: bool = False
    is_model: bool = False
    in_shape: Shape | None = None
    out_shape: Shape | None = None


# --------------------------------------------------------------------------- naming conventions

_CONVNEXT = re.compile(r"(?:^|_)stage_(\d+)_block_(\d+)_")
_CONVNEXT_DOWN = re.compile(r"(?:^|_)downsampling_block_(\d+)$")
_CONVNEXT_PART = re.compile(r"(?:^|_)(stem|head)(?:_|$)")
_BLOCK = re.compile(r"^([a-z]+\d*)_((?:block|layer)\d+)_")
_EFFICIENT = re.compile(r"^block(\d+)([a-z])_")
_MOBILE_V2 = re.compile(r"^block_(\d+)_")
_EXPANDED = re.compile(r"^expanded_conv(?:_(\d+))?_")
_MOBILE_V1 = re.compile(r"^conv_(?:dw|pw|pad)_(\d+)(?:_|$)")
_NASNET = re.compile(
    r"^(?:separable_conv_\d_(?:bn_|pad_)?)?(?:normal|reduction|adjust)_[a-z0-9_]*?_(stem_\d+|reduce_\d+|\d+)$"
)
_GROUP = re.compile(r"^((?:conv|pool|stage|dense|transition|block)\d+|stem|head)(?:_|$)")


# Each convention: its pattern (searched in the name) and the block path it gives from the groups.
# The first that matches wins.
_CONVENTIONS: tuple[tuple[re.Pattern, Callable[[re.Match], str]], ...] = (
    (_CONVNEXT, lambda m: f"stage_{m.group(1)}/block_{m.group(2)}"),
    (_CONVNEXT_DOWN, lambda m: f"stage_{int(m.group(1)) + 1}/downsampling"),
    (_BLOCK, lambda m: f"{m.group(1)}/{m.group(2)}"),
    (_EFFICIENT, lambda m: f"block{m.group(1)}/block{m.group(1)}{m.group(2)}"),
    (_MOBILE_V2, lambda m: f"block_{m.group(1)}"),
    (_EXPANDED, lambda m: f"expanded_conv_{m.group(1)}" if m.group(1) else "expanded_conv"),
    (_MOBILE_V1, lambda m: f"conv_block_{m.group(1)}"),
    (_NASNET, lambda m: f"cell_{m.group(1)}"),
    (_GROUP, lambda m: m.group(1)),
)


def name_block(name: str) -> str | None:
    """The block path a layer's name gives by a known convention (see the module docstring)."""
    for pattern, path in _CONVENTIONS:
        m = pattern.search(name)  # the anchored patterns (^...) match only at the start
        if m:
            return path(m)
    if name.startswith("convnext_"):
        m = _CONVNEXT_PART.search(name)
        if m:
            return m.group(1)
    return None


@functools.lru_cache(maxsize=512)
def _snake(cls: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def is_auto_name(name: str, cls: str) -> bool:
    """True for names Keras made up from the class (``conv2d_57``, ``batch_normalization``)."""
    return re.sub(r"_\d+$", "", name) == _snake(cls)


def _fill(found: list[str | None], is_input: list[bool], per_layer: list[str] | None = None) -> list[str]:
    """Fill gaps: before the first found block -> stem, after the last -> head, else the previous."""
    known = [i for i, b in enumerate(found) if b is not None and not is_input[i]]
    first, last = (known[0], known[-1]) if known else (len(found), -1)
    out: list[str] = []
    prev = "stem"
    for i, (b, inp) in enumerate(zip(found, is_input, strict=True)):
        if inp:
            out.append(INPUT_BLOCK)
            continue
        if b is None:
            if per_layer is not None:
                b = per_layer[i]
            elif i < first:
                b = "stem"
            elif i > last:
                b = "head"
            else:
                b = prev
        out.append(b)
        prev = b
    return out


def assign_blocks(ops: Sequence[OpInfo], edges: Sequence[tuple[int, int]]) -> tuple[list[str], str]:
    """Block path of each operation (same order), and the method that found them.

    Args:
        ops: the graph's operations in topological order.
        edges: ``(source index, destination index)`` of every tensor connection.

    Returns:
        ``(paths, grouping)`` with grouping one of ``scopes``, ``names``, ``submodels``,
        ``structure``, ``flat``.
    """
    is_input = [o.is_input for o in ops]
    body = sum(not i for i in is_input)

    def majority(found: list[str | None]) -> bool:
        return body > 0 and sum(f is not None for f, i in zip(found, is_input, strict=True) if not i) * 2 >= body

    scoped = [o.scope for o in ops]
    if majority(scoped):
        return _fill(scoped, is_input), "scopes"
    named = [name_block(o.name) for o in ops]
    if majority(named):
        return _fill(named, is_input), "names"
    if any(o.is_model for o in ops):
        found = [o.name if o.is_model else None for o in ops]
        return _fill(found, is_input, [o.name for o in ops]), "submodels"
    paths = structural_blocks(ops, edges)
    if paths is not None:
        return paths, "structure"
    return [INPUT_BLOCK if o.is_input else o.name for o in ops], "flat"


# --------------------------------------------------------------------------- structure


def _topo_positions(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Position of each node in a topological order (the given order when it is one)."""
    if all(s < d for s, d in edges):
        return list(range(n))
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, d in edges:
        succ[s].append(d)
        indeg[d] += 1
    ready = [i for i in range(n) if indeg[i] == 0]
    order: list[int] = []
    while ready:
        ready.sort(reverse=True)
        i = ready.pop()
        order.append(i)
        for d in succ[i]:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    order += [i for i in range(n) if i not in set(order)]  # cycles cannot happen; be safe
    pos = [0] * n
    for p, i in enumerate(order):
        pos[i] = p
    return pos


def cut_points(ops: Sequence[OpInfo], edges: Sequence[tuple[int, int]]) -> list[bool]:
    """For each operation: True when every path from an input to an output goes through it.

    In a topological order, a node is on every source-to-sink path exactly when no edge jumps
    over its position (a virtual source feeds the inputs, a virtual sink drains the nodes
    without successors).
    """
    n = len(ops)
    pos = _topo_positions(n, edges)
    cover = [0] * (n + 1)
    has_succ = [False] * n
    for s, d in edges:
        has_succ[s] = True
        a, b = sorted((pos[s], pos[d]))
        if b - a > 1:
            cover[a + 1] += 1
            cover[b] -= 1
    for i, o in enumerate(ops):
        if o.is_input and pos[i] > 0:
            cover[0] += 1
            cover[pos[i]] -= 1
        if not has_succ[i] and pos[i] < n - 1:
            cover[pos[i] + 1] += 1
            cover[n] -= 1
    running, covered = 0, [0] * n
    for p in range(n):
        running += cover[p]
        covered[p] = running
    return [covered[pos[i]] == 0 for i in range(n)]


def _spatial(shape: Shape | None) -> tuple:
    return tuple(shape[1:-1]) if shape and len(shape) > 2 else ()


def _reshapes(o: OpInfo) -> bool:
    """True when the op changes the tensor's rank or spatial size (a downsampling, a flatten)."""
    if o.in_shape is None or o.out_shape is None:
        return False
    return len(o.in_shape) != len(o.out_shape) or _spatial(o.in_shape) != _spatial(o.out_shape)


def _common_prefix(names: list[str]) -> str:
    parts = [n.split("_") for n in names]
    out: list[str] = []
    for tokens in zip(*parts, strict=False):
        if len(set(tokens)) != 1:
            break
        out.append(tokens[0])
    return "_".join(out)


def _unit_name(members: list[int], ops: Sequence[OpInfo], index: int) -> str:
    named = [ops[i].name for i in members if not is_auto_name(ops[i].name, ops[i].cls)]
    if named:
        prefix = _common_prefix(named)
        return prefix or named[-1]
    return f"block{index}"


def structural_blocks(ops: Sequence[OpInfo], edges: Sequence[tuple[int, int]]) -> list[str] | None:
    """Block paths from the graph's structure (see the module docstring), or None when the
    structure gives fewer than two groups (a tiny chain: one block per layer reads better)."""
    n = len(ops)
    pos = _topo_positions(n, edges)
    order = sorted(range(n), key=pos.__getitem__)
    cuts = cut_points(ops, edges)
    # Segments: the nodes after one cut point up to and including the next.
    segments: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if ops[i].is_input:
            continue
        current.append(i)
        if cuts[i]:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    branchy = [len(s) > 1 for s in segments]
    units: list[list[int]] = []  # each a list of node indices
    kinds: list[str] = []  # "stem", "block", "chain", "head"
    if any(branchy):
        first = branchy.index(True)
        last = len(branchy) - 1 - branchy[::-1].index(True)
        stem = [i for s in segments[:first] for i in s]
        if stem:
            units.append(stem)
            kinds.append("stem")
        k = first
        while k <= last:
            unit = list(segments[k])
            k += 1
            # Chain layers after a block join it while they keep its output shape (the ReLU after an Add).
            while k < len(segments) and not branchy[k] and not _changes(ops, unit[-1], segments[k][0]):
                unit += segments[k]
                k += 1
            units.append(unit)
            kinds.append("block")
            chain: list[int] = []
            while k < len(segments) and not branchy[k]:
                chain += segments[k]
                k += 1
            if chain:
                if k > last:
                    units.append(chain)
                    kinds.append("head")
                else:
                    units.append(chain)
                    kinds.append("chain")
    else:
        chain_units = _split_chain([i for s in segments for i in s], ops)
        for j, u in enumerate(chain_units):
            units.append(u)
            kinds.append("head" if j == len(chain_units) - 1 and len(chain_units) > 1 and _is_head(u, ops) else "block")
    if len(units) < 2:
        return None
    names = _name_units(units, kinds, ops)
    path = [INPUT_BLOCK] * n
    for u, name in zip(units, names, strict=True):
        for i in u:
            path[i] = name
    return path


def _changes(ops: Sequence[OpInfo], prev: int, nxt: int) -> bool:
    a, b = ops[prev].out_shape, ops[nxt].out_shape
    return a != b


def _is_head(unit: list[int], ops: Sequence[OpInfo]) -> bool:
    return any(o.in_shape is not None and o.out_shape is not None and len(o.out_shape) < len(o.in_shape)
               for o in (ops[i] for i in unit))


def _split_chain(chain: list[int], ops: Sequence[OpInfo]) -> list[list[int]]:
    """A branch-free model: cut after every layer that changes the spatial size or rank; the
    layers from the first rank reduction on (flatten, global pooling) are the head."""
    units: list[list[int]] = []
    current: list[int] = []
    for idx, i in enumerate(chain):
        o = ops[i]
        current.append(i)
        if o.in_shape is not None and o.out_shape is not None and len(o.out_shape) < len(o.in_shape):
            current += chain[idx + 1:]
            break
        if _reshapes(o):
            units.append(current)
            current = []
    if current:
        units.append(current)
    return units


def _signature(unit: list[int], ops: Sequence[OpInfo]) -> tuple[str, ...]:
    return tuple(ops[i].cls for i in unit)


def _name_units(units: list[list[int]], kinds: list[str], ops: Sequence[OpInfo]) -> list[str]:
    """Top-level names, with runs of same-structure blocks folded into stages."""
    base: list[str] = []
    counter = 0
    for u, kind in zip(units, kinds, strict=True):
        if kind in ("stem", "head"):
            base.append(kind)
        else:
            counter += 1
            base.append(_unit_name(u, ops, counter))
    base = _unique(base)
    sigs = [_signature(u, ops) for u in units]
    out = list(base)
    k = 0
    stage = 0
    while k < len(units):
        j = k
        while j + 1 < len(units) and kinds[j + 1] == kinds[k] == "block" and sigs[j + 1] == sigs[k]:
            j += 1
        if j > k:
            stage += 1
            members = base[k : j + 1]
            prefix = _common_prefix(members)
            if not prefix or prefix in members or re.fullmatch(r"block", prefix):
                prefix = f"{members[0]}..{members[-1]}" if not all(m.startswith("block") and m[5:].isdigit()
                                                                  for m in members) else f"stage{stage}"
            for m in range(k, j + 1):
                out[m] = f"{prefix}/{base[m]}"
        k = j + 1
    return _unique_paths(out)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


def _unique_paths(paths: list[str]) -> list[str]:
    # A stage name must not collide with a top-level block name.
    tops = {p for p in paths if "/" not in p}
    out = []
    for p in paths:
        if "/" in p:
            stage, rest = p.split("/", 1)
            if stage in tops:
                stage += "_stage"
            p = f"{stage}/{rest}"
        out.append(p)
    return out
