"""Depth chapter: the flattest Hadamard factorisation (AM-GM) against autodiff and random
factorisations, flat solutions as weighted l_q minimisers, recovery at depth 2 only, the l1
statistical dimension against numerical integration, determinism of the sweep, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate
from torch.func import hessian

from recovery.book.figures import parameters
from recovery.core import metrics, problems
from recovery.experiments import depth as experiment
from recovery.experiments.spec import trial_generator
from recovery.flat import flatness

F64 = torch.float64


def rel(a, b) -> float:
    return abs(float(a) - float(b)) / abs(float(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_balanced_factors_are_the_flattest_factorisation(depth, seed):
    """AM-GM: balanced |v_l(i)| = |x_i|^{1/k} has the autodiff trace (2k/m) sum ||a_i||^2 |x_i|^{2-2/k},
    and no other factorisation of the same x is flatter."""
    g = torch.Generator().manual_seed(seed)
    m, d = 6, 9
    X = torch.randn(m, d, generator=g, dtype=F64)
    x = torch.randn(d, generator=g, dtype=F64)
    x[seed] = 0.0  # a zero coordinate costs nothing in the balanced factorisation
    balanced = flatness.balanced_hadamard_factors(x, depth)
    assert len(balanced) == depth
    assert float((torch.stack(balanced).prod(dim=0) - x).abs().max()) < 1e-14
    assert torch.allclose(torch.stack(balanced).abs(), x.abs() ** (1 / depth))

    def loss(theta):
        return flatness.hadamard_loss(X, X @ x, list(theta.reshape(depth, d)))

    autodiff = torch.trace(hessian(loss)(torch.cat(balanced)))
    value = flatness.hadamard_flat_value(X, x, depth)
    assert rel(value, autodiff) < 1e-12
    assert rel(flatness.hadamard_trace(X, balanced), autodiff) < 1e-12
    for _ in range(30):
        scales = torch.exp(torch.randn(depth, d, generator=g, dtype=F64))
        signs = torch.where(torch.rand(depth, d, generator=g) < 0.5, -1.0, 1.0).to(F64)
        signs[-1] = signs[:-1].prod(dim=0)  # an even number of sign flips per coordinate
        scales[-1] = 1 / scales[:-1].prod(dim=0)
        other = [v * s * sign for v, s, sign in zip(balanced, scales, signs, strict=True)]
        assert float((torch.stack(other).prod(dim=0) - x).abs().max()) < 1e-12
        assert float(flatness.hadamard_trace(X, other)) > float(value) * (1 + 1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_flat_solutions_minimise_the_flat_trace_over_interpolants(depth, seed):
    """Among interpolants x* + null-space moves, the weighted l_q solution has the smallest
    flattest trace, and for q > 1 it is stationary: X^T lambda = q w sign(x)|x|^{q-1} for some lambda."""
    g = torch.Generator().manual_seed(10 + seed)
    d, m = 12, 7
    X, x_star = problems.planted_sparse_regression(d, 3, m, g)
    y = X @ x_star
    solution = flatness.hadamard_flat_solutions(X[None], y[None], depth, tol=1e-12, max_iter=50_000)
    assert bool(solution.converged.all())
    x = solution.solution[0]
    assert float(torch.linalg.vector_norm(X @ x - y)) < 1e-9
    best = float(flatness.hadamard_flat_value(X, x, depth))
    null_space = torch.linalg.svd(X)[2][m:].T
    for scale in (1e-3, 1e-1, 1.0):
        for _ in range(10):
            moved = x + scale * null_space @ torch.randn(d - m, generator=g, dtype=F64)
            assert float(flatness.hadamard_flat_value(X, moved, depth)) > best
    assert float(flatness.hadamard_flat_value(X, x_star, depth)) >= best * (1 - 1e-9)
    if depth == 2:
        return  # l1 is not differentiable at zero; the comparison above covers it
    q = flatness.hadamard_flat_exponent(depth)
    gradient = q * X.square().sum(dim=0) * torch.sign(x) * x.abs() ** (q - 1)
    multiplier = torch.linalg.lstsq(X.T, gradient[:, None]).solution[:, 0]
    assert float(torch.linalg.vector_norm(X.T @ multiplier - gradient)) < 1e-5 * float(
        torch.linalg.vector_norm(gradient)
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depth_two_recovers_and_deeper_flat_solutions_do_not(seed):
    d, sparsity, m = 30, 2, 20
    X, x_star = problems.planted_sparse_regression(d, sparsity, m, trial_generator(seed, m))
    y = X @ x_star
    errors, solutions = {}, {}
    for depth in (2, 3, 4, math.inf):
        result = flatness.hadamard_flat_solutions(X[None], y[None], depth)
        assert bool(result.converged.all())
        solutions[depth] = result.solution[0]
        errors[depth] = metrics.relative_error(solutions[depth], x_star)
        assert float(torch.linalg.vector_norm(X @ solutions[depth] - y)) < 1e-8
    assert errors[2] < 1e-6
    assert min(errors[3], errors[4], errors[math.inf]) > 1e-2
    # the flat objective moves towards l2 as k grows: the l2 interpolant is the worst here
    assert errors[math.inf] > errors[4] and errors[math.inf] > errors[3]
    off_support = solutions[4][x_star == 0]
    assert int((off_support.abs() > 1e-6).sum()) == d - sparsity  # nothing off the support vanishes


def test_flat_exponent():
    assert flatness.hadamard_flat_exponent(2) == 1.0
    assert flatness.hadamard_flat_exponent(3) == pytest.approx(4 / 3)
    assert flatness.hadamard_flat_exponent(4) == 1.5
    assert flatness.hadamard_flat_exponent(math.inf) == 2.0


def expected_excess(tau: float) -> float:
    """E (|g| - tau)_+^2 for g ~ N(0, 1), by quadrature."""
    value, _ = integrate.quad(lambda u: (u - tau) ** 2 * math.exp(-u * u / 2), tau, math.inf)
    return 2 * value / math.sqrt(2 * math.pi)


@pytest.mark.parametrize(("d", "sparsity"), [(100, 5), (200, 10), (50, 1), (30, 20)])
def test_l1_statistical_dimension_matches_quadrature(d, sparsity):
    rho = sparsity / d
    taus = np.linspace(0, 5, 2001)
    grid = min(rho * (1 + t * t) + (1 - rho) * expected_excess(t) for t in taus)
    delta = problems.l1_statistical_dimension(d, sparsity)
    assert abs(delta - d * grid) < 1e-3
    assert sparsity < delta < d


def test_l1_statistical_dimension_limits():
    assert problems.l1_statistical_dimension(40, 40) == pytest.approx(40, abs=1e-6)
    values = [problems.l1_statistical_dimension(100, s) for s in (1, 5, 10, 20)]
    assert all(a < b for a, b in itertools.pairwise(values))


def test_sweep_rows_are_deterministic_and_complete():
    params = {**parameters(experiment.FIGURE_ID, "ci"), "m_values": [8, 12], "trials": 2,
              "depths": [2, 4], "init_scales": [1e-4, 1e-1], "gd_max_iter": 300}
    rows = experiment.compute(params)
    again = experiment.compute(params)
    assert rows == again
    per_m = params["trials"] * (2 * len(params["depths"]) + 1)
    assert len(rows) == len(params["m_values"]) * per_m
    assert {row["method"] for row in rows} == {"flat", "gd"}
    other = experiment.compute({**params, "seed": params["seed"] + 1})
    assert [row["relative_error"] for row in other] != [row["relative_error"] for row in rows]
    for row in rows:
        assert row["q"] == flatness.hadamard_flat_exponent(row["depth"])
        assert (row["flat_trace"] == math.inf) == (row["depth"] == math.inf)


def test_same_instance_for_flat_and_gd():
    """The GD rows fit exactly the instances the flat rows solve: the same residual scale."""
    params = {**parameters(experiment.FIGURE_ID, "ci"), "m_values": [18], "trials": 1, "gd_max_iter": 100}
    rows = experiment.compute(params)
    X, x_star = problems.planted_sparse_regression(params["d"], params["sparsity"], 18,
                                                   trial_generator(params["seed"], 18, 0))
    y = X @ x_star
    flat = flatness.hadamard_flat_solutions(X[None], y[None], 2).solution[0]
    (row,) = [row for row in rows if row["method"] == "flat" and row["depth"] == 2]
    assert row["relative_error"] == metrics.relative_error(flat, x_star)


def test_bad_input():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(3, 4, dtype=F64)
    for depth in (1, 2.5, True, "3", -math.inf):
        with pytest.raises(ValueError, match="depth:"):
            flatness.hadamard_flat_exponent(depth)
    with pytest.raises(ValueError, match="m:"):
        problems.planted_sparse_regression(10, 2, 0, g)
    with pytest.raises(ValueError, match="sparsity:"):
        problems.l1_statistical_dimension(10, 11)
    with pytest.raises(ValueError, match="depth:"):
        flatness.balanced_hadamard_factors(torch.ones(4), 0)
    with pytest.raises(ValueError, match="x:"):
        flatness.hadamard_flat_value(X, torch.ones(5), 2)
    with pytest.raises(ValueError, match="x:"):
        flatness.balanced_hadamard_factors(torch.ones(2, 2), 2)
    with pytest.raises(ValueError, match="X:"):
        flatness.hadamard_flat_solutions(X, torch.ones(3), 2)
    with pytest.raises(ValueError, match="init_scales:"):
        experiment.compute({**parameters(experiment.FIGURE_ID, "ci"), "init_scales": [1e-2]})


def test_success_rates_count_recoveries_and_other_interpolants():
    rows = [
        {"m": m, "method": "gd", "depth": 3, "relative_error": error, "relative_residual": residual}
        for m, error, residual in [(5, 1e-3, 1e-4), (5, 0.2, 1e-5), (5, 0.2, 0.1), (5, 0.5, 1e-2),
                                   (9, 1e-4, 1e-5), (9, 2e-3, 1e-3)]
    ]
    m_values, rates = experiment.success_rates(rows, "gd", 3, 1e-2)
    assert m_values.tolist() == [5, 9] and rates.tolist() == [0.25, 1.0]
    _, other = experiment.success_rates(rows, "gd", 3, 1e-2, residual_below=1e-3)
    assert other.tolist() == [0.25, 0.0]
