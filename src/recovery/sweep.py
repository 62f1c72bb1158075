"""Run a figure's experiment unit by unit: resumable after a crash or a kill, optionally in parallel.

A figure whose :class:`~recovery.figures.FigureSpec` has a ``split`` is computed as independent
units of work (parameter overrides, typically one per value of the outer sweep variable). Each
finished unit is written at once to a checkpoint directory as JSON (``unit-00003.json``, written
to a temporary name and renamed, so a kill never leaves half a file). Rerunning the same figure at
the same scale into the same directory loads the finished units and computes only the others;
the rows are then assembled in unit order, so a resumed run gives exactly the rows of an
uninterrupted one (every run, resumed or not, takes its rows from the JSON round trip).

A checkpoint is only reused by a run with the same parameters, units and git commit (recorded
in ``manifest.json``); anything else is refused with a message saying how to start afresh.
``jobs > 1`` runs units in that many worker processes through joblib (the loky backend), so the
same code runs on any joblib backend, a Dask cluster included (see the README).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from joblib import Parallel, delayed
from tqdm import tqdm

Row = dict[str, Any]


def run_units(
    figure_id: str,
    params: Mapping[str, Any],
    units: Sequence[Mapping[str, Any]],
    checkpoint: Path,
    *,
    code: Mapping[str, Any] | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> tuple[list[Row], dict[str, Any]]:
    """Compute ``figure_id``'s rows over ``units``, resuming from and writing to ``checkpoint``.

    Returns the rows (in unit order) and a summary: ``units``, ``resumed_units`` (loaded from an
    earlier, interrupted run), ``unit_seconds`` (compute time summed over all units, whichever run
    computed them) and ``jobs``. ``jobs`` is a number of worker processes, or ``-1`` for every
    worker of the active joblib backend (e.g. a Dask cluster under ``joblib.parallel_config``).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not (jobs >= 1 or jobs == -1):
        raise ValueError(f"jobs: expected a positive integer, or -1 for every worker of the joblib backend; got {jobs!r}")
    manifest = _canonical({"figure": figure_id, "parameters": params, "units": list(units),
                           "commit": (code or {}).get("commit")})
    checkpoint = Path(checkpoint)
    checkpoint.mkdir(parents=True, exist_ok=True)
    manifest_path = checkpoint / "manifest.json"
    if manifest_path.exists():
        if json.loads(manifest_path.read_text()) != manifest:
            raise ValueError(
                f"out: {checkpoint} holds an interrupted run of other parameters or code; "
                "delete that directory to start afresh"
            )
    else:
        _write_atomic(manifest_path, manifest)
    finished = {index: _load(path) for index in range(len(units)) if (path := _unit_path(checkpoint, index)).exists()}
    resumed = len(finished)
    pending = [index for index in range(len(units)) if index not in finished]
    work = (delayed(_compute_unit)(figure_id, {**params, **units[index]}, index) for index in pending)
    results = (
        (call(*args, **kwargs) for call, args, kwargs in work)
        if jobs == 1
        else Parallel(n_jobs=jobs, return_as="generator_unordered")(work)
    )
    with tqdm(total=len(units), initial=resumed, desc=figure_id, unit="unit", disable=not progress) as bar:
        for index, rows, seconds in results:
            _write_atomic(_unit_path(checkpoint, index), {"unit": units[index], "seconds": seconds, "rows": rows})
            finished[index] = _load(_unit_path(checkpoint, index))
            bar.update()
    rows = [row for index in range(len(units)) for row in finished[index]["rows"]]
    summary = {"units": len(units), "resumed_units": resumed, "jobs": jobs,
               "unit_seconds": sum(finished[index]["seconds"] for index in finished)}
    return rows, summary


def _compute_unit(figure_id: str, params: Mapping[str, Any], index: int) -> tuple[int, list[Row], float]:
    from recovery import figures  # in a worker process the registry is imported afresh

    start = time.perf_counter()
    rows = figures.get(figure_id).compute(params)
    return index, rows, time.perf_counter() - start


def _unit_path(checkpoint: Path, index: int) -> Path:
    return checkpoint / f"unit-{index:05d}.json"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def _write_atomic(path: Path, content: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)
