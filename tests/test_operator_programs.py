"""Convex programs on measurement operators: Gram matrices and composed maps against the dense
stack, the operator path of the ADMM against the dense-stack path and cvxpy, and the round trips
between observations and their completion map."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import torch

from recovery.convex import weighted_nuclear_minimization
from recovery.core import operators, problems
from recovery.core.observations import Observations
from recovery.flat import flatness

F64 = torch.float64
SEEDS = [0, 1, 2]


def _maps(seed: int) -> list[operators.MeasurementMap]:
    g = torch.Generator().manual_seed(seed)
    return [
        operators.gaussian_sensing(7, 4, 3, g),
        operators.bilinear_sensing(9, 5, 4, g),
        operators.gaussian_quadratic(8, 4, g),
        operators.bernoulli_completion(5, 4, 0.5, g),
        operators.IdentityMeasurements(3, 2),
    ]


def _stack(op: operators.MeasurementMap) -> torch.Tensor:
    """The A_i from the definition A_i = A^*(e_i), one adjoint per measurement."""
    return torch.stack([op.adjoint(e) for e in torch.eye(op.num_measurements, dtype=F64)])


@pytest.mark.parametrize("seed", SEEDS)
def test_gram_of_every_map_equals_that_of_its_dense_stack(seed):
    for op in _maps(seed):
        flat = _stack(op).reshape(op.num_measurements, -1)
        gram = op.gram()
        assert gram.shape == (op.num_measurements, op.num_measurements)
        assert float((gram - flat @ flat.T).abs().max()) <= 1e-12 * max(1.0, float(gram.abs().max())), type(op)


@pytest.mark.parametrize("seed", SEEDS)
def test_composed_map_measures_left_x_right(seed):
    g = torch.Generator().manual_seed(100 + seed)
    for op in _maps(seed):
        d1, d2 = op.shape
        left, right = torch.randn(d1, d1, generator=g, dtype=F64), torch.randn(d2, d2, generator=g, dtype=F64)
        X = torch.randn(d1, d2, generator=g, dtype=F64)
        composed = op.compose(left, right)
        assert composed.scale == op.scale
        assert float((composed.apply(X) - op.apply(left @ X @ right)).abs().max()) <= 1e-12 * float(X.abs().max()) * 100
        explicit = left.T @ _stack(op) @ right.T
        assert float((_stack(composed) - explicit).abs().max()) <= 1e-12 * float(explicit.abs().max())
    # Structured maps stay structured, so no stack is formed.
    bilinear, quadratic = _maps(seed)[1], _maps(seed)[2]
    assert isinstance(bilinear.compose(torch.eye(5, dtype=F64), torch.eye(4, dtype=F64)), operators.BilinearMeasurements)
    D = torch.eye(4, dtype=F64) * 2
    assert isinstance(quadratic.compose(D, D.T), operators.SymmetricRankOneMeasurements)
    assert isinstance(quadratic.compose(D, 2 * D), operators.BilinearMeasurements)


def _bilinear_batch(seed: int, T: int = 3, d: int = 6, rank: int = 1, oversampling: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    m = round(oversampling * problems.degrees_of_freedom(d, d, rank))
    truths = torch.stack([problems.low_rank_matrix(d, d, rank, g) for _ in range(T)])
    maps = [operators.bilinear_sensing(m, d, d, g) for _ in range(T)]
    b = torch.stack([op.apply(M) for op, M in zip(maps, truths, strict=True)])
    return maps, b, truths


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bilinear_program_on_maps_equals_the_dense_stack(seed, weighted):
    maps, b, _ = _bilinear_batch(seed)
    D1 = D2 = None
    if weighted:
        D1, D2 = (torch.stack(Ds) for Ds in zip(*(flatness.rescaling_matrices(op) for op in maps), strict=True))
    on_maps = weighted_nuclear_minimization(maps, b, D1, D2, tol=1e-11)
    dense = weighted_nuclear_minimization(torch.stack([operators.dense_stack(op) for op in maps]), b, D1, D2, tol=1e-11)
    assert bool(on_maps.converged.all()) and bool(dense.converged.all())
    difference = torch.linalg.matrix_norm(on_maps.solution - dense.solution)
    assert float(difference.max()) <= 1e-6
    for op, Y, data in zip(maps, on_maps.solution, b, strict=True):
        assert float(torch.linalg.vector_norm(op.apply(Y) - data)) <= 1e-8 * float(torch.linalg.vector_norm(data))
    single = weighted_nuclear_minimization(maps[0], b[0], None if D1 is None else D1[0],
                                           None if D2 is None else D2[0], tol=1e-11)
    assert single.solution.shape == (6, 6)
    assert float(torch.linalg.matrix_norm(single.solution - on_maps.solution[0])) <= 1e-6


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate:UserWarning")
@pytest.mark.parametrize("seed", [0, 1])
def test_bilinear_program_on_maps_agrees_with_cvxpy(seed):
    maps, b, _ = _bilinear_batch(seed, T=1, d=5, oversampling=1.0)
    op = maps[0]
    D1, D2 = flatness.rescaling_matrices(op)
    ours = weighted_nuclear_minimization(op, b[0], D1, D2, tol=1e-11).solution.numpy()
    Y = cp.Variable(op.shape)
    a, bb = op.a.numpy(), op.b.numpy()
    constraints = [cp.sum(cp.multiply(a @ Y, bb), axis=1) == b[0].numpy()]
    problem = cp.Problem(cp.Minimize(cp.normNuc(D1.numpy() @ Y @ D2.numpy())), constraints)
    problem.solve(solver=cp.SCS, eps=1e-10, max_iters=200_000)
    objective = np.linalg.svd(D1.numpy() @ ours @ D2.numpy(), compute_uv=False).sum()
    assert abs(objective - problem.value) <= 1e-5 * abs(problem.value)
    assert np.linalg.norm(ours - Y.value) <= 1e-3 * np.linalg.norm(Y.value)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["symmetric", "psd"])
def test_symmetric_program_on_maps_equals_the_dense_stack(seed, kind):
    g = torch.Generator().manual_seed(seed)
    T, d, m = 2, 6, 18  # m <= d(d+1)/2: the symmetric measurements are independent
    maps = [operators.gaussian_quadratic(m, d, g) for _ in range(T)]
    U = torch.randn(T, d, 1, generator=g, dtype=F64)
    truths = U @ U.transpose(-1, -2)
    if kind == "symmetric":
        V = torch.randn(T, d, 1, generator=g, dtype=F64)
        truths = truths - V @ V.transpose(-1, -2)
    b = torch.stack([op.apply(M) for op, M in zip(maps, truths, strict=True)])
    D = torch.stack([flatness.rescaling_matrices(op)[0] for op in maps])
    on_maps = weighted_nuclear_minimization(maps, b, D, D, kind=kind, tol=1e-11)
    dense = weighted_nuclear_minimization(torch.stack([operators.dense_stack(op) for op in maps]), b, D, D,
                                          kind=kind, tol=1e-11)
    assert bool(on_maps.converged.all()) and bool(dense.converged.all())
    assert float(torch.linalg.matrix_norm(on_maps.solution - dense.solution).max()) <= 1e-6
    assert torch.allclose(on_maps.solution, on_maps.solution.transpose(-1, -2), rtol=0, atol=1e-12)


def test_program_rejects_inconsistent_batches_of_maps():
    maps, b, _ = _bilinear_batch(0, T=2)
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="A:"):
        weighted_nuclear_minimization([maps[0], operators.bilinear_sensing(5, 6, 6, g)], b)
    with pytest.raises(ValueError, match="b:"):
        weighted_nuclear_minimization(maps, b[:, :-1])
    with pytest.raises(ValueError, match="kind:"):
        weighted_nuclear_minimization(maps, b, kind="symmetric")
    with pytest.raises(ValueError, match="A:"):
        weighted_nuclear_minimization([], b)
    dependent = operators.BilinearMeasurements(torch.ones(2, 3, dtype=F64), torch.ones(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="linearly dependent"):
        weighted_nuclear_minimization(dependent, torch.ones(2, dtype=F64))


@pytest.mark.parametrize("seed", SEEDS)
def test_observations_and_their_completion_map_round_trip(seed):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(6, 5, generator=g, dtype=F64)
    mask = torch.rand(6, 5, generator=g) < 0.5
    mask[0, 0] = True
    observations = Observations.from_mask(mask, M)
    op = operators.CompletionMeasurements(observations)
    assert op.observations is observations and op.shape == (6, 5) and op.num_measurements == int(mask.sum())
    assert op.scale == 1 / op.num_measurements
    assert torch.equal(op.apply(M), observations.values)
    assert torch.equal(op.adjoint(observations.values), observations.zero_filled())
    again = op.observe(M)
    assert torch.equal(again.rows, observations.rows) and torch.equal(again.cols, observations.cols)
    assert torch.equal(again.values, observations.values)
    assert torch.equal(op.gram(), torch.eye(op.num_measurements, dtype=F64))
    assert torch.equal(op.row_counts(), mask.sum(1)) and torch.equal(op.col_counts(), mask.sum(0))
    drawn = operators.bernoulli_completion(6, 5, 0.5, torch.Generator().manual_seed(seed))
    seen = drawn.observe(M)
    assert torch.equal(seen.mask(), drawn.observations.mask()) and torch.equal(seen.values, M[seen.rows, seen.cols])
    with pytest.raises(ValueError, match="X:"):
        drawn.observe(M[:, :4])
