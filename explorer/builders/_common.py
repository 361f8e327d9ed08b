"""Shared machinery for builders: block scopes that name layers level by level.

Every layer gets an explicit name that carries its block path (``stage2_block3_conv1``),
and is created inside ``keras.name_scope`` so ``layer.path`` is ``stage2/block3/...``.
The name survives saving to ``.keras``; the scope gives the path in a live model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import keras


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
