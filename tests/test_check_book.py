"""The book's browser check reports what a reader would meet: a synthetic site with one good page
and one page carrying each kind of defect (the DOM is read from the files, standing in for Chromium)."""

from __future__ import annotations

import html
import importlib.util
import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.kernel_independent  # the HTML of a synthetic site: make portable skips it

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


def measured(dom: str, width: int, layout: dict | None = None) -> str:
    """``dom`` as the browser check's renderer returns it: with the layout measurements (by default,
    nothing too wide) in the hidden element its script adds."""
    layout = {"viewport": width, "document": width, "wide": [], "images": [], **(layout or {})}
    element = f'<pre id="{check_book.LAYOUT_ID}">{html.escape(json.dumps(layout))}</pre>'
    return dom.replace("</body>", element + "</body>") if "<article" in dom else dom


def from_files(pages: list[Path], width: int) -> list[str]:
    return [measured(page.read_text(), width) for page in pages]


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
    count, problems = check_book.check_site(root, renderer=from_files)
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
    count, problems = check_book.check_site(tmp_path, renderer=from_files)
    assert (count, problems) == (1, ["index.html: redirects to a missing page"])


PLAIN = "<html><body><article><p>Nothing but text.</p></article></body></html>"


def test_layout_problems_are_reported_at_the_width_they_occur(tmp_path):
    """Measurements the in-page script reports become one line each: a page that scrolls sideways
    or an element past the viewport (at any width), a figure shrunk below 75% (at desktop width)."""
    (tmp_path / "page.html").write_text(PLAIN)
    wide = {"element": "<mjx-math> 'D1 = ...'", "width": 876, "right": 892, "inside": "<mjx-container>"}
    shrunk = {"src": "_images/plot.png", "natural": 1772, "shown": 784}
    layouts = {1400: {"images": [shrunk, {"src": "_images/fits.png", "natural": 770, "shown": 770}]},
               400: {"document": 520, "wide": [wide], "images": [shrunk]}}
    count, problems = check_book.check_site(
        tmp_path, renderer=lambda pages, width: [measured(page.read_text(), width, layouts[width]) for page in pages])
    assert count == 1
    assert problems == [
        "page.html at 1400 px: figure '_images/plot.png' shown at 784 of 1772 px, its text below 9 px",
        "page.html at 400 px: the page scrolls sideways (520 px wide)",
        "page.html at 400 px: <mjx-math> 'D1 = ...' reaches 892 px (876 px wide), cut off inside <mjx-container>",
    ]
    unmeasured = check_book.check_layout(tmp_path / "page.html", tmp_path, PLAIN, 400)
    assert unmeasured == ["page.html at 400 px: layout not measured (the page's scripts did not finish)"]


PHONE = f"""<html><body style="margin:0"><article>
<p>short text that wraps as it should at any width, however narrow the screen is</p>
<div style="width:900px">a fixed-width block</div>
<div style="overflow-x:hidden;width:300px"><span style="display:inline-block;width:700px">long equation</span></div>
<div class="highlight"><pre style="overflow-x:auto">x = 1  # a long code line scrolls in its own box {"." * 80}</pre></div>
</article></body></html>"""


@pytest.mark.skipif(shutil.which(check_book.CHROMIUM) is None, reason="no chromium here")
def test_the_in_page_measurement_finds_overflow_in_chromium(tmp_path):
    """The real renderer at 400 px: a block wider than the viewport and content cut off by its box
    are reported; a code block scrolling inside its own box is not."""
    (tmp_path / "phone.html").write_text(PHONE)
    dom = check_book.render_pages([tmp_path / "phone.html"], 400)[0]
    layout = json.loads(BeautifulSoup(dom, "html.parser").find(id=check_book.LAYOUT_ID).get_text())
    assert layout["viewport"] == 400  # not Chromium's narrowest window (500 px): the page is framed
    problems = check_book.check_layout(tmp_path / "phone.html", tmp_path, dom, 400)
    assert any("the page scrolls sideways" in problem for problem in problems), problems
    assert any("a fixed-width block" in problem for problem in problems), problems
    assert any("'long equation'" in problem and "cut off inside" in problem for problem in problems), problems
    assert not any("long code line" in problem for problem in problems), problems
    assert [path.name for path in tmp_path.iterdir()] == ["phone.html"]  # temporary copies removed


@pytest.mark.skipif(shutil.which(check_book.CHROMIUM) is None, reason="no chromium here")
def test_one_browser_renders_every_page_in_order_past_a_page_that_never_reports(tmp_path):
    """Pages in different folders come back in order, each with its own measurements; a page that
    sends nothing (here: no </body> for the measuring script to go before) comes back empty after its
    budget, and the pages after it are still rendered."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "c").mkdir(parents=True)
    pages = [tmp_path / "a" / "first.html", tmp_path / "b" / "c" / "second.html", tmp_path / "a" / "silent.html",
             tmp_path / "third.html"]
    for page in pages:
        page.write_text(f"<html><body><article><p>page {page.stem}</p></article></body></html>")
    pages[2].write_text("<p>no closing body tag, so no measurement is sent</p>")
    doms = check_book.render_pages(pages, 400)
    assert doms[2] == ""
    for page, dom in zip(pages, doms, strict=True):
        if page.stem != "silent":
            soup = BeautifulSoup(dom, "html.parser")
            assert soup.find("article").get_text() == f"page {page.stem}"
            assert json.loads(soup.find(id=check_book.LAYOUT_ID).get_text())["viewport"] == 400
    assert sorted(path for path in tmp_path.rglob("*") if path.is_file()) == sorted(pages)  # copies removed
