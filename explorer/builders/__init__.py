"""Builders: one module per family, all registered on import.

Use :func:`resolve` to turn a builder or preset name plus overrides into a :class:`Spec`,
and :func:`build_model` to build it.
"""

from explorer.builders import cnn, ynet, resnet, densenet, keras_app  # noqa: F401, I001  (registers, in this order)
from explorer.builders._registry import (
    PRESETS,
    REGISTRY,
    Builder,
    Preset,
    Spec,
    build_model,
    get_builder,
    get_preset,
    presets_of,
    resolve,
)

__all__ = [
    "PRESETS",
    "REGISTRY",
    "Builder",
    "Preset",
    "Spec",
    "build_model",
    "get_builder",
    "get_preset",
    "presets_of",
    "resolve",
]
