"""The one way pages touch ``st.session_state``: every key is defined here, typed where it matters.

A page wraps the state once (``ses = Session(st.session_state)``) and then reads and writes the
architecture (:attr:`Session.spec`: one Spec, no shadows), cross-page values (reveal step,
shown runs, passcode) and its widget keys (:meth:`Session.widget`) through it. The URL sync
(:mod:`explorer.ui.links`), the config form and the graph view get their keys from here too.

Per-session defaults are created lazily on first read, never at import time (they would be
shared by every session in the process).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from explorer.spec import Spec

DEFAULT_PRESET = "mnist-cnn"
NO_PRESET = "(builder defaults)"

# Widget keys of each page: (page, name) -> key "page:name". A key not listed here is refused,
# so every key the app uses can be read in one place.
WIDGETS: dict[str, tuple[str, ...]] = {
    "build": ("builder", "preset", "tables"),
    "budget": ("batch", "dtype", "level", "metric", "kind", "hier", "bars", "train", "act", "blocks",
               "drill", "layers", "optimizer", "mem_dtype", "csv_blocks", "csv_layers", "gb", "memory"),
    "cmp": ("A:target", "B:target", "A:tweaks", "B:tweaks", "level", "metric", "delta", "bars", "table", "view",
            "diff", "expand"),
    "code": ("download", "keras"),
    "home": ("preset", "step"),
    "inspect": ("upload", "hier", "bars", "blocks", "size"),
    "present": ("by", "viewer", "step"),
    "train": ("changes", "dataset", "upload", "subset", "validation", "normalise", "flip", "shift", "epochs",
              "max_seconds", "batch_size", "lr", "optimizer", "seed", "backend", "launch", "smoothing", "loss",
              "acc", "stop", "grid", "experiment", "grad_run", "grad_step", "recipe", "precision", "xla",
              "schedule", "grad_every", "launch_exp", "exp_acc", "exp_scatter", "exp_x", "grad_map"),
    "passcode": ("form",),
    "dl": ("dot", "svg", "png", "pdf"),
}

# Cross-page values.
SPEC = "spec"  # the architecture (a Spec) shown on Build, Budget, Code, Present, Train
REVEAL = "present:reveal"  # Present's step, kept in links
REVEAL_BY = "present:reveal_by"  # what Present's step counts: stages or blocks
LINK_RESTORED = "links:restored"  # the URL was read into this session
TRAIN_SESSION = "train:session"  # a per-browser-session id for the per-session run limit
TRAIN_SHOWN = "train:shown"  # run ids drawn on the Train page's curves
UNLOCKED = "access:unlocked"  # the class passcode this session gave
CODE_KERAS = "code:keras"  # (spec, bytes) of the untrained .keras prepared on Code
BUILD_DRAWN = "build:drawn"  # this session's browser has drawn a Build graph (the page opens in full from then on)
GRAPH_FIELDS = ("view", "rankdir", "depth", "expand", "query", "viewer", "focus")


@dataclass(frozen=True)
class GraphKeys:
    """Widget keys of one architecture's graph panel (each architecture keeps its own view)."""

    view: str
    rankdir: str
    depth: str
    expand: str
    query: str
    viewer: str
    focus: str  # the block last opened or closed by a click in the graph (a new drawing centres there)

    def __getitem__(self, name: str) -> str:
        return getattr(self, name)


def graph_keys(scope: str) -> GraphKeys:
    """The graph panel's keys for ``scope`` (``builder:preset`` or ``upload:<hash>``)."""
    return GraphKeys(*(f"graph:{k}:{scope}" for k in GRAPH_FIELDS))


def field_key(builder: str, preset: str | None, field: str) -> str:
    """Widget key of a config field; per builder and preset, so a preset starts from its values."""
    return f"cfg:{builder}:{preset or NO_PRESET}:{field}"


def widget(page: str, name: str, *parts: Any) -> str:
    """The key of a page's widget, e.g. ``widget("train", "epochs")`` -> ``train:epochs``.

    Args:
        page: the page (a key of :data:`WIDGETS`).
        name: the widget's name on that page.
        parts: more parts for widgets repeated per item (``widget("train", "stop", run_id)``).

    Raises:
        KeyError: a widget not declared in :data:`WIDGETS` (a programming error).
    """
    if name not in WIDGETS.get(page, ()):
        raise KeyError(f"undeclared widget key {page}:{name}; declare it in explorer.ui.session.WIDGETS")
    return ":".join([page, name, *(str(p) for p in parts)])


class Session:
    """Typed access to one browser session's state.

    Args:
        state: ``st.session_state`` (or any mutable mapping, in tests).
    """

    def __init__(self, state: MutableMapping) -> None:
        self.state = state

    # -- the architecture -------------------------------------------------------------------------
    @property
    def spec(self) -> Spec:
        """The architecture this session shows (the default preset until one is picked)."""
        spec = self.state.get(SPEC)
        if spec is None:
            from explorer.builders import resolve

            spec = resolve(DEFAULT_PRESET)
            self.state[SPEC] = spec
        return spec

    @spec.setter
    def spec(self, spec: Spec) -> None:
        self.state[SPEC] = spec

    def show(self, spec: Spec) -> None:
        """Make ``spec`` the session's architecture and set the config form's widgets to it.

        Use it when the architecture comes from elsewhere (a link, a Home button), so the form
        shows it instead of values left from an earlier visit.
        """
        from explorer.ui.config_form import widget_value

        self.spec = spec
        for info in spec.infos.values():
            self.state[field_key(spec.builder, spec.preset, info.name)] = widget_value(
                info, getattr(spec.config, info.name))

    def graph(self, spec: Spec | None = None) -> GraphKeys:
        """Graph panel keys of ``spec`` (default: the session's)."""
        spec = spec or self.spec
        return graph_keys(f"{spec.builder}:{spec.preset}")

    # -- cross-page values ------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        """A raw value (a widget's, by a key from :func:`widget` or :func:`graph_keys`)."""
        return self.state.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a raw value (a widget's, before the widget is drawn)."""
        self.state[key] = value

    def setdefault(self, key: str, value: Any) -> Any:
        """A widget's value, created with ``value`` when absent."""
        return self.state.setdefault(key, value)

    @property
    def reveal(self) -> int | None:
        """Present's step (1-based), if one was chosen or linked."""
        return self.state.get(REVEAL)

    @reveal.setter
    def reveal(self, n: int | None) -> None:
        self.state[REVEAL] = n

    @property
    def reveal_by(self) -> str:
        """What :attr:`reveal` counts: ``stage`` (the default, and what links mean) or ``block``."""
        return self.state.get(REVEAL_BY) or "stage"

    @reveal_by.setter
    def reveal_by(self, by: str) -> None:
        self.state[REVEAL_BY] = by

    def set_reveal(self, n: int, by: str) -> None:
        """Put Present at step ``n`` counted by ``by``; its step slider follows."""
        self.reveal, self.reveal_by = n, by
        self.state[self.reveal_step_widget] = n

    def reveal_by_widget(self) -> str:
        """The key of Present's stage/block control, its value created from :attr:`reveal_by`."""
        key = widget("present", "by")
        self.state.setdefault(key, self.reveal_by)
        return key

    @property
    def reveal_step_widget(self) -> str:
        """The key of Present's step slider."""
        return widget("present", "step")

    @property
    def reveal_slider(self) -> int:
        """The step Present's slider was moved to."""
        return self.state[self.reveal_step_widget]

    def reveal_viewer(self, by: str) -> str:
        """The key of Present's graph viewer when it counts by ``by`` (each mode keeps its own view)."""
        return widget("present", "viewer", by)

    def presenter_key(self, by: str) -> str:
        """The presenter key the viewer sent last (``next``, ``back``, ``first``, ``last``), or ``""``."""
        sent = self.state.get(self.reveal_viewer(by)) or {}
        return str(sent.get("key") or "").split(":")[0]

    @property
    def link_restored(self) -> bool:
        """Whether this session has read its URL already."""
        return bool(self.state.get(LINK_RESTORED))

    def mark_link_restored(self) -> None:
        """Remember that the URL was read (links apply once per session)."""
        self.state[LINK_RESTORED] = True

    @property
    def train_session(self) -> str:
        """A per-browser-session id (the per-session run limit counts by it)."""
        if TRAIN_SESSION not in self.state:
            import uuid

            self.state[TRAIN_SESSION] = uuid.uuid4().hex
        return self.state[TRAIN_SESSION]

    @property
    def shown_runs(self) -> list[int]:
        """Run ids drawn on the Train page (its multiselect's value)."""
        return list(self.state.get(TRAIN_SHOWN) or [])

    @shown_runs.setter
    def shown_runs(self, ids: list[int]) -> None:
        self.state[TRAIN_SHOWN] = list(ids)

    @property
    def passcode(self) -> str | None:
        """The class passcode this session gave, if any."""
        return self.state.get(UNLOCKED)

    @passcode.setter
    def passcode(self, given: str) -> None:
        self.state[UNLOCKED] = given

    @property
    def prepared_keras(self) -> tuple[Spec, bytes] | None:
        """The untrained ``.keras`` prepared on the Code page, with the spec it belongs to."""
        return self.state.get(CODE_KERAS)

    @prepared_keras.setter
    def prepared_keras(self, value: tuple[Spec, bytes]) -> None:
        self.state[CODE_KERAS] = value
