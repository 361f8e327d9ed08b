"""Plotly figures of training curves (no Streamlit here): loss or accuracy against the step.

For every run: the training metric per logged batch (a line; Keras's running mean over the
epoch, optionally smoothed), the training metric per epoch (markers) and the validation metric
per epoch (dashed, diamonds). Several runs overlay in distinct colours, one legend entry per
run: the what-if view.
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
    runs: Sequence[tuple[str, Sequence[dict[str, Any]]]], metric: str = "loss", smoothing: float = 0.0,
    height: int = 360,
) -> go.Figure:
    """Training and validation curves of one metric for one or more runs.

    Args:
        runs: ``(label, points)`` pairs; points are store rows with ``kind`` (batch/epoch),
            ``step``, ``epoch`` and metric columns.
        metric: ``"loss"`` or ``"accuracy"``.
        smoothing: EMA weight for the per-batch training line (0 to 0.99).
        height: figure height in pixels.

    Returns:
        A plotly figure (x: step; y: the metric).
    """
    fig = go.Figure()
    several = len(runs) > 1
    for i, (label, points) in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
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
