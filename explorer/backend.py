"""The Keras backend used for analysis, and keeping TensorFlow out of the analysis process.

Keras's serializer (``get_config``, ``model.save``) asks a lazy ``tensorflow`` module whether
TensorFlow is available, which imports TensorFlow (seconds, hundreds of MB) just to check
``isinstance(obj, tf.TensorShape)``. On the numpy backend no TensorFlow object can exist, so
there we tell that probe "not available". Training workers use a real backend and are unaffected.
"""

from __future__ import annotations

import sys


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
