"""Exports at any size: a graph too tall for one readable PNG comes as full-size tiles."""

from __future__ import annotations

import io
import zipfile

import pytest

from explorer.render import PNG_DPI, TILE_PX, have_dot, needs_tiles, png_size, png_tiles_zip, svg, svg_size, tile_grid

pytestmark = pytest.mark.skipif(not have_dot(), reason="graphviz is not installed")


def chain(n: int) -> str:
    """A DOT chain of ``n`` labelled boxes (tall like a layer view of a deep model)."""
    nodes = "\n".join(f'  n{i} [label="layer {i}\\nConv2D 3x3"];' for i in range(n))
    edges = "\n".join(f"  n{i} -> n{i + 1};" for i in range(n - 1))
    return f"digraph g {{\n  node [shape=box];\n{nodes}\n{edges}\n}}\n"


def test_a_small_graph_is_one_png():
    w, h = svg_size(svg(chain(5)))
    assert not needs_tiles(w, h) and tile_grid(w, h) == (1, 1)


def test_a_tall_graph_comes_as_readable_tiles():
    dot = chain(250)
    w, h = svg_size(svg(dot))
    assert needs_tiles(w, h)
    cols, rows = tile_grid(w, h)
    zf = zipfile.ZipFile(io.BytesIO(png_tiles_zip(dot, "chain")))
    tiles = [zf.read(n) for n in sorted(zf.namelist()) if n.endswith(".png")]
    assert len(tiles) == cols * rows and rows > 1 and "README.txt" in zf.namelist()
    sizes = [png_size(t) for t in tiles]
    assert all(max(s) <= TILE_PX + 1 for s in sizes)
    # full size, not scaled down: the tiles together are as tall as the drawing at PNG_DPI
    natural = h * PNG_DPI / 72
    assert abs(sum(s[1] for s in sizes) / cols - natural) < 0.02 * natural
    assert min(s[0] for s in sizes) >= 0.9 * w * PNG_DPI / 72 / cols
