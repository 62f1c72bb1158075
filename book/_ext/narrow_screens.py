"""Add the book's style sheet for phone widths (``book/_static/narrow.css``) to every page."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "_static"


def _static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", _static_path)
    app.add_css_file("narrow.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
