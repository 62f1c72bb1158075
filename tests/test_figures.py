"""The figure pipeline: CI-scale regeneration matches committed data; paper data are complete;
outputs are replaced whole, checked against their record, and read back with their types."""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from recovery.book import cli, figures
from recovery.experiments import spec as figure_spec

RESULTS = Path(__file__).resolve().parents[1] / "results"
FIGURE_IDS = list(figures.registry())


def test_csv_round_trip_keeps_types(tmp_path):
    rows = [{"flag": True, "count": 3, "value": 0.1 + 0.2, "name": "l1"},
            {"flag": False, "count": -1, "value": math.inf, "name": "True-ish"}]
    figures.write_csv(tmp_path / "rows.csv", rows)
    back = figures.read_csv(tmp_path / "rows.csv")
    assert back == rows
    assert [type(value) for value in back[0].values()] == [bool, int, float, str]


def test_csv_round_trip_follows_the_recorded_column_types(tmp_path):
    """Floats that print as integers stay floats (also in a column that mixes integers and floats),
    digit strings stay strings, None stays None."""
    rows = [{"value": 1.0, "code": "007", "count": 2, "flag": True, "gap": None, "parameter": 2},
            {"value": 0.5, "code": "1e3", "count": -1, "flag": False, "gap": 0.25, "parameter": 0.5},
            {"value": -3.0, "code": "x", "count": 0, "flag": True, "gap": 1e20, "parameter": 2.0}]
    columns = figures.write_csv(tmp_path / "rows.csv", rows)
    back = figures.read_csv(tmp_path / "rows.csv", columns)
    assert back == rows
    assert [[type(v) for v in row.values()] for row in back] == [[type(v) for v in row.values()] for row in rows]
    (tmp_path / "rows.csv").write_text((tmp_path / "rows.csv").read_text().replace("007", "seven"))
    with pytest.raises(ValueError, match=r"row 0, code: 'seven' is not of type int"):
        figures.read_csv(tmp_path / "rows.csv", {**columns, "code": ["int"], "count": ["int"]})


def test_at_least_one_figure_is_registered():
    assert FIGURE_IDS


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_ci_scale_regenerates_committed_data(figure_id, tmp_path):
    record_path = figures.reproduce(figure_id, scale="ci", out=tmp_path)
    fresh, record = figures.load(figure_id, tmp_path)
    committed, committed_record = figures.load(figure_id, RESULTS / "ci")
    assert record_path == tmp_path / f"{figure_id}.json"
    assert record["parameters"] == committed_record["parameters"] == figures.parameters(figure_id, "ci")
    # Columns at the figure's declared tolerances (exact for parameters and counts no round-off
    # can move), and the claims' verdicts: the same words as on the committed data.
    assert figures.compare_rows(figure_id, fresh, committed) == []
    spec = figures.get(figure_id)
    fresh_verdicts = spec.verdicts(fresh, record["parameters"])
    committed_verdicts = spec.verdicts(committed, committed_record["parameters"])
    assert [(v.claim, v.word) for v in fresh_verdicts] == [(v.claim, v.word) for v in committed_verdicts]
    for suffix in ("svg", "png"):
        assert (tmp_path / f"{figure_id}.{suffix}").stat().st_size > 1000
    # SVG output is byte-stable for equal data (fixed hash salt, no date): redrawn from the
    # written CSV it is the same file.
    again = tmp_path / "again"
    again.mkdir()
    for suffix in ("csv", "json"):
        shutil.copy(tmp_path / f"{figure_id}.{suffix}", again)
    figures.redraw(figure_id, again)
    assert (again / f"{figure_id}.svg").read_bytes() == (tmp_path / f"{figure_id}.svg").read_bytes()


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_paper_scale_results_are_committed_with_provenance(figure_id):
    rows, record = figures.load(figure_id, RESULTS / "paper")
    assert record["parameters"] == figures.parameters(figure_id, "paper")
    assert record["rows"] == len(rows) > 0
    for key in ("package", "git", "libraries", "device", "runtime_seconds", "python"):
        assert key in record
    assert set(record["libraries"]) >= {"numpy", "scipy", "torch", "matplotlib"}
    for suffix in ("svg", "png"):
        assert (RESULTS / "paper" / f"{figure_id}.{suffix}").is_file()


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=RESULTS.parent, capture_output=True, text=True, timeout=30)


def _recorded_commits() -> list[tuple[str, str]]:
    """``(record, commit)`` for every committed JSON record under results/ that names a commit."""
    found = []
    for path in sorted(RESULTS.glob("*/*.json")):
        git = json.loads(path.read_text()).get("git")
        if isinstance(git, dict) and git.get("commit"):
            found.append((str(path.relative_to(RESULTS)), git["commit"]))
    return found


def test_every_record_names_a_commit_of_this_history():
    """A record's provenance is only as good as the commit it names: that commit must be in the
    history of the checkout (a rerun from a branch that was later dropped, or from a commit that
    never landed, leaves a record nobody can check out). Skipped outside a full git clone."""
    if _git("rev-parse", "--is-shallow-repository").stdout.strip() != "false":
        pytest.skip("not a full git clone")
    recorded = _recorded_commits()
    assert len(recorded) >= len(FIGURE_IDS)
    missing = [(record, commit[:10]) for record, commit in recorded
               if _git("merge-base", "--is-ancestor", commit, "HEAD").returncode != 0]
    assert missing == []


@pytest.mark.kernel_independent
def test_provenance_names_commit_and_versions(tmp_path):
    figure_id = FIGURE_IDS[0]
    record = json.loads(figures.reproduce(figure_id, out=tmp_path).read_text())
    assert record["figure"] == figure_id and record["scale"] == "ci"
    assert record["git"]["commit"] is None or len(record["git"]["commit"]) == 40
    assert record["runtime_seconds"] >= 0


@pytest.mark.kernel_independent
def test_provenance_records_the_code_state_when_the_run_started(tmp_path, monkeypatch):
    """The checkout may change during a long run; the record must describe the code that ran."""
    from recovery.book import provenance

    states = iter([{"commit": "a" * 40, "dirty": False}, {"commit": "b" * 40, "dirty": True}])
    monkeypatch.setattr(provenance, "git_state", lambda: next(states))
    record = json.loads(figures.reproduce(FIGURE_IDS[0], out=tmp_path).read_text())
    assert record["git"] == {"commit": "a" * 40, "dirty": False}


@pytest.mark.kernel_independent
def test_redraw_reproduces_the_figure_from_its_data_alone(tmp_path):
    figure_id = FIGURE_IDS[0]
    figures.reproduce(figure_id, out=tmp_path)
    data = {suffix: (tmp_path / f"{figure_id}.{suffix}").read_bytes() for suffix in ("csv", "json", "svg")}
    (tmp_path / f"{figure_id}.svg").unlink()
    assert cli.main(["redraw", figure_id, "--out", str(tmp_path)]) == 0
    for suffix, content in data.items():
        assert (tmp_path / f"{figure_id}.{suffix}").read_bytes() == content


@pytest.mark.kernel_independent
def test_outputs_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """A run that fails while writing leaves the previous outputs as they were, and no temporary
    files (nor those a killed run left)."""
    figure_id = FIGURE_IDS[0]
    for stale in (f".{figure_id}.csv.99999.tmp", f"..{figure_id}.json.99999.tmp.99999.tmp"):
        (tmp_path / stale).write_text("left by a killed run")
    figures.reproduce(figure_id, out=tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if not path.name.startswith(".")}
    writerow = csv.DictWriter.writerow
    written = []

    def fail_after_ten_rows(self, row):
        written.append(row)
        if len(written) > 10:
            raise OSError("No space left on device")
        return writerow(self, row)

    monkeypatch.setattr(csv.DictWriter, "writerow", fail_after_ten_rows)
    with pytest.raises(OSError, match="No space"):
        figures.reproduce(figure_id, out=tmp_path)
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir() if not path.name.startswith(".")}
    assert after == before
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.kernel_independent
@pytest.mark.parametrize("damage", ["last row lost", "digit changed", "record of another run"])
def test_load_and_redraw_refuse_data_that_do_not_match_their_record(tmp_path, capsys, damage):
    figure_id = FIGURE_IDS[0]
    figures.reproduce(figure_id, out=tmp_path)
    data = tmp_path / f"{figure_id}.csv"
    text = data.read_text()
    if damage == "last row lost":
        data.write_text(text[: text.rstrip("\n").rfind("\n") + 1])
    elif damage == "digit changed":
        position = next(i for i in range(text.index("\n"), len(text)) if text[i].isdigit())
        data.write_text(text[:position] + str((int(text[position]) + 1) % 10) + text[position + 1:])
    else:
        other = tmp_path / "other"
        figures.reproduce(figure_id, out=other)
        record = json.loads((other / f"{figure_id}.json").read_text())
        record["csv_sha256"] = "0" * 64
        (tmp_path / f"{figure_id}.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="does not match its record"):
        figures.load(figure_id, tmp_path)
    assert cli.main(["redraw", figure_id, "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("recovery: error: ") and str(data) in error


def test_records_without_a_checksum_still_load(tmp_path):
    """Records written before the checksum existed load with their own row count checked."""
    figure_id = FIGURE_IDS[0]
    for suffix in ("csv", "json"):
        shutil.copy(RESULTS / "ci" / f"{figure_id}.{suffix}", tmp_path)
    path = tmp_path / f"{figure_id}.json"
    record = json.loads(path.read_text())
    record.pop("csv_sha256", None)
    path.write_text(json.dumps(record))
    rows, loaded = figures.load(figure_id, tmp_path)
    assert "csv_sha256" not in loaded and loaded["rows"] == len(rows)
    record["rows"] += 1
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError):
        figures.load(figure_id, tmp_path)


@pytest.mark.kernel_independent
def test_a_second_run_into_a_busy_folder_is_refused(tmp_path):
    figure_id = FIGURE_IDS[0]
    with figures.files.writer(tmp_path, figure_id):
        with pytest.raises(ValueError, match="another run is writing"):
            figures.reproduce(figure_id, out=tmp_path)
        with pytest.raises(ValueError, match="another run is writing"):
            figures.redraw(figure_id, tmp_path)
    assert not list(tmp_path.glob(f"{figure_id}.*"))


def test_cli_refuses_unusable_folders_and_unknown_figures_in_one_line(capsys, tmp_path, monkeypatch):
    figure_id = FIGURE_IDS[0]
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root writes into any folder: this one refuses as it would refuse anyone else
        open_file = Path.open

        def refuse(path, *args, **kwargs):
            if path.parent == read_only:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return open_file(path, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    cases = [(["reproduce", figure_id, "--out", str(a_file)], "is not a folder"),
             (["reproduce", figure_id, "--out", str(a_file / "below")], "is not a folder"),
             (["reproduce", figure_id, "--out", str(read_only)], "cannot write into"),
             (["redraw", "no-such-figure", "--out", str(tmp_path)], "unknown figure"),
             (["redraw", figure_id, "--out", str(tmp_path)], "no ")]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        error = capsys.readouterr().err
        assert error.startswith("recovery: error: ") and error.count("\n") == 1 and message in error, error
    assert a_file.read_text() == "" and not list(read_only.iterdir())


def test_cli_list_and_errors(capsys, tmp_path):
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    for figure_id, spec in figures.registry().items():
        assert figure_id in listing and spec.notebook in listing
    assert cli.main(["reproduce", "no-such-figure", "--out", str(tmp_path)]) == 2
    assert "figure_id" in capsys.readouterr().err
    assert cli.main(["reproduce", FIGURE_IDS[0], "--scale", "huge", "--out", str(tmp_path)]) == 2
    assert "scale" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_registry_rejects_incomplete_specs():
    spec = figures.get(FIGURE_IDS[0])
    with pytest.raises(ValueError, match="scales"):
        figures.register(figure_spec.FigureSpec("x", "nb", "claim", {"ci": {}}, spec.compute, spec.plot))
    with pytest.raises(ValueError, match="id"):
        figures.register(
            figure_spec.FigureSpec(spec.id, "nb", "c", spec.scales, spec.compute, spec.plot)
        )


def test_experiment_inputs_are_validated(tmp_path):
    from recovery.flat import flatness

    M = torch.ones(4, 3, dtype=torch.float64)  # rank 1
    g = torch.Generator().manual_seed(0)
    for kwargs, name in [
        ({"width": 0}, "width:"),
        ({"family": "other"}, "family:"),
        ({"spread": -1.0}, "spread:"),
    ]:
        arguments = {"width": 2, "family": "orbit", "spread": 0.5, **kwargs}
        with pytest.raises(ValueError, match=name):
            flatness.random_factorisation(M, generator=g, **arguments)
    with pytest.raises(ValueError, match="width:"):
        flatness.random_factorisation(torch.eye(3, dtype=torch.float64), 2, "orbit", 0.0, g)
    with pytest.raises(ValueError, match="rows:"):
        figures.write_csv(tmp_path / "empty.csv", [])


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_book_caption_labels_the_figure_and_links_its_data(figure_id):
    """Each figure's caption in its notebook has a stable label, the command that regenerates it,
    and download links to the committed data and provenance."""
    spec = figures.get(figure_id)
    notebook = json.loads((RESULTS.parent / spec.notebook).read_text())
    captions = ["".join(cell["source"]) for cell in notebook["cells"]
                if cell["cell_type"] == "markdown" and f"**Figure `{figure_id}`.**" in "".join(cell["source"])]
    assert len(captions) == 1
    caption = captions[0]
    assert f"(fig-{figure_id})=" in caption
    assert f"recovery reproduce {figure_id}" in caption
    for suffix in ("csv", "json"):
        assert f"<../results/paper/{figure_id}.{suffix}>`" in caption
        assert (RESULTS / "paper" / f"{figure_id}.{suffix}").is_file()


@pytest.mark.parametrize("figure_id", FIGURE_IDS)
def test_every_figure_states_claims_decided_on_its_paper_data(figure_id):
    spec = figures.get(figure_id)
    assert spec.claims, f"{figure_id} declares no claims"
    verdicts = figures.committed_report(figure_id, RESULTS / "paper").verdicts
    assert [v.claim for v in verdicts] == [claim.id for claim in spec.claims]
    for verdict in verdicts:
        assert verdict.key.strip()


def test_tolerances_compare_what_they_declare():
    close = figure_spec.Tolerance(rel=1e-6, abs=1e-9)
    assert close.matches(1.0 + 5e-7, 1.0) and not close.matches(1.0 + 2e-6, 1.0)
    assert close.matches(3e-16, -6e-16) and not close.matches(2e-9, 0.0)
    assert close.matches(math.inf, math.inf) and not close.matches(1e300, math.inf)
    assert close.matches(math.nan, math.nan) and not close.matches(0.0, math.nan)
    assert not close.matches("0.0", 0.0)
    assert figure_spec.EXACT.matches(857, 857) and not figure_spec.EXACT.matches(854, 857)
    assert not figure_spec.EXACT.matches(True, False)
    assert figure_spec.CLAIM_LEVEL.matches(854, 857) and figure_spec.CLAIM_LEVEL.matches(1.0, 2.0)


def test_compare_rows_names_each_disagreement():
    figure_id = FIGURE_IDS[0]
    committed, _ = figures.load(figure_id, RESULTS / "ci")
    assert figures.compare_rows(figure_id, committed, committed) == []
    column = next(key for key, value in committed[0].items()
                  if isinstance(value, float) and figures.get(figure_id).tolerance(key, value).compare)
    changed = [dict(row) for row in committed]
    changed[0][column] = changed[0][column] * 1.01 + 1.0
    assert figures.compare_rows(figure_id, changed, committed) == [
        f"row 0, {column}: {changed[0][column]!r} regenerated, {committed[0][column]!r} committed"]
    assert figures.compare_rows(figure_id, committed[:-1], committed) != []
