"""Shareable links: an architecture and its view options as URL query parameters, and back.

``?builder=resnet&preset=resnet20&depth=56&view=layers&dir=LR`` — config fields are parameters
named after the field (the same text as ``--set``), so a teacher can paste one link and every
student sees the same architecture. Decoding never raises: anything unknown or invalid becomes a
message, and the rest falls back to defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from explorer.builders import PRESETS, REGISTRY, get_builder, resolve
from explorer.config import fields_of, parse_value
from explorer.errors import ConfigError
from explorer.spec import Spec

VIEW_KEYS = ("view", "dir", "expand", "reveal")
MAX_VALUE = 200  # characters; longer values are refused


@dataclass
class LinkState:
    """What a link asks for (after validation)."""

    builder: str | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    view: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def spec(self) -> Spec | None:
        """The architecture the link asks for (already validated), or None."""
        return Spec(self.builder, self.preset, self.overrides) if self.builder else None


def encode(spec: Spec, view: Mapping[str, str] | None = None) -> dict[str, str]:
    """Query parameters for an architecture (only fields that differ from the preset) and its view."""
    params = spec.to_query()
    for k, v in (view or {}).items():
        if v not in (None, ""):
            params[k] = str(v)
    return params


def decode(params: Mapping[str, str]) -> LinkState:
    """Read query parameters into a :class:`LinkState`; problems become messages, never errors."""
    out = LinkState()
    params = {str(k): str(v) for k, v in params.items()}
    long = [k for k, v in params.items() if len(v) > MAX_VALUE or len(k) > 60]
    for k in long:
        out.messages.append(f"link parameter {k[:60]!r} is too long and was ignored.")
        params.pop(k)
    builder = params.pop("builder", None)
    preset = params.pop("preset", None) or None
    if preset is not None and preset not in PRESETS:
        out.messages.append(f"the link's preset {preset!r} is unknown; showing the builder's defaults instead.")
        preset = None
    if builder is None and preset is not None:
        builder = PRESETS[preset].builder
    if builder is not None and builder not in REGISTRY:
        out.messages.append(f"the link's builder {builder!r} is unknown; showing the default architecture.")
        return out
    if builder is not None and preset is not None and PRESETS[preset].builder != builder:
        out.messages.append(f"the link's preset {preset!r} does not belong to builder {builder!r}; it was ignored.")
        preset = None
    for k in VIEW_KEYS:
        if k in params:
            out.view[k] = params.pop(k)
    if builder is None:
        for k in params:
            out.messages.append(f"link parameter {k!r} was ignored (the link names no builder).")
        return out
    out.builder, out.preset = builder, preset
    infos = {f.name: f for f in fields_of(get_builder(builder).config_cls)}
    for k, text in params.items():
        if k not in infos:
            out.messages.append(f"link parameter {k!r} is not a field of {builder}; it was ignored.")
            continue
        try:
            value = parse_value(infos[k], text)
            resolve(builder, preset, {**out.overrides, k: value})  # validate in context
        except ConfigError as exc:
            out.messages.append(f"the link's {exc} It was ignored.")
            continue
        out.overrides[k] = value
    return out
