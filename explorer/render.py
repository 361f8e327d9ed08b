"""ModelGraph -> DOT (block, layer and mixed views), and SVG/PNG through graphviz's ``dot``.

No Keras here: the renderer reads the plain :class:`~explorer.graph.ModelGraph` only.

Views:
    ``blocks``: one node per block (name, output shape, params, MACs when given); input layers
        keep their own nodes, so a two-input model shows both inputs.
    ``layers``: one node per layer inside nested clusters (one cluster per block path segment);
        merge layers are ellipses; skip/residual (into ``Add``) and dense (into ``Concatenate``)
        connections are coloured and dashed; nodes are coloured by layer type, with a legend.
    ``mixed``: the block view with chosen blocks (or block prefixes such as ``stage2``) expanded.

``depth`` (:class:`ViewOptions`) collapses block nodes to the first levels of their path
(``depth=1``: one node per stage such as ``conv4``, the readable default for DenseNet201's 105
blocks); in the mixed view, expanding a stage shows its blocks and expanding a block its layers.

Nested models are one node (a 3D box) unless their name is in ``expand``, which draws their
own layers in a cluster. A shared layer is one node with one edge per call.

The DOT text is deterministic (same graph and options, same bytes). It uses the default spline
router (``splines=ortho`` is slow and crashes graphviz on some models), a transparent background,
pastel fills with dark text and mid-grey edges, so it reads on light and dark pages.

Layouts are cached in memory and on disk (:func:`cached_layout`, :mod:`explorer.diskcache`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from explorer import blockpath
from explorer.blockpath import shown_block
from explorer.errors import ConfigError, GraphError
from explorer.fmt import format_count, format_shape
from explorer.graph import INPUT_BLOCK, ModelGraph, Node

VIEWS = ("blocks", "layers", "mixed")
RANKDIRS = ("TB", "LR")
FORMATS = ("dot", "svg", "png")

BLOCK_PREFIX = "block:"
LEGEND_ID = "legend"

FONT = "Helvetica"
EDGE_COLOR = "#868e96"
TEXT_COLOR = "#212529"
BORDER_COLOR = "#495057"
CLUSTER_COLOR = "#adb5bd"
CLUSTER_FILL = "#868e9614"  # translucent: nested clusters darken a little, on any background
SKIP_COLOR = "#e8590c"  # residual connections (into Add, Subtract, ...)
DENSE_COLOR = "#1c7ed6"  # dense connections (into Concatenate)

# Layer categories: (name, fill colour). Pastel fills with dark text read on light and dark pages.
CATEGORIES: dict[str, str] = {
    "input": "#ced4da",
    "conv": "#a5d8ff",
    "dense": "#d0bfff",
    "norm": "#b2f2bb",
    "activation": "#ffec99",
    "pool": "#ffc9c9",
    "merge": "#ffc078",
    "reshape": "#99e9f2",
    "regularize": "#e9ecef",
    "model": "#fcc2d7",
    "other": "#f1f3f5",
}
BLOCK_FILL = "#dbe4ff"

_ACTIVATIONS = frozenset({"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU"})
_RESHAPES = ("Flatten", "Reshape", "Permute", "ZeroPadding", "Cropping", "RepeatVector", "UpSampling", "Resizing")
_REGULARIZE = ("Dropout", "Noise", "ActivityRegularization")


def category(node: Node) -> str:
    """The colour category of a layer (``conv``, ``norm``, ``merge``, ...)."""
    cls = node.cls
    if node.is_input:
        return "input"
    if node.children is not None:
        return "model"
    if node.is_merge:
        return "merge"
    if "Conv" in cls:
        return "conv"
    if cls in ("Dense", "EinsumDense", "Embedding"):
        return "dense"
    if "Normalization" in cls:
        return "norm"
    if cls in _ACTIVATIONS:
        return "activation"
    if "Pooling" in cls:
        return "pool"
    if any(cls.startswith(p) for p in _RESHAPES):
        return "reshape"
    if any(p in cls for p in _REGULARIZE):
        return "regularize"
    return "other"


@dataclass(frozen=True)
class ViewOptions:
    """What to draw.

    Attributes:
        view: ``blocks``, ``layers`` or ``mixed``.
        rankdir: ``TB`` (top to bottom) or ``LR`` (left to right).
        expand: blocks (or block prefixes) to expand in the mixed view, and nested models to
            draw with their layers (any view).
        legend: draw the colour legend when layers are shown.
        depth: block nodes show this many levels of the block path (``1``: stages such as
            ``conv4``; expanding one shows its blocks, expanding a block shows its layers);
            None shows every leaf block (expanding a block or a prefix shows its layers).
    """

    view: str = "blocks"
    rankdir: str = "TB"
    expand: tuple[str, ...] = field(default=())
    legend: bool = True
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ConfigError(f"view {self.view!r} is not known; choose one of {', '.join(VIEWS)}.")
        if self.depth is not None and self.depth < 1:
            raise ConfigError(f"depth {self.depth} must be at least 1 (leave it out to show every block).")
        if self.rankdir not in RANKDIRS:
            raise ConfigError(f"rankdir {self.rankdir!r} is not known; choose TB or LR.")


def default_view(graph: ModelGraph, max_layers: int = 60) -> str:
    """``layers`` for small models, ``blocks`` for large ones (and for every grouped model above
    ``max_layers`` layers)."""
    return "layers" if len(graph.nodes) <= max_layers or graph.grouping == "flat" else "blocks"


def expandable(graph: ModelGraph) -> list[str]:
    """Names ``expand`` accepts: block paths, their prefixes, and nested models, in graph order."""
    out: dict[str, None] = {}
    for b in graph.blocks():
        if b == INPUT_BLOCK:
            continue
        parts = b.split("/")
        for i in range(1, len(parts) + 1):
            out["/".join(parts[:i])] = None
    for n in graph.nodes:
        if n.children is not None:
            out[n.id] = None
    return list(out)


def display_ids(graph: ModelGraph, opts: ViewOptions) -> dict[str, str]:
    """The DOT node that shows each top-level layer in a view: itself, or its block's node.

    Layers of an expanded nested model are shown inside it; this maps the model's own id.
    """
    out = {}
    for n in graph.nodes:
        if opts.view == "layers" or n.is_input:
            out[n.id] = n.id
            continue
        path = shown_block(n.block, opts.depth, opts.expand if opts.view == "mixed" else ())
        out[n.id] = n.id if path is None else block_id(path)
    return out


def max_depth(graph: ModelGraph) -> int:
    """The deepest block path (``stage2/block1`` is 2)."""
    return blockpath.max_depth(n.block for n in graph.nodes)


def layer_macs(graph: ModelGraph) -> dict[str, int] | None:
    """MACs per layer id from :mod:`explorer.budget` (None when that module is unavailable)."""
    try:
        from explorer.budget import node_macs
    except ImportError:
        return None
    return {n.id: node_macs(n) for n in graph.nodes}


def block_id(path: str) -> str:
    """DOT node id of a block."""
    return BLOCK_PREFIX + path


def _q(s: str) -> str:
    """A quoted DOT id or string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _label(lines: Iterable[str]) -> str:
    """A quoted multi-line label (centred lines)."""
    esc = [ln.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") for ln in lines if ln]
    return '"' + "\\n".join(esc) + '"'


def _attrs(d: Mapping[str, str]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in d.items()) + "]"


class _Cluster:
    """A cluster of the DOT output: its nodes' lines and sub-clusters, in insertion order."""

    __slots__ = ("children", "label", "lines", "name")

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        self.label = label
        self.lines: list[str] = []
        self.children: dict[str, _Cluster] = {}

    def at(self, path: tuple[str, ...], labels: tuple[str, ...] | None = None) -> _Cluster:
        c = self
        for i, part in enumerate(path):
            key = "/".join(path[: i + 1])
            if key not in c.children:
                c.children[key] = _Cluster(key, labels[i] if labels else part)
            c = c.children[key]
        return c

    def emit(self, out: list[str], indent: str) -> None:
        for ln in self.lines:
            out.append(indent + ln)
        for child in self.children.values():
            out.append(f"{indent}subgraph {_q('cluster_' + child.name)} {{")
            out.append(f"{indent}  label={_q(child.label)};")
            child.emit(out, indent + "  ")
            out.append(f"{indent}}}")


def _depths(graph: ModelGraph) -> dict[str, int]:
    """Longest-path depth of every node from the inputs (nodes are in topological order)."""
    incoming: dict[str, list[str]] = {}
    for e in graph.edges:
        incoming.setdefault(e.dst, []).append(e.src)
    depth: dict[str, int] = {}
    for n in graph.nodes:
        depth[n.id] = max((depth.get(s, 0) + 1 for s in incoming.get(n.id, ())), default=0)
    return depth


def skip_kinds(graph: ModelGraph) -> dict[int, str]:
    """Edges (by index in ``graph.edges``) that are skip connections: ``residual`` or ``dense``.

    An edge into a merge layer is a skip when its source lies at least two layers (longest path)
    before the merge's deepest input: it jumps over the layers of the other branch. Two branches
    of equal depth (the two arms of a Y network) are not skips.
    """
    depth = _depths(graph)
    by_dst: dict[tuple[str, int], list[int]] = {}
    for i, e in enumerate(graph.edges):
        by_dst.setdefault((e.dst, e.call), []).append(i)
    kinds: dict[int, str] = {}
    merges = {n.id: n.cls for n in graph.nodes if n.is_merge}
    for (dst, _call), idx in by_dst.items():
        if dst not in merges or len(idx) < 2:
            continue
        deepest = max(depth[graph.edges[i].src] for i in idx)
        kind = "dense" if merges[dst] == "Concatenate" else "residual"
        for i in idx:
            if depth[graph.edges[i].src] <= deepest - 2:
                kinds[i] = kind
    return kinds


def _edge_style(kind: str | None) -> dict[str, str]:
    if kind == "residual":
        return {"color": _q(SKIP_COLOR), "style": "dashed", "penwidth": "1.6", "weight": "0"}
    if kind == "dense":
        return {"color": _q(DENSE_COLOR), "style": "dashed", "penwidth": "1.2", "weight": "0"}
    return {}


def _layer_lines(node: Node, macs: Mapping[str, int] | None, prefix: str = "") -> list[str]:
    head = f"{node.cls}  {node.summary}".strip() if node.summary else node.cls
    if node.children is not None:
        head = f"{node.cls} model, {len(node.children.nodes)} layers"
    shapes = node.output_shapes
    shape = ", ".join(format_shape(s) for s in shapes) if shapes else "-"
    tail = [shape]
    if node.params:
        tail.append(f"{format_count(node.params)} params")
    if macs and macs.get(prefix + node.id):
        tail.append(f"{format_count(macs[prefix + node.id])} MACs")
    lines = [node.id, head, " · ".join(tail)]
    if len(node.calls) > 1:
        lines.append(f"shared: {len(node.calls)} calls")
    return lines


TOOLTIP_VALUE_CHARS = 60  # a config value longer than this is cut in the tooltip


def _tip_value(v: object) -> str:
    text = "x".join(str(x) for x in v) if isinstance(v, list) and all(isinstance(x, int) for x in v) else str(v)
    return text if len(text) <= TOOLTIP_VALUE_CHARS else text[: TOOLTIP_VALUE_CHARS - 1] + "…"


def tooltip(node: Node, macs: Mapping[str, int] | None = None, prefix: str = "", field: str = "") -> list[str]:
    """The hover text of a layer node, one line each: name, class and block; its whole config;
    output shape, params and MACs; the receptive field when given. The one place that writes node
    tooltips (the viewer shows them)."""
    lines = [f"{prefix}{node.id} ({node.cls}{', op' if node.op else ''}) in {node.block}"]
    lines += [f"{k}: {_tip_value(v)}" for k, v in node.config.items()]
    shapes = ", ".join(format_shape(s) for s in node.output_shapes) or "-"
    tail = [f"output {shapes}", f"{node.params:,} params"]
    if macs and macs.get(prefix + node.id):
        tail.append(f"{macs[prefix + node.id]:,} MACs")
    lines.append(" · ".join(tail))
    if field:
        lines.append(field)
    return lines


def _tip(lines: Iterable[str]) -> str:
    """A quoted DOT tooltip (``\\n`` between lines, which graphviz turns into line breaks)."""
    esc = [ln.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") for ln in lines]
    return '"' + "\\n".join(esc) + '"'


def _layer_attrs(node: Node, macs: Mapping[str, int] | None, is_output: bool, prefix: str = "",
                 field: str = "") -> dict[str, str]:
    cat = category(node)
    a = {"label": _label(_layer_lines(node, macs, prefix)), "fillcolor": _q(CATEGORIES[cat])}
    if cat == "merge":
        a["shape"] = "ellipse"
    elif cat == "model":
        a["shape"] = "box3d"
        a["style"] = '"filled"'
    if is_output:
        a["penwidth"] = "2.2"
    a["tooltip"] = _tip(tooltip(node, macs, prefix, field))
    return a


def _field_texts(graph: ModelGraph) -> tuple[dict[str, str], dict[str, str]]:
    """Receptive-field texts for tooltips: per layer id and per block path (any depth)."""
    try:
        from explorer.receptive import block_fields, receptive_fields, spatial_rank
    except ImportError:
        return {}, {}
    if not spatial_rank(graph):
        return {}, {}
    fields = receptive_fields(graph)
    blocks: dict[str, str] = {}
    for depth in range(1, max_depth(graph) + 1):
        for path, f in block_fields(graph, fields, depth).items():
            blocks.setdefault(path, f.text())
    return {k: f.text() for k, f in fields.items()}, blocks


# Legend names: "Dense" (the fully connected layer) and a dense connection (DenseNet's
# concatenation) are different things, so neither is called just "dense".
LEGEND_NAMES = {"dense": "Dense (fully connected)", "merge": "merge (Add, Concatenate)", "model": "nested model"}


LEGEND_ROW = 4  # colour cells per legend row in a top-down drawing (a tall, narrow graph)


def _legend(categories: Iterable[str], has_residual: bool, has_dense: bool, per_row: int | None = None) -> str:
    """The colour legend as an HTML-like table: ``per_row`` colour cells a row (None: one row),
    then a row for each kind of connection drawn. Wrapped, it is no wider than a layer column, so
    fitting the drawing's width keeps labels legible instead of fitting a wide legend."""
    cells = [
        f'<td bgcolor="{CATEGORIES[c]}"><font color="{TEXT_COLOR}">{LEGEND_NAMES.get(c, c)}</font></td>'
        for c in CATEGORIES if c in set(categories)
    ]
    notes = []
    if has_residual:
        notes.append(f'<font color="{SKIP_COLOR}">- - residual connection (into Add)</font>')
    if has_dense:
        notes.append(f'<font color="{DENSE_COLOR}">- - dense connection (into Concatenate)</font>')
    if per_row is None:
        rows = ["".join(cells) + "".join(f'<td border="0">{n}</td>' for n in notes)]
    else:
        rows = ["".join(cells[i:i + per_row]) for i in range(0, len(cells), per_row)]
        span = min(per_row, len(cells)) or 1
        rows += [f'<td border="0" colspan="{span}">{n}</td>' for n in notes]
    return ('<<table border="0" cellborder="1" cellspacing="3" cellpadding="3">'
            + "".join(f"<tr>{r}</tr>" for r in rows if r) + "</table>>")


def _check_expand(graph: ModelGraph, expand: Iterable[str]) -> None:
    names = expandable(graph)
    known = set(names)
    for name in expand:
        if name not in known:
            sample = ", ".join(names[:6]) if names else "none"
            raise ConfigError(f"expand {name!r} is not a block or nested model of {graph.name}; try one of: {sample}.")


def to_dot(
    graph: ModelGraph,
    view: str | ViewOptions = "blocks",
    *,
    rankdir: str = "TB",
    expand: Iterable[str] = (),
    macs: Mapping[str, int] | None = None,
    legend: bool = True,
    styles: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Render a model graph as DOT text.

    Args:
        graph: the model's graph.
        view: ``blocks``, ``layers`` or ``mixed`` (or a :class:`ViewOptions`, which then
            overrides ``rankdir``, ``expand`` and ``legend``).
        rankdir: ``TB`` or ``LR``.
        expand: blocks or block prefixes to expand (mixed view) and nested models to open.
        macs: optional multiply-accumulates per layer id (nested: ``model.layer``); shown on
            layers and summed on blocks.
        legend: draw the colour legend when layers are shown.
        styles: extra DOT attributes per node id (a layer id, or ``block:PATH`` for a block node),
            merged over the defaults: how other views colour the graph (a diff's classes, a
            gradient heat map) without a renderer of their own.

    Returns:
        The DOT source, deterministic for the same inputs.

    Raises:
        ConfigError: an unknown view, rankdir or expand name.
    """
    opts = view if isinstance(view, ViewOptions) else ViewOptions(view, rankdir, tuple(expand), legend)
    _check_expand(graph, opts.expand)
    return _DotWriter(graph, opts, macs, styles).render()


def graph_attrs(rankdir: str) -> dict[str, str]:
    """The DOT graph attributes every drawing shares (layout spacing, fonts, cluster style)."""
    return {
        "rankdir": rankdir,
        "bgcolor": '"transparent"',
        "fontname": _q(FONT),
        "fontsize": "11",
        "fontcolor": _q(EDGE_COLOR),
        "nodesep": "0.22",
        "ranksep": "0.32",
        "style": '"rounded,filled"',
        "color": _q(CLUSTER_COLOR),
        "fillcolor": _q(CLUSTER_FILL),
        "labeljust": "l",
    }


class _DotWriter:
    """One rendering of a graph, in passes: nodes (layers and block nodes, in clusters), then
    edges, then the header (graph, node and edge defaults, legend) around them.

    ``ports`` maps a node id to two functions giving the DOT id that receives input i / sends
    output j, so edges into an expanded nested model reach its layers.
    """

    def __init__(self, graph: ModelGraph, opts: ViewOptions, macs: Mapping[str, int] | None,
                 styles: Mapping[str, Mapping[str, str]] | None) -> None:
        self.graph, self.opts, self.macs = graph, opts, macs
        self.styles = styles or {}
        self.expand = tuple(opts.expand)
        self.shown = display_ids(graph, opts)
        self.layer_fields, self.block_field_texts = _field_texts(graph)
        self.root = _Cluster("", "")
        self.edges_out: list[str] = []
        self.used_categories: list[str] = []
        self.flags = {"residual": False, "dense": False}
        self.shown_layers = 0
        self.nested: list[tuple[ModelGraph, dict[str, tuple]]] = []  # expanded nested models, edges drawn last

    def render(self) -> str:
        """The whole DOT text."""
        top_ports = self.add_graph(self.graph, "", self.root, True)
        self.add_edges(self.graph, top_ports)
        for g, ports in self.nested:
            self.add_edges(g, ports)
        out = self.header()
        self.root.emit(out, "  ")
        out.extend("  " + e for e in self.edges_out)
        out.append("}")
        return "\n".join(out) + "\n"

    # -- pass 1: nodes ----------------------------------------------------------------------------
    def _styled(self, did: str, attrs: dict[str, str]) -> dict[str, str]:
        extra = self.styles.get(did)
        return {**attrs, **extra} if extra else attrs

    def _cluster_path(self, n: Node, g: ModelGraph, top: bool) -> tuple[str, ...]:
        if not top or g.grouping == "flat" or n.block == INPUT_BLOCK:
            return ()
        return tuple(n.block.split("/"))

    def add_graph(self, g: ModelGraph, prefix: str, cluster: _Cluster, top: bool) -> dict[str, tuple]:
        """Add the layer nodes of ``g`` (and the block nodes standing for folded layers)."""
        ports: dict[str, tuple] = {}
        outputs = set(g.outputs) if top else set()
        blocks_seen: dict[str, list[Node]] = {}
        for n in g.nodes:
            if top and self.shown[n.id] != n.id:
                bid = self.shown[n.id]
                blocks_seen.setdefault(bid[len(BLOCK_PREFIX):], []).append(n)
                ports[n.id] = (lambda _i, b=bid: b, lambda _j, b=bid: b)
                continue
            target = cluster.at(self._cluster_path(n, g, top))
            did = prefix + n.id
            if n.children is not None and did in self.expand:
                sub = target.at((f"model:{did}",), (f"{did} ({n.cls} model)",))
                child_ports = self.add_graph(n.children, did + ".", sub, False)
                self.nested.append((n.children, child_ports))
                ins, outs = n.children.inputs, n.children.outputs
                ports[n.id] = (
                    lambda i, cp=child_ports, ins=ins: cp[ins[min(i, len(ins) - 1)]][0](0),
                    lambda j, cp=child_ports, outs=outs: cp[outs[min(j, len(outs) - 1)]][1](0),
                )
                continue
            self.used_categories.append(category(n))
            self.shown_layers += not n.is_input
            field = self.layer_fields.get(n.id, "") if top else ""
            attrs = self._styled(did, _layer_attrs(n, self.macs, n.id in outputs, prefix, field))
            target.lines.append(f"{_q(did)} {_attrs(attrs)};")
            ports[n.id] = (lambda _i, d=did: d, lambda _j, d=did: d)
        for path, members in blocks_seen.items():
            parts = tuple(path.split("/"))
            target = self.root.at(parts[:-1]) if g.grouping != "flat" else self.root
            attrs = self._styled(block_id(path), self.block_attrs(path, members, outputs))
            target.lines.append(f"{_q(block_id(path))} {_attrs(attrs)};")
        return ports

    def block_attrs(self, path: str, members: list[Node], outputs: set[str]) -> dict[str, str]:
        """DOT attributes of a block node: name, output shape, params (and MACs), what it holds."""
        params = sum(m.params for m in members)
        shape = members[-1].output_shapes
        tail = [f"{format_count(params)} params" if params else "no params"]
        if self.macs:
            total = sum(self.macs.get(m.id, 0) for m in members)
            if total:
                tail.append(f"{format_count(total)} MACs")
        sub = len({m.block for m in members})
        count = f"{len(members)} layers" if len(members) > 1 else members[0].cls
        lines = [
            path.split("/")[-1],
            format_shape(shape[0]) if shape else "-",
            " · ".join(tail),
            f"{sub} blocks · {count}" if sub > 1 else count,
        ]
        field = self.block_field_texts.get(path)
        tip = [path, f"{len(members)} layers · {params:,} params"] + ([field] if field else [])
        a = {"label": _label(lines), "fillcolor": _q(BLOCK_FILL), "tooltip": _tip(tip)}
        if any(m.id in outputs for m in members):
            a["penwidth"] = "2.2"
        return a

    # -- pass 2: edges ----------------------------------------------------------------------------
    def add_edges(self, g: ModelGraph, ports: dict[str, tuple]) -> None:
        """Add the edges of ``g``: one per block pair, skips styled, calls of shared layers labelled."""
        kinds = skip_kinds(g)
        seen: dict[tuple[str, str], int] = {}
        lines: list[tuple[tuple[str, str], dict[str, str], bool]] = []
        calls = {n.id: len(n.calls) for n in g.nodes}
        for i, e in enumerate(g.edges):
            src = ports[e.src][1](e.src_output)
            dst = ports[e.dst][0](e.dst_input)
            if src == dst:
                continue
            kind = kinds.get(i)
            if src.startswith(BLOCK_PREFIX) or dst.startswith(BLOCK_PREFIX):
                # One edge per block pair; styled as a skip only when every tensor it stands for is one.
                key = (src, dst)
                if key in seen:
                    k = seen[key]
                    if lines[k][1].get("_kind") != kind:
                        lines[k][1]["_kind"] = ""
                    continue
                seen[key] = len(lines)
                lines.append((key, {"_kind": kind or ""}, True))
                continue
            a = {"_kind": kind or ""}
            if calls.get(e.dst, 1) > 1:
                a["label"] = _q(f"call {e.call + 1}")
            lines.append(((src, dst), a, False))
        for (src, dst), a, _blk in lines:
            kind = a.pop("_kind") or None
            if kind:
                self.flags[kind] = True
            style = {**_edge_style(kind), **a}
            self.edges_out.append(f"{_q(src)} -> {_q(dst)}" + (f" {_attrs(style)}" if style else "") + ";")

    # -- pass 3: header ---------------------------------------------------------------------------
    def header(self) -> list[str]:
        """The opening lines: graph attributes (and legend), node and edge defaults."""
        out = [f"digraph {_q(self.graph.name)} {{"]
        gattrs = graph_attrs(self.opts.rankdir)
        if self.opts.legend and self.shown_layers:
            gattrs["label"] = _legend(self.used_categories, self.flags["residual"], self.flags["dense"],
                                      per_row=LEGEND_ROW if self.opts.rankdir == "TB" else None)
            gattrs["labelloc"] = "t"
        out.append(f"  graph {_attrs(gattrs)};")
        out.append("  node " + _attrs({
            "shape": "box",
            "style": '"rounded,filled"',
            "fontname": _q(FONT),
            "fontsize": "10",
            "fontcolor": _q(TEXT_COLOR),
            "color": _q(BORDER_COLOR),
            "penwidth": "0.8",
            "margin": '"0.1,0.04"',
            "height": "0.3",
        }) + ";")
        out.append("  edge " + _attrs({"color": _q(EDGE_COLOR), "arrowsize": "0.6", "fontname": _q(FONT),
                                       "fontsize": "8", "fontcolor": _q(EDGE_COLOR)}) + ";")
        return out


# ---------------------------------------------------------------- architecture diff (A vs B)

# Fill and border per diff status: the usual diff colours, pastel so dark text reads on them.
DIFF_STYLE: dict[str, tuple[str, str, str]] = {  # status -> (fill, border, node style)
    "added": ("#b2f2bb", "#2b8a3e", "rounded,filled"),
    "removed": ("#ffc9c9", "#c92a2a", "rounded,filled,dashed"),
    "changed": ("#ffec99", "#e67700", "rounded,filled"),
    "same": ("#f1f3f5", "#868e96", "rounded,filled"),
}
DIFF_EDGE_COLOR = {"added": "#2b8a3e", "removed": "#c92a2a"}


def _change(label: str, a: int | None, b: int | None) -> str:
    """``params 74.0k → 148k (+74.0k)``, or one value when both sides agree."""
    from explorer.fmt import signed

    if a is None or b is None or a == b:
        v = b if b is not None else a
        return f"{format_count(v)} {label}" if v else ""
    return f"{label} {format_count(a)} → {format_count(b)} ({signed(b - a)})"


def _diff_lines(n) -> list[str]:
    """Label lines of a diff node: name, class or shape, and the changes."""
    s = n.side
    a, b = n.a, n.b
    head = s.path.rsplit("/", 1)[-1] if s.is_block else s.path
    if n.status == "changed" and a.path != b.path:
        head = f"{a.path.rsplit('/', 1)[-1]} → {head}" if s.is_block else f"{a.path} → {head}"
    lines = [head]
    if not s.is_block:
        lines.append(s.cls)
    sa = format_shape(a.shape) if a else None
    sb = format_shape(b.shape) if b else None
    lines.append(sb if sa in (None, sb) else (sa if sb is None else f"{sa} → {sb}"))
    pa, pb = (a.params if a else None), (b.params if b else None)
    ma, mb = (a.macs if a else None), (b.macs if b else None)
    if n.status == "changed":
        lines += [_change("params", pa, pb) or "no params", _change("MACs", ma, mb)]
        if a.layers != b.layers:
            lines.append(f"layers {a.layers} → {b.layers}")
    else:
        tail = [_change("params", pa, pb) or "no params"]
        if _change("MACs", ma, mb):
            tail.append(_change("MACs", ma, mb))
        lines.append(" · ".join(tail))
        if n.status in ("added", "removed"):
            lines.append("only in B" if n.status == "added" else "only in A")
    return lines


def _diff_legend(counts: Mapping[str, int]) -> str:
    cells = []
    for status, (fill, border, _style) in DIFF_STYLE.items():
        cells.append(f'<td bgcolor="{fill}" color="{border}"><font color="{TEXT_COLOR}">'
                     f"{status} ({counts.get(status, 0)})</font></td>")
    return '<<table border="0" cellborder="1" cellspacing="3" cellpadding="3"><tr>' + "".join(cells) + "</tr></table>>"


def diff_dot(diff, *, legend: bool = True) -> str:
    """Draw an architecture diff (:class:`explorer.diff.GraphDiff`) as DOT text.

    Every node carries ``class="added"``, ``"removed"``, ``"changed"`` or ``"same"`` (graphviz
    copies it into the SVG, so a page or a test can find them); changed nodes show
    ``A → B (delta)`` for params, MACs and shape; edges only in A are dashed red, only in B green.

    Args:
        diff: the diff (from :func:`explorer.diff.diff_graphs`).
        legend: draw the legend of statuses with their counts.

    Returns:
        Deterministic DOT text.
    """
    opts = diff.options
    root = _Cluster("", "")
    for n in diff.nodes:
        fill, border, style = DIFF_STYLE[n.status]
        a = {
            "label": _label(_diff_lines(n)),
            "class": _q(n.status),
            "fillcolor": _q(fill),
            "color": _q(border),
            "style": _q(style),
            "tooltip": _q(f"{n.side.path}: {n.status}" + (f" (matched by {n.matched_by})" if n.matched_by else "")),
        }
        if n.status != "same":
            a["penwidth"] = "1.6"
        if n.id in diff.outputs:
            a["penwidth"] = "2.4"
        if not n.is_block and n.side.cls in ("Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum",
                                               "Subtract", "Dot"):
            a["shape"] = "ellipse"
        parts = tuple(n.cluster.split("/")) if n.cluster else ()
        root.at(parts).lines.append(f"{_q(n.id)} {_attrs(a)};")
    out = [f"digraph {_q(diff.name_a + ' vs ' + diff.name_b)} {{"]
    gattrs = graph_attrs(opts.rankdir)
    if legend:
        gattrs["label"] = _diff_legend(diff.counts())
        gattrs["labelloc"] = "t"
    out.append(f"  graph {_attrs(gattrs)};")
    out.append("  node " + _attrs({"shape": "box", "fontname": _q(FONT), "fontsize": "10",
                                   "fontcolor": _q(TEXT_COLOR), "penwidth": "0.8", "margin": '"0.1,0.04"',
                                   "height": "0.3"}) + ";")
    out.append("  edge " + _attrs({"color": _q(EDGE_COLOR), "arrowsize": "0.6"}) + ";")
    root.emit(out, "  ")
    for e in diff.edges:
        style = dict(_edge_style(e.kind or None))
        style["class"] = _q(e.status)
        if e.status != "same":
            style["color"] = _q(DIFF_EDGE_COLOR[e.status])
            style["penwidth"] = "1.4"
            if e.status == "removed":
                style["style"] = "dashed"
        out.append(f"  {_q(e.src)} -> {_q(e.dst)} {_attrs(style)};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- graphviz (SVG, PNG)

PNG_MAX_SIDE = 12_000  # pixels; above this a PNG is scaled down (graphviz's own limit is 32,767)
PNG_DPI = 96


def dot_binary() -> str | None:
    """Path of graphviz's ``dot`` (``EXPLORER_DOT`` overrides the name), or None if missing."""
    return _which(os.environ.get("EXPLORER_DOT", "dot"), os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=8)
def _which(name: str, path: str) -> str | None:
    # Memoised per name and PATH: every page run asks (a PATH walk of stat calls each time).
    return shutil.which(name, path=path)


def have_dot() -> bool:
    """True when the graphviz ``dot`` program is installed."""
    return dot_binary() is not None


MISSING_DOT = (
    "SVG and PNG need the graphviz 'dot' program, which is not installed: install graphviz "
    "(apt-get install graphviz, brew install graphviz or conda install graphviz), or export DOT instead."
)


def layout(dot_text: str, fmt: str = "svg", *, timeout: float = 120.0, png_max_side: int = PNG_MAX_SIDE) -> bytes:
    """Lay out DOT text with graphviz's ``dot`` and return SVG or PNG bytes.

    Args:
        dot_text: DOT source (from :func:`to_dot`).
        fmt: ``svg`` or ``png``.
        timeout: seconds before graphviz is stopped.
        png_max_side: the longest side of a PNG in pixels; larger drawings are scaled down
            (prefer SVG for large graphs: it stays sharp at any zoom).

    Returns:
        The drawing's bytes.

    Raises:
        GraphError: graphviz is missing, failed, or took longer than ``timeout``.
        ConfigError: an unknown format.
    """
    if fmt not in ("svg", "png"):
        raise ConfigError(f"format {fmt!r} is not known; choose dot, svg or png.")
    exe = dot_binary()
    if exe is None:
        raise GraphError(MISSING_DOT)
    cmd = [exe, f"-T{fmt}"]
    if fmt == "png":
        inches = png_max_side / PNG_DPI
        cmd += [f"-Gdpi={PNG_DPI}", f"-Gsize={inches:.2f},{inches:.2f}", "-Gbgcolor=white"]
    try:
        proc = subprocess.run(cmd, input=dot_text.encode(), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GraphError(
            f"graphviz took longer than {timeout:g} s to lay out this graph; use the block view or export DOT."
        ) from exc
    if proc.returncode != 0 or not proc.stdout:
        first = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[0]
        raise GraphError(f"graphviz could not lay out this graph: {first}")
    return proc.stdout


TILE_PX = 4000  # the longest side of one PNG tile, in pixels at PNG_DPI


def svg_size(svg_text: str) -> tuple[float, float]:
    """(width, height) in points of graphviz SVG text, read from its ``<svg>`` element."""
    import re

    m = re.search(r'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', svg_text)
    if not m:
        raise GraphError("not a graphviz SVG drawing.")
    return float(m.group(1)), float(m.group(2))


def tile_grid(width_pt: float, height_pt: float, dpi: int = PNG_DPI, tile_px: int = TILE_PX) -> tuple[int, int]:
    """(columns, rows) of PNG tiles that cover a drawing at ``dpi`` (1, 1 when one PNG fits)."""
    import math

    w, h = width_pt * dpi / 72, height_pt * dpi / 72
    return max(1, math.ceil(w / tile_px)), max(1, math.ceil(h / tile_px))


def needs_tiles(width_pt: float, height_pt: float, max_side: int = PNG_MAX_SIDE, dpi: int = PNG_DPI) -> bool:
    """True when one PNG capped at ``max_side`` pixels would shrink the drawing (a 709-layer graph
    becomes 113 x 12,000 px, unreadable): export tiles instead."""
    return max(width_pt, height_pt) * dpi / 72 > max_side


def png_tiles(dot_text: str, *, dpi: int = PNG_DPI, tile_px: int = TILE_PX, timeout: float = 300.0) -> list[bytes]:
    """A large graph as readable PNG tiles at full size, top to bottom and left to right.

    Lays the graph out once (``dot -Tdot``), then draws each window of it with graphviz's
    ``viewport`` (``neato -n2`` keeps the positions), so no tile is scaled down.

    Returns:
        PNG bytes per tile, each at most ``tile_px`` pixels a side.

    Raises:
        GraphError: graphviz is missing or failed.
    """
    import re

    exe = dot_binary()
    if exe is None:
        raise GraphError(MISSING_DOT)
    neato = shutil.which("neato", path=os.path.dirname(exe)) or shutil.which("neato")
    if neato is None:
        raise GraphError("PNG tiles need graphviz's 'neato' program next to 'dot'; export SVG instead.")
    laid = subprocess.run([exe, "-Tdot"], input=dot_text.encode(), capture_output=True, timeout=timeout, check=False)
    m = re.search(rb'bb="([\d.]+),([\d.]+),([\d.]+),([\d.]+)"', laid.stdout)
    if laid.returncode != 0 or not m:
        raise GraphError("graphviz could not lay out this graph for PNG tiles; export SVG instead.")
    x0, y0, x1, y1 = (float(v) for v in m.groups())
    cols, rows = tile_grid(x1 - x0, y1 - y0, dpi, tile_px)
    tw, th = (x1 - x0) / cols, (y1 - y0) / rows  # points per tile
    tiles = []
    for r in range(rows):
        for c in range(cols):
            cx, cy = x0 + (c + 0.5) * tw, y1 - (r + 0.5) * th  # graphviz's y grows upwards
            cmd = [neato, "-n2", "-Tpng", f"-Gdpi={dpi}", "-Gbgcolor=white", "-Gsize=", "-Gratio=",
                   f"-Gviewport={tw:.1f},{th:.1f},1,{cx:.1f},{cy:.1f}"]
            proc = subprocess.run(cmd, input=laid.stdout, capture_output=True, timeout=timeout, check=False)
            if proc.returncode != 0 or not proc.stdout:
                raise GraphError("graphviz could not draw a PNG tile of this graph; export SVG instead.")
            tiles.append(proc.stdout)
    return tiles


@functools.lru_cache(maxsize=4)
def png_tiles_zip(dot_text: str, stem: str = "graph") -> bytes:
    """:func:`png_tiles` in a ZIP (``stem-01.png``, ...), with a README saying how they fit (cached)."""
    import io
    import zipfile

    tiles = png_tiles(dot_text)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, data in enumerate(tiles, 1):
            zf.writestr(f"{stem}-{i:02d}.png", data)
        zf.writestr("README.txt", f"{len(tiles)} tiles of one graph at {PNG_DPI} dpi, top to bottom (then left "
                                  "to right): the graph was too large for one readable PNG. The SVG export shows "
                                  "it whole and stays sharp at any zoom.\n")
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of PNG bytes, read from the header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise GraphError("not a PNG image.")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@functools.lru_cache(maxsize=8)
def _dot_version(exe: str) -> str | None:
    """``dot -V``'s answer (the disk cache's layouts depend on it), or None if it fails."""
    try:
        proc = subprocess.run([exe, "-V"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (proc.stderr or proc.stdout).decode(errors="replace").strip()
    return f"{exe}: {text}" if proc.returncode == 0 and text else None


@functools.lru_cache(maxsize=64)
def _cached(dot_text: str, fmt: str) -> bytes:
    from explorer import diskcache

    exe = dot_binary()
    version = _dot_version(exe) if exe else None
    if version is None:  # no graphviz (layout says so) or one that does not answer: no disk tier
        return layout(dot_text, fmt)
    key, salt = f"{fmt}\n{dot_text}", (version,)
    hit = diskcache.get("layout", key, salt)
    if hit is not None:
        return hit
    data = layout(dot_text, fmt)
    diskcache.put("layout", key, data, salt)
    return data


def cached_layout(dot_text: str, fmt: str = "svg") -> bytes:
    """:func:`layout`, memoised on the DOT text in memory and on disk (:mod:`explorer.diskcache`,
    keyed by the text, the format and graphviz's version); concurrent callers with the same text
    wait for one graphviz run (thirty browsers on one preset pay once)."""
    key = hashlib.sha1(dot_text.encode()).hexdigest() + fmt
    with _LOCKS_GUARD:
        if len(_LOCKS) > 512:
            _LOCKS.clear()
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        return _cached(dot_text, fmt)


def svg(dot_text: str) -> str:
    """SVG text of a DOT graph (cached), without the XML prolog, ready to embed in a page."""
    text = cached_layout(dot_text, "svg").decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


# -- heat colouring: block styles for to_dot's ``styles`` seam (views and heat stay apart) --------
HEAT_LOW, HEAT_HIGH = (0.93, 0.95, 1.0), (0.84, 0.15, 0.11)  # pale blue-white -> red


def heat_colors(values: Mapping[str, float | None], log: bool = True) -> dict[str, str]:
    """Fill colours for blocks from numbers (e.g. gradient norms): low pale, high red.

    Args:
        values: block path -> value (None, non-finite, and with ``log`` non-positive values are left out).
        log: scale by log10 (norms span decades).

    Returns:
        Block path -> ``#rrggbb``.
    """
    import math

    vals = {k: (math.log10(v) if log else v) for k, v in values.items()
            if v is not None and math.isfinite(v) and (v > 0 or not log)}
    if not vals:
        return {}
    lo, hi = min(vals.values()), max(vals.values())
    out = {}
    for k, v in vals.items():
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        rgb = [round(255 * (a + (b - a) * t)) for a, b in zip(HEAT_LOW, HEAT_HIGH, strict=True)]
        out[k] = "#" + "".join(f"{c:02x}" for c in rgb)
    return out


def heat_styles(graph: ModelGraph, colors: Mapping[str, str],
                tooltips: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """``styles`` for :func:`to_dot` that fill block nodes with ``colors`` (block path -> colour).

    A block node shows the colour of its own path, else that of the first coloured block inside
    it (a stage node, when the view cuts blocks to stages, shows its first block's heat).

    Args:
        graph: the graph being drawn (its block paths and their prefixes get a style).
        colors: block path -> fill colour (e.g. from :func:`heat_colors`).
        tooltips: block path -> text for the node's tooltip (e.g. the value), optional.

    Returns:
        Node id (``block:PATH``) -> DOT attributes.
    """
    from explorer import blockpath

    paths = dict.fromkeys(p for b in graph.blocks() for p in blockpath.prefixes(b))
    out: dict[str, dict[str, str]] = {}
    for path in paths:
        key = path if path in colors else next((k for k in colors if k.startswith(path + "/")), None)
        if key is None:
            continue
        attrs = {"fillcolor": _q(colors[key])}
        if tooltips and key in tooltips:
            attrs["tooltip"] = _q(f"{path}: {tooltips[key]}")
        out[block_id(path)] = attrs
    return out
