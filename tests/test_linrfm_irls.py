"""lin-RFM = IRLS experiment: the smoothed objective against brute force, its gradient against the
closed form, monotone steps (majorise-minimise), the steps against each other, and the split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recovery.book import figures
from recovery.core import problems
from recovery.experiments import linrfm_irls
from recovery.rfm import irls, linrfm

F64 = torch.float64


def brute_force_objective(x: np.ndarray, p: float, epsilon: float) -> float:
    """phi_p summed over squared entries, or over the eigenvalues of Z^T Z / d1 from an SVD."""
    if x.ndim == 1:
        s = x**2
    else:
        sigma = np.linalg.svd(x, compute_uv=False)
        s = np.zeros(x.shape[1])
        s[: sigma.size] = sigma**2 / x.shape[0]
    total = 0.0
    for value in s:
        if p > 0:
            total += (value + epsilon) ** (p / 2)
        elif p == 0:
            total += math.log(value + epsilon)
        else:
            total -= (value + epsilon) ** (p / 2)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("p", [1.0, 0.5, 0.0, -2.0])
@pytest.mark.parametrize("shape", [(17,), (9, 6), (5, 8)])
def test_smoothed_objective_matches_brute_force(seed, p, shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)
    for epsilon in (1e-3, 0.7):
        expected = brute_force_objective(x.numpy(), p, epsilon)
        assert math.isclose(float(irls.smoothed_objective(x, p, epsilon)), expected, rel_tol=1e-12, abs_tol=1e-12)
    if p > 0:  # epsilon = 0: the l_p / Schatten-p quasi-norm to the power p (rank-deficient when d1 < d2)
        assert math.isclose(float(irls.smoothed_objective(x, p, 0.0)), brute_force_objective(x.numpy(), p, 0.0),
                            rel_tol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("p", [1.0, 0.0, -2.0])
def test_gradient_is_the_irls_weight_times_the_point(seed, p):
    """grad f = 2 c_p W x (vectors), (2 c_p / d1) Z W (matrices), c_p = |p|/2 or 1 at p = 0."""
    g = torch.Generator().manual_seed(seed)
    c = abs(p) / 2 if p else 1.0
    epsilon = 0.3
    beta = torch.randn(11, generator=g, dtype=F64, requires_grad=True)
    irls.smoothed_objective(beta, p, epsilon).backward()
    b = beta.detach()
    assert torch.allclose(beta.grad, 2 * c * (b.square() + epsilon) ** (p / 2 - 1) * b, rtol=1e-12)
    # full column rank; rank deficient; and nearly so (eigenvalues of G within rounding of zero,
    # which carry the largest weights when epsilon is small)
    for d1, d2, rank, noise, epsilon in ((7, 5, 5, 0.0, 0.3), (7, 5, 2, 0.0, 0.3), (4, 9, 4, 0.0, 0.3),
                                         (7, 5, 2, 1e-9, 1e-3)):
        Z = (torch.randn(d1, rank, generator=g, dtype=F64) @ torch.randn(rank, d2, generator=g, dtype=F64)
             + noise * torch.randn(d1, d2, generator=g, dtype=F64))
        Z.requires_grad_(True)
        irls.smoothed_objective(Z, p, epsilon).backward()
        values, vectors = torch.linalg.eigh(Z.detach().T @ Z.detach() / d1 + epsilon * torch.eye(d2, dtype=F64))
        W = (vectors * values ** (p / 2 - 1)) @ vectors.T
        expected = 2 * c / d1 * Z.detach() @ W
        # W amplifies rounding by up to 1/epsilon^2 in the reference itself
        assert float((Z.grad - expected).abs().max()) < 1e-6 * float(expected.abs().max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.25, 0.375, 0.5, 1.0])
def test_steps_agree_and_never_increase_the_objective(seed, alpha):
    """One step from a random point: lin-RFM = IRLS = the direct solve, and f does not increase."""
    p = linrfm.irls_exponent(alpha)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(8, 20, generator=g, dtype=F64)
    beta = torch.randn(20, generator=g, dtype=F64)
    y = X @ torch.randn(20, generator=g, dtype=F64)
    beta = beta + X.T @ torch.linalg.solve(X @ X.T, y - X @ beta)  # feasible start
    epsilon = 0.05
    mean = float(beta.square().mean())
    ours = linrfm.regression_step(X, y, beta, alpha, epsilon / mean)
    direct = linrfm_irls.direct_regression_step(X, y, beta, p, epsilon)
    assert float((ours - direct).abs().max()) < 1e-10 * float(direct.abs().max())
    if 0 <= p <= 1:
        assert torch.equal(ours, irls.regression_step(X, y, beta, p, epsilon / mean))
    assert float(irls.smoothed_objective(ours, p, epsilon)) <= float(irls.smoothed_objective(beta, p, epsilon))

    Y, obs = problems.completion_problem(12, 9, 2, 50, torch.Generator().manual_seed(seed))
    Z = Y + torch.randn(12, 9, generator=g, dtype=F64)
    Z[obs.rows, obs.cols] = obs.values  # feasible start
    epsilon = 0.2
    scale = float(Z.square().sum()) / (12 * 9)
    ours = linrfm.completion_step(Z, obs, alpha, epsilon / scale)
    direct = linrfm_irls.direct_completion_step(Z, obs, p, epsilon)
    assert float((ours - direct).abs().max()) < 1e-10 * float(direct.abs().max())
    if 0 <= p <= 1:
        assert float((ours - irls.completion_step(Z, obs, p, epsilon / scale)).abs().max()) < 1e-12 * float(
            direct.abs().max())
    assert float(irls.smoothed_objective(ours, p, epsilon)) <= float(irls.smoothed_objective(Z, p, epsilon))


def test_constrained_gradient_vanishes_only_at_stationary_points():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(4, 10, generator=g, dtype=F64)
    beta = torch.randn(10, generator=g, dtype=F64)
    assert linrfm_irls.constrained_gradient(beta, 1.0, 0.1, X) > 1e-3
    # the gradient itself in the row space of X: a point where grad f = X^T lambda
    row_space = X.T @ torch.randn(4, generator=g, dtype=F64)
    # for p = 2 - tiny the gradient is ~ beta itself; take p = 0 and solve grad = v exactly instead:
    # 2 b / (b^2 + eps) = v has the root b = (1 - sqrt(1 - eps v^2)) / v for |v| small
    v = 0.1 * row_space / float(row_space.abs().max())
    eps = 0.1
    b = (1 - torch.sqrt(1 - eps * v.square())) / v
    assert linrfm_irls.constrained_gradient(b, 0.0, eps, X) < 1e-12
    Y, obs = problems.completion_problem(6, 5, 1, 12, torch.Generator().manual_seed(0))
    assert linrfm_irls.constrained_gradient(Y, 0.0, 0.1, obs) > 1e-3


def test_split_units_concatenate_to_the_full_run():
    params = figures.parameters("linrfm-irls", "ci") | {"iterations": 5}
    spec = figures.get("linrfm-irls")
    whole = linrfm_irls.compute(params)
    pieces = [row for unit in spec.split(params) for row in linrfm_irls.compute({**params, **unit})]
    assert pieces == whole
    assert len(spec.split(params)) == len(params["problems"]) * len(params["alphas"])


def test_bad_input_names_the_argument():
    x = torch.ones(3, dtype=F64)
    for call, message in [
        (lambda: irls.smoothed_objective(x, 2.0, 0.1), "p:"),
        (lambda: irls.smoothed_objective(x, 0.0, 0.0), "epsilon:"),
        (lambda: irls.smoothed_objective(x, 1.0, -1.0), "epsilon:"),
        (lambda: irls.smoothed_objective(torch.ones(2, 2, 2), 1.0, 0.1), "x:"),
        (lambda: irls.smoothed_objective(torch.tensor([1.0, float("nan")]), 1.0, 0.1), "x:"),
        (lambda: linrfm.irls_exponent(0.0), "alpha:"),
        (lambda: linrfm_irls.compute(figures.parameters("linrfm-irls", "ci") | {"problems": ["tensor"]}),
         "problems:"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
