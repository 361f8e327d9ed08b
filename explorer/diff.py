"""An architecture diff: A and B drawn as one graph, each node marked added, removed, changed or same.

Plain data in, plain data out (no Keras, no Streamlit): two :class:`~explorer.graph.ModelGraph`
and one :class:`~explorer.render.ViewOptions` give a :class:`GraphDiff`, which
:func:`explorer.render.diff_dot` draws.

What is a node: the view decides, the same for A and B. In the ``blocks`` view a node is a
block (cut to ``depth`` when given); in the ``mixed`` view expanded blocks show their layers;
in the ``layers`` view every layer is a node.

Matching, in two passes:
1. by name: block paths (``stage2/block3``) and layer names that exist on both sides;
2. by structure, among what is left: the sequences of unmatched nodes are aligned on their
   layer classes (:class:`difflib.SequenceMatcher`), so two builders that name their blocks
   differently (``conv2/block1`` vs ``stage1/block1``) still pair block by block; a run of
   unmatched nodes of equal length between two matches pairs position by position when the
   layer classes are mostly alike.

A pair is ``same`` when params, MACs, output shape and layer count are equal, else
``changed``; an unpaired node of A is ``removed``, of B ``added``. Edges are the union of both
graphs' edges between the shown nodes, marked the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from explorer import blockpath
from explorer.budget import node_macs
from explorer.errors import ConfigError
from explorer.graph import INPUT_BLOCK, ModelGraph, Node, Shape
from explorer.render import BLOCK_PREFIX, ViewOptions, display_ids, expandable, skip_kinds

STATUSES = ("added", "removed", "changed", "same")
SIMILAR = 0.6  # classes alike enough to pair two unnamed nodes position by position


@dataclass(frozen=True)
class Side:
    """One side's node: what it stands for and its numbers.

    Attributes:
        key: its DOT id in its own graph's view (``block:stage2/block1`` or a layer name).
        path: the block path (blocks) or the layer name (layers).
        classes: layer classes of its members, in graph order (its structure).
        params: parameters of its members.
        macs: multiply-accumulates of its members (one example).
        layers: how many layers it stands for.
        shape: the output shape of its last member.
        cls: the layer class for a layer node, else ``""``.
        block: the block path its layers belong to (a layer node's block; a block's own path).
    """

    key: str
    path: str
    classes: tuple[str, ...]
    params: int
    macs: int
    layers: int
    shape: Shape | None
    cls: str
    block: str

    @property
    def is_block(self) -> bool:
        """True for a block node, False for a layer node."""
        return self.key.startswith(BLOCK_PREFIX)


@dataclass(frozen=True)
class DiffNode:
    """One node of the diff graph.

    Attributes:
        id: its DOT id (B's id for a pair, else its own side's).
        status: ``added``, ``removed``, ``changed`` or ``same``.
        a: A's side (None when added).
        b: B's side (None when removed).
        matched_by: ``name`` or ``structure`` for a pair, ``""`` otherwise.
    """

    id: str
    status: str
    a: Side | None
    b: Side | None
    matched_by: str = ""

    @property
    def side(self) -> Side:
        """B's side when present, else A's."""
        return self.b if self.b is not None else self.a  # type: ignore[return-value]

    @property
    def is_block(self) -> bool:
        """True for a block node."""
        return self.side.is_block

    @property
    def cluster(self) -> str:
        """The block path of the cluster it is drawn in (``""``: none)."""
        s = self.side
        if s.block == INPUT_BLOCK:
            return ""
        if s.is_block:
            return s.path.rsplit("/", 1)[0] if "/" in s.path else ""
        return s.block

    def delta(self, metric: str) -> int:
        """``B - A`` of ``params``, ``macs`` or ``layers`` (absent sides count 0)."""
        a = getattr(self.a, metric) if self.a else 0
        b = getattr(self.b, metric) if self.b else 0
        return b - a


@dataclass(frozen=True)
class DiffEdge:
    """An edge between two diff nodes: ``same`` (in both), ``removed`` (A only) or ``added`` (B only).

    Attributes:
        src: source node id.
        dst: destination node id.
        status: see above.
        kind: ``residual``, ``dense`` or ``""`` (how :func:`explorer.render.skip_kinds` sees it).
    """

    src: str
    dst: str
    status: str
    kind: str = ""


@dataclass(frozen=True)
class GraphDiff:
    """A and B as one graph.

    Attributes:
        name_a: A's model name.
        name_b: B's model name.
        options: the view both were drawn in.
        nodes: diff nodes, in a merged graph order.
        edges: diff edges.
        outputs: ids of nodes holding a model output (either side).
    """

    name_a: str
    name_b: str
    options: ViewOptions
    nodes: tuple[DiffNode, ...]
    edges: tuple[DiffEdge, ...]
    outputs: frozenset[str]

    def counts(self, blocks_only: bool = False) -> dict[str, int]:
        """How many nodes have each status (``blocks_only``: block nodes only)."""
        out = dict.fromkeys(STATUSES, 0)
        for n in self.nodes:
            if not blocks_only or n.is_block:
                out[n.status] += 1
        return out

    def node(self, node_id: str) -> DiffNode:
        """The node with DOT id ``node_id`` (KeyError if absent)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


def _sides(graph: ModelGraph, opts: ViewOptions) -> tuple[list[Side], dict[str, str]]:
    """The nodes a view shows, in graph order, and the shown key of every top-level layer."""
    shown = display_ids(graph, opts)
    members: dict[str, list[Node]] = {}
    for n in graph.nodes:
        members.setdefault(shown[n.id], []).append(n)
    sides = []
    for key, ms in members.items():
        is_block = key.startswith(BLOCK_PREFIX)
        path = key[len(BLOCK_PREFIX):] if is_block else key
        outs = ms[-1].output_shapes
        sides.append(Side(
            key=key,
            path=path,
            classes=tuple(m.cls for m in ms),
            params=sum(m.params for m in ms),
            macs=sum(node_macs(m) for m in ms),
            layers=len(ms),
            shape=outs[0] if outs else None,
            cls="" if is_block else ms[0].cls,
            block=path if is_block else ms[0].block,
        ))
    return sides, shown


def _status(a: Side, b: Side) -> str:
    same = (a.params, a.macs, a.shape, a.layers) == (b.params, b.macs, b.shape, b.layers)
    return "same" if same else "changed"


def _similar(a: Side, b: Side) -> bool:
    if a.is_block != b.is_block:
        return False
    return difflib.SequenceMatcher(None, a.classes, b.classes, autojunk=False).ratio() >= SIMILAR


def match(a: list[Side], b: list[Side]) -> list[tuple[Side | None, Side | None, str]]:
    """Pair the nodes of A and B (see the module docstring).

    Returns:
        ``(side_a, side_b, matched_by)`` triples: every node of A and of B exactly once; a
        pair has both sides, an unpaired node None on the other; ``matched_by`` is ``name``,
        ``structure`` or ``""``.
    """
    by_key_b = {s.key: s for s in b}
    pairs: dict[str, tuple[Side, str]] = {}  # A key -> (B side, how)
    for s in a:
        if s.key in by_key_b:
            pairs[s.key] = (by_key_b[s.key], "name")
    taken_b = {p[0].key for p in pairs.values()}
    rest_a = [s for s in a if s.key not in pairs]
    rest_b = [s for s in b if s.key not in taken_b]
    if rest_a and rest_b:
        sm = difflib.SequenceMatcher(None, [(s.is_block, s.classes) for s in rest_a],
                                     [(s.is_block, s.classes) for s in rest_b], autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
                for sa, sb in zip(rest_a[i1:i2], rest_b[j1:j2], strict=True):
                    if tag == "equal" or _similar(sa, sb):
                        pairs[sa.key] = (sb, "structure")
    out: list[tuple[Side | None, Side | None, str]] = []
    paired_b = {p[0].key: k for k, p in pairs.items()}
    by_key_a = {s.key: s for s in a}
    # Merged order: B's order, with A-only nodes after their predecessor in A.
    order_b = [("b", s.key) for s in b]
    placed_a: set[str] = set()
    seq: list[tuple[str, str]] = []
    a_only_after: dict[str | None, list[str]] = {}
    prev_b_of_a: str | None = None  # the B key paired with the last paired A node
    for s in a:
        if s.key in pairs:
            prev_b_of_a = pairs[s.key][0].key
        else:
            a_only_after.setdefault(prev_b_of_a, []).append(s.key)
    for k in a_only_after.pop(None, []):
        seq.append(("a", k))
    for _, kb in order_b:
        seq.append(("b", kb))
        for k in a_only_after.pop(kb, []):
            seq.append(("a", k))
    for ks in a_only_after.values():
        seq.extend(("a", k) for k in ks)
    for side, k in seq:
        if side == "b":
            ka = paired_b.get(k)
            out.append((by_key_a[ka] if ka else None, by_key_b[k], pairs[ka][1] if ka else ""))
        elif k not in placed_a:
            placed_a.add(k)
            out.append((by_key_a[k], None, ""))
    return out


def check_expand(a: ModelGraph, b: ModelGraph, expand: Iterable[str]) -> None:
    """Refuse an ``expand`` name that is a block of neither A nor B.

    Raises:
        ConfigError: naming the bad name and a few good ones.
    """
    names = list(dict.fromkeys(expandable(a) + expandable(b)))
    for name in expand:
        if name not in names:
            raise ConfigError(f"expand {name!r} is not a block of A or B; try one of: {', '.join(names[:6])}.")


def diff_graphs(a: ModelGraph, b: ModelGraph, options: ViewOptions | None = None) -> GraphDiff:
    """A and B as one graph in a view (``blocks`` by default), every node and edge marked.

    Args:
        a: A's graph.
        b: B's graph.
        options: the view (``blocks``, ``mixed`` with ``expand``, or ``layers``; ``depth``).

    Returns:
        The :class:`GraphDiff`.

    Raises:
        ConfigError: an ``expand`` name that is a block of neither side.
    """
    opts = options or ViewOptions("blocks")
    check_expand(a, b, opts.expand)
    names_a, names_b = set(expandable(a)), set(expandable(b))
    opts_a = ViewOptions(opts.view, opts.rankdir, tuple(e for e in opts.expand if e in names_a),
                         opts.legend, opts.depth)
    opts_b = ViewOptions(opts.view, opts.rankdir, tuple(e for e in opts.expand if e in names_b),
                         opts.legend, opts.depth)
    sides_a, shown_a = _sides(a, opts_a)
    sides_b, shown_b = _sides(b, opts_b)
    keys_b = {s.key for s in sides_b}
    nodes: list[DiffNode] = []
    id_a: dict[str, str] = {}
    id_b: dict[str, str] = {}
    for sa, sb, how in match(sides_a, sides_b):
        if sb is not None:
            nid = sb.key
        else:
            nid = sa.key if sa.key not in keys_b else sa.key + " (A)"  # type: ignore[union-attr]
        if sa is not None:
            id_a[sa.key] = nid
        if sb is not None:
            id_b[sb.key] = nid
        status = "added" if sa is None else "removed" if sb is None else _status(sa, sb)
        nodes.append(DiffNode(nid, status, sa, sb, how))

    edges: dict[tuple[str, str], list] = {}  # (src, dst) -> [in A, in B, kind]
    for g, shown, ids, col in ((a, shown_a, id_a, 0), (b, shown_b, id_b, 1)):
        kinds = skip_kinds(g)
        seen_kind: dict[tuple[str, str], set[str]] = {}
        for i, e in enumerate(g.edges):
            src, dst = ids[shown[e.src]], ids[shown[e.dst]]
            if src == dst:
                continue
            rec = edges.setdefault((src, dst), [False, False, None])
            rec[col] = True
            seen_kind.setdefault((src, dst), set()).add(kinds.get(i, ""))
        for key, ks in seen_kind.items():
            kind = ks.pop() if len(ks) == 1 else ""
            rec = edges[key]
            rec[2] = kind if rec[2] in (None, kind) else ""
    out_edges = tuple(
        DiffEdge(s, d, "same" if ina and inb else "removed" if ina else "added", kind or "")
        for (s, d), (ina, inb, kind) in edges.items()
    )
    outputs = frozenset([id_a[shown_a[o]] for o in a.outputs] + [id_b[shown_b[o]] for o in b.outputs])
    return GraphDiff(a.name, b.name, opts, tuple(nodes), out_edges, outputs)


def toggle_expand(diff: GraphDiff, picked: str | None) -> tuple[str, ...] | None:
    """The ``expand`` after a click on a diff node, or None when the click changes nothing.

    A block node opens (its layers, or its sub-blocks at a cut depth); a layer node closes the
    expanded block it sits in.
    """
    if not picked:
        return None
    try:
        node = diff.node(picked)
    except KeyError:
        return None
    expand = list(diff.options.expand)
    s = node.side
    if s.is_block:
        if s.path not in expand:
            return (*expand, s.path)
        return None
    if s.block == INPUT_BLOCK:
        return None
    kept = tuple(e for e in expand if not blockpath.inside(s.block, e))
    return kept if kept != tuple(expand) else None
