"""The low-rank ADMM for nuclear-norm completion against the dense ADMM (same iteration at eta = 1) and cvxpy."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import torch

from recovery.convex import lowrank_nuclear_completion, weighted_nuclear_completion
from recovery.core import lowrank, problems
from recovery.core.lowrank import LowRankPlusSparse
from recovery.core.observations import Observations
from recovery.core.results import Status

# (d1, d2, rank, observed): a recovered case (converges in about 80 iterations), cases at the edge
# of recovery and below it (compared at the cap of 150 iterations, converged or not), and a wide one
# whose minimiser has full rank, so that the block grows to d1.
CASES = [(50, 35, 3, 1100), (30, 40, 2, 500), (40, 60, 2, 400), (6, 30, 6, 120)]


# one tile; several (the sampling's own order), on one seed
@pytest.mark.parametrize(("seed", "tile"), [(0, lowrank.TILE_LINES), (1, lowrank.TILE_LINES), (2, lowrank.TILE_LINES),
                                            (0, 16)])
@pytest.mark.parametrize("case", CASES)
def test_iterates_are_those_of_the_dense_admm(seed, case, tile, monkeypatch):
    """With exact enough singular value thresholding the factored iteration is the dense one: the
    same stopping iteration (up to rounding near the stopping rule) and the same iterate."""
    monkeypatch.setattr(lowrank, "TILE_LINES", tile)
    d1, d2, rank, observed = case
    _, observations = problems.completion_problem(d1, d2, rank, observed, torch.Generator().manual_seed(seed))
    dense = weighted_nuclear_completion(observations, tol=1e-9, max_iter=150, relaxation=1.0)
    X, iterations, converged = dense.solution, dense.iterations, bool(dense.converged.all())
    result = lowrank_nuclear_completion(observations, tol=1e-9, max_iter=150, svt_accuracy=1e-6)
    assert result.converged == converged
    assert abs(result.iterations - iterations) <= 2
    # Mid-run, a tight thresholding leaves ~1e-9 of the dense SVD's iterate (the default 0.1 up to
    # ~2e-3, a different transient); over-relaxation (eta = 1.6) moves it by 1e-2 or more.
    assert float(torch.linalg.matrix_norm(result.solution - X) / torch.linalg.matrix_norm(X)) < 1e-7


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate:UserWarning")  # the reference's own warning
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_minimum_matches_cvxpy_where_the_truth_is_not_recovered(seed):
    """Too few entries for recovery: the solution is a different matrix, of the nuclear norm that
    cvxpy's SCS finds at tight tolerance, and meets the data."""
    M, observations = problems.completion_problem(8, 10, 3, 40, torch.Generator().manual_seed(seed))
    result = lowrank_nuclear_completion(observations, tol=1e-10)
    assert result.converged
    X = cp.Variable((8, 10))
    rows, cols = observations.rows.numpy(), observations.cols.numpy()
    problem = cp.Problem(cp.Minimize(cp.normNuc(X)), [X[rows, cols] == observations.values.numpy()])
    problem.solve(solver=cp.SCS, eps_abs=1e-11, eps_rel=1e-11, max_iters=500_000)
    ours = float(torch.linalg.matrix_norm(result.solution, "nuc"))
    assert abs(ours - problem.value) <= 1e-6 * problem.value
    assert float(torch.linalg.matrix_norm(result.solution - M)) > 1e-3 * float(torch.linalg.matrix_norm(M))
    assert np.allclose(result.solution[observations.rows, observations.cols].numpy(), observations.values.numpy(),
                       rtol=0, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_an_ill_conditioned_matrix_without_forming_it(seed):
    """Generous sampling: the truth is recovered to the tolerance's order, returned as factors."""
    M, observations = problems.conditioned_completion_problem(
        120, 90, 3, 3000, 100.0, torch.Generator().manual_seed(seed), min_per_line=4, max_draws=100)
    result = lowrank_nuclear_completion(observations, tol=1e-9, dense=False)
    assert result.converged and isinstance(result.solution, LowRankPlusSparse)
    estimate = result.solution.left @ result.solution.right.T
    assert float(torch.linalg.matrix_norm(estimate - M) / torch.linalg.matrix_norm(M)) < 1e-6
    assert result.info["rank"] == result.solution.left.shape[1] >= 3


def test_a_capped_run_says_so_and_bad_input_is_rejected():
    _, observations = problems.completion_problem(30, 30, 2, 400, torch.Generator().manual_seed(0))
    capped = lowrank_nuclear_completion(observations, max_iter=5)
    assert not capped.converged and capped.status is Status.MAX_ITER and capped.iterations == 5
    assert "not converged" in capped.message
    with pytest.raises(ValueError, match="observations"):
        lowrank_nuclear_completion(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="tol"):
        lowrank_nuclear_completion(observations, tol=2.0)
    with pytest.raises(ValueError, match="svt_accuracy"):
        lowrank_nuclear_completion(observations, svt_accuracy=0)
    huge = Observations(observations.rows, observations.cols, observations.values * 1e155, observations.shape)
    with pytest.raises(FloatingPointError, match="overflows"):  # was a ZeroDivisionError
        lowrank_nuclear_completion(huge)
