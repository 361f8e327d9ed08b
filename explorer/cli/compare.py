"""``compare``: what-if comparison of two architectures (totals and per-block deltas, B - A).

With ``-o diff.svg`` (or ``.dot``, ``.png``) it also draws A and B as one graph, every block
marked added, removed, changed or same (:mod:`explorer.diff`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explorer.cli.common import overrides_for, print_json
from explorer.cli.summary import add_budget_args, check_budget_args
from explorer.compare import Comparison, compare_targets, comparison_dict
from explorer.errors import ConfigError
from explorer.fmt import human
from explorer.model_io import looks_like_model_file
from explorer.render import RANKDIRS, ViewOptions, diff_dot, layout

DIFF_VIEWS = ("blocks", "mixed", "layers")


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``compare`` command."""
    p.add_argument("a", metavar="A", help="builder, preset or .keras file for A")
    p.add_argument("b", metavar="B", help="builder, preset or .keras file for B")
    for side in ("a", "b"):
        up = side.upper()
        p.add_argument(f"--preset-{side}", metavar="NAME", help=f"preset of {up}'s builder to start from")
        p.add_argument(f"--set-{side}", dest=f"set_{side}", action="append", default=[], metavar="KEY=VALUE",
                       help=f"override a config field of {up} (repeatable), e.g. --set-{side} growth_rate=24")
    add_budget_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also draw the architecture diff to FILE.dot, FILE.svg or FILE.png: one graph, every block "
                        "marked added, removed, changed or same")
    p.add_argument("--view", choices=DIFF_VIEWS, default="blocks",
                   help="diff drawing: one node per block (default), blocks with --expand ones opened, or layers")
    p.add_argument("--expand", action="append", default=[], metavar="BLOCK",
                   help="block or block prefix to draw layer by layer in the diff (repeatable; implies mixed)")
    p.add_argument("--rankdir", choices=RANKDIRS, default="TB", help="diff drawing: top to bottom or left to right")
    p.set_defaults(func=run)


def _overrides(target: str, preset: str | None, assignments: list[str], side: str) -> dict:
    if looks_like_model_file(target) and (preset or assignments):
        raise ConfigError(f"--preset-{side} and --set-{side} apply to builders, not to a saved model file.")
    return overrides_for(target, preset, assignments)


def comparison_text(c: Comparison) -> str:
    """A plain-text table: totals of A and B, then per-block params and MACs with deltas."""
    width = max([len(r.path) for r in c.blocks] + [16])
    lines = [f"A: {c.label_a}  ({c.a.name})", f"B: {c.label_b}  ({c.b.name})", ""]
    t = c.totals
    lines.append(f"{'total':<{width}}  {'A':>14}  {'B':>14}  {'B - A':>14}  {'B / A':>7}")
    for m in ("params", "trainable_params", "macs", "activations", "layers"):
        a, b = t["a"][m], t["b"][m]
        ratio = f"{b / a:.2f}x" if a else "-"
        lines.append(f"{m:<{width}}  {a:>14,}  {b:>14,}  {b - a:>+14,}  {ratio:>7}")
    lines.append("")
    head = f"{'block':<{width}}  {'in':>4}  {'params A':>10}  {'params B':>10}  {'Δ params':>10}  {'MACs A':>8}  {'MACs B':>8}  {'Δ MACs':>8}"
    lines += [head, "-" * len(head)]
    for r in c.blocks:
        d = r.delta
        lines.append(
            f"{r.path:<{width}}  {r.side:>4}  {r.a['params']:>10,}  {r.b['params']:>10,}  {d['params']:>+10,}  "
            f"{human(r.a['macs']):>8}  {human(r.b['macs']):>8}  {('+' if d['macs'] > 0 else '') + human(d['macs']):>8}"
        )
    return "\n".join(lines)


def output_format(output: str | None) -> str | None:
    """``dot``, ``svg`` or ``png`` from ``-o FILE`` (None without ``-o``).

    Raises:
        ConfigError: another extension.
    """
    if not output:
        return None
    fmt = Path(output).suffix.lower().lstrip(".")
    fmt = "dot" if fmt == "gv" else fmt
    if fmt not in ("dot", "svg", "png"):
        raise ConfigError(f"output {output!r} must end in .dot, .svg or .png (the format comes from it).")
    return fmt


def write_diff(args: argparse.Namespace, fmt: str, graph_a, graph_b) -> None:
    """Draw the diff of A and B to ``args.output`` and say what was written on stderr."""
    from explorer.diff import diff_graphs

    view = "mixed" if args.view == "blocks" and args.expand else args.view
    diff = diff_graphs(graph_a, graph_b, ViewOptions(view, args.rankdir, tuple(args.expand), depth=args.depth))
    text = diff_dot(diff)
    data = text.encode() if fmt == "dot" else layout(text, fmt)
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {args.output!r}: {exc.strerror or exc}.") from exc
    counts = ", ".join(f"{v} {k}" for k, v in diff.counts().items())
    print(f"wrote {args.output} ({fmt}, {view} view: {counts})", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Print the comparison as text or JSON (and draw the diff with ``-o``)."""
    check_budget_args(args)
    fmt = output_format(args.output)
    ov_a = _overrides(args.a, args.preset_a, args.set_a, "a")
    ov_b = _overrides(args.b, args.preset_b, args.set_b, "b")
    c, ana_a, ana_b = compare_targets(args.a, args.b, ov_a, ov_b, args.preset_a, args.preset_b,
                                      depth=args.depth, batch_size=args.batch_size, dtype=args.dtype)
    if args.json:
        print_json(comparison_dict(c, ana_a, ana_b))
    else:
        print(comparison_text(c))
    if fmt:
        write_diff(args, fmt, ana_a.graph, ana_b.graph)
    return 0
