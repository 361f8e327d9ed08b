"""``code``: readable functional-API Python that rebuilds an architecture."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.builders import resolve
from explorer.cli.common import add_target_args, overrides_for
from explorer.codegen import generate
from explorer.errors import ConfigError, DataError


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``code`` command."""
    add_target_args(p)
    p.add_argument("-o", "--output", metavar="FILE.py", help="write the source here instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the source; write it to ``-o`` or print it."""
    spec = resolve(args.builder, args.preset, overrides_for(args.builder, args.preset, args.assignments))
    source = generate(spec)
    if not args.output:
        print(source, end="")
        return 0
    out = Path(args.output)
    if out.suffix != ".py":
        raise ConfigError(f"-o {args.output!r} must end in .py.")
    try:
        out.write_text(source)
    except OSError as exc:
        raise DataError(f"cannot write {args.output}: {exc.strerror or exc}.") from None
    print(f"wrote {out} ({len(source.splitlines())} lines)")
    return 0
