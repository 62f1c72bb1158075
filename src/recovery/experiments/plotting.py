"""Plotting conventions shared by the experiments' figures."""

from __future__ import annotations

import numpy as np


def phase_diagram(axis, frequency, xs, ys, *, xlabel: str, ylabel: str, title: str):
    """Draw a success-frequency grid ``frequency[len(ys), len(xs)]`` in grey scale on ``axis``.

    White is 1 (every trial succeeded), black 0; cells are centred on the (equally spaced) grid
    values ``xs`` and ``ys``. Returns the image, for a colour bar.
    """
    frequency = np.asarray(frequency, dtype=float)
    if frequency.shape != (len(ys), len(xs)):
        raise ValueError(f"frequency: expected shape {(len(ys), len(xs))}, got {frequency.shape}")
    half_x = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) / 2 or 0.5
    half_y = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) / 2 or 0.5
    extent = (xs[0] - half_x, xs[-1] + half_x, ys[0] - half_y, ys[-1] + half_y)
    image = axis.imshow(frequency, origin="lower", cmap="gray", vmin=0, vmax=1, extent=extent,
                        aspect="auto", interpolation="nearest")
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=extent[:2], ylim=extent[2:])
    axis.grid(False)
    return image

