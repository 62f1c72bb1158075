"""Sweeps run unit by unit: a killed run resumes without recomputing or losing units; parallel
runs give the same rows with a bounded number of workers; a checkpoint of other parameters, code,
libraries or kernels is refused, and so is a unit file that is damaged or not vouched for."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pytest
import slow_sweep_figure

from recovery.book import cli, figures, provenance

pytestmark = pytest.mark.kernel_independent  # processes and files, not numbers: make portable skips it

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def slow_figure(monkeypatch, tmp_path):
    """Register the slow figure for this test only; markers of computed units go to ``log``."""
    monkeypatch.setitem(figures._REGISTRY, slow_sweep_figure.ID, slow_sweep_figure.SPEC)
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("SLOW_FIGURE_LOG", str(log))
    return log


def computed_units(log: Path) -> list[int]:
    return sorted(int(marker.name.split("-")[1]) for marker in log.iterdir())


def test_killed_run_resumes_without_recomputing_or_losing_units(slow_figure, tmp_path):
    reference = tmp_path / "uninterrupted"
    figures.reproduce(slow_sweep_figure.ID, "ci", reference)
    assert computed_units(slow_figure) == list(range(6))
    for marker in slow_figure.iterdir():
        marker.unlink()

    out = tmp_path / "killed"
    checkpoint = out / f".{slow_sweep_figure.ID}.ci.partial"
    script = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); import slow_sweep_figure; "
        "from recovery.book import cli, figures; "
        "figures._REGISTRY[slow_sweep_figure.ID] = slow_sweep_figure.SPEC; "
        f"cli.main(['reproduce', slow_sweep_figure.ID, '--out', {str(out)!r}])"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while len(list(checkpoint.glob("unit-*.json"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = sorted(int(path.stem.split("-")[1]) for path in checkpoint.glob("unit-*.json"))
    assert 2 <= len(done_before) < 6
    assert not (out / f"{slow_sweep_figure.ID}.csv").exists()

    record_path = figures.reproduce(slow_sweep_figure.ID, "ci", out)
    record = json.loads(record_path.read_text())
    assert record["resumed_units"] == len(done_before) and record["units"] == 6
    # Every unit computed exactly once over the two runs (the kill may have cut one short).
    computed = computed_units(slow_figure)
    assert set(computed) == set(range(6))
    assert [unit for unit in computed if unit in done_before] == done_before
    assert (out / f"{slow_sweep_figure.ID}.csv").read_text() == (reference / f"{slow_sweep_figure.ID}.csv").read_text()
    assert not checkpoint.exists()


def test_a_checkpoint_of_other_parameters_is_refused(slow_figure, tmp_path, monkeypatch):
    checkpoint = tmp_path / f".{slow_sweep_figure.ID}.ci.partial"
    checkpoint.mkdir()
    (checkpoint / "manifest.json").write_text(json.dumps({"figure": slow_sweep_figure.ID, "parameters": {"units": 5}}))
    with pytest.raises(ValueError, match=r"interrupted run with other parameters.*--restart"):
        figures.reproduce(slow_sweep_figure.ID, "ci", tmp_path)


def interrupted(out: Path, monkeypatch, failing_unit: int = 3) -> Path:
    """The checkpoint of a paper-scale run of the slow figure that stopped at ``failing_unit``."""
    monkeypatch.setenv("SLOW_FIGURE_FAIL", str(failing_unit))
    with pytest.raises(RuntimeError, match="SLOW_FIGURE_FAIL"):
        figures.reproduce(slow_sweep_figure.ID, "paper", out)
    monkeypatch.delenv("SLOW_FIGURE_FAIL")
    checkpoint = out / f".{slow_sweep_figure.ID}.paper.partial"
    assert len(list(checkpoint.glob("unit-*.json"))) == failing_unit
    return checkpoint


@pytest.mark.parametrize("change", ["uncommitted edit reverted", "kernel settings", "library version"])
def test_a_checkpoint_of_other_code_libraries_or_kernels_is_refused(slow_figure, tmp_path, monkeypatch, change):
    """Resuming must not mix rows of two code versions (or two kernel configurations) in one CSV."""
    edited = {"commit": "c" * 40, "dirty": True, "diff": "e" * 64}
    monkeypatch.setattr(provenance, "git_state", lambda: edited)
    interrupted(tmp_path, monkeypatch)
    if change == "uncommitted edit reverted":
        monkeypatch.setattr(provenance, "git_state", lambda: {"commit": "c" * 40, "dirty": False, "diff": None})
    elif change == "kernel settings":
        monkeypatch.setenv("OPENBLAS_CORETYPE", os.environ.get("OPENBLAS_CORETYPE", "") + "Haswell")
    else:
        version = provenance.metadata.version
        monkeypatch.setattr(provenance.metadata, "version", lambda name: "0.0" if name == "scipy" else version(name))
    with pytest.raises(ValueError, match=r"interrupted run with other .*--restart"):
        figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path)
    assert not (tmp_path / f"{slow_sweep_figure.ID}.csv").exists()


def test_git_state_keys_the_uncommitted_diff(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "one")
    clean = provenance.git_state(tmp_path)
    assert clean["dirty"] is False and clean["diff"] is None
    (tmp_path / "code.py").write_text("x = 2\n")
    first = provenance.git_state(tmp_path)
    (tmp_path / "code.py").write_text("x = 3\n")
    second = provenance.git_state(tmp_path)
    assert first["dirty"] and second["dirty"] and len({first["diff"], second["diff"]}) == 2
    (tmp_path / "code.py").write_text("x = 1\n")
    assert provenance.git_state(tmp_path) == clean


@pytest.mark.parametrize("damage", ["altered number", "truncated", "no manifest", "other unit"])
def test_a_damaged_or_unvouched_unit_file_is_refused_by_name(slow_figure, tmp_path, monkeypatch, capsys, damage):
    checkpoint = interrupted(tmp_path, monkeypatch)
    unit = checkpoint / "unit-00001.json"
    content = json.loads(unit.read_text())
    if damage == "altered number":
        content["rows"][0]["value"] *= 1.01
        unit.write_text(json.dumps(content))
    elif damage == "truncated":
        unit.write_text(unit.read_text()[:40])
    elif damage == "no manifest":
        (checkpoint / "manifest.json").unlink()
        unit = checkpoint
    else:
        (checkpoint / "unit-00000.json").replace(unit)
    argv = ["reproduce", slow_sweep_figure.ID, "--scale", "paper", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("recovery: error: ") and error.count("\n") == 1
    assert str(unit) in error and "--restart" in error
    assert not (tmp_path / f"{slow_sweep_figure.ID}.csv").exists()

    reference = tmp_path / "reference"
    figures.reproduce(slow_sweep_figure.ID, "paper", reference)
    assert cli.main([*argv, "--restart"]) == 0
    assert json.loads((tmp_path / f"{slow_sweep_figure.ID}.json").read_text())["resumed_units"] == 0
    csv = f"{slow_sweep_figure.ID}.csv"
    assert (tmp_path / csv).read_bytes() == (reference / csv).read_bytes()


def test_parallel_units_give_the_rows_of_one_process_with_bounded_workers(tmp_path):
    """``--jobs 48`` for a figure of two units starts min(48, units, cores) workers."""
    figure_id = "flat-identity"
    spec = figures.get(figure_id)
    params = figures.parameters(figure_id, "ci")
    assert len(spec.split(params)) == params["truths"] == 2
    figures.reproduce(figure_id, "ci", tmp_path / "one")
    record = json.loads(figures.reproduce(figure_id, "ci", tmp_path / "two", jobs=48).read_text())
    assert record["jobs"] == min(2, joblib.cpu_count()) and record["units"] == params["truths"]
    # joblib gives each worker cores / workers threads; the record says so beside the caller's
    assert record["worker_threads"] == [max(1, joblib.cpu_count() // record["jobs"])]
    one = json.loads((tmp_path / "one" / f"{figure_id}.json").read_text())
    assert one["worker_threads"] == [one["device"]["torch_threads"]]
    assert (tmp_path / "one" / f"{figure_id}.csv").read_text() == (tmp_path / "two" / f"{figure_id}.csv").read_text()


@pytest.mark.parametrize("figure_id", [f for f, spec in figures.registry().items() if spec.split is not None])
def test_units_partition_the_sweep(figure_id):
    """The units are distinct and each selects a valid part; a part out of range is refused."""
    spec = figures.get(figure_id)
    params = figures.parameters(figure_id, "paper")
    units = spec.split(params)
    assert units and len({json.dumps(unit, sort_keys=True) for unit in units}) == len(units)
    if all(set(unit) == {"part"} for unit in units):
        assert [unit["part"] for unit in units] == list(range(len(units)))
        with pytest.raises(ValueError, match="part"):
            spec.compute({**figures.parameters(figure_id, "ci"), "part": 10**6})


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="jobs"):
        figures.reproduce("flat-identity", "ci", tmp_path, jobs=0)


def test_device_is_checked_and_recorded(slow_figure, tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="runs on the CPU only"):
        figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path, device="cpu")
    with_device = dataclasses.replace(slow_sweep_figure.SPEC, accepts_device=True)
    monkeypatch.setitem(figures._REGISTRY, slow_sweep_figure.ID, with_device)
    record = json.loads(figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path, device="cpu").read_text())
    assert record["parameters"]["device"] == "cpu"
    with pytest.raises(ValueError, match="expected cpu, cuda or cuda:N"):
        figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path, device="gpu")
    monkeypatch.setattr(figures.torch.cuda, "is_available", lambda: False)
    assert cli.main(["reproduce", slow_sweep_figure.ID, "--scale", "paper", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["meta", "mps", "cuda:x", "cuda:-1", "xla"])
def test_devices_other_than_cpu_and_cuda_are_refused_before_any_checkpoint(slow_figure, tmp_path, monkeypatch,
                                                                          capsys, device):
    monkeypatch.setitem(figures._REGISTRY, slow_sweep_figure.ID,
                        dataclasses.replace(slow_sweep_figure.SPEC, accepts_device=True))
    out = tmp_path / "out"
    argv = ["reproduce", slow_sweep_figure.ID, "--scale", "paper", "--out", str(out), "--device", device]
    assert cli.main(argv) == 2
    assert re.fullmatch(r"recovery: error: device: expected cpu, cuda or cuda:N, got .*\n", capsys.readouterr().err)
    assert not out.exists()


def test_loaded_rows_have_the_types_the_experiment_returned(slow_figure, tmp_path):
    figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path)
    rows, _ = figures.load(slow_sweep_figure.ID, tmp_path)
    computed = slow_sweep_figure.compute(figures.parameters(slow_sweep_figure.ID, "paper"))
    assert rows == computed
    assert [[type(v) for v in row.values()] for row in rows] == [[type(v) for v in row.values()] for row in computed]
    assert rows[0]["weight"] == 0.0 and isinstance(rows[0]["weight"], float) and rows[0]["tag"] == "000"
