"""Every figure is legible where the book shows it: drawn from its committed paper data, its
smallest text renders at >= 9 CSS px in the book's ~785 px content column (the notebook shows
the PNG at the style's dpi, at natural size or shrunk to the column, whichever is smaller)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from recovery.book import figures

pytestmark = pytest.mark.kernel_independent  # text sizes of figures drawn from committed data: make portable skips it

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.mark.parametrize("figure_id", list(figures.registry()))
def test_every_text_of_every_figure_is_at_least_9_css_px_in_the_column(figure_id):
    rows, record = figures.load(figure_id, RESULTS / "paper")
    fig = figures.draw(figure_id, rows, record["parameters"])
    try:
        with figures.style():
            size, text = figures.smallest_text(fig)
    finally:
        plt.close(fig)
    assert size >= figures.SMALLEST_TEXT_PX, f"{figure_id}: {text!r} renders at {size:.1f} CSS px"


def test_a_wide_strip_fails_the_check():
    """The measure is not vacuous: a 16-inch strip, shrunk to the column, renders 8 pt at ~5 px;
    the same text on a figure that fits the column renders at its natural 12 px."""
    with figures.style():
        wide, _ = plt.subplots(1, 4, figsize=(16, 3.9))
        narrow, axis = plt.subplots(figsize=(7, 3.9))
        axis.set_title("title", fontsize=8)
        wide_size, _ = figures.smallest_text(wide)
        narrow_size, _ = figures.smallest_text(narrow)
    plt.close(wide)
    plt.close(narrow)
    assert wide_size < figures.SMALLEST_TEXT_PX
    assert narrow_size == pytest.approx(8 / 72 * 110)  # tick labels and the title: 8 pt at 110 dpi
