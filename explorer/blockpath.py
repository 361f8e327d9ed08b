"""Block paths (``stage2/block3``): cutting them to a depth, their stage, what a view shows.

A layer's block path says where it sits (see :mod:`explorer.graph`). Budgets roll blocks up to a
depth, Present reveals stages, the graph shows a block as one node unless it is expanded: all of
them cut paths here.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_MAX_DEPTH = 1  # a path of one part ("stage2") when nothing deeper exists


def cut(path: str, depth: int | None) -> str:
    """A block path cut to its first ``depth`` parts (``None`` keeps it whole)."""
    if depth is None:
        return path
    return "/".join(path.split("/")[:depth])


def stage(path: str) -> str:
    """The top-level group of a block path (``stage2/block3`` -> ``stage2``)."""
    return path.split("/", 1)[0]


def depth_of(path: str) -> int:
    """How many parts a path has (``stage2/block1`` is 2)."""
    return path.count("/") + 1


def max_depth(paths: Iterable[str]) -> int:
    """The deepest of some block paths."""
    return max((depth_of(p) for p in paths), default=DEFAULT_MAX_DEPTH)


def prefixes(path: str) -> list[str]:
    """The path and every prefix of it, shortest first (``a``, ``a/b``, ``a/b/c``)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def inside(path: str, block: str) -> bool:
    """Whether ``path`` is ``block`` or lies within it."""
    return path == block or path.startswith(block + "/")


def expanded(path: str, expand: Iterable[str]) -> bool:
    """Whether ``path`` lies in one of the ``expand`` blocks."""
    return any(inside(path, e) for e in expand)


def shown_block(block: str, depth: int | None, expand: tuple[str, ...]) -> str | None:
    """The block node that shows a layer of ``block``, or None when the layer is shown itself.

    Args:
        block: the layer's block path.
        depth: path levels of a block node (None: the whole path).
        expand: expanded blocks or prefixes.
    """
    parts = block.split("/")
    if depth is None:
        return None if expanded(block, expand) else block
    level = min(depth, len(parts))
    while level <= len(parts) and "/".join(parts[:level]) in expand:
        level += 1
    return None if level > len(parts) else "/".join(parts[:level])
