"""What-if comparison of two architectures: totals side by side and per-block deltas.

A and B are any builder, preset or tweak (or a saved model file). Blocks are matched by path
after cutting to a depth (``stage2/block3`` matches ``stage2/block3``; at depth 1 stages match
stages). A block present on one side only counts 0 on the other, so the per-block deltas always
add up to the total delta. Deltas are ``B - A``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.analysis import Analysis, analyse, analyse_target
from explorer.budget import DEFAULT_DTYPE, BlockBudget, Budget, budget
from explorer.builders import Spec, get_builder
from explorer.config import config_to_dict, parse_assignments
from explorer.errors import ExplorerError
from explorer.fmt import format_bytes, human, signed
from explorer.summary import check_depth

# Compared quantities (attributes of BlockBudget), in display order.
METRICS = ("params", "trainable_params", "non_trainable_params", "macs", "flops", "activations", "layers")


def _values(r: BlockBudget | None) -> dict[str, int]:
    return {m: (getattr(r, m) if r is not None else 0) for m in METRICS}


@dataclass(frozen=True)
class BlockDelta:
    """One block path on both sides.

    Attributes:
        path: the block path (cut to the comparison's depth).
        side: ``"both"``, ``"a"`` (only in A) or ``"b"`` (only in B).
        a: A's values per metric (zeros when absent).
        b: B's values per metric (zeros when absent).
    """

    path: str
    side: str
    a: dict[str, int]
    b: dict[str, int]

    @property
    def delta(self) -> dict[str, int]:
        """``B - A`` per metric."""
        return {m: self.b[m] - self.a[m] for m in METRICS}


@dataclass(frozen=True)
class Comparison:
    """A compared with B.

    Attributes:
        label_a: what A is (preset, builder, tweak).
        label_b: what B is.
        a: A's budget.
        b: B's budget.
        depth: block paths cut to this depth (None: leaf blocks).
        blocks: per-block values and deltas, A's order first, B-only blocks placed after their
            predecessor in B.
    """

    label_a: str
    label_b: str
    a: Budget
    b: Budget
    depth: int | None
    blocks: tuple[BlockDelta, ...]

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        """``{"a": {metric: value}, "b": {...}, "delta": {...}}`` for the whole models."""
        ta, tb = _values(self.a.total), _values(self.b.total)
        return {"a": ta, "b": tb, "delta": {m: tb[m] - ta[m] for m in METRICS}}


def _merge_order(first: list[str], second: list[str]) -> list[str]:
    """``first``, with the paths only in ``second`` inserted after their predecessor there."""
    out = list(first)
    seen = set(first)
    prev: str | None = None
    for p in second:
        if p not in seen:
            pos = out.index(prev) + 1 if prev is not None else 0
            out.insert(pos, p)
            seen.add(p)
        prev = p
    return out


def compare_budgets(a: Budget, b: Budget, label_a: str = "A", label_b: str = "B",
                    depth: int | None = None) -> Comparison:
    """Compare two budgets block by block.

    Args:
        a: A's budget.
        b: B's budget.
        label_a: a name for A.
        label_b: a name for B.
        depth: match blocks on their paths cut to this depth (None: leaf paths).

    Returns:
        The :class:`Comparison`; its block deltas add up to the total deltas.
    """
    check_depth(depth)
    rows_a = {r.path: r for r in a.partition(depth)}
    rows_b = {r.path: r for r in b.partition(depth)}
    blocks = []
    for path in _merge_order(list(rows_a), list(rows_b)):
        ra, rb = rows_a.get(path), rows_b.get(path)
        side = "both" if ra is not None and rb is not None else ("a" if ra is not None else "b")
        blocks.append(BlockDelta(path, side, _values(ra), _values(rb)))
    return Comparison(label_a, label_b, a, b, depth, tuple(blocks))


def compare_targets(
    target_a: str,
    target_b: str,
    overrides_a: dict[str, Any] | None = None,
    overrides_b: dict[str, Any] | None = None,
    preset_a: str | None = None,
    preset_b: str | None = None,
    depth: int | None = None,
    batch_size: int = 1,
    dtype: str = DEFAULT_DTYPE,
) -> tuple[Comparison, Analysis, Analysis]:
    """Analyse A and B (builders, presets with tweaks, or model files) and compare them.

    Returns:
        The comparison and both analyses.

    Raises:
        ConfigError: unknown names, bad values, depth, batch size or dtype.
        DataError: a bad model file.
    """
    check_depth(depth)
    ana_a = analyse_target(target_a, preset_a, overrides_a)
    ana_b = analyse_target(target_b, preset_b, overrides_b)
    c = compare_budgets(
        budget(ana_a.graph, batch_size, dtype), budget(ana_b.graph, batch_size, dtype),
        ana_a.label, ana_b.label, depth,
    )
    return c, ana_a, ana_b


def _side(label: str, ana: Analysis | None, b: Budget) -> dict[str, Any]:
    spec = ana.spec if ana is not None else None
    t = b.total
    return {
        "label": label,
        "builder": spec.builder if spec else None,
        "preset": spec.preset if spec else None,
        "config": config_to_dict(spec.config) if spec else None,
        "model": b.name,
        "total_params": b.total_params,
        "trainable_params": t.trainable_params,
        "non_trainable_params": t.non_trainable_params,
        "layers": t.layers,
        "macs": t.macs,
        "flops": t.flops,
        "activations": t.activations,
        "activation_bytes": b.activation_bytes(t.activations),
    }


def comparison_dict(c: Comparison, ana_a: Analysis | None = None, ana_b: Analysis | None = None) -> dict[str, Any]:
    """The JSON object of ``python -m explorer compare --json``.

    Returns:
        ``{"a": totals of A, "b": totals of B, "delta": B - A totals, "depth", "batch_size", "dtype",
        "blocks": [{"path", "side", "a", "b", "delta"}]}``; block deltas add up to ``delta``.
    """
    totals = c.totals
    return {
        "a": _side(c.label_a, ana_a, c.a),
        "b": _side(c.label_b, ana_b, c.b),
        "delta": {**totals["delta"], "activation_bytes": c.b.activation_bytes(totals["delta"]["activations"])},
        "depth": c.depth,
        "batch_size": c.a.batch_size,
        "dtype": c.a.dtype,
        "blocks": [{"path": r.path, "side": r.side, "a": r.a, "b": r.b, "delta": r.delta} for r in c.blocks],
    }


# The metrics each side shows on the Compare page, in Budget's units: (title, total key, bytes?).
SIDE_METRICS = (("Params", "params", False), ("MACs", "macs", False), ("Activations", "activations", True),
                ("Layers", "layers", False))


def side_metrics(c: Comparison, which: str) -> list[dict[str, Any]]:
    """One side's metric cards: title, value, help and (for B) a signed delta against A.

    Activations are bytes for one example at the comparison's dtype, as on the Budget page.

    Args:
        c: the comparison.
        which: ``"a"`` or ``"b"``.

    Returns:
        ``[{"title", "value", "delta", "help"}]`` in :data:`SIDE_METRICS` order; ``delta`` is
        None for A and for an unchanged value, else ``+1.2M (2.00×)``.
    """
    t = c.totals
    own = c.a if which == "a" else c.b
    out = []
    for title, key, as_bytes in SIDE_METRICS:
        a_val, b_val = t["a"][key], t["b"][key]
        val = t[which][key]
        if as_bytes:
            val, a_val, b_val = own.activation_bytes(val), c.a.activation_bytes(a_val), c.b.activation_bytes(b_val)
        text = format_bytes(val) if as_bytes else (f"{val:,}" if key == "layers" else human(val))
        delta = None
        if which == "b" and b_val != a_val:
            ratio = f" ({b_val / a_val:.2f}×)" if a_val else ""
            delta = signed(b_val - a_val, "B" if as_bytes else "").replace("−", "-") + ratio  # st.metric reads "-"
        exact = f"{val:,} bytes" if as_bytes else f"{val:,}"
        out.append({"title": title, "value": text, "delta": delta, "help": f"{which.upper()}: {exact}"})
    return out


def delta_table(c: Comparison) -> list[dict[str, Any]]:
    """Rows for a table: per block, params and MACs of A and B and their deltas."""
    return [
        {
            "block": r.path,
            "in": {"both": "A and B", "a": "A only", "b": "B only"}[r.side],
            "params A": r.a["params"],
            "params B": r.b["params"],
            "Δ params": r.delta["params"],
            "MACs A": r.a["macs"],
            "MACs B": r.b["macs"],
            "Δ MACs": r.delta["macs"],
            "Δ activations": r.delta["activations"],
        }
        for r in c.blocks
    ]


def apply_tweaks(spec: Spec, text: str) -> tuple[Spec, dict[str, Any]]:
    """Apply ``key=value`` tweaks (separated by spaces or new lines) on top of a resolved spec.

    Args:
        spec: the starting architecture.
        text: e.g. ``"growth_rate=24 depth=100"``; tuples use commas (``input_shape=64,64,3``).

    Returns:
        The tweaked spec (same builder and preset) and the typed overrides.

    Raises:
        ConfigError: an unknown field or a bad value.
    """
    tokens = text.split()
    if not tokens:
        return spec, {}
    cls = get_builder(spec.builder).config_cls
    overrides = parse_assignments(cls, tokens)
    return spec.with_changes(**overrides), overrides


def compare_specs(
    spec_a: Spec,
    spec_b: Spec,
    label_a: str,
    label_b: str,
    depth: int | None = None,
    batch_size: int = 1,
    dtype: str = DEFAULT_DTYPE,
) -> tuple[Comparison, Analysis, Analysis]:
    """Analyse two resolved specs (cached) and compare them; see :func:`compare_budgets`."""
    check_depth(depth)
    ana_a, ana_b = analyse(spec_a), analyse(spec_b)
    c = compare_budgets(budget(ana_a.graph, batch_size, dtype), budget(ana_b.graph, batch_size, dtype),
                        label_a, label_b, depth)
    return c, ana_a, ana_b


def suggest_tweak(spec: Spec) -> str:
    """A what-if tweak worth trying on ``spec`` (double the width, deepen, halve the input), or ``""``.

    Args:
        spec: the starting architecture.

    Returns:
        ``key=value`` text for :func:`apply_tweaks` that is valid for ``spec``, or ``""``.
    """
    cfg = spec.config
    text = ""
    if isinstance(getattr(cfg, "growth_rate", None), int):
        text = f"growth_rate={2 * cfg.growth_rate}"
    elif isinstance(getattr(cfg, "depth", None), int):
        text = f"depth={56 if cfg.depth != 56 else 110}"
    elif isinstance(getattr(cfg, "filters", None), int):
        text = f"filters={2 * cfg.filters}"
    elif isinstance(getattr(cfg, "filters", None), tuple):
        text = "filters=" + ",".join(str(2 * f) for f in cfg.filters)
    elif isinstance(getattr(cfg, "input_shape", None), tuple) and len(cfg.input_shape) == 3:
        h, w, c = cfg.input_shape
        text = f"input_shape={h // 2},{w // 2},{c}"
    try:
        apply_tweaks(spec, text)
    except ExplorerError:
        return ""
    return text
