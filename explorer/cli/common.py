"""Arguments and helpers shared by commands that take an architecture (BUILDER, --preset, --set)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the package's heavier modules load inside the functions that use them
    from explorer.analysis import Analysis


def add_target_args(p: argparse.ArgumentParser) -> None:
    """Add ``BUILDER [--preset P] [--set key=value ...]``."""
    p.add_argument("builder", metavar="BUILDER", help="builder name, preset name, or a .keras/.h5 file")
    p.add_argument("--preset", help="preset of the builder to start from")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set depth=56")


def overrides_for(target: str, preset: str | None, assignments: list[str]) -> dict[str, Any]:
    """Typed overrides for the builder that ``target`` names (a builder or a preset)."""
    if not assignments:
        return {}
    from explorer.builders import get_builder, resolve
    from explorer.config import parse_assignments

    builder = resolve(target, preset).builder
    return parse_assignments(get_builder(builder).config_cls, assignments)


def analyse_args(args: argparse.Namespace) -> Analysis:
    """Resolve and analyse the architecture named by the common arguments."""
    from explorer.analysis import analyse_target
    from explorer.model_io import looks_like_model_file

    if looks_like_model_file(args.builder) and (args.preset or args.assignments):
        from explorer.errors import ConfigError

        raise ConfigError("--preset and --set apply to builders, not to a saved model file.")
    overrides = overrides_for(args.builder, args.preset, args.assignments)
    from explorer.graph import parse_input_size

    size = parse_input_size(getattr(args, "input_size", None))
    return analyse_target(args.builder, args.preset, overrides, size)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")
