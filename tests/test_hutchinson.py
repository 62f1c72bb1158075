"""Closed-form Hessian traces of every model against seeded Hutchinson estimates, at sizes where
the exact autodiff Hessian would be large, on and off the solution set."""

from __future__ import annotations

import pytest
import torch
from conftest import sample_map

from recovery.core import problems
from recovery.core.operators import (
    gaussian_quadratic,
)
from recovery.flat import flatness

F64 = torch.float64
SEEDS = [0, 1, 2]
PROBES = 300
# |estimate - closed form| within this many standard errors (a false alarm has odds below 1e-6).
SIGMAS = 5.0


def matrix_instance(kind: str, seed: int, on_solution_set: bool):
    """A 40 x 30 map (m = 300 where it applies), width-6 factors and data b."""
    g = torch.Generator().manual_seed(seed)
    d1, d2, k = 40, 30, 6
    op = sample_map(kind, d1, d2, g, m=300, p=0.3)
    L = torch.randn(d1, k, generator=g, dtype=F64)
    R = torch.randn(d2, k, generator=g, dtype=F64)
    b = op.apply(L @ R.T) if on_solution_set else torch.randn(op.num_measurements, generator=g, dtype=F64)
    return op, b, L, R, g


def assert_within(estimate: tuple[float, float], exact: float) -> None:
    value, error = estimate
    assert error > 0
    assert abs(value - exact) <= SIGMAS * error, (value, error, exact)


@pytest.mark.parametrize("kind", ["sensing", "bilinear", "completion"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_factorised_traces_match_hutchinson(kind, seed, on_solution_set):
    op, b, L, R, g = matrix_instance(kind, seed, on_solution_set)
    d1, d2 = op.shape

    def f(L, R):
        return flatness.loss(op, b, L, R)

    assert_within(flatness.hutchinson_trace(f, (L, R), PROBES, g), float(flatness.hessian_trace(op, L, R)))
    scaled = flatness.hutchinson_trace(f, (L, R), PROBES, g, weights=(1 / d1, 1 / d2))
    assert_within(scaled, float(flatness.scaled_hessian_trace(op, L, R)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("on_solution_set", [True, False])
@pytest.mark.parametrize("negative", [0, 2])
def test_network_trace_matches_hutchinson(seed, on_solution_set, negative):
    """Quadratic-activation network (covariance estimation when there are no negative components)."""
    g = torch.Generator().manual_seed(seed)
    d, m = 30, 400
    op = gaussian_quadratic(m, d, g)
    U1_star, U2_star = problems.network_target(d, 3, negative, g)
    y = op.apply(U1_star @ U1_star.T - U2_star @ U2_star.T)
    if on_solution_set:  # a wider interpolating student: the teacher plus zero columns
        U1 = torch.cat([U1_star, torch.zeros(d, 2, dtype=F64)], dim=1)
        U2 = torch.cat([U2_star, torch.zeros(d, 1, dtype=F64)], dim=1)
    else:
        U1 = torch.randn(d, 5, generator=g, dtype=F64) / d**0.5
        U2 = torch.randn(d, negative + 1, generator=g, dtype=F64) / d**0.5
    estimate = flatness.hutchinson_trace(lambda A, B: flatness.network_loss(op, y, A, B), (U1, U2), PROBES, g)
    assert_within(estimate, float(flatness.network_trace(op, y, U1, U2)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_hadamard_trace_matches_hutchinson(seed, depth, on_solution_set):
    g = torch.Generator().manual_seed(seed)
    n, d = 60, 200
    X = torch.randn(n, d, generator=g, dtype=F64)
    factors = [torch.randn(d, generator=g, dtype=F64) for _ in range(depth)]
    b = X @ torch.stack(factors).prod(dim=0) if on_solution_set else torch.randn(n, generator=g, dtype=F64)
    estimate = flatness.hutchinson_trace(
        lambda *v: flatness.hadamard_loss(X, b, v), factors, PROBES, g
    )
    assert_within(estimate, float(flatness.hadamard_trace(X, factors)))


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_reproducible():
    """For a separable quadratic every probe gives the exact trace (z_i^2 = 1): zero error."""
    weights = torch.linspace(0.5, 3.0, 17, dtype=F64)

    def f(x, y):
        return (weights[:10] * x.square()).sum() + (weights[10:] * y.square()).sum()

    x, y = torch.ones(10, dtype=F64), torch.ones(7, dtype=F64)
    value, error = flatness.hutchinson_trace(f, (x, y), 5, torch.Generator().manual_seed(0), weights=(1.0, 0.5))
    assert value == pytest.approx(float(2 * weights[:10].sum() + weights[10:].sum()), rel=1e-14)
    assert error == pytest.approx(0.0, abs=1e-12)
    again = [flatness.hutchinson_trace(lambda x: (x**4).sum(), (torch.arange(5.0, dtype=F64),), 7,
                                       torch.Generator().manual_seed(3)) for _ in range(2)]
    assert again[0] == again[1]


def test_hutchinson_rejects_bad_input():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(3, dtype=F64)
    with pytest.raises(ValueError, match="samples:"):
        flatness.hutchinson_trace(lambda x: x.sum(), (x,), 1, g)
    with pytest.raises(ValueError, match="weights:"):
        flatness.hutchinson_trace(lambda x: x.sum(), (x,), 5, g, weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="blocks"):
        flatness.hutchinson_trace(lambda x: x.sum(), (torch.tensor([float("nan")]),), 5, g)
