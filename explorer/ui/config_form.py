"""A Streamlit form generated from a config dataclass's field specs (the same specs as the CLI)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import streamlit as st

from explorer.config import FieldInfo, applies_text, applies_to, describe, fields_of, parse_value, valid_values
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


SELECT_MAX = 12  # an int field with at most this many valid values is a select of them


def _step(valid: tuple | None) -> int | None:
    """The step of valid values that form an arithmetic progression (ResNet depths: 6 or 9)."""
    if not valid or len(valid) < 2:
        return None
    d = valid[1] - valid[0]
    return d if all(b - a == d for a, b in itertools.pairwise(valid)) else None


def _widget(info: FieldInfo, value: Any, key: str, values: dict[str, Any]) -> Any:
    # The starting value goes into the session state, not the widget call, so a value restored
    # from a link (written to the same key) is used without Streamlit's "both set" warning.
    st.session_state.setdefault(key, widget_value(info, value))
    spec = info.spec
    label = _label(info)
    help_ = describe(info)
    ok = applies_to(info, values)
    if not ok:
        label += f" — {applies_text(info)}"
    if info.kind == "bool":
        return st.checkbox(label, help=help_, key=key, disabled=not ok)
    if info.kind == "str" and spec.choices:
        if st.session_state[key] not in spec.choices:
            st.session_state[key] = spec.choices[0]
        return st.selectbox(label, spec.choices, help=help_, key=key, disabled=not ok)
    valid = valid_values(info, values)
    if info.kind == "int" and valid is not None and len(valid) <= SELECT_MAX:
        if st.session_state[key] not in valid:
            # A value from a link that is not valid: refused with a message, not dropped.
            st.warning(f"{info.name} {st.session_state[key]} is not valid; choose one of {', '.join(map(str, valid))}.")
            st.session_state[key] = valid[0]
        return st.selectbox(label, valid, help=help_, key=key, disabled=not ok)
    # No min/max on the widget: the browser would clamp or drop an out-of-range value without a
    # word; the config refuses it with a message naming the field and the nearest valid values.
    if info.kind == "int":
        return st.number_input(label, step=_step(valid) or 1, help=help_, key=key, disabled=not ok)
    if info.kind == "float":
        return st.number_input(label, step=0.05 if (spec.max or 1) <= 1 else 1.0, format="%g", help=help_, key=key,
                               disabled=not ok)
    return st.text_input(label, help=help_, key=key, max_chars=200, disabled=not ok)


def config_form(builder: str, preset: str | None, config_cls: type, base: Any) -> tuple[dict[str, Any], list[str]]:
    """Draw one widget per config field, starting from ``base``.

    Numbers step through their valid values (ResNet depth by 6 for v1, 9 for v2); a field with
    a few valid values is a select; a field that does not apply (v2-only fields of a v1 ResNet)
    is disabled and says when it applies, and is left out of the overrides.

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
    values = dataclasses.asdict(base)
    for info in fields_of(config_cls):
        start = getattr(base, info.name)
        raw = _widget(info, start, field_key(builder, preset, info.name), values)
        if info.kind == "int_tuple":
            try:
                raw = parse_value(info, raw)
            except ConfigError as exc:
                errors.append(str(exc))
                continue
        if not applies_to(info, values):
            continue
        values[info.name] = raw
        if raw != start:
            overrides[info.name] = raw
    return overrides, errors
