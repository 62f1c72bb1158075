"""Closed-form losses, gradients, Hessian forms and traces against torch autodiff."""

from __future__ import annotations

import pytest
import torch
from torch.func import grad

from recovery.core.operators import DenseMeasurements, IdentityMeasurements
from recovery.flat import flatness

SEEDS = [0, 1, 2]
# (d1, d2, m, k): rectangular in both directions, under- and over-parameterised widths.
SIZES = [(5, 3, 11, 2), (3, 6, 20, 4), (4, 4, 9, 1)]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


def instance(seed: int, d1: int, d2: int, m: int, k: int, *, on_solution_set: bool):
    """Gaussian A_i, a point (L, R) and data b; b = A(LR^T) on the solution set, random off it."""
    g = torch.Generator().manual_seed(seed)
    op = DenseMeasurements(torch.randn(m, d1, d2, generator=g, dtype=torch.float64))
    L = torch.randn(d1, k, generator=g, dtype=torch.float64)
    R = torch.randn(d2, k, generator=g, dtype=torch.float64)
    if on_solution_set:
        b = op.apply(L @ R.T)
    else:
        b = torch.randn(m, generator=g, dtype=torch.float64)
    return op, b, L, R


def theta_of(L, R):
    return torch.cat([L.reshape(-1), R.reshape(-1)])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_gradient_matches_autodiff(seed, size, on_solution_set):
    op, b, L, R = instance(seed, *size, on_solution_set=on_solution_set)
    gL, gR = flatness.gradient(op, b, L, R)
    n_L = L.numel()

    def f(theta):
        return flatness.loss(op, b, theta[:n_L].reshape(L.shape), theta[n_L:].reshape(R.shape))

    expected = grad(f)(theta_of(L, R))
    assert rel(theta_of(gL, gR), expected) < 1e-10


def test_loss_is_weighted_squared_residual():
    op, b, L, R = instance(4, 4, 3, 7, 2, on_solution_set=False)
    explicit = sum(
        (torch.sum(op.A[i] * (L @ R.T)) - b[i]) ** 2 for i in range(op.num_measurements)
    ) / op.num_measurements
    assert rel(flatness.loss(op, b, L, R), explicit) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_hessian_form_and_traces_match_exact_hessian(seed, size, on_solution_set):
    op, b, L, R = instance(seed, *size, on_solution_set=on_solution_set)
    H = flatness.autodiff_hessian(op, b, L, R)
    g = torch.Generator().manual_seed(100 + seed)
    for _ in range(3):
        dL = torch.randn(L.shape, generator=g, dtype=torch.float64)
        dR = torch.randn(R.shape, generator=g, dtype=torch.float64)
        v = theta_of(dL, dR)
        assert rel(flatness.hessian_form(op, b, L, R, dL, dR), v @ H @ v) < 1e-10

    d1, d2 = op.shape
    n_L = L.numel()
    diagonal = torch.diagonal(H)
    plain = diagonal.sum()
    scaled = diagonal[:n_L].sum() / d1 + diagonal[n_L:].sum() / d2
    assert rel(flatness.hessian_trace(op, L, R), plain) < 1e-10
    assert rel(flatness.scaled_hessian_trace(op, L, R), scaled) < 1e-10
    auto_plain, auto_scaled = flatness.autodiff_traces(op, b, L, R)
    assert rel(auto_plain, plain) < 1e-14 and rel(auto_scaled, scaled) < 1e-14


@pytest.mark.parametrize("seed", SEEDS)
def test_residual_term_matters_off_the_solution_set(seed):
    """Off S the Hessian form differs from the Gauss-Newton term 2c||A(dL R^T + L dR^T)||^2."""
    op, b, L, R = instance(seed, 4, 3, 10, 2, on_solution_set=False)
    g = torch.Generator().manual_seed(seed)
    dL = torch.randn(L.shape, generator=g, dtype=torch.float64)
    dR = torch.randn(R.shape, generator=g, dtype=torch.float64)
    first = op.apply(dL @ R.T + L @ dR.T)
    gauss_newton = 2 * op.scale * first @ first
    full = flatness.hessian_form(op, b, L, R, dL, dR)
    assert rel(full, gauss_newton) > 1e-3
    on_set = op.apply(L @ R.T)
    assert rel(flatness.hessian_form(op, on_set, L, R, dL, dR), gauss_newton) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
def test_scaled_trace_is_lemma_3_1(seed, size):
    """Scaled trace = 2(||D1 L||^2 + ||D2 R||^2) with D1, D2 from the Gram sums (Lemma 3.1)."""
    op, _, L, R = instance(seed, *size, on_solution_set=True)
    D1, D2 = flatness.rescaling_matrices(op)
    d1, d2 = op.shape
    m = op.num_measurements
    explicit_D1_sq = sum(op.A[i] @ op.A[i].T for i in range(m)) / (m * d2)
    explicit_D2_sq = sum(op.A[i].T @ op.A[i] for i in range(m)) / (m * d1)
    assert rel(D1 @ D1, explicit_D1_sq) < 1e-10 and rel(D2 @ D2, explicit_D2_sq) < 1e-10
    lemma = 2 * (torch.sum((D1 @ L) ** 2) + torch.sum((D2 @ R) ** 2))
    assert rel(flatness.scaled_hessian_trace(op, L, R), lemma) < 1e-10


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("d1", "d2", "k"), [(5, 3, 2), (3, 4, 5)])
def test_identity_map_matches_dense_identity_and_lemma_2_1(seed, d1, d2, k, dense_identity):
    """The structured identity map equals the dense stack of all e_a e_b^T with weight 1."""
    g = torch.Generator().manual_seed(seed)
    L = torch.randn(d1, k, generator=g, dtype=torch.float64)
    R = torch.randn(d2, k, generator=g, dtype=torch.float64)
    M = torch.randn(d1, d2, generator=g, dtype=torch.float64)
    identity = IdentityMeasurements(d1, d2)
    dense = dense_identity(d1, d2)
    b = identity.measure(M)
    assert rel(flatness.loss(identity, b, L, R), torch.sum((L @ R.T - M) ** 2)) < 1e-12
    for fn in (flatness.hessian_trace, flatness.scaled_hessian_trace):
        assert rel(fn(identity, L, R), fn(dense, L, R)) < 1e-12
    lemma_2_1 = 2 * (torch.sum(L**2) + torch.sum(R**2))
    assert rel(flatness.scaled_hessian_trace(identity, L, R), lemma_2_1) < 1e-12
    _, auto_scaled = flatness.autodiff_traces(identity, b, L, R)
    assert rel(auto_scaled, lemma_2_1) < 1e-10


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("d1", "d2", "rank", "k"), [(7, 4, 2, 3), (4, 6, 3, 3), (5, 5, 1, 6)])
def test_balanced_factors_reach_the_nuclear_norm_bound(seed, d1, d2, rank, k):
    """Lemma 2.2: balancing keeps LR^T, balances, and attains ||L||^2 + ||R||^2 = 2||LR^T||_*."""
    g = torch.Generator().manual_seed(seed)
    L0 = torch.randn(d1, rank, generator=g, dtype=torch.float64)
    R0 = torch.randn(d2, rank, generator=g, dtype=torch.float64)
    B = torch.randn(rank, k, generator=g, dtype=torch.float64)  # widen: L0 R0^T = (L0 B)(R0 C)^T
    C = torch.linalg.pinv(B).T
    L, R = L0 @ B, R0 @ C
    M = L0 @ R0.T
    assert rel(L @ R.T, M) < 1e-10
    Lb, Rb = flatness.balanced_factors(L, R)
    assert Lb.shape == (d1, k) and Rb.shape == (d2, k)
    assert rel(Lb @ Rb.T, M) < 1e-10
    assert float(flatness.balancedness_gap(Lb, Rb)) < 1e-10 * float(torch.sum(L**2))
    norm_sum = torch.sum(Lb**2) + torch.sum(Rb**2)
    assert rel(norm_sum, 2 * flatness.nuclear_norm(M)) < 1e-10
    # Any factorisation is at least as sharp (AM-GM / Srebro-Shraibman).
    assert float(torch.sum(L**2) + torch.sum(R**2)) >= float(norm_sum) * (1 - 1e-12)


def test_bad_input_names_the_argument():
    op, b, L, R = instance(0, 4, 3, 6, 2, on_solution_set=True)
    cases = [
        (lambda: flatness.loss(op, b, L[:3], R), "L:"),
        (lambda: flatness.loss(op, b, L, R[:, :1]), "R:"),
        (lambda: flatness.loss(op, b[:5], L, R), "b:"),
        (lambda: flatness.loss(op, b, L.new_zeros(4, 0), R.new_zeros(3, 0)), "L:"),
        (lambda: flatness.loss(op, b, L.clone().fill_(float("nan")), R), "L:"),
        (lambda: flatness.hessian_form(op, b, L, R, L, R.T), "dR:"),
        (lambda: flatness.hessian_trace(op, L, R * float("inf")), "R:"),
        (lambda: flatness.balanced_factors(L, R[:, :1]), "R:"),
        (lambda: DenseMeasurements(torch.zeros(3, 4)), "A:"),
        (lambda: DenseMeasurements(torch.zeros(3, 4, 2), scale=-1.0), "scale:"),
        (lambda: IdentityMeasurements(0, 3), "d1:"),
        (lambda: IdentityMeasurements(3, 4).measure(torch.zeros(4, 3)), "X:"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
