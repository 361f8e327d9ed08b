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
from explorer.config import applicable
from explorer.graph import INPUT_BLOCK, ModelGraph
from explorer.keras_compat import BUILD_LOCK, fresh_build_state

_SKIP_KEYS = {"name", "trainable", "dtype"}
MAX_LINE = 99  # the longest generated line (black's default is 88; PEP 8 allows 99)
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


def _ctor_params(layer: Any) -> dict[str, inspect.Parameter]:
    """Constructor parameters of a layer that its config can set (``name`` and friends left out)."""
    sig = inspect.signature(type(layer).__init__)
    return {k: p for k, p in sig.parameters.items() if k not in ("self", "kwargs", "args") and k not in _SKIP_KEYS}


def _layer_args(layer: Any, given: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Positional and keyword argument sources of a layer's constructor, defaults dropped.

    Args:
        layer: the Keras layer.
        given: constructor arguments passed as expressions (a block function's parameters):
            always written, as ``key=expr`` (or positionally when required).
    """
    config = layer.get_config()
    given = given or {}
    positional, keywords = [], []
    for pname, param in _ctor_params(layer).items():
        if pname not in config:
            continue
        value = config[pname]
        required = param.default is inspect.Parameter.empty
        if pname in given:
            (positional if required else keywords).append(given[pname] if required else f"{pname}={given[pname]}")
            continue
        if pname == "data_format" and value == keras.config.image_data_format():
            continue
        if pname == "strides" and param.default is None and _same(value, config.get("pool_size")):
            continue  # pooling: strides default to the pool size
        if required:
            positional.append(_literal(pname, value))
        elif not _same(value, param.default):
            keywords.append(f"{pname}={_literal(pname, value)}")
    if config.get("trainable") is False:
        keywords.append("trainable=False")
    return positional, keywords


def _wrap(indent: str, head: str, args: list[str], tail: str, width: int | None = None) -> list[str]:
    """One call as lines of at most ``width`` (:data:`MAX_LINE`) characters, the way black wraps it.

    ``head`` ends with the opening bracket, ``tail`` starts with the closing one: all on one
    line when it fits, else the arguments on one indented line, else one argument per line.
    """
    width = width or MAX_LINE
    one = f"{indent}{head}{', '.join(args)}{tail}"
    if len(one) <= width or not args:
        return [one]
    inner = indent + "    "
    joined = inner + ", ".join(args)
    if len(joined) <= width:
        return [f"{indent}{head}", joined, f"{indent}{tail}"]
    return [f"{indent}{head}", *(f"{inner}{a}," for a in args), f"{indent}{tail}"]


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


def _structure(block: _Block, ins: dict) -> tuple:
    """Structure of a block with names and constructor-argument values abstracted away.

    Blocks with the same structure share one function; the constructor arguments that differ
    between them become the function's parameters (:func:`_varying`).
    """
    local = {la.name: i for i, la in enumerate(block.layers)}
    ext = {t: i for i, t in enumerate(block.inputs)}
    sig = []
    for la in block.layers:
        cfg = la.get_config()
        params = _ctor_params(la)
        fixed = tuple(sorted((k, repr(v)) for k, v in cfg.items() if k != "name" and k not in params))
        keys = tuple(sorted(k for k in cfg if k in params))
        wiring = tuple(
            ("local", local[src], t) if src in local else ("ext", ext[(src, t)])
            for src, t in (ins.get(la.name) or [[]])[0]
        )
        suffix = la.name[len(block.prefix) + 1:] if block.prefix else la.name
        sig.append((type(la).__name__, fixed, keys, wiring, suffix))
    return tuple(sig)


def _varying(members: list[_Block], taken: set[str]) -> tuple[dict[tuple[int, str], str], list[str]]:
    """The constructor arguments that differ between blocks of one structure, as parameters.

    Arguments that always vary together (``filters`` of both convolutions of a basic block) share
    one parameter, named after the argument (``filters``), else ``<layer suffix>_<argument>``.

    Returns:
        ``(layer index, argument) -> parameter name`` and the parameter names in order.
    """
    first = members[0]
    by_vector: dict[tuple, str] = {}
    names: dict[tuple[int, str], str] = {}
    order: list[str] = []
    if len(members) < 2:
        return names, order
    configs = [[la.get_config() for la in m.layers] for m in members]
    for i, la in enumerate(first.layers):
        for key in _ctor_params(la):
            if key not in configs[0][i]:
                continue
            vector = tuple(repr(_normal(c[i][key])) for c in configs)
            if len(set(vector)) == 1:
                continue
            if vector not in by_vector:
                suffix = la.name[len(first.prefix) + 1:] if first.prefix else la.name
                base = key if key not in taken else f"{suffix}_{key}"
                by_vector[vector] = _ident(base, taken)
                order.append(by_vector[vector])
            names[(i, key)] = by_vector[vector]
    return names, order


def _docstring(indent: str, text: str) -> list[str]:
    """A one-sentence docstring, wrapped at :data:`MAX_LINE`."""
    words, lines, line = text.split(), [], ""
    room = MAX_LINE - len(indent) - 6
    for w in words:
        if line and len(line) + 1 + len(w) > room:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(indent + ln for ln in lines[1:]), f'{indent}"""']


def _used_by(paths: list[str]) -> str:
    if len(paths) == 1:
        return f"Block {paths[0]}."
    shown = ", ".join(paths[:3])
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"One function for {len(paths)} blocks of the same structure: {shown}{more}."


@dataclass
class _CallSite:
    """One block function call in ``build_model``."""

    rets: list[str]
    fn: str
    inputs: list[str]
    kwargs: list[str]
    prefix: str | None


def _loops(calls: list[_CallSite], taken: set[str]) -> list[str]:
    """``build_model``'s body lines: runs of 3+ alike calls (``stage1_block1..18``) become a loop."""
    out: list[str] = []
    i = 0
    num = re.compile(r"^(.*\D)(\d+)$")

    def key(c: _CallSite) -> tuple | None:
        if c.rets != ["x"] or c.inputs != ["x"] or not c.prefix or not num.match(c.prefix):
            return None
        m = num.match(c.prefix)
        return (c.fn, tuple(c.kwargs), m.group(1))

    loop_var = _ident("i", taken)
    while i < len(calls):
        c = calls[i]
        k = key(c)
        j = i + 1
        if k is not None:
            start = int(num.match(c.prefix).group(2))
            while j < len(calls) and key(calls[j]) == k and int(num.match(calls[j].prefix).group(2)) == start + j - i:
                j += 1
        if k is not None and j - i >= 3:
            stem = json.dumps(k[2])[1:-1].replace("{", "{{").replace("}", "}}")
            out.append(f"    for {loop_var} in range({start}, {start + j - i}):")
            args = [*c.inputs, *c.kwargs, f'name=f"{stem}{{{loop_var}}}"']
            out += _wrap("        ", f"x = {c.fn}(", args, ")")
            i = j
            continue
        args = [*c.inputs, *c.kwargs] + ([f"name={json.dumps(c.prefix)}"] if c.prefix else [])
        out += _wrap("    ", f"{', '.join(c.rets)} = {c.fn}(", args, ")")
        i += 1
    return out


@functools.lru_cache(maxsize=64)
def generate(spec: Spec) -> str:
    """Readable functional-API source that rebuilds ``spec``'s model (memoised per spec).

    Args:
        spec: a resolved builder config.

    Returns:
        Python source: ``build_model()`` plus a ``__main__`` that prints the model summary;
        no line longer than :data:`MAX_LINE` characters.
    """
    from explorer.analysis import analyse

    a = analyse(spec)
    model, graph = a.keras_model(), a.graph  # built now if the graph came from the disk cache
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
        sig = _structure(b, ins) if b.prefix else ("unique", b.path)
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
        if base in fn_taken:  # e.g. the first block of a stage: name it by the layer others lack
            others = {la.name[len(blocks[f].prefix or "") + 1:] for f in users if f != first
                      for la in blocks[f].layers}
            extra = [la.name[len(blocks[first].prefix or "") + 1:] for la in blocks[first].layers]
            extra = [e for e in extra if e not in others]
            if extra:
                base = f"{base}_with_{re.sub(r'_(conv|bn|relu)$', '', extra[0])}"
        fn_names[first] = _ident(base, fn_taken)
        for p in paths:
            fn_of[p] = fn_names[first]

    out: list[str] = []
    out.append(f'"""{spec.label}: {spec.description}\n\nGenerated by Architecture Explorer from this config:')
    for k, v in applicable(spec.config).items():
        out.append(f"    {k} = {v!r}")
    out.append('"""\n')
    out.append("import keras")
    out.append("from keras import layers")
    imports_at = len(out)

    params_of: dict[str, dict[tuple[int, str], str]] = {}
    for first, fname in fn_names.items():
        b = blocks[first]
        w = _Writer([la.name for la in b.layers], consumers, set(b.outputs), set(fn_names.values()))
        params = []
        for t in b.inputs:
            pname = "x" if len(b.inputs) == 1 and len(consumers.get(t, [])) == 1 else _ident(
                "inputs" if len(b.inputs) == 1 else f"{t[0]}_in", w.taken)
            w.names[t] = pname
            params.append(pname)
        varying, order = _varying([blocks[p] for p in users[first]], w.taken) if b.prefix else ({}, [])
        params_of[first] = varying
        params += order
        if b.prefix:
            params.append("name")
        out.append("")
        out.append("")
        out += _wrap("", f"def {fname}(", params, "):")
        doc = _used_by(users[first])
        if order:
            doc += f" Its blocks differ in {', '.join(order)}."
        out += _docstring("    ", doc)
        for i, la in enumerate(b.layers):
            args = [w.names[t] for t in (ins.get(la.name) or [[]])[0]]
            arg = args[0] if len(args) == 1 else "[" + ", ".join(args) + "]"
            suffix = la.name[len(b.prefix) + 1:] if b.prefix else None
            name_expr = f'f"{{name}}_{suffix}"' if b.prefix else json.dumps(la.name)
            var = w.name_for((la.name, 0), suffix or la.name)
            given = {key: p for (k, key), p in varying.items() if k == i}
            pos, kw = _layer_args(by_name[la.name], given)
            out += _wrap("    ", f"{var} = layers.{type(la).__name__}(", [*pos, *kw, f"name={name_expr}"],
                         f")({arg})")
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
        out += _wrap("    ", f"{v} = keras.Input(", [f"shape={shape!r}", f"name={json.dumps(i)}"], ")")
    sites: list[_CallSite] = []
    first_of = {p: first for first, paths in users.items() for p in paths}
    for k, path in enumerate(top_order):
        if path == INPUT_BLOCK:
            continue
        b = blocks[path]
        inputs = [var[t] for t in b.inputs]
        kwargs = []
        varying = params_of[first_of[path]]
        seen: set[str] = set()
        for (i, key), pname in varying.items():
            if pname not in seen:
                seen.add(pname)
                kwargs.append(f"{pname}={_literal(key, b.layers[i].get_config()[key])}")
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
        sites.append(_CallSite(rets, fn_of[path], inputs, kwargs, b.prefix))
    out += _loops(sites, taken)
    ins_expr = var[(graph.inputs[0], 0)] if len(graph.inputs) == 1 else "[" + ", ".join(
        var[(i, 0)] for i in graph.inputs) + "]"
    outs_expr = var[outputs[0]] if len(outputs) == 1 else "[" + ", ".join(var[t] for t in outputs) + "]"
    out += _wrap("    ", "return keras.Model(",
                 [f"inputs={ins_expr}", f"outputs={outs_expr}", f"name={json.dumps(graph.name)}"], ")")
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
