"""The command line: ``python -m explorer COMMAND ...`` (a contract: tests and outside checks call it).

Each command lives in its own module of this package with ``register(subparsers)``, which adds
its parser and sets ``func(args) -> int``. Errors a user can cause exit with status 2 and one
plain line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from explorer.errors import ExplorerError

# Command modules, in the order ``--help`` lists them.
COMMANDS = ("listing", "summary", "graph", "train", "sweep", "runs", "compare", "code")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage dumps."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered command."""
    parser = _Parser(prog="python -m explorer", description="Architecture Explorer command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"explorer.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ExplorerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
