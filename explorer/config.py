"""Typed config fields with ranges, choices and help, and the errors a user can cause.

A builder's config is a frozen dataclass whose fields are declared with :func:`field`.
The field metadata is the single source of truth for validation, the Streamlit form and
the command line's ``--set key=value``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from explorer.errors import ConfigError

__all__ = ["ConfigError", "FieldInfo", "FieldSpec", "applicable", "applies", "applies_to", "field", "fields_of",
           "make_config", "valid_values"]


@dataclass(frozen=True)
class FieldSpec:
    """What a config field accepts.

    Attributes:
        help: one sentence shown next to the widget and in ``--help``.
        min: smallest allowed value (numbers, and every element of int tuples).
        max: largest allowed value.
        choices: allowed values for a string field.
        length: allowed tuple lengths (for shapes), e.g. ``(3,)``.
        label: short human label for forms.
        valid: the valid values given the other fields' values (a mapping name -> value), for
            rules a range cannot say (ResNet v1 depth 6n+2); the form offers or steps through them.
        valid_text: that rule in words, for help texts (``6n+2 for v1, 9n+2 for v2``).
        when: the field applies only when these other fields have one of these values, as
            ``(("version", (2,)),)`` (None: always); see :func:`applies`.
    """

    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    length: tuple[int, ...] | None = None
    label: str | None = None
    valid: Callable[[Mapping[str, Any]], tuple] | None = None
    valid_text: str | None = None
    when: tuple[tuple[str, tuple[Any, ...]], ...] | None = None


def field(default: Any, help: str, **spec: Any) -> Any:
    """Declare a config field with its default and a :class:`FieldSpec`.

    ``when={"version": 2}`` (or ``{"version": (2, 3)}``) marks a field that applies only for
    those values of another field.
    """
    when = spec.pop("when", None)
    if when is not None:
        spec["when"] = tuple((k, v if isinstance(v, tuple) else (v,)) for k, v in when.items())
    return dataclasses.field(default=default, metadata={"spec": FieldSpec(help=help, **spec)})


def applies(cfg: Any, name: str) -> bool:
    """Whether field ``name`` of a config matters for it (e.g. ``bottleneck_width`` only in v2)."""
    infos = {f.name: f for f in fields_of(type(cfg))}
    return applies_to(infos[name], dataclasses.asdict(cfg))


def applicable(cfg: Any) -> dict[str, Any]:
    """The fields of a config that apply to it (see :func:`applies`), as ``name -> value``."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if applies(cfg, f.name)}


@dataclass(frozen=True)
class FieldInfo:
    """One config field as the form and the CLI see it."""

    name: str
    kind: str  # "int" | "float" | "bool" | "str" | "int_tuple"
    default: Any
    spec: FieldSpec


_KINDS = {int: "int", float: "float", bool: "bool", str: "str"}


def _kind_of(tp: Any) -> str:
    if tp in _KINDS:
        return _KINDS[tp]
    if typing.get_origin(tp) is tuple:
        return "int_tuple"
    raise TypeError(f"unsupported config field type {tp!r}")


def fields_of(cls: type) -> list[FieldInfo]:
    """List the fields of a config class in declaration order."""
    return list(_fields_of(cls))


@functools.cache
def _fields_of(cls: type) -> tuple[FieldInfo, ...]:
    # get_type_hints evaluates every annotation's text: a quarter of a warm Build page's run
    # when it was called per Spec. A class's fields do not change.
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec") or FieldSpec(help="")
        out.append(FieldInfo(f.name, _kind_of(hints[f.name]), f.default, spec))
    return tuple(out)


def valid_values(info: FieldInfo, values: Mapping[str, Any]) -> tuple | None:
    """The values a field accepts given the other fields' ``values`` (None: any in its range)."""
    return tuple(info.spec.valid(values)) if info.spec.valid is not None else None


def applies_to(info: FieldInfo, values: Mapping[str, Any]) -> bool:
    """Whether a field matters given the other fields' ``values`` (a form's values so far); see
    :attr:`FieldSpec.when` and :func:`applies` for a config object."""
    return all(values.get(k) in vals for k, vals in (info.spec.when or ()))


def applies_text(info: FieldInfo) -> str | None:
    """``applies only when version is 2`` (None when the field always applies)."""
    if not info.spec.when:
        return None
    conds = [f"{k} is {' or '.join(_fmt(v) for v in vals)}" for k, vals in info.spec.when]
    return "applies only when " + " and ".join(conds)


def describe(info: FieldInfo) -> str:
    """A field's full help: its sentence, its valid values and when it applies (CLI and forms)."""
    parts = [info.spec.help.rstrip(".") + "."]
    if info.spec.valid_text:
        parts.append(f"Valid: {info.spec.valid_text}.")
    elif info.spec.choices:
        parts.append(f"Choices: {', '.join(info.spec.choices)}.")
    elif info.spec.min is not None or info.spec.max is not None:
        parts.append(f"Range: {_describe_range(info.spec)}.")
    when = applies_text(info)
    if when:
        parts.append(when[0].upper() + when[1:] + ".")
    return " ".join(parts)


def _describe_range(spec: FieldSpec) -> str:
    if spec.min is not None and spec.max is not None:
        return f"between {_fmt(spec.min)} and {_fmt(spec.max)}"
    if spec.min is not None:
        return f"at least {_fmt(spec.min)}"
    return f"at most {_fmt(spec.max)}"


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def _show(value: Any, limit: int = 40) -> str:
    """A value as echoed in an error: its text, cut to ``limit`` characters (values may be enormous)."""
    text = _fmt(value) if isinstance(value, (int, float, tuple)) and not isinstance(value, bool) else repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text):,} characters)"


def _choices_text(value: str, choices: tuple, shown: int = 10) -> str:
    """All the choices, or for a long list the closest ones first and a count (one short line)."""
    if len(choices) <= shown:
        return ", ".join(choices)
    import difflib

    close = difflib.get_close_matches(value.lower(), choices, n=3, cutoff=0.5)
    first = list(dict.fromkeys([*close, *choices]))[:shown]
    return f"{', '.join(first)}, ... ({len(choices)} in all)"


def _check_number(name: str, value: Any, spec: FieldSpec) -> None:
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise ConfigError(f"{name} {_show(value)} is out of range; it must be {_describe_range(spec)}.")


def check_value(info: FieldInfo, value: Any) -> Any:
    """Validate (and normalise) one value for a field.

    Returns:
        The value in its canonical type (an int tuple as a tuple, an int as float for floats).

    Raises:
        ConfigError: naming the field, the value and what is allowed.
    """
    name, spec = info.name, info.spec
    if info.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {_show(value)}.")
        return value
    if info.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{name} must be a whole number, not {_show(value)}.")
        _check_number(name, value, spec)
        return value
    if info.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {_show(value)}.")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{name} must be a finite number, not {_show(value)}.")
        _check_number(name, value, spec)
        return value
    if info.kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, not {_show(value)}.")
        if spec.choices is not None and value not in spec.choices:
            raise ConfigError(f"{name} {value[:60]!r} is not allowed; choose one of: {_choices_text(value, spec.choices)}.")
        return value
    # int tuple
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError(f"{name} must be comma-separated whole numbers like 32,32,3, not {_show(value)}.")
    if spec.length is not None and len(value) not in spec.length:
        want = " or ".join(str(n) for n in spec.length)
        raise ConfigError(f"{name} {_show(value)} has {len(value):,} values; it needs {want}.")
    for v in value:
        if (spec.min is not None and v < spec.min) or (spec.max is not None and v > spec.max):
            raise ConfigError(
                f"{name} {_show(value)} has a value out of range; each must be {_describe_range(spec)}."
            )
    return value


def validate_fields(cfg: Any) -> None:
    """Check every field of a frozen config against its spec (call from ``__post_init__``).

    Normalised values (lists to tuples, ints to floats) are written back in place.
    """
    for info in fields_of(type(cfg)):
        value = check_value(info, getattr(cfg, info.name))
        object.__setattr__(cfg, info.name, value)


def parse_value(info: FieldInfo, text: str) -> Any:
    """Parse the text of ``--set name=text`` (or a query parameter) for a field.

    Raises:
        ConfigError: when the text is not of the field's type.
    """
    text = text.strip()
    try:
        if info.kind == "int":
            return int(text)
        if info.kind == "float":
            return float(text)
        if info.kind == "bool":
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if info.kind == "int_tuple":
            return tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        kinds = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "int_tuple": "comma-separated whole numbers like 32,32,3",
        }
        raise ConfigError(f"{info.name} must be {kinds[info.kind]}, not {text[:60]!r}.") from None
    return text


def make_config(cls: type, base: Any = None, **overrides: Any) -> Any:
    """Create a config of ``cls`` from an optional base config and field overrides.

    Unset (None) overrides are dropped, so a form can pass every widget's value.

    Raises:
        ConfigError: for an unknown field name or an invalid value.
    """
    names = [f.name for f in fields_of(cls)]
    for key in overrides:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; fields are: {', '.join(names)}"
            raise ConfigError(f"unknown field {key[:60]!r}{hint}.")
    values = dataclasses.asdict(base) if base is not None else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def parse_assignments(cls: type, assignments: list[str]) -> dict[str, Any]:
    """Turn ``["depth=56", "input_shape=32,32,3"]`` into typed overrides for ``cls``.

    Raises:
        ConfigError: for a malformed assignment, an unknown field or a bad value.
    """
    infos = {f.name: f for f in fields_of(cls)}
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"--set expects field=value, not {item[:60]!r}.")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in infos:
            make_config(cls, **{key: None})  # raises the unknown-field error
        out[key] = parse_value(infos[key], text)
    return out


def config_to_dict(cfg: Any, only: list[str] | None = None) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists), optionally of some fields only."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()
            if only is None or k in only}
