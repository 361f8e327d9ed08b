"""Every use of Keras internals (``keras.src``) outside the graph reader, in one place.

Three things need them, each for a measured reason:

- **The TensorFlow probe.** Keras's serializer (``get_config``, ``model.save``) asks a lazy
  ``tensorflow`` module whether TensorFlow is available, which imports TensorFlow (seconds,
  hundreds of MB) just to check ``isinstance(obj, tf.TensorShape)``. On the numpy backend no
  TensorFlow object can exist, so :func:`skip_tensorflow_probe` tells that probe "not available".
- **The clear_session guard.** Streamlit calls ``keras.backend.clear_session()`` after every
  script run of every session; that swaps Keras's global state for all threads at once, so a build
  running in another session's thread would lose its name counters half-way ("The name
  max_pooling2d is used 2 times in the model"). :func:`guard_clear_session` skips the clear while
  a build holds :data:`BUILD_LOCK` (waiting for it held the script thread: the session's next run
  waited for another session's, or the warm-up's, build). The app installs it (``app.py``);
  importing the package does not.
- **Per-build global state.** :func:`fresh_build_state` gives each build fresh automatic-name
  counters (deterministic names for Keras Applications) and, for weightless analysis builds, its
  own list of deferred variables (which would otherwise keep every analysed model alive).

- **Deep graphs.** Keras maps a functional graph recursively, about one Python frame per layer
  along the longest path: a ResNet-998 v1 (3,495 layers) ends in ``RecursionError`` under
  Python's default limit. :func:`allow_deep_graphs` raises the limit for builds and for reading
  uploaded models.

Keras is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any

BUILD_LOCK = threading.RLock()  # one build at a time; clear_session skips while it is held

# Global Keras state reset for each build.
_PER_BUILD_STATE = ("object_name_uids", "uninitialized_variables")


RECURSION_LIMIT = 20_000

# Internal module paths Keras writes into saved configs for its model classes (``"module":
# "keras.src.models.functional"``): data in an uploaded file, read by ``explorer.model_check``.
SAVED_MODEL_MODULES = ("keras.src.models.functional", "keras.src.models.sequential", "keras.src.models.model")
FUNCTIONAL_MODULE = SAVED_MODEL_MODULES[0]


def allow_deep_graphs(limit: int = RECURSION_LIMIT) -> None:
    """Raise Python's recursion limit (never lower it) so deep models can be built and mapped.

    Python 3.11+ recurses between Python functions without growing the C stack, so a higher
    limit is safe in threads too (ResNet-998 v1 builds in a Streamlit script thread).
    """
    if sys.getrecursionlimit() < limit:
        sys.setrecursionlimit(limit)


def skip_tensorflow_probe() -> bool:
    """On the numpy backend with TensorFlow not yet imported, stop Keras from importing it.

    Returns:
        True when the probe is (now) switched off.
    """
    import keras

    _install_wanted_guard()
    if keras.backend.backend() != "numpy" or "tensorflow" in sys.modules:
        return False
    from keras.src.utils import module_utils

    module_utils.tensorflow._available = False
    return True


_wanted_guard: list[Any] = []  # the lock guard_clear_session was given before Keras was imported


def guard_clear_session(lock: Any = BUILD_LOCK) -> None:
    """Make ``keras.backend.clear_session`` a no-op while another thread holds ``lock`` (idempotent).

    On the numpy backend it also skips clear_session's full ``gc.collect()``: there is nothing to
    free there but Python objects, and Streamlit would pay it after every script run.

    Before Keras is imported this imports nothing: Streamlit calls ``clear_session`` only once
    ``keras`` is in ``sys.modules``, and a session whose analyses come from the disk cache needs
    no Keras (importing it would cost each fresh server's first sessions seconds). The guard is
    then installed by the first build (:func:`fresh_build_state`) or
    :func:`skip_tensorflow_probe`, before any layer is made.
    """
    if "keras" not in sys.modules:
        _wanted_guard[:] = [lock]
        return
    _install_guard(lock)


def _install_wanted_guard() -> None:
    if _wanted_guard:
        _install_guard(_wanted_guard[0])


def _install_guard(lock: Any) -> None:
    import keras
    from keras.src.backend.common import global_state

    if getattr(keras.backend.clear_session, "__explorer_guarded__", False):
        return
    original = global_state.clear_session

    @functools.wraps(original)
    def clear_session(*args: Any, **kwargs: Any) -> Any:
        if keras.backend.backend() == "numpy" and not args:
            kwargs.setdefault("free_memory", False)
        # While another thread builds, skip (that build runs on fresh state of its own, and the
        # next script run clears): waiting held the script thread, so the session's next rerun
        # (a view switch, the page's second pass) waited for the build, seconds on a large model.
        if not lock.acquire(blocking=False):
            return None
        try:
            return original(*args, **kwargs)
        finally:
            lock.release()

    clear_session.__explorer_guarded__ = True  # type: ignore[attr-defined]
    keras.backend.clear_session = clear_session
    keras.utils.clear_session = clear_session


@contextlib.contextmanager
def fresh_build_state(*, weights: bool = True) -> Iterator[None]:
    """Run a build with fresh automatic names; without ``weights``, leave variables unfilled.

    Callers hold :data:`BUILD_LOCK` (the state is global to the process).
    """
    import keras
    from keras.src.backend.common import global_state

    skip_tensorflow_probe()
    saved = {k: global_state.get_global_attribute(k) for k in _PER_BUILD_STATE}
    for k in _PER_BUILD_STATE:
        global_state.set_global_attribute(k, None)
    try:
        if weights:
            yield
        else:
            with keras.StatelessScope(initialize_variables=False):  # variables stay unfilled
                yield
    finally:
        for k, v in saved.items():
            global_state.set_global_attribute(k, v)
