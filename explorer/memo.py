"""Results memoised per graph object: what every page run would otherwise recompute.

The analysis cache hands every session the same :class:`~explorer.graph.ModelGraph` for one
architecture, so thirty sessions on one preset can share one budget, one set of receptive fields
and one table instead of computing them thirty times (a warm Build page spent a third of its
server CPU re-deriving the block table's budget). Entries hold the graph weakly: a graph that
leaves the analysis cache takes its results with it, and a new graph at a reused ``id()`` is a
miss, never a stale hit. Results are shared: callers must not mutate them.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def per_graph(maxsize: int = 128) -> Callable[[F], F]:
    """Memoise ``fn(graph, *args, **kwargs)`` on the graph's identity and the (hashable) arguments.

    Args:
        maxsize: entries kept (least recently used dropped first).

    The undecorated function stays reachable as ``fn.uncached``; ``fn.cache_clear()`` empties it.
    """

    def decorate(fn: F) -> F:
        cache: OrderedDict[tuple, tuple[weakref.ref, Any]] = OrderedDict()
        lock = threading.Lock()

        @functools.wraps(fn)
        def wrapper(graph: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                # Types too: 1, 1.0 and True are equal keys but not equal arguments.
                key = (id(graph), tuple((type(a), a) for a in args),
                       tuple((k, type(v), v) for k, v in sorted(kwargs.items())))
                hash(key)
            except TypeError:  # an unhashable argument: compute, do not keep
                return fn(graph, *args, **kwargs)
            with lock:
                hit = cache.get(key)
                if hit is not None and hit[0]() is graph:
                    cache.move_to_end(key)
                    return hit[1]
            value = fn(graph, *args, **kwargs)
            with lock:
                cache[key] = (weakref.ref(graph), value)
                cache.move_to_end(key)
                while len(cache) > maxsize:
                    cache.popitem(last=False)
            return value

        wrapper.uncached = fn  # type: ignore[attr-defined]
        wrapper.cache_clear = cache.clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
