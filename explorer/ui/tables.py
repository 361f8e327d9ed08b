"""The Build page's two tables (blocks, layers) as Arrow tables, built once per graph.

``st.dataframe`` turns a list of dicts into pandas and then into Arrow on every run; for
DenseNet-201's 709 layers that was the largest part of a warm page run. The rows are a function
of the graph alone, so they are built once per graph object (:mod:`explorer.memo`) and handed to
Streamlit as a ``pyarrow.Table``, which it serialises without pandas.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from explorer.fmt import format_shape
from explorer.graph import ModelGraph
from explorer.memo import per_graph
from explorer.receptive import Field, block_fields, receptive_fields, spatial_rank
from explorer.summary import block_rows


def field_text(values: list | None) -> str:
    """``[35, 35]`` -> ``35x35``; unknown sizes are ``?``; no spatial axes is ``-``."""
    return "x".join("?" if v is None else str(v) for v in values) if values else "-"


def _rf(f: Field, whole_note: bool = False) -> dict[str, str]:
    size, jump = f.as_lists()
    return {"RF": field_text(size) + (" (global)" if whole_note and f.whole else ""), "jump": field_text(jump)}


def has_fields(graph: ModelGraph) -> bool:
    """True when the model has spatial axes (the tables then show receptive fields)."""
    return spatial_rank(graph) > 0


@per_graph()
def block_table(graph: ModelGraph) -> pa.Table:
    """One row per leaf block: layers, output shape, params (and RF/jump for spatial models)."""
    spatial = has_fields(graph)
    per_block = block_fields(graph, receptive_fields(graph)) if spatial else {}
    rows: list[dict[str, Any]] = [
        {"block": r.path, "layers": r.layers, "output": format_shape(r.output_shape), "params": r.params,
         **(_rf(per_block[r.path], whole_note=True) if spatial else {})}
        for r in block_rows(graph)
    ]
    return pa.Table.from_pylist(rows)


@per_graph()
def layer_table(graph: ModelGraph) -> pa.Table:
    """One row per layer: type, block, config summary, output shapes, params (and RF/jump)."""
    fields = receptive_fields(graph) if has_fields(graph) else None
    rows: list[dict[str, Any]] = [
        {"layer": n.id, "type": n.cls, "block": n.block, "config": n.summary,
         "output": ", ".join(format_shape(s) for s in n.output_shapes), "params": n.params,
         **(_rf(fields[n.id]) if fields is not None else {})}
        for n in graph.nodes
    ]
    return pa.Table.from_pylist(rows)
