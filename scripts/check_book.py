"""Open every page of the built book in headless Chromium and check it as a reader would see it.

Usage: python scripts/check_book.py [_build/html]   (``make browser``; part of ``make test``)

For each HTML page, the DOM after scripts have run (``chromium --headless --dump-dom``, with
virtual time for MathJax to finish) must show:

- the page's article (it loaded and rendered);
- every piece of maths typeset (each ``.math`` element holds a MathJax ``mjx-container``);
- no error in an output cell (no stderr or traceback output, no ``Traceback`` or ``...Error:`` text);
- every image a local file that decodes as an image;
- every internal link pointing at an existing file, and at an existing id for ``#fragment`` links.

Problems are printed one per line and the exit status is 1 if there is any.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup
from matplotlib import image as mpimg

CHROMIUM = "chromium"
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception): ", re.MULTILINE)
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


def render(page: Path) -> str:
    """The page's DOM after its scripts ran, from headless Chromium."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
               "--dump-dom", page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        return ""
    return result.stdout


@cache
def ids_of(page: Path) -> frozenset[str]:
    """Element ids of a static page (fragment targets exist before any script runs)."""
    soup = BeautifulSoup(page.read_text(errors="replace"), "html.parser")
    return frozenset(tag["id"] for tag in soup.find_all(id=True))


def check_page(page: Path, root: Path, dom: str) -> list[str]:
    """Problems a reader would meet on ``page`` (relative to the site ``root``), given its DOM."""
    name = page.relative_to(root).as_posix()
    redirect = BeautifulSoup(page.read_text(errors="replace"), "html.parser").find(
        "meta", attrs={"http-equiv": re.compile("^refresh$", re.IGNORECASE)})
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


def check_site(root: Path, renderer: Callable[[Path], str] = render, workers: int = 2) -> tuple[int, list[str]]:
    """Check every page under ``root``; return the number of pages and the problems found."""
    pages = sorted(page for page in root.rglob("*.html")
                   if page.name not in SKIPPED_PAGES and "_static" not in page.parts and "_sources" not in page.parts)
    with ThreadPoolExecutor(workers) as pool:
        doms = list(pool.map(renderer, pages))
    problems = [problem for page, dom in zip(pages, doms, strict=True) for problem in check_page(page, root, dom)]
    return len(pages), problems


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html")
    if not (root / "index.html").is_file():
        print(f"check_book: no built book at {root} (run `make book` first)", file=sys.stderr)
        return 2
    count, problems = check_site(root)
    for problem in problems:
        print(problem)
    print(f"check_book: {count} pages opened in headless Chromium, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
