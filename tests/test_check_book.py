"""The book's browser check reports what a reader would meet: a synthetic site with one good page
and one page carrying each kind of defect (the DOM is read from the files, standing in for Chromium)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_book.py"
spec = importlib.util.spec_from_file_location("check_book", SCRIPT)
check_book = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_book)

GOOD = """<html><body><article id="top">
<p>Inline <span class="math"><mjx-container>x</mjx-container></span>.</p>
<img src="_images/plot.png"/><a href="#top">up</a><a href="other.html#section">there</a>
<a href="https://example.org">outside</a>
<div class="cell_output"><div class="output stream">relative error 1e-9</div></div>
</article></body></html>"""
BAD = """<html><body><article>
<span class="math">\\(x^2\\)</span>
<img src="_images/missing.png"/><img src="_images/corrupt.png"/>
<a href="nowhere.html">gone</a><a href="other.html#no-such-anchor">lost</a>
<div class="cell_output"><div class="output stream">Traceback (most recent call last):</div></div>
<div class="cell_output"><div class="output stderr">warning</div></div>
</article></body></html>"""


def site(tmp_path: Path) -> Path:
    (tmp_path / "_images").mkdir()
    plt.imsave(tmp_path / "_images" / "plot.png", np.eye(4))
    (tmp_path / "_images" / "corrupt.png").write_bytes(b"not a png")
    (tmp_path / "good.html").write_text(GOOD)
    (tmp_path / "bad.html").write_text(BAD)
    (tmp_path / "other.html").write_text('<html><body><article><h2 id="section">S</h2></article></body></html>')
    (tmp_path / "blank.html").write_text("<html><body></body></html>")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    return tmp_path


def test_each_defect_is_reported_and_a_good_page_passes(tmp_path):
    root = site(tmp_path)
    count, problems = check_book.check_site(root, renderer=lambda page: page.read_text())
    assert count == 5
    assert not [problem for problem in problems if problem.startswith(("good.html", "other.html", "index.html"))]
    bad = [problem for problem in problems if problem.startswith("bad.html")]
    expected = ["1 of 1 formulas not typeset", "missing.png", "corrupt.png", "broken link 'nowhere.html'",
                "'other.html#no-such-anchor' names a missing anchor", "Traceback", "error text"]
    for fragment in expected:
        assert any(fragment in problem for problem in bad), fragment
    assert [problem for problem in problems if problem.startswith("blank.html")] == [
        "blank.html: did not load (no article in the rendered page)"]


def test_a_redirect_to_a_missing_page_is_reported(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="refresh" content="0; url=gone.html" />')
    count, problems = check_book.check_site(tmp_path, renderer=lambda page: page.read_text())
    assert (count, problems) == (1, ["index.html: redirects to a missing page"])
