"""Reading a user's saved model as data: archive limits, a checked config, a weightless rebuild.

An uploaded model is untrusted. Nothing in it is deserialised until it has passed, in order:

1. **the container** (:func:`read_keras_config`, :func:`read_h5_config`): a ``.keras`` file is a
   zip; its end-of-central-directory record is read before the zip is opened (member count),
   then every member's name (relative, no ``..``, no duplicates), declared size and compression
   ratio are checked, and only ``config.json`` is read, in chunks, up to a size cap. Nothing is
   extracted. A ``.h5`` file's ``model_config`` attribute is read as text after checking its
   stored size; no dataset (weights) is touched.
2. **the JSON** (:func:`parse_json`): size-capped text, nesting depth capped.
3. **the classes** (:func:`check_config`): every object in the config that names a class
   (``{"class_name": ..., "module": ...}``) must be a standard Keras layer, model, initializer,
   regularizer, constraint or dtype policy from a ``keras`` module. Lambda layers, functions
   from other modules, custom objects and layers that read files (``StringLookup``...) are
   refused, naming the layer and its class. The number of layers is capped.
4. **the rebuild** (:func:`rebuild`): Keras's own ``safe_mode`` deserialiser inside
   ``keras.StatelessScope(initialize_variables=False)``, so variables keep their shapes but are
   never allocated: a declared 268M-parameter layer costs nothing. The compile config (optimizer,
   losses) is dropped.

Steps 1-3 are plain Python with bounded cost and run in the caller; step 4 runs in a child
process with memory and time limits (:mod:`explorer.sandbox`, used by :mod:`explorer.model_io`).
Every refusal is a :class:`DataError` with one sentence naming the file the user gave.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from explorer.archive import ZipLimits, check_zip, read_member, short
from explorer.errors import DataError
from explorer.keras_compat import FUNCTIONAL_MODULE, SAVED_MODEL_MODULES

MAX_MEMBERS = 64  # a .keras archive has 3 (metadata, config, weights) plus assets
MAX_CONFIG_BYTES = 32 * 1024 * 1024  # config.json (DenseNet201's is ~1 MB)
MAX_MEMBER_BYTES = 2 * 1024 * 1024 * 1024  # declared uncompressed size of any member
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024  # declared uncompressed size of all members
MAX_RATIO = 100  # uncompressed / compressed, for members over 1 MB (Keras stores them uncompressed)
MAX_DEPTH = 64  # JSON nesting (a ResNet config is ~12 deep)
MAX_LAYERS = 5_000  # layers, counting nested models' (ResNet-1001 has 3,495; DenseNet201 707)

# Modules an object in a Keras config may name (Keras writes these for its own classes).
SAFE_MODULES = frozenset({
    None, "keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
    "keras.constraints", "keras.activations", "keras.dtype_policies", *SAVED_MODEL_MODULES,
})
LAYER_KEYS = frozenset({"layers", "layer", "cell", "cells", "forward_layer", "backward_layer"})
IGNORED_KEYS = frozenset({"compile_config"})  # optimizer, losses, metrics: dropped, never deserialised
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
# Plain-data markers of Keras's serialiser (tensors between layers, tuples, arrays from the file).
DATA_MARKERS = frozenset({"__keras_tensor__", "__tuple__", "__numpy__", "__slice__", "__ellipsis__"})
# Public layer classes that are refused: they run or load code, read files, or are abstract bases.
REFUSED_LAYERS = {
    "Lambda": "a Lambda layer, whose Python code is not loaded for safety",
    "TFSMLayer": "a TFSMLayer, which loads a TensorFlow SavedModel from disk",
    "TorchModuleWrapper": "a TorchModuleWrapper, which holds pickled PyTorch code",
    "JaxLayer": "a JaxLayer, which wraps Python functions",
    "FlaxLayer": "a FlaxLayer, which wraps Python code",
    "StringLookup": "a StringLookup layer, whose vocabulary may name a file on the server",
    "IntegerLookup": "an IntegerLookup layer, whose vocabulary may name a file on the server",
    "TextVectorization": "a TextVectorization layer, whose vocabulary may name a file on the server",
    "Layer": "the abstract base Layer, which has no architecture of its own",
    "Wrapper": "the abstract base Wrapper",
}


def _public_classes(module: Any, base: type) -> frozenset[str]:
    return frozenset(n for n in dir(module) if isinstance(getattr(module, n), type) and issubclass(getattr(module, n), base))


_ALLOWED: dict[str, frozenset[str]] | None = None


def allowed_classes() -> dict[str, frozenset[str]]:
    """The class names accepted in a config, by kind (layers, initializers, ...), from Keras's public API."""
    global _ALLOWED
    if _ALLOWED is None:
        import keras

        _ALLOWED = {
            "layer": _public_classes(keras.layers, keras.layers.Layer) - set(REFUSED_LAYERS),
            "model": MODEL_CLASSES,
            "initializer": _public_classes(keras.initializers, keras.initializers.Initializer),
            "regularizer": _public_classes(keras.regularizers, keras.regularizers.Regularizer),
            "constraint": _public_classes(keras.constraints, keras.constraints.Constraint),
            "dtype policy": frozenset(n for n in dir(keras.dtype_policies) if isinstance(getattr(keras.dtype_policies, n), type)),
        }
    return _ALLOWED


_short = short
KERAS_LIMITS = ZipLimits(members=MAX_MEMBERS, member_bytes=MAX_MEMBER_BYTES, total_bytes=MAX_TOTAL_BYTES, ratio=MAX_RATIO)


# -- the container ----------------------------------------------------------------------------
def read_keras_config(path: str | os.PathLike, shown: str | None = None) -> dict[str, Any]:
    """Check a ``.keras`` archive (:func:`explorer.archive.check_zip`) and read its ``config.json`` as data.

    Args:
        path: the file.
        shown: the name to use in messages (the name the user gave), default the file's name.

    Returns:
        The parsed config (a dict).

    Raises:
        DataError: too many members, a bad member name, a member or the whole too large when
            inflated, a suspicious compression ratio, a missing or oversize ``config.json``,
            a damaged archive.
    """
    p = Path(path)
    shown = shown or p.name
    what = f"model file {shown}"
    with check_zip(p, what, "a .keras archive (a .keras file is a zip)", KERAS_LIMITS) as zf:
        names = set(zf.namelist())
        if "config.json" not in names:
            raise DataError(f"{what} has no config.json; it is not a Keras 3 .keras archive.")
        size = zf.getinfo("config.json").file_size
        if size > MAX_CONFIG_BYTES:
            raise DataError(f"{what}: its config.json is {size / 2**20:,.1f} MB, over the "
                            f"{MAX_CONFIG_BYTES / 2**20:.0f} MB limit.")
        raw = read_member(zf, "config.json", what, MAX_CONFIG_BYTES)
    return parse_json(raw, shown, "config.json")


def read_h5_config(path: str | os.PathLike, shown: str | None = None) -> dict[str, Any]:
    """Read a legacy ``.h5`` model's architecture from its ``model_config`` attribute, as data.

    No dataset (weights) is read.

    Raises:
        DataError: not HDF5, no model config (a weights-only file), an oversize config, bad JSON.
    """
    import h5py

    p = Path(path)
    shown = shown or p.name
    try:
        with h5py.File(p, "r") as f:
            if "model_config" not in f.attrs:
                raise DataError(f"model file {shown} holds no model architecture (it may be a weights-only .h5 file).")
            size = f.attrs.get_id("model_config").get_storage_size()
            if size > MAX_CONFIG_BYTES:
                raise DataError(f"model file {shown}: its model config is {size / 2**20:,.1f} MB, over the "
                                f"{MAX_CONFIG_BYTES / 2**20:.0f} MB limit.")
            raw = f.attrs["model_config"]
    except DataError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, TypeError... on damaged files
        raise DataError(f"model file {shown} is a damaged HDF5 file ({_short(' '.join(str(exc).split()), 80)}).") from None
    if hasattr(raw, "tobytes"):
        raw = raw.tobytes()
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    if not isinstance(raw, bytes):
        raise DataError(f"model file {shown}: its model config is not text.")
    return _legacy_to_keras3(parse_json(raw, shown, "model config"))


def _legacy_to_keras3(cfg: Any) -> Any:
    """Give a legacy (``.h5``) config the ``module`` keys Keras 3's safe deserialiser expects.

    Only the model and its layers lack them; nested objects (initializers, dtype policies) carry
    their own. Nothing is added where a module is already named.
    """
    if not isinstance(cfg, dict):
        return cfg
    stack = [(cfg, True)]
    while stack:
        obj, is_layer = stack.pop()
        if isinstance(obj, dict) and is_layer and isinstance(obj.get("class_name"), str) and "module" not in obj:
            obj["module"] = FUNCTIONAL_MODULE if obj["class_name"] in ("Functional", "Model") else (
                "keras" if obj["class_name"] == "Sequential" else "keras.layers")
        if isinstance(obj, dict):
            inner = obj.get("config")
            if isinstance(inner, dict):
                for key in ("layers",):
                    for layer in inner.get(key) or []:
                        stack.append((layer, True))
                for key in ("layer", "cell", "forward_layer", "backward_layer"):
                    if isinstance(inner.get(key), dict):
                        stack.append((inner[key], True))
    return cfg


def parse_json(raw: bytes, shown: str, what: str) -> dict[str, Any]:
    """Parse config JSON with a size cap and a nesting cap.

    Raises:
        DataError: oversize, not UTF-8 JSON, too deeply nested, or not an object.
    """
    if len(raw) > MAX_CONFIG_BYTES:
        raise DataError(f"model file {shown}: its {what} is over the {MAX_CONFIG_BYTES / 2**20:.0f} MB limit.")
    try:
        cfg = json.loads(raw)
    except RecursionError:
        raise DataError(f"model file {shown}: its {what} is nested too deeply (the limit is {MAX_DEPTH} levels).") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"model file {shown}: its {what} is not valid JSON ({_short(str(exc), 80)}).") from None
    if not isinstance(cfg, dict):
        raise DataError(f"model file {shown}: its {what} is not a Keras model config.")
    return cfg


# -- the classes ------------------------------------------------------------------------------
def _kind_of(class_name: str) -> str | None:
    for kind, names in allowed_classes().items():
        if class_name in names:
            return kind
    return None


def check_config(cfg: dict[str, Any], shown: str) -> int:
    """Refuse a config that names anything but standard Keras objects, before anything is built.

    Walks every nested object (iteratively, depth-capped). An object naming a class must name a
    ``keras`` module (or none), must not carry a custom registered name, and its class must be a
    public Keras layer (not one of :data:`REFUSED_LAYERS`), model, initializer, regularizer,
    constraint or dtype policy, or one of the serialiser's data markers. Functions are refused
    unless they are Keras activations named by string.

    Args:
        cfg: the parsed config.
        shown: the file name the user gave, for messages.

    Returns:
        The number of layers (nested models' layers included).

    Raises:
        DataError: naming the layer, its class and why.
    """
    top = cfg.get("class_name")
    if top not in MODEL_CLASSES:
        raise DataError(f"model file {shown} holds a {_short(top)}, not a Keras model (Functional or Sequential).")
    layers = 0
    stack: list[tuple[Any, int, str | None, bool]] = [(cfg, 0, None, True)]
    while stack:
        obj, depth, owner, layer_slot = stack.pop()
        if depth > MAX_DEPTH:
            raise DataError(f"model file {shown}: its config is nested too deeply (the limit is {MAX_DEPTH} levels).")
        if isinstance(obj, list):
            stack.extend((v, depth + 1, owner, layer_slot) for v in obj)
            continue
        if not isinstance(obj, dict):
            continue
        if "class_name" in obj:
            kind, name = _check_object(obj, shown, owner, layer_slot)
            if kind in ("layer", "model"):
                layers += 1
                if layers > MAX_LAYERS:
                    raise DataError(f"model file {shown} has over {MAX_LAYERS:,} layers, more than the explorer draws.")
                owner = f"layer {_short(name)} ({obj['class_name']})" if name else f"a {obj['class_name']} layer"
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and k not in IGNORED_KEYS:
                stack.append((v, depth + 1, owner, k in LAYER_KEYS))
    return layers


def _check_object(obj: dict[str, Any], shown: str, owner: str | None, layer_slot: bool) -> tuple[str, str | None]:
    cls = obj.get("class_name")
    module = obj.get("module")
    inner = obj.get("config")
    name = inner.get("name") if isinstance(inner, dict) and isinstance(inner.get("name"), str) else obj.get("name")
    name = name if isinstance(name, str) and layer_slot else None
    where = f"{owner} uses" if owner else "the model uses"
    if not isinstance(cls, str):
        raise DataError(f"model file {shown}: {where} an object whose class is {_short(cls)}, not a name.")
    subject = f"layer {_short(name)}" if name else where
    has = f"layer {_short(name)} has" if name else where
    if cls in DATA_MARKERS:
        return "data", None
    if cls in REFUSED_LAYERS:
        raise DataError(f"model file {shown}: {subject} {'is' if name else ''} {REFUSED_LAYERS[cls]}; the file is refused."
                        .replace("  ", " "))
    if cls in ("__lambda__", "function"):
        if cls == "function" and module in ("keras.activations",) and isinstance(inner, str) and inner.isidentifier():
            return "function", None
        raise DataError(f"model file {shown}: {where} a Python function ({_short(inner)} from "
                        f"{_short(module or 'no module')}); only standard Keras objects are loaded.")
    if not (module is None or isinstance(module, str)) or module not in SAFE_MODULES:
        raise DataError(f"model file {shown}: {has} class {_short(cls)} from module {_short(module)}, "
                        "which is not part of Keras; custom code is refused.")
    registered = obj.get("registered_name")
    if registered is not None and registered != cls:
        raise DataError(f"model file {shown}: {has} class {_short(cls)} registered as the custom object "
                        f"{_short(registered)}; only standard Keras objects are loaded.")
    kind = _kind_of(cls)
    if kind is None:
        raise DataError(f"model file {shown}: {has} class {_short(cls)}, which is not a standard Keras "
                        "layer or object; custom layers are refused.")
    return kind, name


# -- the rebuild (in the sandboxed child) -----------------------------------------------------
def _without_compile(obj: Any) -> Any:
    """A copy of a config without the compile configs (:data:`IGNORED_KEYS`) at any level."""
    if isinstance(obj, dict):
        return {k: _without_compile(v) for k, v in obj.items() if k not in IGNORED_KEYS}
    if isinstance(obj, list):
        return [_without_compile(v) for v in obj]
    return obj


def rebuild(cfg: dict[str, Any]) -> Any:
    """Build a checked config's model without allocating its weights.

    Call only with a config that passed :func:`check_config`.

    Returns:
        A ``keras.Model`` whose variables have shapes but no values (it cannot be run).
    """
    import keras

    from explorer.keras_compat import allow_deep_graphs

    allow_deep_graphs(5 * MAX_LAYERS + 1000)
    cfg = _without_compile(cfg)
    with keras.StatelessScope(initialize_variables=False):
        model = keras.saving.deserialize_keras_object(cfg, safe_mode=True)
    if not isinstance(model, keras.Model):
        raise DataError("the file does not hold a Keras model.")
    return model
