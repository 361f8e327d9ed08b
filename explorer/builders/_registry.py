"""The builder registry: name -> build function, config class, presets (rows, not functions)."""

from __future__ import annotations

import contextlib
import difflib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explorer.config import ConfigError
from explorer.keras_compat import BUILD_LOCK, allow_deep_graphs, fresh_build_state
from explorer.spec import Spec


@dataclass(frozen=True)
class Builder:
    """A registered architecture family.

    Attributes:
        name: registry key, e.g. ``"resnet"``.
        build: ``build(cfg) -> keras.Model`` using the functional API.
        config_cls: the frozen config dataclass; ``config_cls()`` is the default config.
        description: one line for lists and the Home page.
    """

    name: str
    build: Callable[[Any], Any]
    config_cls: type
    description: str


@dataclass(frozen=True)
class Preset:
    """A named configuration of a builder (a row)."""

    name: str
    builder: str
    overrides: dict[str, Any] = field(hash=False)
    description: str = ""
    reference_params: int | None = None  # published or exact parameter count
    tolerance: float = 0.0  # allowed relative deviation from reference_params


REGISTRY: dict[str, Builder] = {}
PRESETS: dict[str, Preset] = {}


def register(name: str, config_cls: type, description: str) -> Callable:
    """Decorator registering ``build(cfg)`` under ``name``."""

    def wrap(fn: Callable) -> Callable:
        REGISTRY[name] = Builder(name, fn, config_cls, description)
        return fn

    return wrap


def add_presets(builder: str, rows: list[tuple]) -> None:
    """Register presets for ``builder``.

    Args:
        builder: the registered builder name.
        rows: ``(name, description, overrides, reference_params, tolerance)`` tuples.
    """
    for name, description, overrides, ref, tol in rows:
        PRESETS[name] = Preset(name, builder, dict(overrides), description, ref, tol)


def _unknown(kind: str, name: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(sorted(known))}."
    return ConfigError(f"unknown {kind} {name[:60]!r}; {hint}")


def set_order(names: tuple[str, ...]) -> None:
    """Reorder the registry (and the presets with it) so builders list in ``names`` order."""
    rank = {n: i for i, n in enumerate(names)}
    for table, key in ((REGISTRY, lambda kv: rank.get(kv[0], len(rank))),
                       (PRESETS, lambda kv: rank.get(kv[1].builder, len(rank)))):
        items = sorted(table.items(), key=key)  # stable: registration order within a builder
        table.clear()
        table.update(items)


def get_builder(name: str) -> Builder:
    """Look up a builder by name.

    Raises:
        ConfigError: for an unknown name, with the closest known names.
    """
    if name not in REGISTRY:
        raise _unknown("builder", name, list(REGISTRY))
    return REGISTRY[name]


def get_preset(name: str) -> Preset:
    """Look up a preset by name.

    Raises:
        ConfigError: for an unknown name, with the closest known names.
    """
    if name not in PRESETS:
        raise _unknown("preset", name, list(PRESETS))
    return PRESETS[name]


def presets_of(builder: str) -> list[Preset]:
    """The presets of one builder, in registration order."""
    return [p for p in PRESETS.values() if p.builder == builder]


def resolve(target: str, preset: str | None = None, overrides: dict[str, Any] | None = None) -> Spec:
    """Resolve a builder or preset name, an optional preset and field overrides.

    ``resolve("resnet20")`` and ``resolve("resnet", preset="resnet20")`` are the same.

    Raises:
        ConfigError: for unknown names, a preset of another builder, or invalid values.
    """
    overrides = overrides or {}
    if target not in PRESETS and target not in REGISTRY:
        raise _unknown("builder or preset", target, list(REGISTRY) + list(PRESETS))
    if target in PRESETS and target not in REGISTRY:
        if preset is not None and preset != target:
            raise ConfigError(f"{target!r} is already a preset; drop --preset {preset}.")
        preset, target = target, PRESETS[target].builder
    return Spec(get_builder(target).name, preset, overrides)




@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector: a build allocates many objects and none are garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_model(spec: Spec, *, weights: bool = True) -> Any:
    """Build the Keras model of a resolved spec.

    Builds are serialised and run with fresh automatic-name counters, so layers Keras names
    itself (Keras Applications) get the same names every time: the graph stays deterministic.

    Args:
        spec: what to build.
        weights: initialise the weights. ``False`` is for analysis (graph, budgets): the
            variables keep their shapes but are never filled, which saves most of the build
            time of a large model. Such a model cannot be run, trained or saved.
    """
    builder = get_builder(spec.builder)
    allow_deep_graphs()
    with BUILD_LOCK, _no_gc(), fresh_build_state(weights=weights):
        return builder.build(spec.config)
