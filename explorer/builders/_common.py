"""Shared machinery for builders: block scopes that name layers level by level.

Every layer gets an explicit name that carries its block path (``stage2_block3_conv1``),
and is created inside ``keras.name_scope`` so ``layer.path`` is ``stage2/block3/...``.
The name survives saving to ``.keras``; the scope gives the path in a live model.

Keras is imported on first use (:data:`keras`, :data:`layers`, :data:`regularizers` are lazy), so
the registry, the configs and the presets load without it: ``python -m explorer list`` and the
app's first page need no Keras import (seconds, hundreds of MB).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported on its first attribute access (not put in ``sys.modules`` before)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


keras = LazyModule("keras")
layers = LazyModule("keras.layers")
regularizers = LazyModule("keras.regularizers")


@contextlib.contextmanager
def block(*parts: str) -> Iterator[Callable[[str], str]]:
    """Enter the name scopes ``parts`` and yield a function that names layers in them.

    Example:
        >>> with block("stage2", "block3") as n:
        ...     name = n("conv1")  # "stage2_block3_conv1"
    """
    prefix = "_".join(parts)
    with contextlib.ExitStack() as stack:
        for part in parts:
            stack.enter_context(keras.name_scope(part))
        yield lambda name: f"{prefix}_{name}"


def conv_output_size(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Spatial output size of a convolution or pooling along one axis (Keras conventions)."""
    if padding == "same":
        return -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    return (size - effective) // stride + 1 if size >= effective else 0
