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


# The architecture resolved on the Build page (a builders.Spec), read by Budget and Compare.
SPEC = "spec"


def current_spec(state):
    """The Spec last resolved on the Build page, else the session's builder and preset resolved.

    Args:
        state: the session state (a mapping).

    Returns:
        A ``builders.Spec``. Raises ConfigError when the stored names no longer resolve.
    """
    from explorer.builders import resolve

    spec = state.get(SPEC)
    if spec is not None:
        return spec
    return resolve(state.get(BUILDER, DEFAULT_BUILDER), state.get(PRESET, DEFAULT_PRESET))


# Train page
TRAIN_SESSION = "train:session"  # a per-browser-session id for the per-session run limit
TRAIN_SHOWN = "train:shown"  # run ids drawn on the Train page's curves
