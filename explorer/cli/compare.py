"""``compare``: what-if comparison of two architectures (totals and per-block deltas, B - A)."""

from __future__ import annotations

import argparse

from explorer.cli.common import overrides_for, print_json
from explorer.cli.summary import add_budget_args, check_budget_args
from explorer.compare import Comparison, compare_targets, comparison_dict
from explorer.errors import ConfigError
from explorer.fmt import human
from explorer.model_io import looks_like_model_file


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` command."""
    p = sub.add_parser("compare", help="compare two architectures block by block (B - A)")
    p.add_argument("a", metavar="A", help="builder, preset or .keras file for A")
    p.add_argument("b", metavar="B", help="builder, preset or .keras file for B")
    for side in ("a", "b"):
        up = side.upper()
        p.add_argument(f"--preset-{side}", metavar="NAME", help=f"preset of {up}'s builder to start from")
        p.add_argument(f"--set-{side}", dest=f"set_{side}", action="append", default=[], metavar="KEY=VALUE",
                       help=f"override a config field of {up} (repeatable), e.g. --set-{side} growth_rate=24")
    add_budget_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
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


def run(args: argparse.Namespace) -> int:
    """Print the comparison as text or JSON."""
    check_budget_args(args)
    ov_a = _overrides(args.a, args.preset_a, args.set_a, "a")
    ov_b = _overrides(args.b, args.preset_b, args.set_b, "b")
    c, ana_a, ana_b = compare_targets(args.a, args.b, ov_a, ov_b, args.preset_a, args.preset_b,
                                      depth=args.depth, batch_size=args.batch_size, dtype=args.dtype)
    if args.json:
        print_json(comparison_dict(c, ana_a, ana_b))
    else:
        print(comparison_text(c))
    return 0
