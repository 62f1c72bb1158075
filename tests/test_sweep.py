"""Sweeps run unit by unit: a killed run resumes without recomputing or losing units; parallel
runs give the same rows; a checkpoint of other parameters is refused."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import slow_sweep_figure

from recovery import cli, figures

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
        "from recovery import cli, figures; "
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
    with pytest.raises(ValueError, match="interrupted run of other parameters"):
        figures.reproduce(slow_sweep_figure.ID, "ci", tmp_path)


def test_parallel_units_give_the_rows_of_one_process(tmp_path):
    figure_id = "flat-identity"
    spec = figures.get(figure_id)
    params = figures.parameters(figure_id, "ci")
    assert len(spec.split(params)) == params["truths"] >= 2
    figures.reproduce(figure_id, "ci", tmp_path / "one")
    record = json.loads(figures.reproduce(figure_id, "ci", tmp_path / "two", jobs=2).read_text())
    assert record["jobs"] == 2 and record["units"] == params["truths"]
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
    with pytest.raises(ValueError, match="expected cpu or cuda"):
        figures.reproduce(slow_sweep_figure.ID, "paper", tmp_path, device="gpu")
    monkeypatch.setattr(figures.torch.cuda, "is_available", lambda: False)
    assert cli.main(["reproduce", slow_sweep_figure.ID, "--scale", "paper", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
