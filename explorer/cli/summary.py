"""``summary``: totals and the per-block partition of an architecture or a saved model."""

from __future__ import annotations

import argparse

from explorer.cli.common import add_target_args, analyse_args, print_json
from explorer.summary import summary_dict, summary_text


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``summary`` command."""
    p = sub.add_parser("summary", help="parameter totals and blocks of an architecture")
    add_target_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary as text or JSON."""
    a = analyse_args(args)
    if args.json:
        builder = a.spec.builder if a.spec else None
        print_json(summary_dict(a.label, builder, a.spec.config if a.spec else None, a.graph))
    else:
        print(summary_text(a.label, a.graph))
    return 0
