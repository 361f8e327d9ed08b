"""The Build page's graph: view controls, layer search, a pan/zoom SVG viewer, downloads.

The SVG comes from graphviz (:func:`explorer.render.svg`, cached on the DOT text, so many
browsers on one preset pay for one layout) and is shown by a small Streamlit component that
bundles svg-pan-zoom (``assets/svg-pan-zoom``, BSD licence); its HTML, CSS and view logic
(framing, fit width/all, zoom to a block, search hits, Present's highlighting, keys, full screen)
live in ``assets/graph_viewer/``. DOT comes from :mod:`explorer.render` only. Clicking a block in the graph
expands it (the mixed view); clicking an expanded layer collapses its block again. Without the
``dot`` program the page falls back to ``st.graphviz_chart`` (no pan/zoom) and DOT downloads.

Helpers take their inputs as arguments; none reads ``st.session_state`` implicitly.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.graph import ModelGraph
from explorer.memo import per_graph
from explorer.render import (
    BLOCK_PREFIX,
    MISSING_DOT,
    ViewOptions,
    cached_layout,
    default_view,
    display_ids,
    expandable,
    have_dot,
    layer_macs,
    max_depth,
    needs_tiles,
    png_tiles_zip,
    svg,
    svg_size,
    tile_grid,
    to_dot,
)
from explorer.ui import nav
from explorer.ui.session import BUILD_DRAWN, GraphKeys, graph_keys, widget

ASSETS = Path(__file__).resolve().parents[2] / "assets"
VIEW_LABELS = {"blocks": "Blocks", "layers": "Layers", "mixed": "Mixed"}
MAX_HITS_LISTED = 8
# Label sizes on screen, in CSS pixels: the Build view opens at least this legible; Present frames
# each step with labels a back row can read, and no bigger than a slide's title.
BUILD_LABEL_PX = (12.5, 16.0)
PRESENT_LABEL_PX = (20.0, 34.0)


@st.cache_resource
def _component() -> Callable:
    """Register the viewer component once per server process (its HTML, CSS and JS live in assets/)."""
    here = ASSETS / "graph_viewer"
    lib = (ASSETS / "svg-pan-zoom" / "svg-pan-zoom.min.js").read_text()
    return st.components.v2.component(
        "explorer_graph_viewer", html=(here / "viewer.html").read_text(), css=(here / "viewer.css").read_text(),
        js=lib + "\n" + (here / "viewer.js").read_text(),
    )


def help_text(opts: ViewOptions | None) -> str:
    """The viewer's one-line help for the current view (what a click does there, if anything)."""
    base = "wheel scrolls · ctrl+wheel or + − zoom · drag to pan · hover for details"
    if opts is None:
        return base
    if opts.view == "layers":
        return base
    if opts.view == "mixed":
        return base + " · click a block to open it, a layer to close its block"
    return base + " · click a block to open it"


@dataclass(frozen=True)
class GraphChoice:
    """What the user picked above the graph."""

    options: ViewOptions
    query: str
    focus: str | None = None  # mixed view: the block a new drawing centres on (the one last opened or closed)


def search(graph: ModelGraph, query: str) -> list[str]:
    """Layer ids matching ``query`` (case-insensitive) in name, class, block or config summary.

    Args:
        graph: the model's graph.
        query: text to look for; blank finds nothing.

    Returns:
        Matching layer ids in graph order.
    """
    q = query.strip().lower()
    if not q:
        return []
    return [
        n.id for n in graph.nodes
        if q in n.id.lower() or q in n.cls.lower() or q in n.block.lower() or q in n.summary.lower()
    ]


def highlight_ids(graph: ModelGraph, matches: list[str], opts: ViewOptions) -> list[str]:
    """DOT node ids to highlight for matching layers: the layer, or the block that holds it."""
    if not matches:  # the usual case: no search (mapping every layer to its node cost ~3 ms a run)
        return []
    shown = display_ids(graph, opts)
    return list(dict.fromkeys(shown[m] for m in matches if m in shown))


def focus_id(graph: ModelGraph, opts: ViewOptions, block: str | None = None) -> str | None:
    """The DOT node to centre a mixed-view drawing on: where ``block`` starts (its first layer
    when it is open, its box when it is closed); ``block`` defaults to the last of ``opts.expand``."""
    if opts.view != "mixed":
        return None
    block = block or (opts.expand[-1] if opts.expand else None)
    if not block:
        return None
    shown = display_ids(graph, opts)
    for n in graph.nodes:
        if n.block == block or n.block.startswith(block + "/") or n.id == block:
            return shown[n.id]
    return None


def toggle_pick(state: MutableMapping, picked: str | None, graph: ModelGraph, view_key: str, expand_key: str,
                focus_key: str | None = None) -> None:
    """Expand a clicked block (switching to the mixed view), or collapse the block of a clicked layer.

    The expanded blocks stay in the order they were opened (the multiselect shows them so, and
    the last one opened is the one to look at).

    Args:
        state: the session state (or any mapping) holding the widget values.
        picked: the DOT id of the clicked node (``block:stage2/block1`` or a layer id).
        graph: the model's graph.
        view_key: key of the view selector.
        expand_key: key of the expanded-blocks selector.
        focus_key: where to note the block just opened or closed (the new drawing centres on it).
    """
    if not picked:
        return
    expand = list(state.get(expand_key) or [])
    names = expandable(graph)
    acted = None
    if picked.startswith(BLOCK_PREFIX):
        block = picked[len(BLOCK_PREFIX):]
        if block in names and block not in expand:
            expand.append(block)
            acted = block
        state[view_key] = "mixed"
    else:
        try:
            node = graph.node(picked)
        except KeyError:
            return
        if node.children is not None and node.id in names:
            if node.id in expand:
                expand.remove(node.id)
            else:
                expand.append(node.id)
            acted = node.id
        elif state.get(view_key) == "mixed":
            # Collapse the deepest expanded block holding the clicked layer.
            holding = [e for e in expand if node.block == e or node.block.startswith(e + "/")]
            if holding:
                acted = max(holding, key=lambda e: e.count("/"))
                expand.remove(acted)
    state[expand_key] = [e for e in expand if e in names]
    if focus_key is not None and acted is not None:
        state[focus_key] = acted


DETAIL_LABELS = {"stages": "Stages", "blocks": "All blocks"}


def default_detail(graph: ModelGraph, max_blocks: int = 30) -> str:
    """``stages`` (top-level groups) when a model has more than ``max_blocks`` blocks, else ``blocks``."""
    return "stages" if max_depth(graph) > 1 and len(graph.blocks()) > max_blocks else "blocks"


def default_options(graph: ModelGraph) -> ViewOptions:
    """The view a fresh session first draws (what :func:`controls` returns untouched)."""
    view = default_view(graph)
    stages = view != "layers" and default_detail(graph) == "stages"
    return ViewOptions(view, "TB", (), depth=1 if stages else None)


def default_dot(graph: ModelGraph) -> str:
    """The DOT text of :func:`default_options` (the server warms its layout at start)."""
    return page_dot(graph, default_options(graph))


@per_graph()
def page_dot(graph: ModelGraph, options: ViewOptions) -> str:
    """``to_dot`` with the layers' MACs, memoised per graph object and view.

    Graphs come from the analysis cache, so thirty sessions on one preset draw one DOT text
    instead of thirty (it was the page's largest cost of its own on a warm server).

    Raises:
        ConfigError: an unknown view, direction or block name in ``options``.
    """
    return to_dot(graph, options, macs=layer_macs(graph))


def controls(graph: ModelGraph, state: MutableMapping, keys: GraphKeys, *, draw: bool = True) -> GraphChoice:
    """Draw the view, direction, expansion and search widgets.

    Args:
        graph: the model's graph (for the default view and the expandable blocks).
        state: the session state; the widgets' defaults are created in it.
        keys: widget keys from :func:`explorer.ui.session.graph_keys`.
        draw: False: no widgets, only the choice they would start from (the graph-first pass).

    Returns:
        The chosen view options and search text.
    """
    names = expandable(graph)
    state.setdefault(keys["view"], default_view(graph))
    state.setdefault(keys["rankdir"], "TB")
    state.setdefault(keys["depth"], default_detail(graph))
    state.setdefault(keys["expand"], [])
    state[keys["expand"]] = [e for e in state[keys["expand"]] if e in names]
    if not draw:
        return _choice(graph, state[keys["view"]], state[keys["rankdir"]], state[keys["depth"]],
                       state[keys["expand"]], "", state.get(keys["focus"]))
    c1, c2, c3, c4 = st.columns([3, 2, 3, 3], vertical_alignment="bottom")
    view = c1.segmented_control(
        "View", list(VIEW_LABELS), format_func=VIEW_LABELS.get, key=keys["view"],
        help="Blocks: one box per block. Layers: every layer. Mixed: blocks, with the ones you click (or pick) opened.",
    ) or default_view(graph)
    rankdir = c2.segmented_control("Direction", ["TB", "LR"], key=keys["rankdir"],
                                   format_func={"TB": "↓ down", "LR": "→ right"}.get)
    detail = None
    if max_depth(graph) > 1 and view != "layers":
        detail = c3.segmented_control("Blocks shown", list(DETAIL_LABELS), format_func=DETAIL_LABELS.get,
                                      key=keys["depth"], help="Stages: one box per top-level group; "
                                      "click one to see its blocks.")
    query = c4.text_input("Find layers", key=keys["query"], placeholder="name, type or block, e.g. add, conv3")
    expand = state[keys["expand"]]
    if view == "mixed":
        # A block picked here is the last in the list: the new drawing centres on it.
        expand = st.multiselect("Expanded blocks (or click a block in the graph)", names,
                                key=keys["expand"], placeholder="pick blocks to open",
                                on_change=lambda: state.pop(keys["focus"], None))
    return _choice(graph, view, rankdir, detail, expand, query, state.get(keys["focus"]))


def _choice(graph: ModelGraph, view: str | None, rankdir: str | None, detail: str | None, expand: list[str],
            query: str, focus: str | None = None) -> GraphChoice:
    """The view options the controls' values give (a value left unset takes its default).

    ``expand`` is in the order the blocks were opened; the options hold it in graph order (one
    drawing per set of open blocks), the choice's focus is ``focus`` (the block last clicked)
    or else the block opened last.
    """
    view = view or default_view(graph)
    if view != "mixed":  # nested models opened by a click stay open in the other views too
        expand = [e for e in expand if e in {n.id for n in graph.nodes if n.children}]
    stages = max_depth(graph) > 1 and view != "layers" and detail == "stages"
    opened = set(expand)
    ordered = tuple(e for e in expandable(graph) if e in opened)
    recent = (focus or (expand[-1] if expand else None)) if view == "mixed" else None
    return GraphChoice(ViewOptions(view, rankdir or "TB", ordered, depth=1 if stages else None), query, recent)


def _layout_or_fallback(dot_text: str) -> str | None:
    """The SVG of ``dot_text``, or None after drawing the fallback (no graphviz) or an error."""
    if not have_dot():
        st.info("Install graphviz (the `dot` program) for pan, zoom and SVG/PNG downloads; "
                "this is the basic view.", icon="ℹ️")
        st.graphviz_chart(dot_text, width="stretch")
        return None
    try:
        return svg(dot_text)
    except ExplorerError as exc:
        st.error(str(exc))
        return None


def show(dot_text: str, hits: list[str], *, key: str, on_pick: Callable[[], None] | None,
         focus: str | None = None, height: int = 480, help: str | None = None, fill: bool = True,
         on_drawn: Callable[[], None] | None = None) -> bool:
    """Draw the graph: an SVG pan/zoom viewer, or ``st.graphviz_chart`` without graphviz.

    The viewer opens at the graph's whole width with labels at least ``BUILD_LABEL_PX[0]`` pixels
    (a long model then scrolls vertically); its toolbar fits width, fits all, shows 100%, zooms to
    a block and goes full screen; + and − zoom from the keyboard.

    Args:
        dot_text: the DOT source.
        hits: DOT node ids to highlight.
        key: the component's key (its ``picked`` trigger lands in ``st.session_state[key]``).
        on_pick: called when a node is clicked (read the trigger from the state).
        focus: a DOT node id to centre a new drawing on (else the graph's start is shown).
        height: the viewer's smallest height in pixels.
        help: the help line (default: :func:`help_text` for any view).
        fill: grow the viewer to the bottom of the browser window.
        on_drawn: called once the browser shows the drawing (its ``drawn`` trigger; only asked
            for when given).

    Returns:
        True when the pan/zoom viewer was used.
    """
    return _draw(dot_text, key, {
        "mode": "build",
        "frame_sig": signature(dot_text),
        "hits": hits,
        "hits_sig": "|".join(hits),
        "focus": focus,
        "height": height,
        "fill": fill,
        "help": help if help is not None else help_text(None),
        "min_px": BUILD_LABEL_PX[0],
        "max_px": BUILD_LABEL_PX[1],
        "pick": on_pick is not None,
        "report_drawn": on_drawn is not None,
    }, on_picked_change=on_pick or (lambda: None), on_key_change=lambda: None,
        on_drawn_change=on_drawn or (lambda: None))


def _draw(dot_text: str, key: str, data: dict, **callbacks: Callable[[], None]) -> bool:
    """Lay out ``dot_text`` and hand it to the viewer component with the mode's ``data`` (the SVG,
    its signature and keys on are added here); False after the fallback or an error."""
    image = _layout_or_fallback(dot_text)
    if image is None:
        return False
    _component()(data={**data, "svg": image, "sig": signature(dot_text), "keys": True}, key=key,
                 height="content", **callbacks)
    return True


def present(dot_text: str, new: list[str], context: list[str], *, key: str, on_key: Callable[[], None],
            step_sig: str, height: int = 360) -> bool:
    """Present's drawing: frames the step's new part with its context, new part highlighted.

    Keys (on the whole page, no click needed): → PageDown Space next, ← PageUp back, Home, End,
    F full screen; each lands as the ``key`` trigger (``next:<time>``) and calls ``on_key``.

    Args:
        dot_text: the DOT source of the part revealed so far.
        new: DOT ids of the step's new part (highlighted; the rest is dimmed).
        context: DOT ids framed with it (the previous step).
        key: the component's key.
        on_key: called when a presenter key is pressed.
        step_sig: changes with every step (the viewer re-frames when it does).
        height: the viewer's smallest height in pixels (it grows to the window's bottom).

    Returns:
        True when the pan/zoom viewer was used.
    """
    return _draw(dot_text, key, {
        "mode": "present",
        "frame": {"new": new, "context": context, "min_px": PRESENT_LABEL_PX[0], "max_px": PRESENT_LABEL_PX[1]},
        "frame_sig": step_sig,
        "height": height,
        "fill": True,
        "bottom_gap": 12,
        "help": "→ / Space next · ← back · Home / End · F full screen · Esc leaves it",
        "pick": False,
    }, on_key_change=on_key, on_picked_change=lambda: None, on_drawn_change=lambda: None)


def downloads(dot_text: str, stem: str, *, key: str) -> None:
    """DOT, SVG and PNG download buttons (SVG/PNG are rendered on click).

    Args:
        dot_text: the DOT source.
        stem: file name without extension.
        key: the scope of the buttons' keys (one set per architecture).
    """
    c1, c2, c3, c4 = st.columns([1, 1, 1, 3])
    c1.download_button("⬇ DOT", lambda: dot_text, f"{stem}.dot", "text/vnd.graphviz", key=widget("dl", "dot", key),
                       on_click="ignore")
    if not have_dot():
        c4.caption(MISSING_DOT)
        return
    c2.download_button("⬇ SVG", lambda: cached_layout(dot_text, "svg"), f"{stem}.svg", "image/svg+xml",
                       key=widget("dl", "svg", key), on_click="ignore")
    try:
        w, h = svg_size(svg(dot_text))  # laid out already for the viewer (cached)
    except ExplorerError:
        w = h = 0.0
    if needs_tiles(w, h):
        cols, rows = tile_grid(w, h)
        c3.download_button("⬇ PNG tiles", lambda: png_tiles_zip(dot_text, stem), f"{stem}-png-tiles.zip",
                           "application/zip", key=widget("dl", "png", key), on_click="ignore")
        c4.caption(f"This graph is too large for one readable PNG ({w * 96 / 72:,.0f} × {h * 96 / 72:,.0f} px "
                   f"at 96 dpi): PNG comes as {cols * rows} full-size tiles in a ZIP. SVG shows it whole, "
                   "sharp at any zoom; the block view fits one image.")
    else:
        c3.download_button("⬇ PNG", lambda: cached_layout(dot_text, "png"), f"{stem}.png", "image/png",
                           key=widget("dl", "png", key), on_click="ignore")
        c4.caption("PNG at 96 dpi; SVG stays sharp at any zoom.")


def describe_hits(graph: ModelGraph, matches: list[str]) -> str:
    """One line naming the matching layers (a few) and how many there are."""
    if not matches:
        return "No layer matches."
    names = ", ".join(f"`{m}`" for m in matches[:MAX_HITS_LISTED])
    more = f" and {len(matches) - MAX_HITS_LISTED} more" if len(matches) > MAX_HITS_LISTED else ""
    blocks = len({graph.node(m).block for m in matches})
    return f"{len(matches)} layer(s) in {blocks} block(s) match: {names}{more}."


@functools.lru_cache(maxsize=256)
def signature(dot_text: str) -> str:
    """A short hash of the DOT text (the viewer's ``data-sig``; memoised: a page's DOT text is one
    shared object, whose hash Python keeps, so a repeat costs a dictionary lookup)."""
    return hashlib.sha1(dot_text.encode()).hexdigest()[:16]


def graph_first(state: MutableMapping) -> bool:
    """True while this session's browser has not drawn a Build graph yet: the page's first pass
    then sends the title and the graph only, and the rest when the browser reports it drawn.

    Why: Streamlit's browser code renders a page's elements in one go once the code of every
    element kind on it has loaded; with the config form, numbers, view controls and downloads
    around it, DenseNet201's drawing reached the screen ~1 s after the page's last message. Only
    with a browser attached (an ``AppTest`` has no request headers and runs no component code),
    a graphviz drawing to show, and a server with time for two passes: while other sessions'
    pages are running (a class opening the link at once) one pass costs the server less, and the
    page comes whole (two passes for thirty sessions at once took ~30% longer, p95).
    """
    if state.get(BUILD_DRAWN) or not have_dot() or nav.others_running():
        return False
    try:
        return bool(st.context.headers)
    except Exception:  # no script run context
        return False


# The graph-first pass holds the controls' place (Streamlit does not draw an empty container), so
# the drawing does not move when they come: a move resizes it, which in Chromium lays every label
# out again. Heights of the controls row at desktop widths (one row; two in the mixed view).
CONTROLS_CSS = """.st-key-graph-controls { min-height: 68px; }
.st-key-graph-controls:has(.gv-hold-mixed) { min-height: 152px; }"""


def _drawn(state: MutableMapping) -> None:
    state[BUILD_DRAWN] = True


@st.fragment
def section(graph: ModelGraph, state: MutableMapping, scope: str, stem: str,
            after: Callable[[], None] | None = None, *, first: bool = False) -> None:
    """The whole graph panel: view controls, the drawing with search and click-to-expand, downloads.

    A Streamlit fragment: a view switch, a search or a click in the graph reruns this panel only,
    not the page around it (the Build page's rerun sent 63 messages for ~60 elements, and the
    browser redrew them all: ~0.5 s per switch on DenseNet201).

    Args:
        graph: the model's graph.
        state: the session state (widget values live there).
        scope: names this architecture's widgets (each architecture keeps its own view).
        stem: the start of download file names (the architecture's slug).
        after: called at the end of every run of the panel (the page's URL sync: a panel-only
            rerun does not reach the page's own).
        first: the graph-first pass (:func:`graph_first`): the drawing alone, under an empty box
            where the controls go; once the browser reports it drawn, the whole page runs.
    """
    if first and state.get(BUILD_DRAWN):
        st.rerun(scope="app")
    keys = graph_keys(scope)
    with st.container(key="graph-controls"):
        choice = controls(graph, state, keys, draw=not first)
        if first:
            st.markdown(f'<span class="gv-hold-{choice.options.view}"></span>', unsafe_allow_html=True)
    try:
        dot = page_dot(graph, choice.options)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    matches = search(graph, choice.query)
    if choice.query.strip():
        st.caption(describe_hits(graph, matches))
    show(
        dot, highlight_ids(graph, matches, choice.options), key=keys["viewer"],
        focus=focus_id(graph, choice.options, choice.focus),
        help=help_text(choice.options),
        on_pick=lambda: toggle_pick(state, (state.get(keys["viewer"]) or {}).get("picked"), graph,
                                    keys["view"], keys["expand"], keys["focus"]),
        on_drawn=(lambda: _drawn(state)) if first else None,
    )
    if first:
        return
    downloads(dot, f"{stem}-{choice.options.view}", key=scope)
    if after is not None:
        after()
