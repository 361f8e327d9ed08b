"""Plotly figures of training curves (no Streamlit here): loss or accuracy against the step.

For every run: the training metric per logged batch (a line; Keras's running mean over the
epoch, optionally smoothed), the training metric per epoch (markers) and the validation metric
per epoch (dashed, diamonds). Several runs overlay in distinct colours, one legend entry per
run: the what-if view. A run's colour comes with it (``(label, points, colour)``), so it stays
the same whatever else is shown.

Experiments: :func:`experiment_scatter` (final validation accuracy against params, MACs or
training time, the Pareto front marked) and :func:`grad_heatmap` (blocks x steps of gradient
norms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def smooth(values: Sequence[float | None], weight: float) -> list[float | None]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing slider).

    Args:
        values: the series (None values are passed through).
        weight: 0 (no smoothing) to below 1 (heavy smoothing).

    Returns:
        The smoothed series, same length.
    """
    if weight <= 0:
        return list(values)
    out: list[float | None] = []
    acc, n = 0.0, 0
    for v in values:
        if v is None:
            out.append(None)
            continue
        acc = acc * weight + (1 - weight) * v
        n += 1
        out.append(acc / (1 - weight**n))
    return out


def curves_figure(
    runs: Sequence[tuple], metric: str = "loss", smoothing: float = 0.0,
    height: int = 360,
) -> go.Figure:
    """Training and validation curves of one metric for one or more runs.

    Args:
        runs: ``(label, points)`` or ``(label, points, colour)``; points are store rows with
            ``kind`` (batch/epoch), ``step``, ``epoch`` and metric columns.
        metric: ``"loss"`` or ``"accuracy"``.
        smoothing: EMA weight for the per-batch training line (0 to 0.99).
        height: figure height in pixels.

    Returns:
        A plotly figure (x: step; y: the metric).
    """
    fig = go.Figure()
    several = len(runs) > 1
    for i, (label, points, *rest) in enumerate(runs):
        color = rest[0] if rest else PALETTE[i % len(PALETTE)]
        # One legend entry per run when overlaying (line styles explained in the caption/docstring).
        names = ((label, label, label) if several
                 else ("train (per step)", "train (per epoch)", "validation (per epoch)"))
        batch = [p for p in points if p["kind"] == "batch" and p.get(metric) is not None]
        epoch = [p for p in points if p["kind"] == "epoch"]
        if batch:
            fig.add_trace(go.Scatter(
                x=[p["step"] for p in batch], y=smooth([p[metric] for p in batch], smoothing),
                mode="lines", name=names[0], line={"color": color, "width": 1.5},
                legendgroup=str(i), hovertemplate="step %{x}<br>%{y:.4f}<extra></extra>",
            ))
        train_epoch = [p for p in epoch if p.get(metric) is not None]
        if train_epoch:
            fig.add_trace(go.Scatter(
                x=[p["step"] for p in train_epoch], y=[p[metric] for p in train_epoch],
                mode="markers", name=names[1], marker={"color": color, "size": 8},
                legendgroup=str(i), showlegend=not several, text=[f"epoch {p['epoch']}" for p in train_epoch],
                hovertemplate="%{text}<br>%{y:.4f}<extra></extra>",
            ))
        val = [p for p in epoch if p.get(f"val_{metric}") is not None]
        if val:
            fig.add_trace(go.Scatter(
                x=[p["step"] for p in val], y=[p[f"val_{metric}"] for p in val],
                mode="lines+markers", name=names[2], showlegend=not several,
                line={"color": color, "dash": "dash"}, marker={"color": color, "symbol": "diamond", "size": 9},
                legendgroup=str(i), text=[f"epoch {p['epoch']}" for p in val],
                hovertemplate="%{text}<br>%{y:.4f}<extra></extra>",
            ))
    title = {"loss": "Loss", "accuracy": "Accuracy"}.get(metric, metric)
    fig.update_layout(
        title=title, height=height, margin={"l": 50, "r": 20, "t": 40, "b": 40},
        xaxis_title="step (batches)", yaxis_title=metric,
        legend={"orientation": "h", "y": -0.22, "yanchor": "top"},
        uirevision=metric,  # keep the user's zoom while the curves update
    )
    if metric == "accuracy":
        fig.update_yaxes(rangemode="tozero")
    return fig


AXES = {"params": "parameters", "macs": "MACs per image", "train_seconds": "training time (s)"}


def experiment_scatter(rows: Sequence[dict[str, Any]], x: str = "params", metric: str = "val_accuracy",
                       height: int = 340) -> go.Figure:
    """Final accuracy against a cost for an experiment's runs, the Pareto front drawn as a step line.

    Args:
        rows: ``{"run_id", "label", "color", x, metric}`` per run (runs without both values are skipped).
        x: ``params``, ``macs`` or ``train_seconds``.
        metric: the score (higher is better).
        height: figure height in pixels.

    Returns:
        A plotly figure: one marker per run in its colour; front members ringed and joined.
    """
    from explorer.training.experiment import pareto_front

    pts = [r for r in rows if r.get(x) is not None and r.get(metric) is not None]
    fig = go.Figure()
    front = [pts[i] for i in pareto_front([(float(r[x]), float(r[metric])) for r in pts])]
    if len(front) > 1:
        fig.add_trace(go.Scatter(
            x=[r[x] for r in front], y=[r[metric] for r in front], mode="lines", name="Pareto front",
            line={"color": "#888", "dash": "dot", "shape": "hv"}, hoverinfo="skip",
        ))
    on_front = {r["run_id"] for r in front}
    fig.add_trace(go.Scatter(
        x=[r[x] for r in pts], y=[r[metric] for r in pts], mode="markers", name="runs", showlegend=False,
        marker={"color": [r.get("color", PALETTE[0]) for r in pts], "size": 13,
                "line": {"color": ["#222" if r["run_id"] in on_front else "#fff" for r in pts], "width": 2}},
        text=[f"#{r['run_id']} {r['label']}" + (" (Pareto front)" if r["run_id"] in on_front else "") for r in pts],
        hovertemplate="%{text}<br>%{x:,}<br>" + metric + " %{y:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=f"{metric} vs {AXES.get(x, x)}", height=height, margin={"l": 50, "r": 20, "t": 40, "b": 40},
        xaxis_title=AXES.get(x, x), yaxis_title=metric, uirevision=f"exp-{x}",
    )
    if x in ("params", "macs"):
        fig.update_xaxes(type="log")
    return fig


def grad_heatmap(norms: dict[str, list[list[float]]], title: str = "Gradient norm per block",
                 height: int | None = None) -> go.Figure:
    """Blocks (rows, in model order) x steps (columns) of gradient norms, on a log colour scale.

    Args:
        norms: ``{block path: [[step, norm], ...]}`` (as :meth:`RunStore.grad_norms` gives).
        title: the figure's title.
        height: pixels (default: grows with the number of blocks).

    Returns:
        A plotly heat map (hover: block, step, norm); empty when there are no norms.
    """
    import math

    blocks = list(norms)
    steps = sorted({int(s) for series in norms.values() for s, _v in series})
    col = {s: j for j, s in enumerate(steps)}
    z: list[list[float | None]] = [[None] * len(steps) for _ in blocks]
    raw: list[list[float | None]] = [[None] * len(steps) for _ in blocks]
    for i, b in enumerate(blocks):
        for s, v in norms[b]:
            if v is not None and v > 0 and math.isfinite(v):
                z[i][col[int(s)]] = math.log10(v)
                raw[i][col[int(s)]] = v
    fig = go.Figure(go.Heatmap(
        z=z, x=steps, y=blocks, customdata=raw, colorscale="Reds", colorbar={"title": "log10 norm"},
        hovertemplate="%{y}<br>step %{x}<br>norm %{customdata:.3g}<extra></extra>",
    ))
    fig.update_layout(title=title, height=height or max(260, 60 + 18 * len(blocks)),
                      margin={"l": 120, "r": 20, "t": 40, "b": 40}, xaxis_title="step",
                      yaxis={"autorange": "reversed"}, uirevision="grad")
    return fig
