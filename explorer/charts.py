"""Plotly figures for budgets and comparisons (no Streamlit here: pages only display them).

Every function takes plain data (:class:`~explorer.budget.Budget`,
:class:`~explorer.compare.Comparison`) and returns a ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.blockpath import stage
from explorer.budget import Budget
from explorer.compare import Comparison
from explorer.fmt import human, signed
from explorer.graph import INPUT_BLOCK

ROOT_ID = "(model)"
LABELS = {
    "params": "params",
    "trainable_params": "trainable params",
    "non_trainable_params": "non-trainable params",
    "macs": "MACs",
    "flops": "FLOPs",
    "activations": "activation elements",
    "layers": "layers",
}
COLORS = {"params": "#4C78A8", "macs": "#F58518", "trainable": "#54A24B", "non_trainable": "#B279A2",
          "activations": "#72B7B2", "delta": "#6C757D", "a": "#4C78A8", "b": "#F58518"}
# One colour per stage (top-level block), the same in every chart whatever sizes the sectors:
# Tableau 10 (distinct for colour-blind readers in its first colours); the input is grey.
STAGE_PALETTE = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
                 "#9C755F", "#BAB0AC")
INPUT_COLOR = "#CED4DA"
ROOT_COLOR = "rgba(0,0,0,0)"
# Plotly's own export: the camera button of every chart saves a PNG at 3x (sharp in slides).
PLOTLY_CONFIG = {"displaylogo": False,
                 "toImageButtonOptions": {"format": "png", "scale": 3, "filename": "architecture-explorer-chart"}}


def chart_config(filename: str) -> dict:
    """Plotly ``config`` for a chart whose export is saved as ``filename``.png."""
    return {**PLOTLY_CONFIG, "toImageButtonOptions": {**PLOTLY_CONFIG["toImageButtonOptions"], "filename": filename}}


def stage_colors(b: Budget) -> dict[str, str]:
    """A stable colour per stage (first part of a block path), in the model's order."""
    out: dict[str, str] = {}
    k = 0
    for la in b.layers:
        st = stage(la.block)
        if st in out:
            continue
        if st == INPUT_BLOCK:
            out[st] = INPUT_COLOR
        else:
            out[st] = STAGE_PALETTE[k % len(STAGE_PALETTE)]
            k += 1
    return out


def _color(colors: dict[str, str], path: str) -> str:
    return colors.get(stage(path), INPUT_COLOR)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title={"text": title, "y": 0.98, "yanchor": "top"}, height=height,
                      margin={"l": 10, "r": 10, "t": 80, "b": 10},
                      legend={"orientation": "h", "y": 1.0, "x": 0, "xanchor": "left", "yanchor": "bottom"})
    return fig


def hierarchy(b: Budget, metric: str = "params", kind: str = "sunburst") -> go.Figure:
    """The block hierarchy (model > stage > block) sized by ``metric``, coloured by stage.

    Args:
        b: the budget.
        metric: ``params``, ``macs``, ``activations``, ... (a :class:`BlockBudget` attribute).
        kind: ``sunburst`` or ``treemap``.

    Returns:
        A figure whose sectors are blocks at every level; every sector's colour is its stage's
        (the same whichever metric sizes it), its label shows name and value when it fits, and
        its hover shows the full path, value and share.
    """
    if metric not in LABELS:
        raise ValueError(f"unknown metric {metric!r}")
    colors = stage_colors(b)
    blocks = b.hierarchy()
    ids = [ROOT_ID] + [r.path for r in blocks]
    labels = [b.name] + [r.name for r in blocks]
    parents = [""] + [r.parent or ROOT_ID for r in blocks]
    values = [getattr(b.total, metric)] + [getattr(r, metric) for r in blocks]
    text = [human(v) for v in values]
    trace_cls = go.Sunburst if kind == "sunburst" else go.Treemap
    trace = trace_cls(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total", text=text,
        marker={"colors": [ROOT_COLOR] + [_color(colors, r.path) for r in blocks],
                "line": {"color": "white", "width": 1}},
        hovertemplate="<b>%{id}</b><br>%{text} " + LABELS[metric] + "<br>%{percentRoot:.1%} of the model<extra></extra>",
        maxdepth=3 if kind == "sunburst" else -1,
        texttemplate="%{label}<br>%{text}",
    )
    if kind == "sunburst":
        trace.update(insidetextorientation="radial")
    fig = go.Figure(trace)
    return _layout(fig, f"{_cap(LABELS[metric])} by block ({human(values[0])} in total)", height=520)


def params_vs_macs(b: Budget, depth: int | None = None) -> go.Figure:
    """Grouped bars: each block's share of the params (solid) and of the MACs (hatched).

    Args:
        b: the budget.
        depth: cut block paths to this depth (1 = stages); None: leaf blocks.
    """
    rows = b.partition(depth)
    colors = stage_colors(b)
    x = [r.path for r in rows]
    fig = go.Figure()
    for metric, name, pattern in (("params", "params", ""), ("macs", "MACs", "/")):
        vals = [100 * b.share(getattr(r, metric), metric) for r in rows]
        fig.add_bar(
            x=x, y=vals, name=f"% of {name}" + (" (hatched)" if pattern else ""),
            marker={"color": [_color(colors, r.path) for r in rows], "pattern": {"shape": pattern},
                    "line": {"color": "#495057", "width": 0.5}},
            customdata=[human(getattr(r, metric)) for r in rows],
            hovertemplate="%{x}<br>%{y:.1f}% of " + name + " (%{customdata})<extra></extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="% of the model", xaxis_tickangle=-45)
    return _layout(fig, "Where the parameters (solid) and the compute (hatched) go")


def trainable_split(b: Budget, depth: int | None = None) -> go.Figure:
    """Trainable (solid) and non-trainable (hatched) params per block, on a log axis.

    A log axis keeps a non-trainable part of 0.5 % (BatchNorm's moving statistics) as readable as
    the trainable one; each bar is labelled with its count, and the title gives the shares.
    """
    rows = b.partition(depth)
    colors = stage_colors(b)
    x = [r.path for r in rows]
    fig = go.Figure()
    for attr, name, pattern in (("trainable_params", "trainable", ""), ("non_trainable_params", "non-trainable", "x")):
        vals = [getattr(r, attr) for r in rows]
        fig.add_bar(
            x=x, y=[v or None for v in vals], name=name + (" (hatched)" if pattern else ""),
            marker={"color": [_color(colors, r.path) for r in rows], "pattern": {"shape": pattern},
                    "line": {"color": "#495057", "width": 0.5}},
            text=[human(v) if v else "" for v in vals], textposition="outside",
            hovertemplate="%{x}<br>" + name + ": %{text}<extra></extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="params (log scale)", yaxis_type="log", xaxis_tickangle=-45)
    t = b.total
    share = 100 * t.non_trainable_params / t.params if t.params else 0.0
    return _layout(fig, f"Trainable {human(t.trainable_params)} vs non-trainable {human(t.non_trainable_params)} "
                        f"({share:.2g} % of all params)")


def activation_memory(b: Budget, depth: int | None = None) -> go.Figure:
    """Bars: activation (output) memory per block at the budget's batch size and dtype."""
    rows = b.partition(depth)
    colors = stage_colors(b)
    y = [b.activation_bytes(r.activations) for r in rows]
    fig = go.Figure(go.Bar(
        x=[r.path for r in rows], y=y, marker_color=[_color(colors, r.path) for r in rows],
        text=[human(v, "B") for v in y], hovertemplate="%{x}<br>%{text}<extra></extra>",
    ))
    fig.update_layout(yaxis_title="bytes", xaxis_tickangle=-45)
    total = b.activation_bytes(b.total.activations)
    return _layout(fig, f"Activation memory: {human(total, 'B')} at batch {b.batch_size}, {b.dtype}")


def compare_bars(c: Comparison, metric: str = "params") -> go.Figure:
    """Grouped bars of A and B per block for ``metric``."""
    x = [r.path for r in c.blocks]
    fig = go.Figure()
    for side, label in (("a", c.label_a), ("b", c.label_b)):
        vals = [getattr(r, side)[metric] for r in c.blocks]
        fig.add_bar(x=x, y=vals, name=f"{side.upper()}: {label}", marker_color=COLORS[side],
                    customdata=[human(v) for v in vals],
                    hovertemplate="%{x}<br>%{customdata}<extra></extra>")
    fig.update_layout(barmode="group", yaxis_title=LABELS[metric], xaxis_tickangle=-45)
    return _layout(fig, f"{_cap(LABELS[metric])} per block: A vs B")


def delta_bars(c: Comparison, metric: str = "params") -> go.Figure:
    """Bars of ``B - A`` per block for ``metric``, in one neutral colour (growing is no error)."""
    deltas = [r.delta[metric] for r in c.blocks]
    fig = go.Figure(go.Bar(
        x=[r.path for r in c.blocks], y=deltas, marker_color=COLORS["delta"],
        text=[signed(d) if d else "" for d in deltas],
        hovertemplate="%{x}<br>B - A: %{text}<extra></extra>",
    ))
    total = c.totals["delta"][metric]
    fig.update_layout(yaxis_title=f"Δ {LABELS[metric]}", xaxis_tickangle=-45)
    return _layout(fig, f"Δ {LABELS[metric]} per block (B - A = {signed(total)})")
