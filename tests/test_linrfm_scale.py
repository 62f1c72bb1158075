"""Timing experiment: the timer stops where it should and excludes the test error's cost, the
methods' deterministic outputs, the committed GPU records read back, and the split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from recovery.book import figures
from recovery.core import metrics, timing
from recovery.core.timing import timed
from recovery.experiments import linrfm_scale
from recovery.rfm.published import run_published

RESULTS = Path(__file__).resolve().parents[1] / "results"


class FakeClock:
    """A clock that moves only when told to: timing logic is tested without wall-clock time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def fake_run(clock, errors, seconds_per_iteration):
    """An 'iterative method' whose estimates are the numbers in ``errors``, each iteration
    taking ``seconds_per_iteration`` on ``clock``."""

    def run(callback):
        for iteration, error in enumerate(errors, start=1):
            clock.advance(seconds_per_iteration)
            callback(iteration, torch.tensor(error, dtype=torch.float64))

    return run


def test_timer_stops_at_the_target_and_excludes_the_error_cost(clock):
    def slow_error(estimate):
        clock.advance(0.05)
        return float(estimate)

    timing = timed("fake", fake_run(clock, [0.5, 0.1, 0.01, 0.001, 1e-5, 1e-6], 0.001), slow_error,
                                target=1e-3)
    assert timing.iterations == 4 and timing.reached_at[0] == 4 and timing.error == 0.001
    assert timing.seconds == pytest.approx(0.004)  # the error's 4 x 50 ms are not counted
    finer = timed("fake", fake_run(clock, [0.5, 1e-4, 1e-7, 1e-9], 0.0), float, target=1e-3,
                               finer=1e-8)
    assert finer.reached_at[0] == 2 and finer.finer_at[0] == 4
    missed = timed("fake", fake_run(clock, [0.5, 0.4], 0.0), float, target=1e-3)
    assert missed.reached_at is None and missed.iterations == 2
    budget = timed("fake", fake_run(clock, [0.5] * 100, 0.01), float, target=1e-3,
                                budget_seconds=0.035)
    assert budget.iterations == 4  # the first reading past 0.035 s stops the run


def test_methods_report_deterministic_iterations_and_errors():
    Y, obs = linrfm_scale.scale_problem(40, 2, 0.3, torch.Generator().manual_seed(3))
    assert obs.count == 480
    runs = {m: linrfm_scale.run_method(m, Y, obs, target=1e-3, max_iter=150) for m in linrfm_scale.LABELS}
    again = linrfm_scale.run_method("momentum", Y, obs, target=1e-3, max_iter=150)
    assert (again.iterations, again.error) == (runs["momentum"].iterations, runs["momentum"].error)
    assert runs["momentum"].reached_at is not None and runs["momentum"].error <= 1e-3
    assert runs["momentum"].iterations < runs["plain"].iterations
    # the published loop's error is its own test MSE, converted to a relative error
    loop = run_published(Y.numpy(), obs, 0.5, target_mse=1e-6 * float(Y[~obs.mask()].square().mean()),
                         max_iter=150)
    expected = metrics.unobserved_relative_error(torch.from_numpy(loop.solution), Y, obs)
    assert math.isclose(runs["published"].error, expected, rel_tol=1e-9)
    assert runs["published"].iterations == loop.iterations
    with pytest.raises(ValueError, match="method:"):
        linrfm_scale.run_method("svd", Y, obs, target=1e-3, max_iter=1)


def test_committed_gpu_records_are_read_as_rows():
    path = "results/benchmarks/linrfm_scale_cuda_10000.json"
    rows = linrfm_scale.recorded_rows(path)
    record = json.loads((RESULTS / "benchmarks" / "linrfm_scale_cuda_10000.json").read_text())
    assert [row["method"] for row in rows] == ["momentum", "plain", "irls"]
    for row, result in zip(rows, record["results"], strict=True):
        assert row["device"] == "cuda" and row["device_name"] == "NVIDIA H200" and row["dtype"] == "float32"
        assert row["seconds_per_iteration"] == result["seconds_per_iteration"]
        assert row["reached"] == (result["iterations_to_target"] is not None)
    assert rows[0]["d"] ** 2 - rows[0]["observed"] == 98_000_000


def test_split_units_concatenate_to_the_full_run():
    params = figures.parameters("linrfm-scale", "ci")
    spec = figures.get("linrfm-scale")
    whole = linrfm_scale.compute(params)
    pieces = [row for unit in spec.split(params) for row in linrfm_scale.compute({**params, **unit})]
    assert len(pieces) == len(whole)
    for new, old in zip(pieces, whole, strict=True):
        assert {k: v for k, v in new.items() if k not in spec.timing_columns} == {
            k: v for k, v in old.items() if k not in spec.timing_columns}
    assert set(spec.timing_columns) == {"seconds_per_iteration", "seconds_to_target", "seconds"}


def test_observed_fraction_is_clipped():
    assert linrfm_scale.observed_fraction(100, 3) == 0.05
    assert linrfm_scale.observed_fraction(10_000, 3) == 0.02
    assert 0.02 < linrfm_scale.observed_fraction(1000, 3) < 0.05


def test_the_equal_terms_claim_holds_on_a_run_and_fails_on_a_different_schedule():
    """Under lin-RFM's schedule IRLS-0 must take plain lin-RFM's steps (the check passes on a real
    run); run with its own geometric schedule in that role it does not (the check fails)."""
    params = {"target": 1e-3}
    Y, obs = linrfm_scale.scale_problem(40, 2, 0.3, torch.Generator().manual_seed(5))
    rows = [linrfm_scale._row("cpu", "CPU", "float64", 40, 2, obs.count, method,
                              linrfm_scale.run_method(method, Y, obs, target=1e-3, max_iter=120))
            for method in ("plain", "irls-adaptive", "irls")]
    assert linrfm_scale._same_schedule(rows, params).holds
    swapped = [row | {"method": "irls-adaptive"} if row["method"] == "irls" else row
               for row in rows if row["method"] != "irls-adaptive"]
    assert not linrfm_scale._same_schedule(swapped, params).holds
    assert not linrfm_scale._same_schedule([row for row in rows if row["method"] == "plain"], params).holds
