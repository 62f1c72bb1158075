"""The smoothing schedules shared by lin-RFM and IRLS (#13, item 3).

Under one schedule lin-RFM with exponent alpha and IRLS-p with p = 2 - 4 alpha must take the same
steps (the step is the same, computed by products or by an eigendecomposition), so their iterates
and smoothing histories agree to round-off; each rule is checked against its closed form."""

from __future__ import annotations

import math

import pytest
import torch

from recovery.core import problems
from recovery.core.iteration import smoothing_floor
from recovery.rfm import irls, linrfm
from recovery.rfm.schedules import ADAPTIVE, GEOMETRIC, AdaptiveSmoothing, GeometricSmoothing

F64 = torch.float64
SCHEDULES = [AdaptiveSmoothing(10.0), AdaptiveSmoothing(3.0), GeometricSmoothing(0.9), GeometricSmoothing(0.7)]


def relative(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("alpha", [0.25, 0.375, 0.5])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_one_schedule_gives_lin_rfm_and_irls_the_same_completion_run(seed, alpha, schedule):
    g = torch.Generator().manual_seed(seed)
    _, observations = problems.completion_problem(30, 24, 2, 300, g)
    steps = 25
    ours = linrfm.lin_rfm_completion(observations, alpha, schedule=schedule, max_iter=steps, tol=0.0)
    theirs = irls.irls_completion(observations, 2 - 4 * alpha, schedule=schedule, max_iter=steps, tol=0.0)
    assert ours.iterations == theirs.iterations == steps
    assert relative(ours.solution, theirs.solution) <= 1e-8
    for a, b in zip(ours.history, theirs.history, strict=True):
        assert a["smoothing"] == pytest.approx(b["smoothing"], rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("alpha", [0.25, 0.5])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_one_schedule_gives_lin_rfm_and_irls_the_same_regression_run(seed, alpha, schedule):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(20, 50, generator=g, dtype=F64)
    beta = torch.zeros(50, dtype=F64)
    beta[:4] = torch.randn(4, generator=g, dtype=F64)
    ours = linrfm.lin_rfm_regression(X, X @ beta, alpha, schedule=schedule, max_iter=40, tol=0.0)
    theirs = irls.irls_regression(X, X @ beta, 2 - 4 * alpha, schedule=schedule, max_iter=40, tol=0.0)
    assert relative(ours.solution, theirs.solution) <= 1e-8
    assert [a["smoothing"] for a in ours.history] == pytest.approx([b["smoothing"] for b in theirs.history], rel=1e-6)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 2.0])
def test_each_rule_is_its_closed_form(exponent):
    """Adaptive: eps^q <- min(eps^q, c delta), floor (1000 eps)^(1/q); geometric: eps <- theta eps,
    floor 1000 eps; the defaults are lin-RFM's factor 10 and IRLS's rate 0.9."""
    floor = smoothing_floor(F64)
    update, lowest = AdaptiveSmoothing(4.0).rule(exponent, F64)
    assert lowest == pytest.approx(floor ** (1 / exponent))
    for epsilon, change in ((0.5, 1e-3), (1e-4, 10.0), (0.3, 0.0)):
        expected = min(epsilon**exponent, 4.0 * change) ** (1 / exponent)
        assert update(epsilon, change) == pytest.approx(expected, rel=1e-12, abs=0)
    update, lowest = GeometricSmoothing(0.8).rule(exponent, F64)
    assert lowest == floor
    assert update(0.5, 123.0) == pytest.approx(0.4) and update(1e-9, 0.0) == pytest.approx(8e-10)
    assert AdaptiveSmoothing(10.0) == ADAPTIVE and GeometricSmoothing(0.9) == GEOMETRIC


def test_the_floor_holds_in_a_run():
    """A geometric schedule at rate 0.5 reaches its floor in about 40 steps and stays there."""
    g = torch.Generator().manual_seed(4)
    _, observations = problems.completion_problem(20, 20, 1, 160, g)
    result = irls.irls_completion(observations, 0.0, schedule=GeometricSmoothing(0.5), max_iter=60, tol=0.0)
    smoothings = [entry["smoothing"] for entry in result.history]
    assert smoothings[:3] == pytest.approx([1.0, 0.5, 0.25])
    assert min(smoothings) == smoothing_floor(F64) and smoothings[-1] == smoothing_floor(F64)
    assert math.isclose(smoothings[10], 0.5**10)


def test_bad_schedules_are_refused_by_name():
    g = torch.Generator().manual_seed(0)
    _, observations = problems.completion_problem(8, 8, 1, 40, g)
    for call in (lambda: linrfm.lin_rfm_completion(observations, schedule="adaptive"),
                 lambda: irls.irls_completion(observations, schedule=0.9),
                 lambda: linrfm.lin_rfm_regression(torch.randn(3, 6, dtype=F64), torch.randn(3, dtype=F64),
                                                   schedule=None)):
        with pytest.raises(ValueError, match="schedule: expected AdaptiveSmoothing"):
            call()
    for make, name in ((lambda: AdaptiveSmoothing(0.0), "factor"), (lambda: AdaptiveSmoothing(float("nan")), "factor"),
                       (lambda: GeometricSmoothing(1.5), "rate"), (lambda: GeometricSmoothing(0.0), "rate")):
        with pytest.raises(ValueError, match=f"{name}:"):
            make()
