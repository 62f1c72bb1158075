"""What an experiment is: a figure's specification, its tidy rows, and reproducible trial seeds.

Each module of :mod:`recovery.experiments` computes one figure's data (``compute``: parameters ->
tidy rows), draws it (``plot``: rows -> matplotlib figure) and states the claims its rows decide,
and exports them as ``FIGURES``, a tuple of :class:`FigureSpec`. Nothing here runs, stores or
registers anything: :mod:`recovery.book.figures` does that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from recovery.experiments import claims

Row = dict[str, Any]


@dataclass(frozen=True)
class Tolerance:
    """How a regenerated column must match its committed value.

    Floats match when ``|new - old| <= abs + rel * |old|``; other values (integers, flags,
    names) must be equal unless ``compare`` is false. ``compare=False`` marks a column that is
    checked only through the figure's claims: iteration counts, stopping-time errors and other
    quantities that move with the last bits of a BLAS kernel.
    """

    rel: float = 0.0
    abs: float = 0.0
    compare: bool = True

    def matches(self, new: Any, old: Any) -> bool:
        """Whether ``new`` (regenerated) agrees with ``old`` (committed) at this tolerance."""
        if not self.compare:
            return True
        if isinstance(old, float) or isinstance(new, float):
            if not isinstance(new, int | float) or isinstance(new, bool):
                return False
            if math.isnan(old) or math.isnan(new):
                return math.isnan(old) and math.isnan(new)
            if math.isinf(old) or math.isinf(new):
                return new == old
            return abs(new - old) <= self.abs + self.rel * abs(old)
        return new == old


#: Default for float columns: agreement far beyond any claim's threshold, far above round-off.
ROUNDING = Tolerance(rel=1e-6, abs=1e-9)
#: Parameters, seeds, sizes and counts that no round-off can move.
EXACT = Tolerance()
#: Checked through the figure's claims only (see :class:`Tolerance`).
CLAIM_LEVEL = Tolerance(compare=False)


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the book: where it lives, what it supports, how to compute and draw it."""

    id: str
    notebook: str
    claim: str
    scales: Mapping[str, Mapping[str, Any]]
    compute: Callable[[Mapping[str, Any]], list[Row]]
    plot: Callable[[list[Row], Mapping[str, Any]], Figure]
    #: ``split(params)`` returns parameter overrides, one per independent unit of work, such that
    #: concatenating ``compute({**params, **unit})`` over the units gives ``compute(params)``
    #: (resumable and parallel sweeps run unit by unit); ``None``: the run is one unit.
    split: Callable[[Mapping[str, Any]], list[dict[str, Any]]] | None = None
    #: Columns holding wall-clock measurements: recorded, but not expected to regenerate exactly.
    timing_columns: tuple[str, ...] = ()
    #: Whether ``compute`` honours ``params["device"]`` (``recovery reproduce --device``; it runs
    #: on the CPU when the parameter is absent).
    accepts_device: bool = False
    #: The results this figure's data support, checked wherever the data are (see :mod:`recovery.experiments.claims`).
    claims: tuple[claims.Claim, ...] = ()
    #: Per-column regeneration tolerances; unnamed float columns use :data:`ROUNDING`, all
    #: other unnamed columns :data:`EXACT`, and ``timing_columns`` are not compared.
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)

    def tolerance(self, column: str, *values: Any) -> Tolerance:
        """The tolerance of ``column``, whose compared ``values`` tell floats (a float written as
        ``0`` reads back as the integer 0) from integers, flags and names."""
        if column in self.timing_columns:
            return CLAIM_LEVEL
        if column in self.tolerances:
            return self.tolerances[column]
        return ROUNDING if any(isinstance(value, float) for value in values) else EXACT

    def verdicts(self, rows: list[Row], params: Mapping[str, Any], *, recorded: bool = False) -> list[claims.Verdict]:
        """Every claim of this figure evaluated on ``rows`` computed with ``params`` (``recorded``:
        committed records, which alone decide timing claims)."""
        return [claim.evaluate(rows, params, recorded=recorded) for claim in self.claims]

    def report(self, rows: list[Row], params: Mapping[str, Any], title: str = "", *,
               recorded: bool = False) -> claims.Report:
        """The verdict table of this figure's claims on ``rows`` (a live run or committed data)."""
        return claims.Report(zip(self.claims, self.verdicts(rows, params, recorded=recorded), strict=True), title)


def column(rows: list[Row], name: str, **where: Any) -> list[Any]:
    """Return the values of ``name`` over the rows whose fields equal ``where``."""
    return [row[name] for row in rows if all(row[k] == v for k, v in where.items())]


def frequency(rows: list[Row], axis: str, hit: Callable[[Row], bool], **where: Any) -> tuple[np.ndarray, np.ndarray]:
    """The sorted values of column ``axis`` among the rows whose fields equal ``where``, and for
    each value the fraction of those rows for which ``hit(row)`` holds (a success rate)."""
    matching = [row for row in rows if all(row[k] == v for k, v in where.items())]
    values = np.array(sorted({row[axis] for row in matching}))
    rates = [np.mean([hit(row) for row in matching if row[axis] == value]) for value in values]
    return values, np.array(rates)


def read_record(path: str, figure_id: str) -> dict[str, Any]:
    """The committed benchmark record at ``path``, relative to the working directory (the repository
    root, where ``recovery reproduce`` runs), which figure ``figure_id`` draws."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"records: {path} is not a file under the working directory {Path.cwd()}; "
                                f"run `recovery reproduce {figure_id}` from the repository root")
    return json.loads(Path(path).read_text())


def trial_generator(seed: int, *index: int) -> torch.Generator:
    """Return an independent ``torch.Generator`` for trial ``index`` of an experiment seeded ``seed``.

    Streams come from ``numpy.random.SeedSequence(seed, spawn_key=index)``, so each trial's draws
    depend only on ``(seed, index)``: trials can run in any order, in parallel, or be rerun alone.
    """
    state = np.random.SeedSequence(seed, spawn_key=index).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def parts(params, count: int) -> range:
    """Indices of an experiment's outer loop (``count`` iterations) that this run computes.

    All of them, or only ``params["part"]`` when a sweep is split into units of work (see
    :func:`split_parts`). Seeds depend on loop indices, never on which part runs, so the parts
    together give exactly the rows of the whole run.
    """
    if "part" not in params:
        return range(count)
    part = params["part"]
    if not (isinstance(part, int) and 0 <= part < count):
        raise ValueError(f"part: expected an index in [0, {count}), got {part!r}")
    return range(part, part + 1)


def split_parts(count) -> Callable[[Mapping[str, Any]], list[dict[str, Any]]]:
    """A ``FigureSpec.split`` giving one unit per outer-loop iteration; ``count(params)`` is their number."""

    def split(params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"part": part} for part in range(count(params))]

    return split
