"""Architecture Explorer: build, see, budget and train Keras functional-API architectures.

Importing the package picks Keras's light ``numpy`` backend for analysis unless Keras is
already imported or ``KERAS_BACKEND`` is set (training workers choose their own backend).
"""

import os
import sys

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", os.environ.get("EXPLORER_ANALYSIS_BACKEND", "numpy"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
