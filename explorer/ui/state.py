"""Session-state keys, in one place, and per-session defaults."""

BUILDER = "builder"
PRESET = "preset"
NO_PRESET = "(builder defaults)"

DEFAULT_BUILDER = "cnn"
DEFAULT_PRESET = "mnist-cnn"


def init(state) -> None:
    """Create this session's defaults (never at import time: they would be shared)."""
    state.setdefault(BUILDER, DEFAULT_BUILDER)
    state.setdefault(PRESET, DEFAULT_PRESET)


def field_key(builder: str, preset: str | None, field: str) -> str:
    """Widget key of a config field; per builder and preset, so a preset starts from its values."""
    return f"cfg:{builder}:{preset or NO_PRESET}:{field}"
