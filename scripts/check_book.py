"""Open every page of the built book in headless Chromium and check it as a reader would see it.

Usage: python scripts/check_book.py [_build/html]   (``make browser``; part of ``make test``)

For each HTML page, the DOM after scripts have run (``chromium --headless --dump-dom``, with
virtual time for MathJax to finish) must show:

- the page's article (it loaded and rendered);
- every piece of maths typeset (each ``.math`` element holds a MathJax ``mjx-container``);
- no error in an output cell (no stderr or traceback output, no ``Traceback`` or ``...Error:`` text);
- every image a local file that decodes as an image;
- every internal link pointing at an existing file, and at an existing id for ``#fragment`` links.

and, opened again at each of :data:`WIDTHS` (a desktop and a phone viewport), its layout:

- the page does not scroll sideways (the document is no wider than the viewport);
- no element reaches past the viewport's right edge, whether it overflows the page or is cut off
  by a box that hides or scrolls it: text, tables of claims, figures and *equations* must fit.
  The one exception, by decision: code (``pre``, highlighted blocks) and printed cell output may
  scroll sideways inside their own box, provided that box fits in the viewport; code lines and
  rerun commands are kept short so that this is rare, not forbidden. There is no list of
  tolerated problems: a display equation too wide for a phone is broken into lines where it is
  written (the library's docstrings included);
- at desktop width every figure in a cell output is shown at >= 75% of its natural width: figures
  are drawn so that their smallest text is >= 12 CSS px at natural size
  (``recovery.book.figures.smallest_text``, tested for every figure), so shown at 75% or more it
  stays >= 9 px. (On a phone figures shrink to the column like any image; a reader zooms.)

The layout is measured inside Chromium by a script added to a temporary copy of the page (next
to it, so that relative links resolve), shown in an iframe of exactly the width checked (headless
Chromium makes no window narrower than 500 px); the findings travel with the page's DOM. One
Chromium per width opens the pages one after another in that iframe (a browser per page took five
minutes for the book's 67 pages at two widths on two cores, mostly in starting browsers; one per
width takes under a minute). Screenshots of the landing page and of one chapter per paper at both
widths are saved in ``_build/screenshots/``.

Problems are printed one per line and the exit status is 1 if there is any.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup
from matplotlib import image as mpimg

CHROMIUM = "chromium"
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception): ", re.MULTILINE)
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
#: Viewport widths every page is opened at, in CSS px: desktop first (the content checks use it), then a phone.
WIDTHS = (1400, 400)
#: Pages photographed at every width (relative to the site root), into ``_build/screenshots/``.
SCREENSHOT_PAGES = ("book/intro.html", "notebooks/flat_sensing.html", "notebooks/linrfm_completion.html")
#: Boxes that may scroll sideways inside the page (code and printed output; see the module docstring).
SCROLLING_ALLOWED = "pre, div.highlight, div.cell_output, div.output"
#: Elements for screen readers only, clipped to nothing on screen (MathJax's MathML copy of each formula).
UNSEEN = "mjx-assistive-mml, .sr-only, .visually-hidden"
#: Smallest share of its natural width a figure may be shown at on the desktop page.
SMALLEST_FIGURE_SCALE = 0.75
LAYOUT_ID = "book-check-layout"
# Measures, once MathJax has typeset the page: the viewport and document widths, the outermost
# elements reaching past the viewport's right edge or past the box that scrolls or clips them,
# and the natural and shown widths of images in cell outputs. Findings go into a hidden <pre>.
LAYOUT_SCRIPT = """<script>
(function () {
  function describe(el) {
    var text = (el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 50);
    var cls = (typeof el.className === "string" && el.className) ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    return "<" + el.tagName.toLowerCase() + cls + ">" + (text ? " '" + text + "'" : "");
  }
  function measure() {
    var width = document.documentElement.clientWidth, wide = [], images = [], seen = [];
    var all = document.body.querySelectorAll("*");
    for (var i = 0; i < all.length; i++) {
      var el = all[i], box = el.getBoundingClientRect(), style = getComputedStyle(el);
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden" || el.id === "__ID__") continue;
      if (el.closest("__UNSEEN__")) continue;
      var scroller = null;
      for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (["auto", "scroll", "hidden", "clip"].indexOf(getComputedStyle(a).overflowX) >= 0) { scroller = a; break; }
      }
      var edge = scroller ? scroller.getBoundingClientRect() : null;
      var pastViewport = box.right > width + 1 && box.left < width;
      var pastBox = edge !== null && (box.right > edge.right + 1 || box.left < edge.left - 1);
      if (!pastViewport && !pastBox) continue;
      if (seen.some(function (a) { return a.contains(el); })) continue;
      seen.push(el);
      var allowed = scroller !== null && scroller.closest("__ALLOWED__") !== null && edge.right <= width + 1;
      if (!allowed) wide.push({element: describe(el), width: Math.round(box.width), right: Math.round(box.right),
                               inside: scroller ? describe(scroller) : null});
    }
    document.querySelectorAll(".cell_output img").forEach(function (img) {
      images.push({src: img.getAttribute("src"), natural: img.naturalWidth,
                   shown: Math.round(img.getBoundingClientRect().width)});
    });
    var out = document.createElement("pre");
    out.id = "__ID__";
    out.style.display = "none";
    out.textContent = JSON.stringify({viewport: width, document: document.documentElement.scrollWidth,
                                      wide: wide, images: images});
    document.body.appendChild(out);
    if (window.parent !== window) window.parent.postMessage(document.documentElement.outerHTML, "*");
  }
  window.addEventListener("load", function () {
    var typeset = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    typeset.then(function () { setTimeout(measure, 500); });
  });
})();
</script>""".replace("__ID__", LAYOUT_ID).replace("__ALLOWED__", SCROLLING_ALLOWED).replace(
    "__UNSEEN__", UNSEEN)


#: Virtual milliseconds a page may take to load and typeset its maths before it counts as not loaded.
PAGE_BUDGET_MS = 20000


def _chromium(*arguments: str, width: int, height: int = 900, pages: int = 1) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--allow-file-access-from-files", f"--virtual-time-budget={PAGE_BUDGET_MS * pages}",
               f"--window-size={width},{height}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120 + 20 * pages, check=False)


# Headless Chromium will not make a window narrower than 500 px, so the pages are shown in an
# iframe of exactly the width checked, inside a frame page that loads them in turn, receives each
# page's rendered DOM (measurements included) by postMessage and keeps it in a numbered <textarea>,
# which --dump-dom returns; a page that sends nothing within its budget is kept empty.
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="view" style="width:__WIDTH__px;height:__HEIGHT__px;border:0;display:block"></iframe>
<script>
var sources = __SOURCES__, index = 0, view = document.getElementById("view"), timer = null;
function keep(text) {
  clearTimeout(timer);
  var kept = document.createElement("textarea");
  kept.id = "book-check-dom-" + index;
  kept.textContent = text;
  document.body.appendChild(kept);
  index += 1;
  next();
}
function next() {
  if (index >= sources.length) return;
  timer = setTimeout(function () { keep(""); }, __BUDGET__);
  view.src = sources[index];
}
window.addEventListener("message", function (event) {
  if (event.source === view.contentWindow) keep(event.data);
});
next();
</script></body></html>"""
KEPT = re.compile(r'<textarea id="book-check-dom-(\d+)">(.*?)</textarea>', re.DOTALL)


@contextmanager
def _framed(pages: list[Path], width: int, height: int) -> Iterator[Path]:
    """Temporary copies of ``pages`` carrying the layout script, each next to its page (so that its
    relative links resolve), and a frame page that shows them in turn in an iframe ``width`` x
    ``height`` px, in the pages' common folder; yields the frame page."""
    folder = Path(os.path.commonpath([page.resolve().parent for page in pages]))
    probes = [page.resolve().with_name(f".check-{width}-{page.name}") for page in pages]
    frame = folder / f".frame-{width}.html"
    try:
        for page, probe in zip(pages, probes, strict=True):
            text = page.read_text(errors="replace")
            probe.write_text(text.replace("</body>", LAYOUT_SCRIPT + "</body>", 1) if "</body>" in text else text)
        sources = json.dumps([probe.relative_to(folder).as_posix() for probe in probes])
        frame.write_text(FRAME.replace("__SOURCES__", sources).replace("__WIDTH__", str(width))
                         .replace("__HEIGHT__", str(height)).replace("__BUDGET__", str(PAGE_BUDGET_MS)))
        yield frame
    finally:
        for probe in probes:
            probe.unlink(missing_ok=True)
        frame.unlink(missing_ok=True)


def render_pages(pages: list[Path], width: int = WIDTHS[0]) -> list[str]:
    """Each page's DOM after its scripts ran, in one headless Chromium, shown ``width`` px wide,
    carrying the layout measurements (see :data:`LAYOUT_SCRIPT`); empty for a page that did not load."""
    if not pages:
        return []
    with _framed(pages, width, 900) as frame:
        result = _chromium("--dump-dom", frame.as_uri(), width=max(width, 500) + 20, pages=len(pages))
    kept = {int(index): html.unescape(text) for index, text in KEPT.findall(result.stdout)}
    return [kept.get(index, "") if result.returncode == 0 else "" for index in range(len(pages))]


def screenshot(page: Path, path: Path, width: int) -> bool:
    """Save what a reader sees of ``page`` at ``width`` px (its first 6,000 or 12,000 px) as ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = 12000 if width < 800 else 6000
    with _framed([page], width, height) as frame:
        result = _chromium(f"--screenshot={path.resolve()}", frame.as_uri(), width=width, height=height)
    return result.returncode == 0 and path.is_file()


def check_layout(page: Path, root: Path, dom: str, width: int) -> list[str]:
    """Layout problems of ``page`` at a ``width`` px viewport, from the measurements in its DOM."""
    name = page.relative_to(root).as_posix()
    soup = BeautifulSoup(dom, "html.parser")
    if soup.find("article") is None or _redirect(page) is not None:
        return []  # reported by check_page; a redirect's target is checked itself
    found = soup.find(id=LAYOUT_ID)
    if found is None:
        return [f"{name} at {width} px: layout not measured (the page's scripts did not finish)"]
    layout = json.loads(found.get_text())
    viewport = layout["viewport"]
    problems = []
    if layout["document"] > viewport + 1:
        problems.append(f"{name} at {width} px: the page scrolls sideways ({layout['document']} px wide)")
    for wide in layout["wide"]:
        where = f", cut off inside {wide['inside']}" if wide["inside"] else ""
        problems.append(f"{name} at {width} px: {wide['element']} reaches {wide['right']} px "
                        f"({wide['width']} px wide){where}")
    if width == WIDTHS[0]:
        for image in layout["images"]:
            if image["natural"] and image["shown"] < SMALLEST_FIGURE_SCALE * image["natural"]:
                problems.append(f"{name} at {width} px: figure {image['src']!r} shown at {image['shown']} of "
                                f"{image['natural']} px, its text below 9 px")
    return problems


@cache
def ids_of(page: Path) -> frozenset[str]:
    """Element ids of a static page (fragment targets exist before any script runs)."""
    soup = BeautifulSoup(page.read_text(errors="replace"), "html.parser")
    return frozenset(tag["id"] for tag in soup.find_all(id=True))


def check_page(page: Path, root: Path, dom: str) -> list[str]:
    """Problems a reader would meet on ``page`` (relative to the site ``root``), given its DOM."""
    name = page.relative_to(root).as_posix()
    redirect = _redirect(page)
    if redirect is not None:  # e.g. index.html -> the first chapter: the target is checked itself
        target = _local_target(page, root, redirect.get("content", "").partition("url=")[2].strip())
        return [] if target is not None and target.is_file() else [f"{name}: redirects to a missing page"]
    soup = BeautifulSoup(dom, "html.parser")
    if soup.find("article") is None:
        return [f"{name}: did not load (no article in the rendered page)"]
    problems = []
    maths = soup.select(".math")
    untypeset = [math for math in maths if math.find("mjx-container") is None]
    if untypeset:
        problems.append(f"{name}: {len(untypeset)} of {len(maths)} formulas not typeset, e.g. "
                        f"{untypeset[0].get_text()[:60]!r}")
    for output in soup.select(".cell_output"):
        bad = output.select(".output.stderr, .output.traceback, .output.error")
        text = output.get_text()
        if bad or ERROR_TEXT.search(text):
            problems.append(f"{name}: error text in an output cell: {text.strip()[:80]!r}")
    for img in soup.find_all("img"):
        target = _local_target(page, root, img.get("src", ""))
        if target is None:
            problems.append(f"{name}: image {img.get('src')!r} is not a file of the book")
        elif not _decodes(target):
            problems.append(f"{name}: image {img.get('src')!r} is missing or does not decode")
    for link in soup.find_all("a", href=True):
        href = link["href"]
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("mailto:"):
            continue
        target = page if not parts.path else _local_target(page, root, parts.path)
        if target is None or not target.exists():
            problems.append(f"{name}: broken link {href!r}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
            problems.append(f"{name}: link {href!r} names a missing anchor")
    return problems


def _redirect(page: Path):
    """The page's ``<meta http-equiv="refresh">`` element, if it is a redirect."""
    return BeautifulSoup(page.read_text(errors="replace"), "html.parser").find(
        "meta", attrs={"http-equiv": re.compile("^refresh$", re.IGNORECASE)})


def _local_target(page: Path, root: Path, reference: str) -> Path | None:
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    target = (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_relative_to(root.resolve()) else None


def _decodes(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.suffix == ".svg":
        return BeautifulSoup(path.read_text(errors="replace"), "html.parser").find("svg") is not None
    try:
        mpimg.imread(path)
    except (OSError, ValueError, SyntaxError):
        return False
    return True


def check_site(root: Path, renderer: Callable[[list[Path], int], list[str]] = render_pages,
               widths: tuple[int, ...] = WIDTHS) -> tuple[int, list[str]]:
    """Check every page under ``root`` at every width (the widths rendered side by side); return the
    number of pages and the problems found (content problems from the first width's DOM, layout
    problems from each)."""
    pages = sorted(page for page in root.rglob("*.html")
                   if page.name not in SKIPPED_PAGES and not page.name.startswith(".")
                   and "_static" not in page.parts and "_sources" not in page.parts)
    with ThreadPoolExecutor(len(widths)) as pool:
        rendered = dict(zip(widths, pool.map(lambda width: renderer(pages, width), widths), strict=True))
    doms = {(page, width): dom for width in widths for page, dom in zip(pages, rendered[width], strict=True)}
    problems = []
    for page in pages:
        problems += check_page(page, root, doms[page, widths[0]])
        for width in widths:
            problems += check_layout(page, root, doms[page, width], width)
    return len(pages), problems


def take_screenshots(root: Path, out: Path, widths: tuple[int, ...] = WIDTHS) -> list[Path]:
    """Screenshots of :data:`SCREENSHOT_PAGES` at every width, as ``out/PAGE-WIDTH.png``."""
    saved = []
    for name in SCREENSHOT_PAGES:
        page = root / name
        if not page.is_file():
            continue
        for width in widths:
            path = out / f"{Path(name).stem}-{width}.png"
            if screenshot(page, path, width):
                saved.append(path)
    return saved


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html")
    if not (root / "index.html").is_file():
        print(f"check_book: no built book at {root} (run `make book` first)", file=sys.stderr)
        return 2
    count, problems = check_site(root)
    for problem in problems:
        print(problem)
    shots = take_screenshots(root, root.parent / "screenshots")
    print(f"check_book: {count} pages opened in headless Chromium at {' and '.join(map(str, WIDTHS))} px, "
          f"{len(problems)} problems; {len(shots)} screenshots in {root.parent / 'screenshots'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
