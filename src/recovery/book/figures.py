"""Registered figures: one command regenerates each figure, its tidy data and its provenance.

A figure is a :class:`~recovery.experiments.spec.FigureSpec`: an experiment (``compute``: parameters -> tidy rows) and a
plot (``plot``: rows, parameters -> matplotlib figure), with named parameter sets (``scales``,
at least ``"ci"`` and ``"paper"``). :func:`reproduce` runs one scale and writes

- ``ID.csv``: the tidy data, one row per observation, floats in full precision;
- ``ID.json``: provenance (parameters, seed, package and library versions, git commit, dirty
  flag and diff hash, device, runtime) and the CSV's column types and SHA-256 checksum;
- ``ID.svg`` and ``ID.png``: the figure, drawn from exactly the rows in ``ID.csv``;

all four replaced together or not at all, by one run at a time (:mod:`recovery.book.files`).

Notebooks plot paper-scale figures from committed files through :func:`load` and the same
``plot`` function, so the book shows what the command regenerates.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from recovery.book import files, provenance, sweep
from recovery.book.files import ReproduceError
from recovery.experiments import claims
from recovery.experiments.spec import FigureSpec, Row

_REGISTRY: dict[str, FigureSpec] = {}
#: The book's chapters in reading order (``_toc.yml`` lists the same; a test keeps them equal):
#: claims are listed in this order, and every figure belongs to one of these notebooks.
CHAPTERS = (
    "notebooks/flat_identity_map.ipynb",
    "notebooks/flat_sensing.ipynb",
    "notebooks/flat_bilinear.ipynb",
    "notebooks/flat_completion.ipynb",
    "notebooks/flat_network.ipynb",
    "notebooks/flat_regularity.ipynb",
    "notebooks/flat_robust_pca.ipynb",
    "notebooks/flat_depth.ipynb",
    "notebooks/flat_landscape.ipynb",
    "notebooks/linrfm_irls.ipynb",
    "notebooks/linrfm_sparse.ipynb",
    "notebooks/linrfm_completion.ipynb",
    "notebooks/linrfm_scale.ipynb",
    "notebooks/linrfm_best.ipynb",
    "notebooks/linrfm_bridge.ipynb",
)
# The experiment modules whose ``FIGURES`` make the book, in no particular order.
_FIGURE_MODULES = (
    "recovery.experiments.identity_map",
    "recovery.experiments.phase_transition",
    "recovery.experiments.network",
    "recovery.experiments.robust_pca",
    "recovery.experiments.depth",
    "recovery.experiments.landscape",
    "recovery.experiments.linrfm_irls",
    "recovery.experiments.sparse_regression",
    "recovery.experiments.completion_comparison",
    "recovery.experiments.linrfm_scale",
    "recovery.experiments.lowrank_scale",
    "recovery.experiments.bridge",
    "recovery.experiments.completion_scoreboard",
)


def register(spec: FigureSpec) -> FigureSpec:
    """Add ``spec`` to the registry (ids are unique; ``ci`` and ``paper`` scales are required)."""
    if spec.id in _REGISTRY and _REGISTRY[spec.id] is not spec:
        raise ValueError(f"id: figure {spec.id!r} is already registered")
    taken = {claim.id for other in _REGISTRY.values() if other is not spec for claim in other.claims}
    ids = [claim.id for claim in spec.claims]
    repeated = sorted({i for i in ids if ids.count(i) > 1 or i in taken})
    if repeated:
        raise ValueError(f"claims: figure {spec.id!r} declares claim ids used elsewhere: {repeated}")
    missing = {"ci", "paper"} - set(spec.scales)
    if missing:
        raise ValueError(f"scales: figure {spec.id!r} lacks the scales {sorted(missing)}")
    if spec.notebook not in CHAPTERS:
        raise ValueError(f"notebook: figure {spec.id!r} names {spec.notebook!r}, which is not a chapter of the book")
    _REGISTRY[spec.id] = spec
    return spec


def registry() -> dict[str, FigureSpec]:
    """Return all figures by id: those of the book's experiment modules (their ``FIGURES``),
    registered on first use, and any added by :func:`register`."""
    _register_experiments()
    return dict(sorted(_REGISTRY.items()))


@cache
def _register_experiments() -> None:
    """Register the ``FIGURES`` of every experiment module of the book (once per process)."""
    for module in _FIGURE_MODULES:
        for spec in import_module(module).FIGURES:
            register(spec)


def get(figure_id: str) -> FigureSpec:
    """Return the figure registered as ``figure_id``."""
    figures = registry()
    if figure_id not in figures:
        raise ValueError(f"figure_id: unknown figure {figure_id!r}; known: {', '.join(figures)}")
    return figures[figure_id]


def parameters(figure_id: str, scale: str) -> dict[str, Any]:
    """Return the parameter set of ``figure_id`` at ``scale``."""
    spec = get(figure_id)
    if scale not in spec.scales:
        raise ValueError(f"scale: figure {figure_id!r} has scales {sorted(spec.scales)}, not {scale!r}")
    return dict(spec.scales[scale])


def all_claims() -> dict[str, tuple[FigureSpec, claims.Claim]]:
    """Every claim of the book by id, with the figure whose data decide it, in reading order
    (by chapter, then by figure id, then as each figure declares them)."""
    specs = sorted(registry().values(), key=lambda spec: (CHAPTERS.index(spec.notebook), spec.id))
    return {claim.id: (spec, claim) for spec in specs for claim in spec.claims}


def report(figure_id: str, rows: list[Row], params: Mapping[str, Any], title: str = "") -> claims.Report:
    """The verdict table of ``figure_id``'s claims on freshly computed ``rows`` (a live run)."""
    return get(figure_id).report(rows, params, title)


def committed_report(figure_id: str, directory: str | Path, title: str = "") -> claims.Report:
    """The verdict table of ``figure_id``'s claims on its committed data in ``directory``."""
    rows, record = load(figure_id, directory)
    return get(figure_id).report(rows, record["parameters"], title, recorded=True)


def compare_rows(figure_id: str, fresh: list[Row], committed: list[Row]) -> list[str]:
    """Where regenerated ``fresh`` rows disagree with ``committed`` ones at the figure's
    per-column tolerances (an empty list: they agree)."""
    spec = get(figure_id)
    if len(fresh) != len(committed):
        return [f"{len(fresh)} rows regenerated, {len(committed)} committed"]
    if fresh and list(fresh[0]) != list(committed[0]):
        return [f"columns {list(fresh[0])} regenerated, {list(committed[0])} committed"]
    return [f"row {index}, {key}: {new[key]!r} regenerated, {value!r} committed"
            for index, (new, old) in enumerate(zip(fresh, committed, strict=True))
            for key, value in old.items() if not spec.tolerance(key, new[key], value).matches(new[key], value)]


@contextmanager
def style() -> Iterator[None]:
    """The companion's one plotting style; SVG output is byte-stable for equal data."""
    with mpl.rc_context(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            # Sizes for a figure of plotting.WIDTH inches shown at its natural size in the book's
            # column: 8 pt renders at 12 CSS px (smallest_text checks every figure).
            "font.size": 9,
            "axes.titlesize": 9,
            "axes.labelsize": 9,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "legend.fontsize": 8,
            "legend.title_fontsize": 8,
            "figure.titlesize": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "svg.hashsalt": "recovery",
            "svg.fonttype": "path",
        }
    ):
        yield


#: The book's content column at desktop width, in CSS px (sphinx-book-theme: the article is at
#: most 60em less its padding and the secondary sidebar), and the smallest text a figure may
#: show in it. Notebook figures are PNGs at the style's ``figure.dpi`` (``bbox_inches="tight"``),
#: shown at their natural size or shrunk to the column, whichever is smaller.
CONTENT_WIDTH_PX = 785
SMALLEST_TEXT_PX = 9.0


def smallest_text(fig: Figure, content_px: float = CONTENT_WIDTH_PX) -> tuple[float, str]:
    """The smallest text of ``fig`` as rendered in the book's content column, in CSS px, and
    that text: its size in points, converted at the figure's dpi, times the factor by which the
    displayed image is shrunk to fit ``content_px`` (1 if it fits)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    natural = fig.get_tightbbox(renderer).width * fig.dpi
    scale = min(1.0, content_px / natural)
    sizes = [(text.get_fontsize() / 72 * fig.dpi * scale, text.get_text())
             for text in fig.findobj(Text)
             if text.get_visible() and text.get_text().strip()]
    return min(sizes) if sizes else (math.inf, "")


def draw(figure_id: str, rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """Draw ``figure_id`` from tidy ``rows`` in the companion's style."""
    with style():
        return get(figure_id).plot(rows, params)


def reproduce(figure_id: str, scale: str = "ci", out: str | Path = ".", *, jobs: int = 1,
              device: str | None = None, restart: bool = False, progress: bool = False) -> Path:
    """Run ``figure_id`` at ``scale`` and write ``ID.{csv,json,svg,png}`` into ``out``.

    The experiment runs unit by unit (:mod:`recovery.book.sweep`), checkpointed in
    ``out/.ID.SCALE.partial/`` until the files are written: an interrupted run resumes where it
    stopped when repeated (``restart`` discards the checkpoint first), and up to ``jobs`` units
    run in parallel. ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) is passed as the
    ``device`` parameter to figures that accept one, and recorded with the other parameters.
    ``progress`` shows a progress bar. Returns the path of the JSON provenance record.

    Guarantees: the four files are replaced together or not at all, the JSON last, holding the
    CSV's checksum and column types (so :func:`load` reads back exactly the rows computed, or
    refuses); a second run writing the same figure into ``out`` is refused while this one runs;
    a folder that cannot be written and a device that does not exist here are refused before
    anything is computed. Refusals are :class:`~recovery.book.files.ReproduceError` with a one-line message.
    """
    spec = get(figure_id)
    params = parameters(figure_id, scale)
    if device is not None:
        params["device"] = _device(figure_id, device)
    out = Path(out)
    code = provenance.git_state()  # the code that computes, not the checkout at the end
    units = spec.split(params) if spec.split is not None else [{}]
    checkpoint = out / f".{figure_id}.{scale}.partial"
    with files.writer(out, figure_id):
        if restart:
            shutil.rmtree(checkpoint, ignore_errors=True)
        start = time.perf_counter()
        rows, summary = sweep.run_units(figure_id, spec.compute, params, units, checkpoint, jobs=jobs,
                                        determinants=provenance.determinants(code), progress=progress)
        runtime = time.perf_counter() - start
        paths = [out / f"{figure_id}.{suffix}" for suffix in ("csv", "svg", "png", "json")]
        with files.replacing(*paths) as (data, svg, png, record_path):
            columns = write_csv(data, rows)
            _draw_files(figure_id, rows, params, svg, png)
            record = provenance.record(
                git=code,
                figure=figure_id,
                scale=scale,
                notebook=spec.notebook,
                claim=spec.claim,
                parameters=params,
                runtime_seconds=runtime,
                rows=len(rows),
                columns=columns,
                csv_sha256=files.sha256(data),
                **summary,
            )
            provenance.write(record_path, record)
        shutil.rmtree(checkpoint)
    return paths[-1]


def _device(figure_id: str, device: str) -> str:
    """Check that ``figure_id`` takes a device and that ``device`` (cpu, cuda or cuda:N) exists
    here; return its name."""
    if not get(figure_id).accepts_device:
        raise ReproduceError(f"device: figure {figure_id!r} runs on the CPU only (its experiment takes no device)")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ReproduceError(f"device: expected cpu, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ReproduceError(f"device: {device!r} requested, but CUDA is not available on this machine")
        if int(device.partition(":")[2] or 0) >= torch.cuda.device_count():
            raise ReproduceError(f"device: {device!r} requested, but this machine has "
                                 f"{torch.cuda.device_count()} CUDA devices")
    return str(torch.device(device))


def redraw(figure_id: str, directory: str | Path) -> Path:
    """Redraw ``ID.svg`` and ``ID.png`` in ``directory`` from its ``ID.csv`` and ``ID.json``.

    Nothing is recomputed and the data and provenance are left untouched: use it after a change
    to a figure's ``plot`` only. The data are checked against their record (:func:`load`), the
    figure files replaced whole, and a run writing the figure meanwhile is refused. Returns the
    path of the SVG.
    """
    get(figure_id)
    directory = Path(directory)
    if not directory.is_dir():
        raise ReproduceError(f"out: no folder {directory}")
    with files.writer(directory, figure_id):
        rows, record = load(figure_id, directory)
        paths = [directory / f"{figure_id}.{suffix}" for suffix in ("svg", "png")]
        with files.replacing(*paths) as (svg, png):
            _draw_files(figure_id, rows, record["parameters"], svg, png)
    return paths[0]


def _draw_files(figure_id: str, rows: list[Row], params: Mapping[str, Any], svg: Path, png: Path) -> None:
    with style():
        fig = get(figure_id).plot(rows, params)
        fig.savefig(svg, format="svg", metadata={"Date": None})
        fig.savefig(png, format="png", metadata={"Software": None})
    plt.close(fig)


def load(figure_id: str, directory: str | Path) -> tuple[list[Row], dict[str, Any]]:
    """Read ``ID.csv`` rows and ``ID.json`` provenance from ``directory``, checked against each other.

    The rows must number the record's ``rows`` and, where the record holds a ``csv_sha256``
    (records written before it was introduced do not: their CSV is not verified), match that
    checksum; otherwise a :class:`~recovery.book.files.ReproduceError` names the file. Fields are parsed by the
    record's ``columns`` types where it has them (see :func:`read_csv`).
    """
    get(figure_id)
    directory = Path(directory)
    data, record_path = directory / f"{figure_id}.csv", directory / f"{figure_id}.json"
    again = f"regenerate it with `recovery reproduce {figure_id} --scale SCALE --out {directory}`"
    for path in (data, record_path):
        if not path.is_file():
            raise ReproduceError(f"out: no {path}; {again}")
    try:
        record = json.loads(record_path.read_text())
    except ValueError:
        raise ReproduceError(f"out: {record_path} is not a JSON record; {again}") from None
    if "csv_sha256" in record and files.sha256(data) != record["csv_sha256"]:
        raise ReproduceError(f"out: {data} does not match its record {record_path.name} (checksum); {again}")
    rows = read_csv(data, record.get("columns"))
    if len(rows) != record["rows"]:
        raise ReproduceError(f"out: {data} does not match its record {record_path.name} "
                             f"({len(rows)} rows, not {record['rows']}); {again}")
    return rows, record


#: Column types :func:`write_csv` records and :func:`read_csv` parses, in parsing order.
_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "none": type(None)}
_PARSERS = {"bool": {"True": True, "False": False}.__getitem__, "int": int, "float": float, "str": str}


def write_csv(path: Path, rows: list[Row]) -> dict[str, list[str]]:
    """Write tidy rows, replacing ``path`` whole; floats keep all 17 significant digits so nothing is lost.

    Returns each column's value types (names from ``bool``, ``int``, ``float``, ``str``,
    ``none``), which :func:`read_csv` parses the fields by; :func:`reproduce` records them.
    """
    if not rows:
        raise ValueError("rows: an experiment returned no rows")
    columns = {key: sorted({_type(key, row.get(key)) for row in rows}, key=list(_TYPES).index) for key in rows[0]}
    with files.replacing(Path(path)) as (temporary,), temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _float_text(value) if isinstance(value, float) else value
                             for key, value in row.items()})
    return columns


def _float_text(value: float) -> str:
    """All 17 significant digits, and a float that would print as an integer keeps a ``.0``, so
    that a column mixing integers and floats reads back with each value's own type."""
    text = format(value, ".17g")
    return f"{text}.0" if text.lstrip("-").isdigit() else text


def _type(column: str, value: Any) -> str:
    for name, kind in _TYPES.items():
        if isinstance(value, kind):
            return name
    raise ValueError(f"rows: column {column!r} holds a {type(value).__name__}; expected bool, int, float, str or None")


def read_csv(path: Path, columns: Mapping[str, Sequence[str]] | None = None) -> list[Row]:
    """Read rows written by :func:`write_csv`.

    With ``columns`` (what :func:`write_csv` returned) each field is parsed by its column's types:
    values come back as they went in (a float is written with a decimal point or exponent, so even
    in a column holding both integers and floats each keeps its type); a field none of them parses raises a
    ValueError naming row and column. Without (older records), numeric and boolean fields are
    told from text by their form, and empty fields read as None.
    """
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        if columns is None:
            return [{key: _number(value) for key, value in row.items()} for row in reader]
        return [{key: _parse(value, columns[key], f"row {index}, {key}") for key, value in row.items()}
                for index, row in enumerate(reader)]


def _parse(text: str, types: Sequence[str], where: str) -> Any:
    if text == "" and "none" in types:
        return None
    for name in _PARSERS:
        if name in types:
            try:
                return _PARSERS[name](text)
            except (KeyError, ValueError):
                pass
    raise ValueError(f"{where}: {text!r} is not of type {' or '.join(types)}")


def _number(text: str) -> bool | int | float | str | None:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
