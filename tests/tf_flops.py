"""Independent FLOP count: TensorFlow's profiler on the same model (run in its own process).

Usage: ``KERAS_BACKEND=tensorflow python tests/tf_flops.py PRESET [PRESET ...]`` prints one JSON
object ``{preset: {"total": flops, "by_op": {op_type: flops}, "params": n}}``. A name
``BUILDER:ARCH`` (``keras_app:mobilenetv2``) means that builder with ``arch=ARCH``. The model is built
by the same registry on Keras's TensorFlow backend, traced for one example in inference mode
(``training=False``), and counted by ``tf.compat.v1.profiler`` with the ``float_operation`` view.
The test process runs Keras on the numpy backend, so it calls this script as a subprocess.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def target_spec(name: str):
    """``resnet20`` -> that preset; ``keras_app:mobilenetv2`` -> that builder with ``arch=mobilenetv2``."""
    from explorer.builders import resolve

    if ":" in name:
        builder, arch = name.split(":", 1)
        return resolve(builder, overrides={"arch": arch})
    return resolve(name)


def count(preset: str) -> dict:
    """Build ``preset`` on TensorFlow and count the float operations of one inference."""
    import tensorflow as tf
    from tensorflow.python.profiler import tfprof_logger

    from explorer.builders import build_model

    spec = target_spec(preset)
    model = build_model(spec, weights=True)
    shape = [1, *model.inputs[0].shape[1:]]
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32)).graph
    opts = (
        tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .build()
    )
    prof = tf.compat.v1.profiler.profile(graph, options=opts, cmd="scope")
    # The per-op-type split: the profiler's own FLOP registry, per op (its "op" view files every
    # op of a traced function under the first op type, so group the logged ops here instead).
    logged, _ = tfprof_logger._get_logged_ops(graph, add_trace=False)
    by_op: dict[str, int] = {}
    for name, entry in logged.items():
        if entry.float_ops:
            kind = graph.get_operation_by_name(name).type
            by_op[kind] = by_op.get(kind, 0) + int(entry.float_ops)
    return {"total": int(prof.total_float_ops), "by_op": by_op, "params": int(model.count_params())}


def main(argv: list[str]) -> int:
    """Print the counts of the presets named in ``argv`` as one JSON object."""
    out = {p: count(p) for p in argv}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
