"""A Streamlit form generated from a config dataclass's field specs (the same specs as the CLI)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.config import FieldInfo, fields_of, parse_value
from explorer.errors import ConfigError
from explorer.ui.session import field_key


def _label(info: FieldInfo) -> str:
    return info.spec.label or info.name.replace("_", " ")


def widget_value(info: FieldInfo, value: Any) -> Any:
    """A config value as its widget holds it (tuples as text, numbers in the widget's type)."""
    if info.kind == "int_tuple":
        return ",".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)
    if info.kind == "int":
        return int(value)
    if info.kind == "float":
        return float(value)
    return value


def _widget(info: FieldInfo, value: Any, key: str) -> Any:
    # The starting value goes into the session state, not the widget call, so a value restored
    # from a link (written to the same key) is used without Streamlit's "both set" warning.
    st.session_state.setdefault(key, widget_value(info, value))
    spec = info.spec
    if info.kind == "bool":
        return st.checkbox(_label(info), help=spec.help, key=key)
    if info.kind == "str" and spec.choices:
        if st.session_state[key] not in spec.choices:
            st.session_state[key] = spec.choices[0]
        return st.selectbox(_label(info), spec.choices, help=spec.help, key=key)
    if info.kind == "int":
        return st.number_input(
            _label(info), step=1,
            min_value=int(spec.min) if spec.min is not None else None,
            max_value=int(spec.max) if spec.max is not None else None,
            help=spec.help, key=key,
        )
    if info.kind == "float":
        return st.number_input(
            _label(info),
            min_value=float(spec.min) if spec.min is not None else None,
            max_value=float(spec.max) if spec.max is not None else None,
            step=0.05 if (spec.max or 1) <= 1 else 1.0, format="%g", help=spec.help, key=key,
        )
    return st.text_input(_label(info), help=spec.help, key=key, max_chars=200)


def config_form(builder: str, preset: str | None, config_cls: type, base: Any) -> tuple[dict[str, Any], list[str]]:
    """Draw one widget per config field, starting from ``base``.

    Args:
        builder: builder name (part of the widget keys).
        preset: preset name or None (part of the widget keys).
        config_cls: the builder's config dataclass.
        base: the config the widgets start from (the preset's or the defaults).

    Returns:
        ``(overrides, errors)``: typed values of the fields that differ from ``base``, and one
        message per field whose text could not be parsed.
    """
    overrides: dict[str, Any] = {}
    errors: list[str] = []
    for info in fields_of(config_cls):
        start = getattr(base, info.name)
        raw = _widget(info, start, field_key(builder, preset, info.name))
        if info.kind == "int_tuple":
            try:
                raw = parse_value(info, raw)
            except ConfigError as exc:
                errors.append(str(exc))
                continue
        if raw != start:
            overrides[info.name] = raw
    return overrides, errors
