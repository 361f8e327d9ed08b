"""``summary``: totals, MACs, activation memory and the per-block partition of an architecture."""

from __future__ import annotations

import argparse

from explorer.budget import DEFAULT_DTYPE, DTYPES, check_batch_dtype
from explorer.cli.common import add_target_args, analyse_args, print_json
from explorer.graph import parse_input_size
from explorer.memory import DEFAULT_OPTIMIZER, OPTIMIZER_SLOTS, check_optimizer
from explorer.summary import check_depth, summary_dict, summary_text


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """Add ``--depth N``, ``--batch-size B`` and ``--dtype D`` (shared with ``compare``)."""
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="roll blocks up to N levels of their path (1 = stages); default: leaf blocks")
    p.add_argument("--batch-size", type=int, default=1, metavar="B",
                   help="batch size for activation memory (default 1)")
    p.add_argument("--dtype", default=DEFAULT_DTYPE, metavar="DTYPE",
                   help=f"dtype for activation memory: {', '.join(DTYPES)} (default {DEFAULT_DTYPE})")


def check_budget_args(args: argparse.Namespace) -> None:
    """Validate ``--depth``, ``--batch-size`` and ``--dtype`` before any model is built.

    Raises:
        ConfigError: a bad value (the CLI exits 2 with one line).
    """
    check_depth(args.depth)
    check_batch_dtype(args.batch_size, args.dtype)


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``summary`` command."""
    add_target_args(p)
    add_budget_args(p)
    p.add_argument("--optimizer", default=DEFAULT_OPTIMIZER, metavar="OPT",
                   help=f"optimizer for the training-memory estimate: {', '.join(OPTIMIZER_SLOTS)} "
                        f"(default {DEFAULT_OPTIMIZER})")
    p.add_argument("--input-size", default=None, metavar="H,W",
                   help="sizes for a model file's unknown input dimensions (e.g. 224,224), to count its MACs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary as text or JSON."""
    check_budget_args(args)
    check_optimizer(args.optimizer)
    parse_input_size(args.input_size)
    a = analyse_args(args)
    if args.json:
        print_json(summary_dict(a.label, a.spec, a.graph, depth=args.depth, batch_size=args.batch_size,
                                dtype=args.dtype, optimizer=args.optimizer))
    else:
        print(summary_text(a.label, a.graph, depth=args.depth, batch_size=args.batch_size, dtype=args.dtype,
                           optimizer=args.optimizer))
    return 0
