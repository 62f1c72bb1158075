"""Write the landing page's "Results at a glance" tables from the claims registry at build time.

Before Sphinx reads any page, every claim of :mod:`recovery.experiments.claims` is evaluated on the committed
paper-scale data (``results/paper``) and written as a MyST table to ``book/_generated/results.md``,
which ``book/intro.md`` includes. No verdict is typed into the book: the table is what
``recovery claims`` prints, and it changes when the data or the claims do.
"""

from __future__ import annotations

from pathlib import Path

from recovery.book.cli import claim_entries

TARGET = Path("book") / "_generated" / "results.md"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: Path) -> str:
    """One small table per chapter, in reading order: claim, source, verdict, key number and the
    main difference from the paper, under a line naming the chapter and its figure."""
    header = ["| Claim | Source | Verdict | Key number (paper scale) | Main difference from the paper |",
              "| --- | --- | --- | --- | --- |"]
    lines: list[str] = []
    chapter = None
    for entry in claim_entries(results):
        if entry["notebook"] != chapter:
            chapter = entry["notebook"]
            document = "/" + chapter.removesuffix(".ipynb")
            lines += ["", f"{{doc}}`{document}` (figure {{ref}}`{entry['figure']} <fig-{entry['figure']}>`)", "",
                      *header]
        lines.append(f"| {_escape(entry['statement'])} | {_escape(entry['reference'])} | **{entry['verdict']}** | "
                     f"{_escape(entry['key'])} | {_escape(entry['difference']) or '-'} |")
    return "\n".join(lines).lstrip("\n") + "\n"


def _write(app) -> None:
    root = Path(app.srcdir)
    target = root / TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    text = table(root / "results" / "paper")
    if not target.is_file() or target.read_text() != text:  # unchanged: Sphinx need not reread intro
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
