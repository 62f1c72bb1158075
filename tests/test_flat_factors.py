"""Theorem 3.2 flat factors and the depth-k Hadamard trace (paper A, Section 9) against references."""

from __future__ import annotations

import pytest
import torch
from torch.func import hessian

from recovery.core import problems
from recovery.core.observations import Observations
from recovery.core.operators import bernoulli_completion, gaussian_sensing
from recovery.flat import flatness

F64 = torch.float64


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("model", ["sensing", "completion"])
def test_flat_factors_reproduce_Y_at_the_weighted_nuclear_bound(seed, model):
    g = torch.Generator().manual_seed(seed)
    d1, d2, rank, width = 7, 5, 2, 4
    op = gaussian_sensing(30, d1, d2, g) if model == "sensing" else bernoulli_completion(d1, d2, 0.7, g)
    if model == "completion":
        assert op.unobserved_rows().numel() == 0 and op.unobserved_cols().numel() == 0
    Y = problems.low_rank_matrix(d1, d2, rank, g)
    L, R = flatness.flat_factors(op, Y, width)
    assert L.shape == (d1, width) and R.shape == (d2, width)
    assert rel(L @ R.T, Y) < 1e-10
    D1, D2 = flatness.rescaling_matrices(op)
    bound = 4 * flatness.nuclear_norm(D1 @ Y @ D2)
    assert rel(flatness.scaled_hessian_trace(op, L, R), bound) < 1e-10
    # Every other factorisation of Y, of any width, is at least as sharp (AM-GM on D1 L, D2 R).
    for _ in range(20):
        B = torch.randn(width, width, generator=g, dtype=F64)
        other = flatness.scaled_hessian_trace(op, L @ B, R @ torch.linalg.inv(B).T)
        assert float(other) >= float(bound) * (1 - 1e-10)


def test_flat_factors_reject_singular_rescaling_and_small_width():
    op = bernoulli_completion(6, 4, 0.5, torch.Generator().manual_seed(3))
    rows = op.rows[op.rows != 0]
    cols = op.cols[op.rows != 0]
    holey = type(op)(Observations(rows, cols, torch.zeros(rows.numel(), dtype=F64), op.shape))
    Y = torch.ones(6, 4, dtype=F64)
    with pytest.raises(ValueError, match="op:"):
        flatness.flat_factors(holey, Y, 2)
    full = gaussian_sensing(40, 6, 4, torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match="width:"):
        flatness.flat_factors(full, torch.randn(6, 4, dtype=F64, generator=torch.Generator()), 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_hadamard_trace_matches_autodiff(seed, depth, on_solution_set):
    g = torch.Generator().manual_seed(seed)
    m, d = 6, 9
    X = torch.randn(m, d, generator=g, dtype=F64)
    factors = [torch.randn(d, generator=g, dtype=F64) for _ in range(depth)]
    x = torch.stack(factors).prod(dim=0)
    b = X @ x if on_solution_set else torch.randn(m, generator=g, dtype=F64)

    def f(theta):
        return flatness.hadamard_loss(X, b, list(theta.reshape(depth, d)))

    H = hessian(f)(torch.cat(factors))
    assert rel(flatness.hadamard_trace(X, factors), torch.trace(H)) < 1e-10


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_balanced_hadamard_factors_attain_the_weighted_lq_value(depth):
    """AM-GM: the flattest factorisation of x balances |v_l(i)|, giving q = 2 - 2/k."""
    g = torch.Generator().manual_seed(depth)
    m, d = 5, 8
    X = torch.randn(m, d, generator=g, dtype=F64)
    x = torch.randn(d, generator=g, dtype=F64)
    root = x.abs() ** (1 / depth)
    balanced = [root * torch.sign(x)] + [root] * (depth - 1)
    q = 2 - 2 / depth
    value = 2 * depth / m * (X.square().sum(dim=0) * x.abs() ** q).sum()
    assert rel(flatness.hadamard_trace(X, balanced), value) < 1e-12
    for _ in range(20):
        scales = torch.exp(torch.randn(depth, d, generator=g, dtype=F64))
        scales[-1] = 1 / scales[:-1].prod(dim=0)  # keeps the product x
        moved = [v * s for v, s in zip(balanced, scales, strict=True)]
        assert rel(torch.stack(moved).prod(dim=0), x) < 1e-10
        assert float(flatness.hadamard_trace(X, moved)) >= float(value) * (1 - 1e-12)


def test_hadamard_bad_input():
    X = torch.randn(3, 4, dtype=F64)
    with pytest.raises(ValueError, match=r"factors\[1\]:"):
        flatness.hadamard_trace(X, [torch.ones(4), torch.ones(3)])
    with pytest.raises(ValueError, match="factors:"):
        flatness.hadamard_trace(X, [])
    with pytest.raises(ValueError, match="b:"):
        flatness.hadamard_loss(X, torch.ones(2), [torch.ones(4)])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("k1", "k2"), [(2, 1), (3, 0), (1, 2)])
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_network_trace_matches_autodiff(seed, k1, k2, on_solution_set):
    from recovery.core.operators import gaussian_quadratic

    g = torch.Generator().manual_seed(seed)
    d, m = 5, 12
    op = gaussian_quadratic(m, d, g)
    U1 = torch.randn(d, k1, generator=g, dtype=F64)
    U2 = torch.randn(d, k2, generator=g, dtype=F64)
    y = op.apply(U1 @ U1.T - U2 @ U2.T) if on_solution_set else torch.randn(m, generator=g, dtype=F64)

    def f(theta):
        return flatness.network_loss(op, y, theta[: d * k1].reshape(d, k1), theta[d * k1 :].reshape(d, k2))

    H = hessian(f)(torch.cat([U1.reshape(-1), U2.reshape(-1)]))
    assert rel(flatness.network_trace(op, y, U1, U2), torch.trace(H)) < 1e-10
    if on_solution_set:
        U = torch.cat([U1, U2], dim=1)
        D = op.scale * (op.x.square().sum(dim=1)[:, None] * op.x).T @ op.x
        assert rel(flatness.network_trace(op, y, U1, U2), 8 * torch.trace(U.T @ D @ U)) < 1e-10
    with pytest.raises(ValueError, match="U2:"):
        flatness.network_trace(op, y, U1, U2[:-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_flat_factors_of_the_relaxation_are_flat_on_the_solution_set(seed):
    """Theorem 3.2 on Gaussian sensing: factors of the flat relaxation's solution recover M*, and
    no nearby point of the solution set {A(L R^T) = b} has a smaller scaled trace."""
    from recovery.convex import weighted_nuclear_minimization

    g = torch.Generator().manual_seed(seed)
    d, rank, m, width = 8, 1, 40, 6
    op = gaussian_sensing(m, d, d, g)
    truth = problems.low_rank_matrix(d, d, rank, g)
    b = op.apply(truth)
    D1, D2 = flatness.rescaling_matrices(op)
    Y = weighted_nuclear_minimization(op, b, D1, D2).solution
    assert rel(Y, truth) < 1e-8
    L, R = flatness.flat_factors(op, Y, width)
    flat = float(flatness.scaled_hessian_trace(op, L, R))
    # The steepest move along the orbit (L e^{-tG}, R e^{tG}), G = L^T D1^2 L - R^T D2^2 R, is zero.
    G = L.T @ D1 @ D1 @ L - R.T @ D2 @ D2 @ R
    B = torch.linalg.matrix_exp(-1e-2 * G / max(float(torch.linalg.matrix_norm(G)), 1e-300))
    orbit = float(flatness.scaled_hessian_trace(op, L @ B, R @ torch.linalg.inv(B).T))
    assert orbit >= flat * (1 - 1e-10)
    for _ in range(30):
        # Move R freely, then repair feasibility with the smallest change of L (48 unknowns, 40 equations).
        R_moved = R + 1e-2 * torch.randn(R.shape, generator=g, dtype=F64)
        jacobian = torch.stack([op.apply(E.reshape(d, width) @ R_moved.T) for E in torch.eye(d * width, dtype=F64)], 1)
        step = torch.linalg.lstsq(jacobian, b - op.apply(L @ R_moved.T)).solution
        L_moved = L + step.reshape(d, width)
        assert float((op.apply(L_moved @ R_moved.T) - b).abs().max()) < 1e-10
        assert float(flatness.scaled_hessian_trace(op, L_moved, R_moved)) >= flat * (1 - 1e-10)
