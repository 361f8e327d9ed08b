"""The Keras backend used for analysis, and keeping TensorFlow out of the analysis process.

Keras's serializer (``get_config``, ``model.save``) asks a lazy ``tensorflow`` module whether
TensorFlow is available, which imports TensorFlow (seconds, hundreds of MB) just to check
``isinstance(obj, tf.TensorShape)``. On the numpy backend no TensorFlow object can exist, so
there we tell that probe "not available". Training workers use a real backend and are unaffected.
"""

from __future__ import annotations

import sys
from typing import Any


def skip_tensorflow_probe() -> bool:
    """On the numpy backend with TensorFlow not yet imported, stop Keras from importing it.

    Returns:
        True when the probe was switched off.
    """
    import keras

    if keras.backend.backend() != "numpy" or "tensorflow" in sys.modules:
        return False
    from keras.src.utils import module_utils

    module_utils.tensorflow._available = False
    return True


def serialize_clear_session(lock: Any) -> None:
    """Make ``keras.backend.clear_session`` wait for ``lock`` (the build lock).

    Streamlit calls ``keras.backend.clear_session()`` after every script run of every session.
    That swaps Keras's global state for all threads at once, so a build running in another
    session's thread would lose its automatic-name counters and name scopes half-way (seen under
    load: "The name max_pooling2d is used 2 times in the model"). Holding the build lock makes the
    two take turns.
    """
    import functools

    import keras
    from keras.src.backend.common import global_state

    original = global_state.clear_session
    if getattr(keras.backend.clear_session, "__explorer_guarded__", False):
        return

    @functools.wraps(original)
    def clear_session(*args: Any, **kwargs: Any) -> Any:
        if keras.backend.backend() == "numpy" and not args:
            # Nothing to free on the numpy backend but Python objects: skip its full gc.collect(),
            # which Streamlit would otherwise pay after every script run of every session.
            kwargs.setdefault("free_memory", False)
        with lock:
            return original(*args, **kwargs)

    clear_session.__explorer_guarded__ = True  # type: ignore[attr-defined]
    keras.backend.clear_session = clear_session
    keras.utils.clear_session = clear_session
