"""Serve MathJax 3 from the built book itself, so that its mathematics renders offline.

By default Sphinx loads MathJax from a CDN: a reader without network access, or an archived
copy of the book years from now, would see raw LaTeX. The MathJax 3 distribution packaged on
PyPI as ``django-static-mathjax`` (pinned in ``requirements.lock``) is copied next to the
book's static files after every HTML build; ``_config.yml`` points ``mathjax_path`` at it.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path


def _distribution() -> Path:
    spec = find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is missing: install django-static-mathjax (make book does)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_distribution(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
