"""Config -> readable Keras functional-API Python, in the style of the tutorial listings.

The source is generated from the model the builder makes, so it rebuilds the same architecture:
imports, every layer named, one line per layer, each block a small function (blocks with the same
structure share one function, called with the block's name prefix), and a final
``keras.Model(inputs=..., outputs=...)``. Constructor arguments equal to their defaults are left out.
"""

from __future__ import annotations

import functools
import inspect
import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import keras

from explorer.builders import Spec
from explorer.config import config_to_dict
from explorer.graph import INPUT_BLOCK, ModelGraph
from explorer.keras_compat import BUILD_LOCK, fresh_build_state

_SKIP_KEYS = {"name", "trainable", "dtype"}
_COMPACT = {"kernel_size", "strides", "pool_size", "dilation_rate", "size"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _normal(v: Any) -> Any:
    """Normalise for default comparison: lists -> tuples, initializer aliases -> dicts' names."""
    if isinstance(v, list):
        return tuple(_normal(x) for x in v)
    if isinstance(v, tuple):
        return tuple(_normal(x) for x in v)
    if isinstance(v, dict) and "class_name" in v:
        cfg = {k: x for k, x in (v.get("config") or {}).items() if x is not None}
        return (_snake(v["class_name"]), tuple(sorted(cfg.items())))
    if isinstance(v, str) and v in ("glorot_uniform", "zeros", "ones", "he_normal", "glorot_normal", "he_uniform"):
        return (v, ())
    return v


def _same(value: Any, default: Any) -> bool:
    a, b = _normal(value), _normal(default)
    if isinstance(a, tuple) and isinstance(b, int) and not isinstance(b, bool):
        return all(x == b for x in a)
    if a == b:
        return True
    return (a == "linear" and b is None) or (a is None and b == "linear")


def _literal(key: str, v: Any) -> str:
    if isinstance(v, dict) and "class_name" in v:
        cfg = {k: x for k, x in (v.get("config") or {}).items() if x is not None}
        module = v.get("module", "")
        if module.endswith("initializers") and not cfg:
            return json.dumps(_snake(v["class_name"]))
        prefix = "regularizers" if module.endswith("regularizers") else "keras." + module.rsplit(".", 1)[-1]
        args = ", ".join(f"{k}={_literal(k, x)}" for k, x in cfg.items())
        if v["class_name"] in ("L1", "L2") and len(cfg) == 1:
            args = _literal("", next(iter(cfg.values())))
        return f"{prefix}.{v['class_name']}({args})"
    if isinstance(v, (list, tuple)):
        items = [_literal(key, x) for x in v]
        if key in _COMPACT and len(set(items)) == 1:
            return items[0]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def _layer_args(layer: Any) -> tuple[list[str], list[str]]:
    """Positional and keyword argument sources of a layer's constructor, defaults dropped."""
    config = layer.get_config()
    sig = inspect.signature(type(layer).__init__)
    positional, keywords = [], []
    for pname, param in sig.parameters.items():
        if pname in ("self", "kwargs", "args") or pname in _SKIP_KEYS or pname not in config:
            continue
        value = config[pname]
        if pname == "data_format" and value == keras.config.image_data_format():
            continue
        if pname == "strides" and param.default is None and _same(value, config.get("pool_size")):
            continue  # pooling: strides default to the pool size
        if param.default is inspect.Parameter.empty:
            positional.append(_literal(pname, value))
        elif not _same(value, param.default):
            keywords.append(f"{pname}={_literal(pname, value)}")
    if config.get("trainable") is False:
        keywords.append("trainable=False")
    return positional, keywords


def _call(layer: Any, name_expr: str) -> str:
    pos, kw = _layer_args(layer)
    return f"layers.{type(layer).__name__}({', '.join([*pos, *kw, f'name={name_expr}'])})"


def _ident(text: str, taken: set[str]) -> str:
    name = re.sub(r"\W", "_", text).strip("_") or "t"
    if name[0].isdigit():
        name = "x" + name
    if keyword.iskeyword(name):
        name += "_"
    base, k = name, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


@dataclass
class _Block:
    path: str
    layers: list[Any]
    inputs: list[tuple[str, int]] = field(default_factory=list)  # external (layer, tensor) in order
    outputs: list[tuple[str, int]] = field(default_factory=list)
    prefix: str | None = None


def _edges(g: ModelGraph) -> dict[str, list[list[tuple[str, int]]]]:
    """For each layer, its call's input tensors as (producer layer name, tensor index)."""
    ins: dict[str, list[list[tuple[str, int]]]] = {}
    for e in g.edges:
        calls = ins.setdefault(e.dst, [])
        while len(calls) <= e.call:
            calls.append([])
        calls[e.call].append((e.src, e.src_output))
    return ins


class _Writer:
    """Assigns variable names: ``x`` for a tensor used only by the next line, names otherwise."""

    def __init__(self, order: list[str], consumers: dict[tuple[str, int], list[str]], keep: set[tuple[str, int]],
                 reserved: set[str]):
        self.order = order
        self.consumers = consumers
        self.keep = keep
        self.names: dict[tuple[str, int], str] = {}
        self.taken: set[str] = {"x", "layers", "keras", "regularizers", "name", *reserved}

    def name_for(self, tensor: tuple[str, int], local: str) -> str:
        users = self.consumers.get(tensor, [])
        producer = tensor[0]
        idx = self.order.index(producer) if producer in self.order else -1
        nxt = self.order[idx + 1] if 0 <= idx + 1 < len(self.order) else None
        if tensor not in self.keep and len(users) == 1 and users[0] == nxt:
            name = "x"
        elif tensor in self.keep and idx == len(self.order) - 1:
            name = "x"  # the block's result, returned right away
        else:
            name = _ident(local, self.taken)
        self.names[tensor] = name
        return name


def _signature(block: _Block, ins: dict, model_layers: dict) -> tuple:
    """Structure of a block with names abstracted away (for sharing functions)."""
    local = {la.name: i for i, la in enumerate(block.layers)}
    ext = {t: i for i, t in enumerate(block.inputs)}
    sig = []
    for la in block.layers:
        cfg = la.get_config()
        cfg = tuple(sorted((k, repr(v)) for k, v in cfg.items() if k != "name"))
        wiring = tuple(
            ("local", local[src], t) if src in local else ("ext", ext[(src, t)])
            for src, t in (ins.get(la.name) or [[]])[0]
        )
        suffix = la.name[len(block.prefix) + 1:] if block.prefix else la.name
        sig.append((type(la).__name__, cfg, wiring, suffix))
    return tuple(sig)


@functools.lru_cache(maxsize=64)
def generate(spec: Spec) -> str:
    """Readable functional-API source that rebuilds ``spec``'s model (memoised per spec).

    Args:
        spec: a resolved builder config.

    Returns:
        Python source: ``build_model()`` plus a ``__main__`` that prints the model summary.
    """
    from explorer.analysis import analyse

    a = analyse(spec)
    model, graph = a.model, a.graph
    by_name = {la.name: la for la in model.layers}
    ins = _edges(graph)

    consumers: dict[tuple[str, int], list[str]] = {}
    for dst, calls in ins.items():
        for call in calls:
            for t in call:
                consumers.setdefault(t, []).append(dst)
    outputs = [(o, 0) for o in graph.outputs]

    blocks: dict[str, _Block] = {}
    for n in graph.nodes:
        if n.block != INPUT_BLOCK:
            blocks.setdefault(n.block, _Block(n.block, [])).layers.append(by_name[n.id])
    for b in blocks.values():
        names = {la.name for la in b.layers}
        for la in b.layers:
            for t in (ins.get(la.name) or [[]])[0]:
                if t[0] not in names and t not in b.inputs:
                    b.inputs.append(t)
        for la in b.layers:
            t = (la.name, 0)
            if t in outputs or any(u not in names for u in consumers.get(t, [])):
                b.outputs.append(t)
        prefix = b.path.replace("/", "_")
        if all(la.name.startswith(prefix + "_") for la in b.layers):
            b.prefix = prefix

    # One function per distinct block structure.
    functions: dict[tuple, str] = {}
    users: dict[str, list[str]] = {}
    fn_of: dict[str, str] = {}
    fn_taken: set[str] = {"build_model"}
    for b in blocks.values():
        sig = _signature(b, ins, by_name) if b.prefix else ("unique", b.path)
        if sig not in functions:
            functions[sig] = b.path
        users.setdefault(functions[sig], []).append(b.path)
    fn_names: dict[str, str] = {}
    for first, paths in users.items():
        # Keep path components shared by every user; strip the numbers of those that vary.
        parts = [p.split("/") for p in paths]
        if len({len(p) for p in parts}) == 1:
            base = "_".join(
                comps[0] if len(set(comps)) == 1 else re.sub(r"\d+$", "", comps[0])
                for comps in zip(*parts, strict=True)
            )
        else:
            base = first.replace("/", "_")
        fn_names[first] = _ident(base, fn_taken)
        for p in paths:
            fn_of[p] = fn_names[first]

    out: list[str] = []
    out.append(f'"""{spec.label}: {spec.description}\n\nGenerated by Architecture Explorer from this config:')
    for k, v in config_to_dict(spec.config).items():
        out.append(f"    {k} = {v!r}")
    out.append('"""\n')
    out.append("import keras")
    out.append("from keras import layers")
    imports_at = len(out)

    for first, fname in fn_names.items():
        b = blocks[first]
        w = _Writer([la.name for la in b.layers], consumers, set(b.outputs), set(fn_names.values()))
        params = []
        for t in b.inputs:
            pname = "x" if len(b.inputs) == 1 and len(consumers.get(t, [])) == 1 else _ident(
                "inputs" if len(b.inputs) == 1 else f"{t[0]}_in", w.taken)
            w.names[t] = pname
            params.append(pname)
        shared = len(users[first]) > 1
        if b.prefix:
            params.append("name")
        used_by = ", ".join(users[first][:4]) + (", ..." if len(users[first]) > 4 else "")
        out.append(f"\n\ndef {fname}({', '.join(params)}):")
        out.append(f'    """Block {used_by}."""' if shared else f'    """Block {first}."""')
        for la in b.layers:
            args = [w.names[t] for t in (ins.get(la.name) or [[]])[0]]
            arg = args[0] if len(args) == 1 else "[" + ", ".join(args) + "]"
            suffix = la.name[len(b.prefix) + 1:] if b.prefix else None
            name_expr = f'f"{{name}}_{suffix}"' if b.prefix else json.dumps(la.name)
            var = w.name_for((la.name, 0), suffix or la.name)
            out.append(f"    {var} = {_call(by_name[la.name], name_expr)}({arg})")
        rets = [w.names[t] for t in b.outputs]
        out.append(f"    return {', '.join(rets)}")

    out.append("\n\ndef build_model():")
    out.append(f'    """Build {graph.name}."""')
    top_order = list(dict.fromkeys(n.block for n in graph.nodes))
    taken: set[str] = {"x", "keras", "layers", "regularizers", *fn_names.values()}
    var: dict[tuple[str, int], str] = {}
    for i in graph.inputs:
        la = by_name[i]
        v = _ident(i, taken)
        var[(i, 0)] = v
        shape = tuple(la.get_config()["batch_shape"][1:])
        out.append(f"    {v} = keras.Input(shape={shape!r}, name={json.dumps(i)})")
    for k, path in enumerate(top_order):
        if path == INPUT_BLOCK:
            continue
        b = blocks[path]
        args = [var[t] for t in b.inputs]
        if b.prefix:
            args.append(json.dumps(b.prefix))
        nxt = top_order[k + 1] if k + 1 < len(top_order) else None
        rets = []
        for t in b.outputs:
            ext_users = {blocks_of for blocks_of in (graph.node(u).block for u in consumers.get(t, []))} - {path}
            if t not in outputs and ext_users == {nxt} and len(b.outputs) == 1 and \
                    sum(1 for bb in blocks.values() if t in bb.inputs) == 1:
                v = "x"
            else:
                v = _ident(t[0] if t in outputs else path.replace("/", "_") + "_out", taken)
            var[t] = v
            rets.append(v)
        out.append(f"    {', '.join(rets)} = {fn_of[path]}({', '.join(args)})")
    ins_expr = var[(graph.inputs[0], 0)] if len(graph.inputs) == 1 else "[" + ", ".join(var[(i, 0)] for i in graph.inputs) + "]"
    outs_expr = var[outputs[0]] if len(outputs) == 1 else "[" + ", ".join(var[t] for t in outputs) + "]"
    out.append(f"    return keras.Model(inputs={ins_expr}, outputs={outs_expr}, name={json.dumps(graph.name)})")
    if any("regularizers." in line for line in out[imports_at:]):
        out[imports_at - 1] = "from keras import layers, regularizers"
    out.append('\n\nif __name__ == "__main__":')
    out.append("    model = build_model()")
    out.append("    model.summary()")
    return "\n".join(out) + "\n"


def run_source(source: str, weights: bool = True) -> keras.Model:
    """Execute generated source in a fresh namespace and return its ``build_model()``.

    Args:
        source: what :func:`generate` returned.
        weights: initialise the weights (False: shapes only, as for analysis).
    """
    namespace: dict[str, Any] = {"__name__": "explorer_generated"}
    exec(compile(source, "<generated>", "exec"), namespace)  # our own generated code
    with BUILD_LOCK, fresh_build_state(weights=weights):
        return namespace["build_model"]()
