"""``list``: the registered builders and presets."""

from __future__ import annotations

import argparse

from explorer.builders import REGISTRY, presets_of
from explorer.cli.common import print_json
from explorer.config import applies_text, config_to_dict, describe, fields_of


def register(p: argparse.ArgumentParser) -> None:
    """Add the ``list`` command."""
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--fields", action="store_true", help="also list each builder's --set fields: valid values, when they apply")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the builders, their fields and presets."""
    if args.json:
        print_json(
            {
                "builders": [
                    {
                        "name": b.name,
                        "description": b.description,
                        "defaults": config_to_dict(b.config_cls()),
                        "fields": [
                            {
                                "name": f.name,
                                "type": f.kind,
                                "default": list(f.default) if isinstance(f.default, tuple) else f.default,
                                "help": f.spec.help,
                                "min": f.spec.min,
                                "max": f.spec.max,
                                "choices": list(f.spec.choices) if f.spec.choices else None,
                                "valid": f.spec.valid_text,
                                "applies_when": applies_text(f),
                            }
                            for f in fields_of(b.config_cls)
                        ],
                        "presets": [p.name for p in presets_of(b.name)],
                    }
                    for b in REGISTRY.values()
                ],
                "presets": [
                    {
                        "name": p.name,
                        "builder": p.builder,
                        "description": p.description,
                        "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in p.overrides.items()},
                        "reference_params": p.reference_params,
                    }
                    for b in REGISTRY.values()
                    for p in presets_of(b.name)
                ],
            }
        )
        return 0
    for b in REGISTRY.values():
        print(f"{b.name:<10} {b.description}")
        if args.fields:
            for f in fields_of(b.config_cls):
                default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
                print(f"    --set {f.name}=  (default {default}) {describe(f)}")
        for p in presets_of(b.name):
            print(f"    {p.name:<20} {p.description}")
    return 0
