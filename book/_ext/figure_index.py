"""Write the figure index (``book/figures.md`` includes it) from each figure's committed provenance.

Before Sphinx reads any page, every registered figure's committed paper-scale record
(``results/paper/ID.json``, checked against its CSV by :func:`recovery.book.figures.load`) is
turned into one entry: a thumbnail linking to the figure in its chapter, the paper figure or
result it reproduces, the command that regenerates it, its runtime, the device and the commit it
was computed at, and its files. Nothing is typed in: the page changes when the data do.
"""

from __future__ import annotations

import re
from pathlib import Path

from recovery.book import figures

TARGET = Path("book") / "_generated" / "figures.md"
_PAPERS = {"flat-minima paper": "paper A", "lin-RFM paper": "paper B"}


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _reproduces(claim: str) -> str:
    """The paper figure named in a figure's claim (``Figure 3a`` ...), with the result it states."""
    source, _, _ = claim.partition(":")
    for name, short in _PAPERS.items():
        source = source.replace(name, short)
    named = re.findall(r"Figure \d+(?:[a-z]\b|\([a-z]\))?", claim)
    if not named:
        return f"{source.strip()} (no figure of the paper)"
    return f"{named[-1]} of {short_paper(claim)}; {source.strip()}"


def short_paper(claim: str) -> str:
    return next((short for name, short in _PAPERS.items() if name in claim), "the papers")


def _device(rows, record) -> str:
    device = record.get("device", {})
    here = (f"{device.get('torch_device', '?')} ({device.get('machine', '?')}, {device.get('cpu_count', '?')} "
            f"CPUs, {device.get('torch_threads', '?')} torch thread{'s' if device.get('torch_threads') != 1 else ''})")
    others = sorted({f"{row['device']} ({row.get('device_name', '')})".replace(" ()", "") for row in rows
                     if isinstance(row.get("device"), str) and row["device"] != device.get("torch_device")})
    return here + (f"; rows also from committed runs on {', '.join(others)}" if others else "")


def entry(figure_id: str, results: Path) -> str:
    rows, record = figures.load(figure_id, results)
    spec = figures.get(figure_id)
    chapter = spec.notebook.removesuffix(".ipynb")
    git = record.get("git", {})
    commit = git.get("commit", "unknown")
    state = "with uncommitted changes" if git.get("dirty") else "clean"
    files = ", ".join(f"{{download}}`{kind} <../results/paper/{figure_id}.{suffix}>`"
                      for kind, suffix in (("SVG", "svg"), ("CSV", "csv"), ("JSON", "json")))
    return "\n".join([
        f"(index-{figure_id})=",
        f"## `{figure_id}`",
        "",
        f":::{{image}} ../results/paper/{figure_id}.png",
        ":width: 320px",
        f":alt: Thumbnail of figure {figure_id}; it links to the figure in its chapter.",
        f":target: ../{chapter}.html#fig-{figure_id}",
        ":::",
        "",
        f"- **Reproduces:** {_reproduces(record['claim'])}.",
        f"- **Chapter:** {{doc}}`/{chapter}`, figure {{ref}}`{figure_id} <fig-{figure_id}>`.",
        f"- **Regenerate:** `recovery reproduce {figure_id} --scale paper --out results/paper`.",
        f"- **Runtime:** {_duration(record['runtime_seconds'])} ({record['rows']} rows).",
        f"- **Device:** {_device(rows, record)}.",
        f"- **Computed at:** commit `{commit[:10]}` ({state}), {record.get('created_utc', '?')[:10]}.",
        f"- **Files:** {files}.",
        "",
    ])


def index(results: Path) -> str:
    """Every figure, in the book's reading order."""
    specs = sorted(figures.registry().values(), key=lambda spec: (figures.CHAPTERS.index(spec.notebook), spec.id))
    return "\n".join(entry(spec.id, results) for spec in specs)


def _write(app) -> None:
    root = Path(app.srcdir)
    target = root / TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    text = index(root / "results" / "paper")
    if not target.is_file() or target.read_text() != text:  # unchanged: Sphinx need not reread the page
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
