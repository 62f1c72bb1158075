"""Bridge chapter: lin-RFM (alpha = 1/4) followed to small smoothing approaches nuclear-norm minimisation,
the flat relaxation of completion against cvxpy, the two exponents, the sweep splits by n."""

from __future__ import annotations

import itertools
import math

import cvxpy as cp
import numpy as np
import pytest
import torch

from recovery import convex
from recovery.book.figures import parameters
from recovery.core import metrics, problems
from recovery.core.observations import Observations
from recovery.experiments import bridge, sparse_regression
from recovery.experiments.spec import trial_generator
from recovery.flat import flatness
from recovery.rfm import linrfm


def nuclear_norm(Z) -> float:
    return float(torch.linalg.matrix_norm(Z, ord="nuc"))


def cvxpy_weighted_nuclear(observations, row_weights, col_weights) -> torch.Tensor:
    """min ||diag(w1) Y diag(w2)||_* subject to the data, by cvxpy (SCS, tight), an independent solver."""
    d1, d2 = observations.shape
    Y = cp.Variable((d1, d2))
    mask = observations.mask().numpy()
    objective = cp.normNuc(np.diag(row_weights) @ Y @ np.diag(col_weights))
    cp.Problem(cp.Minimize(objective), [cp.multiply(mask, Y) == observations.zero_filled().numpy()]).solve(
        solver=cp.SCS, eps=1e-10, max_iters=200_000)
    return torch.tensor(Y.value)


def instance(seed, d=12, rank=2, count=70):
    Y, observations = problems.completion_problem(d, d, rank, count, trial_generator(seed, count))
    assert bool((observations.row_counts() > 0).all() and (observations.col_counts() > 0).all())
    return Y, observations


def test_exponents_meet_at_l1_and_move_apart():
    assert linrfm.irls_exponent(0.25) == flatness.hadamard_flat_exponent(2) == 1.0
    assert linrfm.irls_exponent(0.375) == 0.5 and linrfm.irls_exponent(0.5) == 0.0
    lin_rfm = [linrfm.irls_exponent(a) for a in (0.25, 0.3, 0.375, 0.45, 0.5)]
    flat = [flatness.hadamard_flat_exponent(k) for k in (2, 3, 4, 8)]
    assert all(a > b for a, b in itertools.pairwise(lin_rfm))
    assert all(a < b for a, b in itertools.pairwise(flat)) and flat[-1] < 2
    for alpha in (0, -1, math.inf):
        with pytest.raises(ValueError, match="alpha:"):
            linrfm.irls_exponent(alpha)


@pytest.mark.parametrize("seed", [0, 2])
def test_flat_completion_matches_cvxpy(seed):
    _, observations = instance(seed)
    nuclear = convex.weighted_nuclear_completion([observations], tol=1e-12, max_iter=50_000)
    flat = flatness.flat_completion([observations], tol=1e-12, max_iter=50_000)
    assert bool(nuclear.converged.all() and flat.converged.all())
    w1 = observations.row_counts().double().sqrt().numpy()
    w2 = observations.col_counts().double().sqrt().numpy()
    for result, (a, b) in ((nuclear, (np.ones(12), np.ones(12))), (flat, (w1, w2))):
        reference = cvxpy_weighted_nuclear(observations, a, b)
        ours = result.solution[0]
        assert float((ours - reference).norm() / reference.norm()) < 1e-4
        assert bool((ours[observations.rows, observations.cols] - observations.values).abs().max() < 1e-9)
    # below the threshold the two relaxations are different problems
    assert float((flat.solution[0] - nuclear.solution[0]).norm()) > 1e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_continuation_approaches_the_nuclear_norm_minimiser_below_the_threshold(seed):
    """12 x 12, rank 2, 70 entries: neither recovers M*, yet the fixed points of lin-RFM
    (alpha = 1/4, kernel (G + lambda I)^(1/2): the nuclear norm smoothed as sum sqrt(sigma^2 + lambda))
    at smoothings 1e-2, 1e-4, 1e-6, 1e-8, each reached (converged), approach the ADMM's nuclear-norm
    minimiser: the excess in nuclear norm stays positive and falls about tenfold per two decades of
    smoothing (it is of order sqrt(lambda)), and the distance falls at least threefold."""
    Y, observations = instance(seed)
    nuclear = convex.weighted_nuclear_completion([observations], tol=1e-12, max_iter=50_000)
    assert bool(nuclear.converged.all())
    minimiser = nuclear.solution[0]
    assert metrics.unobserved_relative_error(minimiser, Y, observations) > 0.3
    stages = linrfm.continuation(observations, 0.25, [1e-2, 1e-4, 1e-6, 1e-8], momentum=0.98, max_iter=5000)
    assert all(stage.converged for stage in stages)
    excess = [(nuclear_norm(s.solution) - nuclear_norm(minimiser)) / nuclear_norm(minimiser) for s in stages]
    distances = [float((s.solution - minimiser).norm() / minimiser.norm()) for s in stages]
    assert all(e > 0 for e in excess)
    assert all(4 < a / b < 25 for a, b in itertools.pairwise(excess))
    assert all(a / b > 3 for a, b in itertools.pairwise(distances))
    final = stages[-1].solution
    assert float((final[observations.rows, observations.cols] - observations.values).abs().max()) < 1e-12


def test_continuation_validates():
    _, observations = instance(0)
    with pytest.raises(ValueError, match="smoothings:"):
        linrfm.continuation(observations, 0.25, [])
    with pytest.raises(ValueError, match="smoothings:"):
        linrfm.continuation(observations, 0.25, [1e-2, 0.0])
    with pytest.raises(ValueError, match="alpha:"):
        linrfm.continuation(observations, -1, [1e-2])
    empty_row = Observations(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([1.0, 2.0]), (3, 2))
    with pytest.raises(ValueError, match="observations:"):
        flatness.flat_completion([empty_row])


def test_sweep_splits_by_n_and_uses_the_sparse_instances():
    params = {**parameters(bridge.FIGURE_ID, "ci"), "trials": 1, "reweighted_max_iter": 100, "admm_max_iter": 1000}
    rows = bridge.compute(params)
    units = sparse_regression.split(params)
    pieces = [row for unit in units for row in bridge.compute({**params, **unit})]

    def strip(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert strip(pieces) == strip(rows)
    assert {(row["method"], row["parameter"]) for row in rows} == {
        ("lin-rfm", 0.25), ("lin-rfm", 0.375), ("lin-rfm", 0.5), ("flat", 2.0), ("flat", 3.0), ("flat", 4.0)}
