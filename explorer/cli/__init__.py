"""The command line: ``python -m explorer COMMAND ...`` (a contract: tests and outside checks call it).

Each command lives in its own module of this package with ``register(parser)``, which adds the
command's arguments and sets ``func(args) -> int``. Only the module of the command being run is
imported (``--help`` and ``list`` import no Keras, JAX or NumPy; ``summary`` imports what it needs),
so commands that need no model answer at once. Errors a user can cause exit with status 2 and
one plain line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from explorer.errors import ExplorerError

# Command -> (its module, its line in --help), in the order ``--help`` lists them.
COMMANDS = {
    "list": ("listing", "list builders and presets"),
    "summary": ("summary", "parameter totals, MACs and blocks of an architecture"),
    "graph": ("graph", "draw the functional graph (DOT, SVG or PNG)"),
    "train": ("train", "train an architecture on a dataset in a worker process"),
    "sweep": ("sweep", "train a grid of variants (an experiment) and compare them"),
    "runs": ("runs", "list training runs in the run store"),
    "compare": ("compare", "compare two architectures block by block (B - A)"),
    "code": ("code", "print or write the Keras source that builds an architecture"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage dumps."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser(commands: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The parser; the arguments of ``commands`` (default: all) are filled in, the others are names.

    Args:
        commands: the commands whose modules are imported to add their arguments.
    """
    parser = _Parser(prog="python -m explorer", description="Architecture Explorer command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module, line) in COMMANDS.items():
        p = sub.add_parser(name, help=line, description=line[0].upper() + line[1:] + ".")
        if commands is None or name in commands:
            importlib.import_module(f"explorer.cli.{module}").register(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(tuple(a for a in argv[:1] if a in COMMANDS))  # only the command being run
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
