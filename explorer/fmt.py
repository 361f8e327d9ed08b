"""Numbers and shapes as text, in one place: counts, bytes, shapes.

Every page, chart, table and DOT label formats through these, so a number reads the same
everywhere (``1.23M`` params on Budget is ``1.23M`` on Compare).
"""

from __future__ import annotations

Shape = tuple  # (None, 32, 32, 16): batch dimension first


def human(n: float, unit: str = "") -> str:
    """``1234567`` -> ``1.23M`` (K, M, G, T); for bytes pass ``unit="B"`` (``4.2 MB``)."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{suffix}{unit}" if not unit else f"{n / factor:.3g} {suffix}{unit}"
    return f"{n:g}{(' ' + unit) if unit else ''}"


def format_bytes(n: float) -> str:
    """``4404019`` -> ``4.4 MB``."""
    return human(n, "B")


def signed(n: float, unit: str = "") -> str:
    """A signed delta: ``+1.2M``, ``−300`` (``0`` for no change)."""
    if n == 0:
        return "0"
    return ("+" if n > 0 else "−") + human(abs(n), unit)


def format_count(n: int) -> str:
    """A count for graph labels: exact below 10,000 (``9,216``), else short (``1.23M``, ``47.6k``)."""
    if n < 10_000:
        return f"{n:,}"
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def format_shape(shape: Shape | None) -> str:
    """``(None, 32, 32, 16)`` -> ``32x32x16`` (the batch dimension dropped; unknown sizes ``?``)."""
    if not shape:
        return "-"
    dims = shape[1:] if shape[0] is None else shape
    return "x".join("?" if d is None else str(d) for d in dims) or "scalar"
