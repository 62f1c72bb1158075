"""Factorised gradient descent, plain and trace-penalised, against autodiff and the convex relaxation."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import sample_map

from recovery import convex
from recovery.core import problems
from recovery.core.operators import gaussian_sensing
from recovery.experiments import landscape
from recovery.flat import flatness
from recovery.flat.descent import (
    TracePenalisedLoss,
    gradient_descent,
    trace_penalised_descent,
)

F64 = torch.float64


def sensing_instance(seed: int, m: int, d1: int = 6, d2: int = 5, rank: int = 1):
    g = torch.Generator().manual_seed(seed)
    op = gaussian_sensing(m, d1, d2, g)
    M = problems.low_rank_matrix(d1, d2, rank, g)
    return op, M, op.measure(M), g


def relative_residual(op, b, L, R) -> float:
    return float(torch.linalg.vector_norm(op.apply(L @ R.T) - b) / torch.linalg.vector_norm(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("model", ["sensing", "bilinear", "completion"])
def test_trace_is_the_scaled_hessian_trace(seed, model):
    g = torch.Generator().manual_seed(seed)
    d1, d2, k = 7, 4, 3
    op = sample_map(model, d1, d2, g, m=20, p=0.6)
    b = torch.randn(op.num_measurements, generator=g, dtype=F64)
    L, R = torch.randn(d1, k, generator=g, dtype=F64), torch.randn(d2, k, generator=g, dtype=F64)
    objective = TracePenalisedLoss(op, b)
    reference = flatness.scaled_hessian_trace(op, L, R)
    assert math.isclose(float(objective.trace(L, R)), float(reference), rel_tol=1e-12)
    _, autodiff = flatness.autodiff_traces(op, b, L, R)
    assert math.isclose(float(objective.trace(L, R)), float(autodiff), rel_tol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weight", [0.0, 0.3])
def test_gradient_matches_autograd(seed, weight):
    op, _, b, g = sensing_instance(seed, 25, d1=6, d2=4)
    b = b + 0.1 * torch.randn(b.shape, generator=g, dtype=F64)  # off the solution set
    L = torch.randn(6, 3, generator=g, dtype=F64, requires_grad=True)
    R = torch.randn(4, 3, generator=g, dtype=F64, requires_grad=True)
    objective = TracePenalisedLoss(op, b)
    auto_L, auto_R = torch.autograd.grad(objective.value(L, R, weight), (L, R))
    grad_L, grad_R = objective.gradient(L.detach(), R.detach(), weight)
    assert torch.allclose(grad_L, auto_L, rtol=1e-12, atol=1e-12)
    assert torch.allclose(grad_R, auto_R, rtol=1e-12, atol=1e-12)


def test_trace_is_the_curvature_term_of_the_noise_averaged_loss():
    # With antithetic pairs (xi, -xi) the cubic term cancels and the quartic term does not depend
    # on the point, so the averaged differences at two points estimate sigma^2/2 (T1 - T2).
    op, _, b, g = sensing_instance(3, 15, d1=6, d2=3)
    objective = TracePenalisedLoss(op, b)
    points = [(torch.randn(6, 2, generator=g, dtype=F64), torch.randn(3, 2, generator=g, dtype=F64))
              for _ in range(2)]
    sigma, samples = 0.1, 1500
    differences = []
    for _ in range(samples):
        xi_L = sigma / math.sqrt(6) * torch.randn(6, 2, generator=g, dtype=F64)
        xi_R = sigma / math.sqrt(3) * torch.randn(3, 2, generator=g, dtype=F64)
        smoothed = [
            (objective.value(L + xi_L, R + xi_R, 0.0) + objective.value(L - xi_L, R - xi_R, 0.0)) / 2
            - objective.value(L, R, 0.0)
            for L, R in points
        ]
        differences.append(float(smoothed[0] - smoothed[1]))
    differences = torch.tensor(differences, dtype=F64)
    expected = sigma**2 / 2 * float(objective.trace(*points[0]) - objective.trace(*points[1]))
    standard_error = float(differences.std()) / math.sqrt(samples)
    assert abs(float(differences.mean()) - expected) < 4 * standard_error
    assert abs(expected) > 10 * standard_error  # the check has power


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [0.3, 1.0])
def test_gradient_descent_interpolates(seed, scale):
    op, _, b, g = sensing_instance(seed, 20)
    L0, R0 = landscape.random_start(6, 5, 5, scale, g)
    result = gradient_descent(op, b, L0, R0, tol=1e-9)
    assert result.converged and result.iterations > 0
    assert relative_residual(op, b, result.info["L"], result.info["R"]) <= 1e-9 * (1 + 1e-6)
    assert math.isclose(result.info["loss"], float(flatness.loss(op, b, result.info["L"], result.info["R"])), rel_tol=1e-12)


@pytest.mark.parametrize("penalty", [0.0, 0.2])
def test_every_step_decreases_its_objective(penalty):
    # Step t moves theta_t to theta_{t+1} with weight penalty * decay^t: Armijo makes
    # F_t(theta_{t+1}) < F_t(theta_t). Rerunning with max_iter = t exposes every iterate.
    op, _, b, g = sensing_instance(4, 20)
    L0, R0 = landscape.random_start(6, 5, 5, 1.0, g)
    objective, decay = TracePenalisedLoss(op, b), 0.9
    iterates = [(L0, R0)]
    for steps in range(1, 30):
        if penalty:
            result = trace_penalised_descent(op, b, L0, R0, penalty=penalty, decay=decay,
                                             max_iter=steps)
        else:
            result = gradient_descent(op, b, L0, R0, max_iter=steps)
        iterates.append((result.info["L"], result.info["R"]))
    for t in range(len(iterates) - 1):
        weight = penalty * decay**t
        assert objective.value(*iterates[t + 1], weight) < objective.value(*iterates[t], weight)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trace_penalised_descent_reaches_the_flat_relaxation(seed):
    # Recovery regime: the convex flat relaxation (Theorem 3.2), solved by ADMM, is the reference.
    op, M, b, g = sensing_instance(seed, 45, d1=10, d2=8)  # 45 of 80 entries' worth
    D1, D2 = flatness.rescaling_matrices(op)
    Y = convex.weighted_nuclear_minimization(op, b, D1, D2, tol=1e-12).solution
    L0, R0 = landscape.random_start(10, 8, 8, 1.0, g)
    result = trace_penalised_descent(op, b, L0, R0, penalty=0.2, decay=0.997, tol=1e-10)
    assert result.converged
    assert float(torch.linalg.matrix_norm(result.info["L"] @ result.info["R"].T - Y)) < 1e-6
    flat_value = 4 * float(flatness.nuclear_norm(D1 @ Y @ D2))
    assert float(flatness.scaled_hessian_trace(op, result.info["L"], result.info["R"])) < flat_value * (1 + 1e-6)
    # from the same start plain gradient descent interpolates elsewhere, and is sharper
    plain = gradient_descent(op, b, L0, R0, tol=1e-10)
    assert plain.converged
    assert float(torch.linalg.matrix_norm(plain.info["L"] @ plain.info["R"].T - M)) > 1e-2
    assert float(flatness.scaled_hessian_trace(op, plain.info["L"], plain.info["R"])) > flat_value * 1.01


def test_a_start_on_the_solution_set_takes_no_step():
    op, M, b, _ = sensing_instance(5, 20)
    L, R = flatness.flat_factors(op, M, 3)
    for run in (gradient_descent, trace_penalised_descent):
        result = run(op, b, L, R)
        assert result.iterations == 0 and result.converged
        assert torch.equal(result.info["L"], L) and torch.equal(result.info["R"], R)


def test_iteration_budget_is_reported_not_hidden():
    op, _, b, g = sensing_instance(6, 20)
    L0, R0 = landscape.random_start(6, 5, 5, 1.0, g)
    result = gradient_descent(op, b, L0, R0, max_iter=3)
    assert result.iterations == 3 and not result.converged
    assert result.info["loss"] > 1e-20


def test_overflow_raises_floating_point_error_with_the_iteration():
    op, _, b, _ = sensing_instance(7, 20)
    op32 = type(op)(op.A.float())
    huge = torch.full((6, 5), 1e20, dtype=torch.float32)
    with pytest.raises(FloatingPointError, match="iteration 0"):
        gradient_descent(op32, b.float(), huge, huge[:5])


def test_inputs_are_validated():
    op, _, b, g = sensing_instance(8, 20)
    L0, R0 = landscape.random_start(6, 5, 5, 1.0, g)
    cases = [
        (lambda: gradient_descent(op.A, b, L0, R0), "op:"),
        (lambda: gradient_descent(op, b[:-1], L0, R0), "b:"),
        (lambda: gradient_descent(op, b, L0[:-1], R0), "L:"),
        (lambda: gradient_descent(op, b, L0, R0[:, :-1]), "R:"),
        (lambda: gradient_descent(op, b, L0, R0, tol=0.0), "tol:"),
        (lambda: gradient_descent(op, b, L0, R0, tol=2.0), "tol:"),
        (lambda: gradient_descent(op, b, L0, R0, max_iter=0), "max_iter:"),
        (lambda: trace_penalised_descent(op, b, L0, R0, penalty=-1.0), "penalty:"),
        (lambda: trace_penalised_descent(op, b, L0, R0, decay=1.5), "decay:"),
        (lambda: TracePenalisedLoss(op, b).value(L0, R0, -0.1), "weight:"),
        (lambda: TracePenalisedLoss(op, b).gradient(L0, R0, math.nan), "weight:"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
