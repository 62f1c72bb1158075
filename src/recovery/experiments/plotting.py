"""Plotting conventions shared by the experiments' figures.

Figures are designed for the book's content column (about 785 CSS px, :mod:`recovery.book.figures`):
at most :data:`WIDTH` inches wide, so that at the style's 110 dpi they are shown at their natural
size and the smallest (8 pt) text renders at about 12 CSS px; panels go in grids, not strips.
Parameters belong in the notebook's caption, not in titles; mathematics is written as mathtext;
legends sit beside or below the data (:func:`legend_below`), never on it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from matplotlib.colors import Normalize

#: Width of every figure, in inches (7 in at 110 dpi: 770 px, within the content column).
WIDTH = 7.0


def edges(values) -> np.ndarray:
    """Cell edges halfway between grid values, extended by half a step at both ends (a single
    value gets a cell of width 1 around it)."""
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return values[0] + np.array([-0.5, 0.5])
    middle = (values[1:] + values[:-1]) / 2
    return np.concatenate([[2 * values[0] - middle[0]], middle, [2 * values[-1] - middle[-1]]])


def phase_diagram(axis, frequency, xs, ys, *, xlabel: str, ylabel: str, title: str, cmap: str = "gray",
                  norm: Normalize | None = None):
    """Draw a grid ``frequency[len(ys), len(xs)]`` as axis-aligned rectangles on ``axis``.

    By default a success frequency in grey scale: white is 1 (every trial succeeded), black 0.
    Cells are centred on the grid values ``xs`` and ``ys`` (equally spaced or not), NaN cells are
    left in the axis's face colour. Returns the mesh, for a colour bar.
    """
    frequency = np.asarray(frequency, dtype=float)
    if frequency.shape != (len(ys), len(xs)):
        raise ValueError(f"frequency: expected shape {(len(ys), len(xs))}, got {frequency.shape}")
    x_edges, y_edges = edges(xs), edges(ys)
    mesh = axis.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(frequency), cmap=cmap,
                           norm=norm or Normalize(0, 1), edgecolors="face")
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(x_edges[0], x_edges[-1]),
             ylim=(y_edges[0], y_edges[-1]))
    axis.grid(False)
    return mesh


def difference_map(axis, difference, xs, ys, *, xlabel: str, ylabel: str, title: str):
    """Draw a difference of two frequencies (or any signed grid) in a diverging colour map centred
    at 0 (white: equal), its range symmetric and no wider than the largest difference needs, so
    that a difference of 0.1 is as visible as its sign. Returns the mesh, for a colour bar."""
    difference = np.asarray(difference, dtype=float)
    largest = np.nanmax(np.abs(difference)) if np.isfinite(difference).any() else 0.0
    limit = max(np.ceil(largest * 10) / 10, 0.1)
    return phase_diagram(axis, difference, xs, ys, xlabel=xlabel, ylabel=ylabel, title=title,
                         cmap="RdBu", norm=Normalize(-limit, limit))


def legend_below(fig, axis, ncol: int = 2, **kwargs) -> None:
    """One legend for the figure, from ``axis``'s labelled artists, below the panels."""
    handles, labels = axis.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, **kwargs)


def latex(value: float) -> str:
    """``value`` as mathtext (without the dollars): ``1e-06`` -> ``10^{-6}``, ``2.5e-04`` ->
    ``2.5 \\cdot 10^{-4}``, ``0.5`` -> ``0.5``."""
    if value == 0 or 1e-2 < abs(value) < 1e3:
        return f"{value:g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa} \\cdot {power}"


def fraction(value: float) -> str:
    """``value`` as mathtext (without the dollars), a simple fraction where it is one:
    ``0.25`` -> ``1/4``, ``2.0`` -> ``2``, ``0.3`` -> ``0.3``."""
    simple = Fraction(value).limit_denominator(16)
    if float(simple) != value or simple.denominator == 1:
        return f"{value:g}"
    return f"{simple.numerator}/{simple.denominator}"
