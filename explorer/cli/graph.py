"""``graph``: draw an architecture's functional graph as DOT, SVG or PNG (format from ``-o``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.cli.common import add_target_args, analyse_args
from explorer.errors import ConfigError
from explorer.render import RANKDIRS, ViewOptions, cached_layout, png_size, to_dot

VIEW_CHOICES = ("blocks", "layers", "mixed")


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``graph`` command."""
    add_target_args(p)
    p.add_argument("--view", choices=VIEW_CHOICES, default="blocks",
                   help="one node per block (default), per layer, or blocks with --expand ones opened")
    p.add_argument("--expand", action="append", default=[], metavar="BLOCK",
                   help="block, block prefix or nested model to draw layer by layer (repeatable; implies mixed "
                        "in the block view)")
    p.add_argument("--depth", type=int, metavar="N",
                   help="block nodes show N levels of the block path (1: stages such as conv4); default: every block")
    p.add_argument("--rankdir", choices=RANKDIRS, default="TB", help="top to bottom (TB) or left to right (LR)")
    p.add_argument("--no-legend", action="store_true", help="leave out the colour legend")
    p.add_argument("-o", "--output", metavar="FILE", help="write FILE.dot, FILE.svg or FILE.png (default: DOT on stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the graph and write it to ``-o`` or stdout."""
    fmt = "dot"
    if args.output:
        fmt = Path(args.output).suffix.lower().lstrip(".")
        if fmt == "gv":
            fmt = "dot"
        if fmt not in ("dot", "svg", "png"):
            raise ConfigError(f"output {args.output!r} must end in .dot, .svg or .png (the format comes from it).")
    view = "mixed" if args.view == "blocks" and args.expand else args.view
    a = analyse_args(args)
    opts = ViewOptions(view, args.rankdir, tuple(args.expand), legend=not args.no_legend, depth=args.depth)
    text = to_dot(a.graph, opts)
    if fmt == "dot":
        if not args.output:
            sys.stdout.write(text)
            return 0
        data = text.encode()
    else:
        data = cached_layout(text, fmt)  # the disk cache keeps it for the next command
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output!r}: {exc.strerror or exc}.") from exc
    note = ""
    if fmt == "png":
        w, h = png_size(data)
        note = f", {w}x{h} px"
        if view != "blocks" and max(w, h) > 4000:
            note += "; large graph: prefer .svg, which stays sharp at any zoom"
    print(f"wrote {args.output} ({fmt}, {len(a.graph.nodes)} layers, {view} view{note})", file=sys.stderr)
    return 0
