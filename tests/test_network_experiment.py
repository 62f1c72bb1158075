"""The quadratic-network / covariance sweep: its closed-form test error, degrees of freedom, and
recovery on both sides of the transition."""

from __future__ import annotations

import pytest
import torch

from recovery.book import figures
from recovery.core import problems
from recovery.core.operators import gaussian_quadratic
from recovery.experiments import network

F64 = torch.float64


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_squared_error_matches_monte_carlo(seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(6, 6, generator=g, dtype=F64)
    E = (A + A.T) / 2
    x = torch.randn(400_000, 6, generator=g, dtype=F64)
    samples = ((x @ E) * x).sum(dim=1).square()
    exact = float(network.expected_squared_error(E))
    assert abs(float(samples.mean()) - exact) <= 5 * float(samples.std()) / samples.numel() ** 0.5


@pytest.mark.parametrize(("d", "rank"), [(5, 1), (6, 2), (7, 3)])
def test_degrees_of_freedom_is_the_rank_of_the_parameterisation(d, rank):
    """Brute force: the Jacobian of U -> U diag(s) U^T at a generic point has rank r d - r(r-1)/2."""
    g = torch.Generator().manual_seed(d)
    U = torch.randn(d, rank, generator=g, dtype=F64)
    signs = torch.tensor([1.0, -1.0, 1.0][:rank], dtype=F64)
    jacobian = torch.autograd.functional.jacobian(lambda V: (V * signs) @ V.T, U).reshape(d * d, -1)
    assert int(torch.linalg.matrix_rank(jacobian)) == problems.symmetric_degrees_of_freedom(d, rank)


def test_generous_samples_recover_and_few_do_not():
    params = figures.parameters(network.FIGURE_ID, "ci") | {"trials": 3}
    rows = network.solve_point(10, network.samples(10, 3, 2.0), "network", params, (0, 0, 0))
    by_method = {method: [row for row in rows if row["method"] == method] for method in network.METHODS}
    assert all(row["success"] and row["generalisation_error"] < 1e-12 for row in by_method["flat"])
    assert all(row["success"] for row in by_method["nuclear"])
    assert not any(row["success"] for row in by_method["min-norm"])
    few = network.solve_point(10, network.samples(10, 3, 0.5), "covariance", params, (0, 1, 0))
    assert not any(row["success"] for row in few)


def test_min_norm_interpolant_interpolates():
    """The baseline must be an interpolant too, or the comparison says nothing."""
    g = torch.Generator().manual_seed(0)
    U1, U2 = problems.network_target(8, 2, 1, g)
    op = gaussian_quadratic(20, 8, g)
    y = op.apply(U1 @ U1.T - U2 @ U2.T)
    features = (op.x[:, :, None] * op.x[:, None, :]).reshape(20, -1)
    X = (torch.linalg.pinv(features) @ y).reshape(8, 8)
    assert float((op.apply(X) - y).abs().max()) < 1e-10


def test_grid_and_model_are_checked():
    """(Reproducibility of the rows is checked by tests/test_figures.py against results/ci.)"""
    params = figures.parameters(network.FIGURE_ID, "ci")
    with pytest.raises(ValueError, match="ratios:"):
        network.compute(params | {"dims": [6], "ratios": [3.0]})
    with pytest.raises(ValueError, match="model:"):
        network.solve_point(6, 10, "phase retrieval", params, (0,))
