"""Plotly figures for budgets and comparisons (no Streamlit here: pages only display them).

Every function takes plain data (:class:`~explorer.budget.Budget`,
:class:`~explorer.compare.Comparison`) and returns a ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.budget import Budget
from explorer.compare import Comparison
from explorer.fmt import human

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
          "activations": "#72B7B2", "up": "#E45756", "down": "#54A24B", "a": "#4C78A8", "b": "#F58518"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(title={"text": title, "y": 0.98, "yanchor": "top"}, height=height,
                      margin={"l": 10, "r": 10, "t": 80, "b": 10},
                      legend={"orientation": "h", "y": 1.0, "x": 0, "xanchor": "left", "yanchor": "bottom"})
    return fig


def hierarchy(b: Budget, metric: str = "params", kind: str = "sunburst") -> go.Figure:
    """The block hierarchy (model > stage > block) sized by ``metric``.

    Args:
        b: the budget.
        metric: ``params``, ``macs``, ``activations``, ... (a :class:`BlockBudget` attribute).
        kind: ``sunburst`` or ``treemap``.

    Returns:
        A figure whose sectors are blocks at every level; hover shows value and share.
    """
    if metric not in LABELS:
        raise ValueError(f"unknown metric {metric!r}")
    blocks = b.hierarchy()
    ids = [ROOT_ID] + [r.path for r in blocks]
    labels = [b.name] + [r.name for r in blocks]
    parents = [""] + [r.parent or ROOT_ID for r in blocks]
    values = [getattr(b.total, metric)] + [getattr(r, metric) for r in blocks]
    text = [human(v) for v in values]
    trace_cls = go.Sunburst if kind == "sunburst" else go.Treemap
    trace = trace_cls(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total", text=text,
        hovertemplate="<b>%{id}</b><br>%{text} " + LABELS[metric] + "<br>%{percentRoot:.1%} of the model<extra></extra>",
        maxdepth=3 if kind == "sunburst" else -1,
    )
    if kind == "sunburst":
        trace.update(insidetextorientation="radial")
    else:
        trace.update(texttemplate="%{label}<br>%{text}")
    fig = go.Figure(trace)
    return _layout(fig, f"{_cap(LABELS[metric])} by block ({human(values[0])} in total)", height=520)


def params_vs_macs(b: Budget, depth: int | None = None) -> go.Figure:
    """Grouped bars: each block's share of the params and of the MACs (percent of the model).

    Args:
        b: the budget.
        depth: cut block paths to this depth (1 = stages); None: leaf blocks.
    """
    rows = b.partition(depth)
    x = [r.path for r in rows]
    fig = go.Figure()
    for metric, name in (("params", "params"), ("macs", "MACs")):
        vals = [100 * b.share(getattr(r, metric), metric) for r in rows]
        fig.add_bar(
            x=x, y=vals, name=f"% of {name}", marker_color=COLORS[metric],
            customdata=[human(getattr(r, metric)) for r in rows],
            hovertemplate="%{x}<br>%{y:.1f}% of " + name + " (%{customdata})<extra></extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="% of the model", xaxis_tickangle=-45)
    return _layout(fig, "Where the parameters and the compute go")


def trainable_split(b: Budget, depth: int | None = None) -> go.Figure:
    """Stacked bars: trainable and non-trainable params per block."""
    rows = b.partition(depth)
    x = [r.path for r in rows]
    fig = go.Figure()
    fig.add_bar(x=x, y=[r.trainable_params for r in rows], name="trainable", marker_color=COLORS["trainable"])
    fig.add_bar(x=x, y=[r.non_trainable_params for r in rows], name="non-trainable",
                marker_color=COLORS["non_trainable"])
    fig.update_layout(barmode="stack", yaxis_title="params", xaxis_tickangle=-45)
    t = b.total
    return _layout(fig, f"Trainable {human(t.trainable_params)} vs non-trainable {human(t.non_trainable_params)}")


def activation_memory(b: Budget, depth: int | None = None) -> go.Figure:
    """Bars: activation (output) memory per block at the budget's batch size and dtype."""
    rows = b.partition(depth)
    y = [b.activation_bytes(r.activations) for r in rows]
    fig = go.Figure(go.Bar(
        x=[r.path for r in rows], y=y, marker_color=COLORS["activations"], text=[human(v, "B") for v in y],
        hovertemplate="%{x}<br>%{text}<extra></extra>",
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
    """Bars of ``B - A`` per block for ``metric``: red where B grows, green where it shrinks."""
    deltas = [r.delta[metric] for r in c.blocks]
    fig = go.Figure(go.Bar(
        x=[r.path for r in c.blocks], y=deltas,
        marker_color=[COLORS["up"] if d > 0 else COLORS["down"] for d in deltas],
        text=[("+" if d > 0 else "") + human(d) if d else "" for d in deltas],
        hovertemplate="%{x}<br>B - A: %{text}<extra></extra>",
    ))
    total = c.totals["delta"][metric]
    fig.update_layout(yaxis_title=f"Δ {LABELS[metric]}", xaxis_tickangle=-45)
    return _layout(fig, f"Δ {LABELS[metric]} per block (B - A = {'+' if total > 0 else ''}{human(total)})")
