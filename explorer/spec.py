"""The identity of an architecture: :class:`Spec` = builder + preset + the fields changed from it.

Everything that names an architecture — page titles, captions, code docstrings, download file
names, run labels, Compare's A/B, links and the CLI — asks its Spec. A Spec is frozen and
hashable (it keys the analysis cache), holds only the *minimal* diff from its preset, and can be
written as a label, a file-name slug, URL query parameters or ``--set`` texts and read back.

This module imports no Keras; it reads the builder registry lazily (the registry imports it).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from explorer.config import FieldInfo, fields_of, make_config, parse_value
from explorer.errors import ConfigError

SEP = " · "  # between the name and each changed field in a label
MAX_SLUG = 80


def format_value(info: FieldInfo, value: Any) -> str:
    """A config value as text: the exact inverse of :func:`explorer.config.parse_value`.

    ``parse_value(info, format_value(info, v)) == v`` for every valid ``v`` of the field.
    Booleans are ``true``/``false``, tuples comma-separated (``32,32,3``), floats in their
    shortest exact form (``0.001``, ``1e-07``).
    """
    if info.kind == "bool":
        return "true" if value else "false"
    if info.kind == "int_tuple":
        return ",".join(str(int(v)) for v in value)
    if info.kind == "float":
        return repr(float(value))
    if info.kind == "int":
        return str(int(value))
    return str(value)


def _registry():
    from explorer.builders import _registry

    return _registry


class Overrides(Mapping):
    """An immutable, hashable, ordered mapping of config field -> value (field order)."""

    __slots__ = ("_items",)

    def __init__(self, items: tuple[tuple[str, Any], ...] = ()) -> None:
        self._items = tuple(items)

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Overrides):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Overrides({dict(self._items)!r})"


@dataclass(frozen=True, eq=True)
class Spec:
    """A fully resolved architecture.

    Create it with ``Spec(builder, preset, overrides)`` (or :func:`explorer.builders.resolve`):
    the overrides are validated against the builder's config and cut down to the fields that
    really differ from the preset (or from the builder's defaults when there is no preset).

    Attributes:
        builder: the registered builder name.
        preset: the preset it starts from, or None for the builder's defaults.
        overrides: the minimal diff from the preset, in field order (an immutable mapping).

    Raises:
        ConfigError: unknown builder/preset, a preset of another builder, or a bad value.
    """

    builder: str
    preset: str | None = None
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=Overrides)

    def __post_init__(self) -> None:
        reg = _registry()
        b = reg.get_builder(self.builder)
        if self.preset is not None:
            p = reg.get_preset(self.preset)
            if p.builder != b.name:
                raise ConfigError(f"preset {self.preset!r} belongs to builder {p.builder!r}, not {b.name!r}.")
        base = _base_config(self.builder, self.preset)
        given = dict(self.overrides)
        cfg = make_config(b.config_cls, base, **given) if given else base
        diff = tuple((f.name, getattr(cfg, f.name)) for f in fields_of(b.config_cls)
                     if getattr(cfg, f.name) != getattr(base, f.name))
        object.__setattr__(self, "overrides", Overrides(diff))
        object.__setattr__(self, "_config", cfg)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def of_config(cls, builder: str, config: Any, preset: str | None = None) -> Spec:
        """The Spec of a complete config (the diff from ``preset`` is computed)."""
        return cls(builder, preset, {f.name: getattr(config, f.name) for f in fields_of(type(config))})

    def with_changes(self, **changes: Any) -> Spec:
        """The same builder and preset with more fields changed."""
        return Spec(self.builder, self.preset, {**self.overrides, **changes})

    # -- what it is -----------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        """The validated config dataclass."""
        return self._config  # type: ignore[attr-defined]

    @property
    def infos(self) -> dict[str, FieldInfo]:
        """The builder's config fields by name."""
        return {f.name: f for f in fields_of(_registry().get_builder(self.builder).config_cls)}

    @property
    def name(self) -> str:
        """The preset, else the builder: what the label starts from."""
        return self.preset or self.builder

    @property
    def equal_preset(self) -> str | None:
        """The name of a preset of this builder whose config equals this one exactly, if any."""
        if not self.overrides and self.preset:
            return self.preset
        return _presets_by_config(self.builder).get(self.config)

    @property
    def changes(self) -> list[str]:
        """The changed fields as ``field=value`` texts (the ``--set`` arguments), in field order."""
        infos = self.infos
        return [f"{k}={format_value(infos[k], v)}" for k, v in self.overrides.items()]

    @property
    def label(self) -> str:
        """``resnet32`` when the config is a preset's exactly, else ``resnet56 · depth=38``."""
        same = self.equal_preset
        if same:
            return same
        return SEP.join([self.name, *self.changes])

    @property
    def description(self) -> str:
        """One line about the architecture: the preset's description, adjusted for changes."""
        reg = _registry()
        same = self.equal_preset
        if same:
            return reg.get_preset(same).description
        if not self.overrides and not self.preset:
            return reg.get_builder(self.builder).description
        # A changed preset is no longer what its description says (resnet56 at depth 38 is not
        # "ResNet-56"): describe the builder, and where it started from.
        start = f"preset {self.preset}" if self.preset else "its defaults"
        return f"{reg.get_builder(self.builder).description.rstrip('.')}; from {start} with {', '.join(self.changes)}."

    @property
    def slug(self) -> str:
        """A file-name-safe form of the label, e.g. ``resnet56_depth-38``."""
        return slugify(self.label)

    def to_args(self) -> list[str]:
        """The ``--set`` texts that rebuild this spec from its preset (``["depth=38"]``)."""
        return self.changes

    def to_query(self) -> dict[str, str]:
        """URL query parameters: ``builder``, ``preset`` and one parameter per changed field."""
        q = {"builder": self.builder}
        if self.preset:
            q["preset"] = self.preset
        infos = self.infos
        q.update({k: format_value(infos[k], v) for k, v in self.overrides.items()})
        return q

    @classmethod
    def from_query(cls, params: Mapping[str, str], *, ignore: tuple[str, ...] = ()) -> Spec:
        """Read :meth:`to_query` parameters back (strict: any problem raises).

        Args:
            params: the query parameters.
            ignore: parameter names that are not config fields (view options).

        Raises:
            ConfigError: unknown names, fields or values.
        """
        params = {k: v for k, v in params.items() if k not in ignore}
        builder = params.pop("builder", None)
        preset = params.pop("preset", None) or None
        if builder is None:
            if preset is None:
                raise ConfigError("the query names no builder or preset.")
            builder = _registry().get_preset(preset).builder
        infos = {f.name: f for f in fields_of(_registry().get_builder(builder).config_cls)}
        overrides = {}
        for k, text in params.items():
            if k not in infos:
                raise ConfigError(f"{k[:60]!r} is not a field of {builder}.")
            overrides[k] = parse_value(infos[k], text)
        return cls(builder, preset, overrides)

    def __repr__(self) -> str:
        return f"Spec({self.builder!r}, {self.preset!r}, {dict(self.overrides)!r})"


def slugify(text: str) -> str:
    """A file-name-safe form of any label (``resnet56 · depth=38`` -> ``resnet56_depth-38``)."""
    s = re.sub(r"[^A-Za-z0-9.-]+", "_", text.replace("=", "-")).strip("_.") or "model"
    if len(s) > MAX_SLUG:
        s = s[: MAX_SLUG - 11].rstrip("_") + "_" + hashlib.sha1(text.encode()).hexdigest()[:10]
    return s


@functools.cache
def _base_config(builder: str, preset: str | None) -> Any:
    """The config a spec's overrides apply to: the preset's, or the builder's defaults."""
    reg = _registry()
    cls = reg.get_builder(builder).config_cls
    return make_config(cls, **reg.get_preset(preset).overrides) if preset else cls()


@functools.cache
def _presets_by_config(builder: str) -> dict[Any, str]:
    """Config -> preset name for one builder (the first preset wins when two are equal)."""
    out: dict[Any, str] = {}
    for p in _registry().presets_of(builder):
        out.setdefault(_base_config(builder, p.name), p.name)
    return out
