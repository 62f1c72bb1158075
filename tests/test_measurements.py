"""Measurement maps: adjointness and Gram sums against explicit sums; seeded ground truths."""

from __future__ import annotations

import pytest
import torch

from recovery.core import problems
from recovery.core.operators import DenseMeasurements, IdentityMeasurements
from recovery.experiments.spec import trial_generator


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("m", "d1", "d2"), [(7, 4, 3), (5, 2, 6)])
def test_dense_map_adjoint_and_grams(seed, m, d1, d2):
    g = torch.Generator().manual_seed(seed)
    op = DenseMeasurements(torch.randn(m, d1, d2, generator=g, dtype=torch.float64))
    X = torch.randn(d1, d2, generator=g, dtype=torch.float64)
    y = torch.randn(m, generator=g, dtype=torch.float64)
    assert torch.isclose(op.apply(X) @ y, torch.sum(X * op.adjoint(y)), rtol=1e-12)
    explicit = torch.stack([torch.sum(op.A[i] * X) for i in range(m)])
    assert torch.allclose(op.apply(X), explicit, rtol=1e-12, atol=0)
    G1 = sum(op.A[i] @ op.A[i].T for i in range(m))
    G2 = sum(op.A[i].T @ op.A[i] for i in range(m))
    assert torch.allclose(op.left_gram(), G1, rtol=1e-12)
    assert torch.allclose(op.right_gram(), G2, rtol=1e-12)
    assert op.scale == 1 / m and op.shape == (d1, d2) and op.num_measurements == m


@pytest.mark.parametrize(("d1", "d2"), [(3, 5), (4, 2)])
def test_identity_map_equals_dense_stack_of_unit_matrices(d1, d2, dense_identity):
    g = torch.Generator().manual_seed(d1 * d2)
    fast, dense = IdentityMeasurements(d1, d2), dense_identity(d1, d2)
    X = torch.randn(d1, d2, generator=g, dtype=torch.float64)
    y = torch.randn(d1 * d2, generator=g, dtype=torch.float64)
    assert torch.equal(fast.apply(X), dense.apply(X))
    assert torch.equal(fast.adjoint(y), dense.adjoint(y))
    assert torch.equal(fast.left_gram(), dense.left_gram())
    assert torch.equal(fast.right_gram(), dense.right_gram())
    assert fast.scale == dense.scale == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d1", "d2", "rank"), [(6, 4, 2), (3, 7, 3), (5, 5, 1)])
def test_low_rank_matrix_has_rank_and_unit_norm(seed, d1, d2, rank):
    M = problems.low_rank_matrix(d1, d2, rank, torch.Generator().manual_seed(seed))
    assert M.shape == (d1, d2) and M.dtype == torch.float64
    assert int(torch.linalg.matrix_rank(M)) == rank
    assert abs(float(torch.linalg.matrix_norm(M)) - 1) < 1e-14


def test_low_rank_matrix_rejects_bad_sizes():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="rank:"):
        problems.low_rank_matrix(3, 2, 3, g)
    with pytest.raises(ValueError, match="d2:"):
        problems.low_rank_matrix(3, 0, 1, g)
    with pytest.raises(ValueError, match="rank:"):
        problems.low_rank_matrix(3, 3, 1.5, g)


def test_trial_generators_are_reproducible_and_independent():
    draw = lambda *index: torch.randn(4, generator=trial_generator(*index))  # noqa: E731
    assert torch.equal(draw(5, 0), draw(5, 0))
    assert not torch.equal(draw(5, 0), draw(5, 1))
    assert not torch.equal(draw(5, 0), draw(6, 0))
    assert not torch.equal(draw(5, 1, 0), draw(5, 0, 1))
