"""Run a figure's experiment unit by unit: resumable after a crash or a kill, optionally in parallel.

A figure whose :class:`~recovery.experiments.spec.FigureSpec` has a ``split`` is computed as independent
units of work (parameter overrides, typically one per value of the outer sweep variable). Each
finished unit is written at once to a checkpoint directory as JSON (``unit-00003.json``, written
to a temporary name and renamed, so a kill never leaves half a file). Rerunning the same figure at
the same scale into the same directory loads the finished units and computes only the others;
the rows are then assembled in unit order, so a resumed run gives exactly the rows of an
uninterrupted one (every run, resumed or not, takes its rows from the JSON round trip).

A checkpoint is keyed on everything that determines the rows: figure, parameters and units, and
the run's determinants (code commit and a hash of its uncommitted diff, Python and library
versions, device and kernel settings: :func:`recovery.book.provenance.determinants`).
``manifest.json`` holds the key; each unit file holds the key's digest, its unit and index, and a
checksum of its content. Another key, a unit file that fails its checksum or belongs elsewhere,
and unit files without a manifest are refused with a :class:`~recovery.book.files.ReproduceError`
that names the file and what to do, so rows of two code versions or two kernel configurations
are never mixed in one result.

``jobs > 1`` runs units in min(jobs, pending units, cores) worker processes through joblib (the
loky backend), so the same code runs on any joblib backend, a Dask cluster included (see the
README). A worker process ends as soon as the run that started it is gone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from joblib import Parallel, delayed, effective_n_jobs
from tqdm import tqdm

from recovery.book.files import ReproduceError, replace_text

Row = dict[str, Any]

_AFRESH = "delete it, or run again with --restart to start afresh"


def run_units(
    figure_id: str,
    compute: Callable[[Mapping[str, Any]], list[Row]],
    params: Mapping[str, Any],
    units: Sequence[Mapping[str, Any]],
    checkpoint: Path,
    *,
    determinants: Mapping[str, Any],
    jobs: int = 1,
    progress: bool = False,
) -> tuple[list[Row], dict[str, Any]]:
    """Compute ``figure_id``'s rows (``compute`` over ``units``), resuming from and writing to ``checkpoint``.

    Returns the rows (in unit order) and a summary: ``units``, ``resumed_units`` (loaded from an
    earlier, interrupted run), ``unit_seconds`` (compute time summed over all units, whichever run
    computed them), ``jobs``, the worker processes used: min(``jobs``, pending units, cores of
    the active joblib backend), or one for a run in this process, and ``worker_threads``, the torch
    threads of the processes that computed this run's units (joblib's workers get cores / jobs, so
    they can differ from the calling process's, which the record's ``device`` states). ``jobs`` is a number of worker
    processes, or ``-1`` for every core of the backend (e.g. a Dask cluster under
    ``joblib.parallel_config``).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not (jobs >= 1 or jobs == -1):
        raise ValueError(f"jobs: expected a positive integer, or -1 for every worker of the joblib backend; got {jobs!r}")
    key = _canonical({"figure": figure_id, "parameters": params, "units": list(units), **determinants})
    digest = _digest(key)
    checkpoint = Path(checkpoint)
    _open_checkpoint(checkpoint, key)
    finished = {index: _load_unit(path, digest, index, unit)
                for index, unit in enumerate(key["units"]) if (path := _unit_path(checkpoint, index)).exists()}
    resumed = len(finished)
    pending = [index for index in range(len(units)) if index not in finished]
    cores = effective_n_jobs(-1)
    workers = max(1, min(cores if jobs == -1 else jobs, cores, len(pending)))
    work = (delayed(_compute_unit)(compute, {**params, **units[index]}, index, os.getpid()) for index in pending)
    results = (
        (call(*args, **kwargs) for call, args, kwargs in work)
        if workers == 1
        else Parallel(n_jobs=workers, return_as="generator_unordered")(work)
    )
    threads = set()
    with tqdm(total=len(units), initial=resumed, desc=figure_id, unit="unit", disable=not progress) as bar:
        for index, rows, seconds, unit_threads in results:
            threads.add(unit_threads)
            body = _canonical({"key": digest, "index": index, "unit": key["units"][index], "seconds": seconds,
                               "rows": rows})
            replace_text(_unit_path(checkpoint, index), json.dumps({**body, "checksum": _digest(body)}))
            finished[index] = body
            bar.update()
    rows = [row for index in range(len(units)) for row in finished[index]["rows"]]
    summary = {"units": len(units), "resumed_units": resumed, "jobs": workers, "worker_threads": sorted(threads),
               "unit_seconds": sum(finished[index]["seconds"] for index in finished)}
    return rows, summary


def _open_checkpoint(checkpoint: Path, key: Mapping[str, Any]) -> None:
    """Create ``checkpoint`` for ``key``, or check that the one there was made for it."""
    manifest = checkpoint / "manifest.json"
    checkpoint.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        if any(checkpoint.glob("unit-*.json")):
            raise ReproduceError(f"out: {checkpoint} holds unit files but no manifest.json; {_AFRESH}")
        replace_text(manifest, json.dumps(key))
        return
    try:
        stored = json.loads(manifest.read_text())
        other = [name for name in {**key, **stored} if stored.get(name) != key.get(name)]
    except (ValueError, TypeError, AttributeError):
        raise ReproduceError(f"out: {manifest} is damaged; {_AFRESH}") from None
    if other:
        raise ReproduceError(f"out: {checkpoint} holds an interrupted run with other {', '.join(other)} "
                             f"(see its manifest.json); {_AFRESH}")


def _load_unit(path: Path, digest: str, index: int, unit: Mapping[str, Any]) -> dict[str, Any]:
    """The content of the unit file at ``path``, checked: its checksum, the key's ``digest``, its place."""
    try:
        content = json.loads(path.read_text())
        body = {name: value for name, value in content.items() if name != "checksum"}
        sound = content["checksum"] == _digest(body)
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        sound = False
    if not sound:
        raise ReproduceError(f"out: {path} is damaged (it fails its checksum); {_AFRESH}")
    if (body.get("key"), body.get("index"), body.get("unit")) != (digest, index, unit):
        raise ReproduceError(f"out: {path} belongs to another run or unit; {_AFRESH}")
    return body


def _compute_unit(compute: Callable[[Mapping[str, Any]], list[Row]], params: Mapping[str, Any], index: int,
                  caller: int) -> tuple[int, list[Row], float, int]:
    if os.getpid() != caller:
        end_with_parent()
    start = time.perf_counter()
    rows = compute(params)
    return index, rows, time.perf_counter() - start, torch.get_num_threads()


@functools.cache
def end_with_parent() -> None:
    """In a worker process (once): exit as soon as the process that started it is gone.

    A worker's parent changes only when the parent dies (the worker is adopted by another
    process), whichever signal killed it; without this, joblib's workers compute on for minutes.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="recovery-end-with-parent", daemon=True).start()


def _unit_path(checkpoint: Path, index: int) -> Path:
    return checkpoint / f"unit-{index:05d}.json"


def _canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


def _digest(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
