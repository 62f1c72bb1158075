"""Structured measurement maps against their explicit stacks, autodiff Hessians and Lemma 3.1."""

from __future__ import annotations

import pytest
import torch

from recovery.core.observations import Observations
from recovery.core.operators import (
    BilinearMeasurements,
    CompletionMeasurements,
    DenseMeasurements,
    IdentityMeasurements,
    SymmetricRankOneMeasurements,
    bernoulli_completion,
    bilinear_sensing,
    gaussian_quadratic,
    gaussian_sensing,
)
from recovery.flat import flatness

SEEDS = [0, 1, 2]
KINDS = ["bilinear", "completion", "symmetric"]
# (d1, d2, m, k): rectangular both ways for the maps that allow it; the symmetric map uses d = d1.
SIZES = [(5, 3, 11, 2), (3, 6, 20, 4), (4, 4, 9, 1)]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


def structured_and_dense(kind: str, seed: int, d1: int, d2: int, m: int):
    """A seeded structured map and the DenseMeasurements of its explicit stack of A_i."""
    g = torch.Generator().manual_seed(seed)
    if kind == "bilinear":
        op = bilinear_sensing(m, d1, d2, g)
        stack = torch.einsum("mi,mj->mij", op.a, op.b)
    elif kind == "completion":
        op = bernoulli_completion(d1, d2, 0.6, g)
        stack = torch.zeros(op.num_measurements, d1, d2, dtype=torch.float64)
        stack[torch.arange(op.num_measurements), op.rows, op.cols] = 1.0
    else:
        op = gaussian_quadratic(m, d1, g)
        stack = torch.einsum("mi,mj->mij", op.x, op.x)
    return op, DenseMeasurements(stack)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
def test_structured_map_equals_its_dense_stack(kind, seed, size):
    d1, d2, m, _ = size
    op, dense = structured_and_dense(kind, seed, d1, d2, m)
    assert op.shape == dense.shape and op.num_measurements == dense.num_measurements
    assert op.scale == dense.scale == 1 / op.num_measurements
    g = torch.Generator().manual_seed(50 + seed)
    X = torch.randn(op.shape, generator=g, dtype=torch.float64)
    y = torch.randn(op.num_measurements, generator=g, dtype=torch.float64)
    assert rel(op.apply(X), dense.apply(X)) < 1e-12
    assert rel(op.adjoint(y), dense.adjoint(y)) < 1e-12
    assert rel(op.left_gram(), dense.left_gram()) < 1e-12
    assert rel(op.right_gram(), dense.right_gram()) < 1e-12
    assert rel(op.apply(X) @ y, torch.sum(X * op.adjoint(y))) < 1e-12


def test_full_completion_is_the_identity_map_up_to_the_loss_weight():
    op = bernoulli_completion(4, 3, 1.0, torch.Generator().manual_seed(0))
    identity = IdentityMeasurements(4, 3)
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert op.num_measurements == 12 and op.scale == 1 / 12
    assert torch.equal(op.apply(X), identity.apply(X))
    assert torch.equal(op.adjoint(op.apply(X)), X)
    assert torch.equal(op.left_gram(), identity.left_gram())
    assert torch.equal(op.right_gram(), identity.right_gram())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("on_solution_set", [True, False])
def test_closed_forms_match_exact_hessian(kind, seed, size, on_solution_set):
    d1, d2, m, k = size
    op, _ = structured_and_dense(kind, seed, d1, d2, m)
    g = torch.Generator().manual_seed(100 + seed)
    L = torch.randn(op.shape[0], k, generator=g, dtype=torch.float64)
    R = torch.randn(op.shape[1], k, generator=g, dtype=torch.float64)
    if on_solution_set:
        b = op.apply(L @ R.T)
    else:
        b = torch.randn(op.num_measurements, generator=g, dtype=torch.float64)

    H = flatness.autodiff_hessian(op, b, L, R)
    for _ in range(3):
        dL = torch.randn(L.shape, generator=g, dtype=torch.float64)
        dR = torch.randn(R.shape, generator=g, dtype=torch.float64)
        v = torch.cat([dL.reshape(-1), dR.reshape(-1)])
        assert rel(flatness.hessian_form(op, b, L, R, dL, dR), v @ H @ v) < 1e-10

    n_L = L.numel()
    diagonal = torch.diagonal(H)
    plain = diagonal.sum()
    scaled = diagonal[:n_L].sum() / op.shape[0] + diagonal[n_L:].sum() / op.shape[1]
    assert rel(flatness.hessian_trace(op, L, R), plain) < 1e-10
    assert rel(flatness.scaled_hessian_trace(op, L, R), scaled) < 1e-10


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("d1", "d2", "p"), [(6, 4, 0.5), (3, 8, 0.3), (5, 5, 0.2)])
def test_completion_rescaling_is_row_and_column_counts(seed, d1, d2, p):
    op = bernoulli_completion(d1, d2, p, torch.Generator().manual_seed(seed))
    m = op.num_measurements
    mask = torch.zeros(d1, d2, dtype=torch.float64)
    mask[op.rows, op.cols] = 1.0
    D1, D2 = flatness.rescaling_matrices(op)
    assert rel(D1 @ D1, torch.diag(mask.sum(1)) / (m * d2)) < 1e-12
    assert rel(D2 @ D2, torch.diag(mask.sum(0)) / (m * d1)) < 1e-12
    assert torch.equal(op.unobserved_rows(), torch.nonzero(mask.sum(1) == 0).flatten())
    assert torch.equal(op.unobserved_cols(), torch.nonzero(mask.sum(0) == 0).flatten())


def test_unobserved_row_and_column_make_rescaling_singular():
    # Row 1 and column 3 of a 3 x 4 matrix are never observed.
    op = CompletionMeasurements(Observations(
        torch.tensor([0, 0, 2, 2, 0]), torch.tensor([0, 1, 1, 2, 2]), torch.ones(5), (3, 4)
    ))
    assert op.unobserved_rows().tolist() == [1]
    assert op.unobserved_cols().tolist() == [3]
    assert op.row_counts().tolist() == [3, 0, 2]
    assert op.col_counts().tolist() == [1, 2, 2, 0]
    D1, D2 = flatness.rescaling_matrices(op)
    assert D1[1].abs().max() == 0 and D2[:, 3].abs().max() == 0
    assert (
        rel(D1 @ D1, torch.diag(torch.tensor([3.0, 0.0, 2.0], dtype=torch.float64)) / (5 * 4))
        < 1e-12
    )
    full = bernoulli_completion(3, 4, 1.0, torch.Generator().manual_seed(0))
    assert full.unobserved_rows().numel() == 0 and full.unobserved_cols().numel() == 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("m", "d"), [(12, 4), (7, 6)])
def test_symmetric_rescaling_is_the_weighted_covariance(seed, m, d):
    op = gaussian_quadratic(m, d, torch.Generator().manual_seed(seed))
    D1, D2 = flatness.rescaling_matrices(op)
    explicit = sum(torch.sum(x * x) * torch.outer(x, x) for x in op.x) / (m * d)
    assert torch.equal(D1, D2)
    assert rel(D1 @ D1, explicit) < 1e-12


def test_symmetric_map_measures_the_quadratic_network():
    g = torch.Generator().manual_seed(3)
    op = gaussian_quadratic(10, 5, g)
    U1 = torch.randn(5, 2, generator=g, dtype=torch.float64)
    U2 = torch.randn(5, 1, generator=g, dtype=torch.float64)
    network = torch.sum((op.x @ U1) ** 2, dim=1) - torch.sum((op.x @ U2) ** 2, dim=1)
    L, R = torch.cat([U1, U2], dim=1), torch.cat([U1, -U2], dim=1)
    assert rel(op.apply(L @ R.T), network) < 1e-12


def draws(seed: int) -> list[torch.Tensor]:
    """Every tensor drawn by the four samplers from one generator, in order."""
    g = torch.Generator().manual_seed(seed)
    bilinear = bilinear_sensing(5, 3, 4, g)
    completion = bernoulli_completion(6, 5, 0.4, g)
    return [
        gaussian_sensing(4, 3, 2, g).A,
        bilinear.a,
        bilinear.b,
        completion.rows,
        completion.cols,
        gaussian_quadratic(5, 3, g).x,
    ]


def test_samplers_are_reproducible_from_the_generator():
    first, again, other = draws(7), draws(7), draws(8)
    assert all(torch.equal(u, v) for u, v in zip(first, again, strict=True))
    assert not any(
        u.shape == v.shape and torch.equal(u, v) for u, v in zip(first, other, strict=True)
    )


def test_sampler_dtypes_and_observation_rate():
    g = torch.Generator().manual_seed(0)
    assert gaussian_sensing(2, 3, 4, g, dtype=torch.float32).A.dtype == torch.float32
    assert bilinear_sensing(2, 3, 4, g, dtype=torch.float32).b.dtype == torch.float32
    assert gaussian_quadratic(2, 3, g, dtype=torch.float32).x.dtype == torch.float32
    op = bernoulli_completion(80, 50, 0.3, g, dtype=torch.float32)
    assert op.left_gram().dtype == torch.float32 and op.rows.dtype == torch.int64
    assert abs(op.num_measurements / (80 * 50) - 0.3) < 0.03


def test_samplers_and_maps_reject_bad_input():
    g = torch.Generator().manual_seed(0)
    for p in [0, 0.0, -0.1, 1.5, float("nan"), True, "0.5"]:
        with pytest.raises(ValueError, match=r"^p:"):
            bernoulli_completion(3, 3, p, g)
    with pytest.raises(ValueError, match=r"^p:"):
        bernoulli_completion(1, 1, 1e-12, g)
    with pytest.raises(ValueError, match=r"^m:"):
        gaussian_sensing(0, 2, 2, g)
    with pytest.raises(ValueError, match=r"^m:"):
        bilinear_sensing(0, 2, 2, g)
    with pytest.raises(ValueError, match=r"^m:"):
        gaussian_quadratic(-1, 2, g)
    with pytest.raises(ValueError, match=r"^d2:"):
        bilinear_sensing(3, 2, 0, g)
    with pytest.raises(ValueError, match=r"^d:"):
        gaussian_quadratic(3, 2.0, g)
    with pytest.raises(ValueError, match=r"^d1:"):
        bernoulli_completion(0, 2, 0.5, g)

    a = torch.randn(4, 3, generator=g, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^b:"):
        BilinearMeasurements(a, torch.randn(5, 2, generator=g, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^b:"):
        BilinearMeasurements(a, torch.randn(4, 2, generator=g, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"^a:"):
        BilinearMeasurements(torch.zeros(0, 3), torch.zeros(0, 2))
    with pytest.raises(ValueError, match=r"^x:"):
        SymmetricRankOneMeasurements(torch.randn(3, generator=g, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^scale:"):
        SymmetricRankOneMeasurements(a, scale=0.0)

    # The completion map validates nothing of its own: its Observations did.
    rows, cols = torch.tensor([0, 1, 2]), torch.tensor([1, 1, 0])
    with pytest.raises(ValueError, match=r"^observations:"):
        CompletionMeasurements(rows)
    with pytest.raises(ValueError, match=r"^scale:"):
        CompletionMeasurements(Observations(rows, cols, torch.ones(3), (3, 2)), scale=-1.0)
