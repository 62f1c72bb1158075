"""Claims as data: every result the book states, declared once and checked the same way everywhere.

A :class:`Claim` is one sentence a reader can check (``statement``), where it comes from
(``reference``: a theorem, figure or numbered claim of paper A or B, or ``"companion"`` for a
result of ours), the quantity it rests on, and a ``check(rows, params) -> Evidence`` over a
figure's tidy rows. The check decides *whether the claim holds* at a tolerance taken from the
claim itself ("error below 1e-6 in at least 9 of 10 trials", "success counts within 3 per cell"),
never from round-off, and states the key number at the precision the claim needs. The verdict
word is derived from that evidence, never typed in:

- ``reproduced``: a paper's claim holds on our data;
- ``reproduced, stronger``: it holds with a margin the paper does not claim;
- ``partly``: part of it holds (the evidence says which part);
- ``not reproduced``: it does not hold on our data;
- ``new``: a companion result (not the papers') that holds.

A set of rows may not be able to decide a claim at all: a live run without the methods or sizes
the claim compares, or a fresh run of a claim about wall-clock time (``timing`` claims are decided
on committed records only, whose machine and load are recorded). Its verdict is then
``not decided here`` (:data:`UNDECIDED`), with the reason as its key; it is not a sixth verdict
word, and every claim must be decided on the committed paper-scale data.

Claims belong to figures (``FigureSpec.claims``): the same objects are evaluated on the live
CI-sized run of a notebook, on the committed paper-scale data, and in the figure-regeneration
test; ``recovery claims`` and the book's "Results at a glance" list them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]

#: The verdict words; which one a claim gets follows from its check's :class:`Evidence`.
VOCABULARY = ("reproduced", "reproduced, stronger", "partly", "not reproduced", "new")
#: What a table shows for a claim that the rows at hand cannot decide (see :meth:`Evidence.undecided`).
UNDECIDED = "not decided here"
COMPANION = "companion"


@dataclass(frozen=True)
class Evidence:
    """What a claim's check found: whether it holds, and the key number behind that.

    ``key`` is printed to readers and compared between machines, so it carries only what the
    claim needs (counts, bounds such as ``"< 1e-12"``, numbers rounded to the claim's
    precision). ``partly`` marks a claim that does not hold in full but in the part ``why``
    names; ``stronger`` one that holds with a margin beyond what the paper claims.
    """

    holds: bool
    key: str
    why: str = ""
    partly: bool = False
    stronger: bool = False
    #: False when the rows cannot decide the claim (``key`` says what they lack).
    decided: bool = True

    @classmethod
    def undecided(cls, lacking: str) -> Evidence:
        """Evidence from rows that cannot decide the claim: ``lacking`` says what they lack."""
        return cls(False, lacking, decided=False)


@dataclass(frozen=True)
class Verdict:
    """A claim evaluated on one set of rows: its vocabulary word, key number and reason."""

    claim: str
    word: str
    key: str
    why: str

    def __post_init__(self) -> None:
        if self.word not in (*VOCABULARY, UNDECIDED):
            raise ValueError(f"word: expected one of {VOCABULARY} or {UNDECIDED!r}, got {self.word!r}")

    @property
    def decided(self) -> bool:
        """Whether the rows decided the claim (the word is one of :data:`VOCABULARY`)."""
        return self.word != UNDECIDED


@dataclass(frozen=True)
class Claim:
    """One result of the book: ``check(rows, params)`` over its figure's data decides it."""

    id: str
    reference: str
    statement: str
    quantity: str
    check: Callable[[Sequence[Row], Mapping[str, Any]], Evidence]
    #: The main difference from the paper (setting, criterion, scale), shown beside the verdict.
    difference: str = ""
    #: Whether the claim rests on wall-clock measurements: then only committed records decide it
    #: (their provenance names machine and load), never a fresh run on whatever machine runs it.
    timing: bool = False

    def __post_init__(self) -> None:
        for name in ("id", "reference", "statement", "quantity"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name}: a claim needs a non-empty {name}")

    @property
    def companion(self) -> bool:
        """Whether this is a result of ours rather than one the papers state."""
        return self.reference == COMPANION

    def evaluate(self, rows: Sequence[Row], params: Mapping[str, Any], *, recorded: bool = False) -> Verdict:
        """Run the check on ``rows`` (computed with ``params``) and derive the verdict word.

        ``recorded``: the rows are committed records rather than a fresh run; a ``timing`` claim
        is decided only on those.
        """
        if self.timing and not recorded:
            evidence = Evidence.undecided("timings: decided on committed records only")
        else:
            evidence = self.check(rows, params)
        if not isinstance(evidence, Evidence):
            raise TypeError(f"claim {self.id!r}: check must return Evidence, got {type(evidence).__name__}")
        return Verdict(self.id, _word(evidence, companion=self.companion), evidence.key, evidence.why)


def _word(evidence: Evidence, *, companion: bool) -> str:
    if not evidence.decided:
        return UNDECIDED
    if evidence.holds:
        if companion:
            return "new"
        return "reproduced, stronger" if evidence.stronger else "reproduced"
    return "partly" if evidence.partly else "not reproduced"


class Report:
    """Claims with their verdicts as a table: plain text (terminals, nbval's comparison) and
    Markdown (the book shows the statement and reference beside each verdict)."""

    def __init__(self, entries: Iterable[tuple[Claim, Verdict]], title: str = "") -> None:
        self.entries = list(entries)
        self.title = title

    @property
    def verdicts(self) -> list[Verdict]:
        return [verdict for _, verdict in self.entries]

    @property
    def holds(self) -> bool:
        """Whether every claim the rows decide holds (reproduced, stronger or new)."""
        return all(v.word in ("reproduced", "reproduced, stronger", "new") for v in self.verdicts if v.decided)

    def __repr__(self) -> str:
        width = max((len(v.claim) for v in self.verdicts), default=5)
        lines = [self.title] if self.title else []
        lines += [f"{v.claim:<{width}}  {v.word:<20}  {v.key}" for v in self.verdicts]
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_markdown_(self) -> str:
        lines = [f"**{self.title}**", ""] if self.title else []
        lines += ["| claim | source | verdict | key number |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(c.statement)} <br><small>`{v.claim}`</small> | {_cell(c.reference)} | "
                  f"**{v.word}** | {_cell(v.key)} |" for c, v in self.entries]
        return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# Formatting: numbers at the precision a claim needs, stable across machines.

def bound(value: float, *, floor: float) -> str:
    """An upper bound on ``|value|`` by a power of ten: ``"< 1e-10"`` for 3.2e-11.

    Values below ``floor`` (round-off territory, which moves between CPUs) print as
    ``"< floor"``. Only a value within rounding of a power of ten can print differently on two
    machines, so keys built from bounds are portable where printed digits are not.
    """
    magnitude = abs(value)
    if not math.isfinite(magnitude):
        return str(value)
    if magnitude < floor:
        return f"< {floor:.0e}"
    return f"< 1e{math.floor(math.log10(magnitude)) + 1:+03d}"


# Evidence from tidy rows.

def share(rows: Sequence[Row], ok: Callable[[Row], bool], **where: Any) -> tuple[int, int]:
    """``(count, total)``: of the rows whose fields equal ``where``, how many satisfy ``ok``."""
    chosen = [row for row in rows if all(row[key] == value for key, value in where.items())]
    return sum(bool(ok(row)) for row in chosen), len(chosen)


def allowance(total: int, fraction: float) -> int:
    """How many of ``total`` trials a claim "within ``fraction``" lets two success counts differ
    by: that fraction of them, and at least one (one trial is the resolution of a count)."""
    return max(1, round(fraction * total))


def fmt(value: float) -> str:
    """A sample threshold for a key: an integer-looking number, or "never"."""
    return "never" if math.isinf(value) else f"{value:g}"
