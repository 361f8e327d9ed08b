"""Builders: one module per family, all registered on import.

Use :func:`resolve` to turn a builder or preset name plus overrides into a :class:`Spec`,
and :func:`build_model` to build it. Importing this package does not import Keras: the
registry, configs and presets are plain data, and the builders import Keras on first use.
"""

from explorer.builders import cnn, densenet, keras_app, resnet, ynet  # noqa: F401  (registers them)
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
    set_order,
)

set_order(("cnn", "ynet", "resnet", "densenet", "keras_app"))  # as lists and the app show them

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
