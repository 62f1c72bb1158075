"""The two-sided lin-RFM (ours): its step against the dense constrained least squares it solves,
its low-rank-plus-sparse algebra against dense matrices, and exact recovery with a truthful
stopping rule on square and rectangular, well- and ill-conditioned instances."""

from __future__ import annotations

import itertools

import pytest
import torch

from recovery.core import lowrank, metrics, problems
from recovery.core.lowrank import LowRankPlusSparse, Sampling, top_singular_triplets
from recovery.core.observations import Observations
from recovery.core.results import Status
from recovery.rfm import two_sided
from recovery.rfm.two_sided import (
    _certified_rank,
    _changes,
    kernel_interpolant,
    largest_rank,
    two_sided_completion,
)


def observed(d1, d2, count, generator):
    flat = torch.randperm(d1 * d2, generator=generator)[:count]
    return flat // d2, flat % d2


def random_iterate(d1, d2, k, count, seed) -> LowRankPlusSparse:
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(d1, d2, count, g)
    sampling = Sampling(Observations(rows, cols, torch.randn(count, generator=g, dtype=torch.float64), (d1, d2)))
    return LowRankPlusSparse(torch.randn(d1, k, generator=g, dtype=torch.float64),
                             torch.randn(d2, k, generator=g, dtype=torch.float64),
                             torch.randn(count, generator=g, dtype=torch.float64), sampling)


#: Sampling's default tile (one tile for these sizes: the observations' order) and small tiles (several
#: tiles, some empty; the sampling's own order).
TILES = [lowrank.TILE_LINES, 4]


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_low_rank_plus_sparse_products_match_the_dense_matrix(seed, tile, monkeypatch):
    monkeypatch.setattr(lowrank, "TILE_LINES", tile)
    X = random_iterate(9, 13, 3, 40, seed)
    dense = X.dense()
    W2, W1 = torch.randn(13, 4, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64)
    torch.testing.assert_close(X.matmul(W2), dense @ W2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(X.rmatmul(W1), dense.T @ W1, rtol=1e-12, atol=1e-12)
    hidden = ~Observations(X.sampling.rows, X.sampling.cols, X.sparse, (9, 13)).mask()
    rows, cols = torch.nonzero(hidden, as_tuple=True)
    torch.testing.assert_close(X.entries(rows, cols), dense[rows, cols], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tile", [lowrank.TILE_LINES, 5, 10])  # 1, 5 x 4 and 3 x 2 tiles (ragged)
@pytest.mark.parametrize("cached_bytes", [lowrank.CACHED_BYTES, 0])  # one product; a cache line at a time
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_products_in_cache_line_blocks_match_the_dense_matrix(seed, dtype, cached_bytes, tile, monkeypatch):
    """P_Omega^*(e) W and its transpose with W taken whole or in blocks of one cache line's columns
    (8 in float64, 16 in float32; 37 columns leave a ragged last block), in one tile or several."""
    monkeypatch.setattr(lowrank, "CACHED_BYTES", cached_bytes)
    g = torch.Generator().manual_seed(seed)
    d1, d2, count = 23, 19, 150
    rows, cols = observed(d1, d2, count, g)
    observations = Observations(rows, cols, torch.randn(count, generator=g, dtype=dtype), (d1, d2))
    sampling = Sampling(observations, tile=tile)
    e = sampling.ordered(observations.values)
    dense = torch.zeros(d1, d2, dtype=dtype)
    dense[observations.rows, observations.cols] = observations.values
    W2, W1 = torch.randn(d2, 37, generator=g, dtype=dtype), torch.randn(d1, 37, generator=g, dtype=dtype)
    assert lowrank._line_columns(W2) == (37 if cached_bytes else 64 // W2.element_size())
    tolerance = 10 * torch.finfo(dtype).eps
    torch.testing.assert_close(sampling.times(e, W2), dense @ W2, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(sampling.transpose_times(e, W1), dense.T @ W1, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [0, 1, 5])
def test_sampled_entries_of_a_product_match_the_dense_product(seed, k, tile):
    g = torch.Generator().manual_seed(seed)
    d1, d2 = 17, 11
    rows, cols = observed(d1, d2, 60, g)
    sampling = Sampling(Observations(rows, cols, torch.randn(60, generator=g, dtype=torch.float64), (d1, d2)), tile)
    A, B = torch.randn(d1, k, generator=g, dtype=torch.float64), torch.randn(d2, k, generator=g, dtype=torch.float64)
    torch.testing.assert_close(sampling.at(A, B), (A @ B.T)[sampling.rows, sampling.cols], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d1", "d2", "tile"), [(17, 11, 4), (6, 30, 7), (30, 6, 64)])
def test_the_sampling_order_goes_tile_by_tile_and_row_major_inside(seed, d1, d2, tile):
    """Brute force: the entries sorted by (tile row, tile column, row, column); ``ordered`` carries
    the observations' values along, so that position t holds Y[rows[t], cols[t]] in both orders."""
    g = torch.Generator().manual_seed(seed)
    Y = torch.randn(d1, d2, generator=g, dtype=torch.float64)
    rows, cols = observed(d1, d2, d1 * d2 // 3, g)
    observations = Observations(rows, cols, Y[rows, cols], (d1, d2))
    sampling = Sampling(observations, tile=tile)
    expected = sorted(zip(observations.rows.tolist(), observations.cols.tolist(), strict=True),
                      key=lambda entry: (entry[0] // tile, entry[1] // tile, entry[0], entry[1]))
    assert list(zip(sampling.rows.tolist(), sampling.cols.tolist(), strict=True)) == expected
    torch.testing.assert_close(sampling.ordered(observations.values), Y[sampling.rows, sampling.cols], rtol=0, atol=0)
    if max(d1, d2) <= tile:
        assert sampling.ordered(observations.values) is observations.values
    with pytest.raises(ValueError, match="tile: expected a positive integer"):
        Sampling(observations, tile=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_singular_triplets_match_the_full_svd(seed):
    X = random_iterate(30, 40, 4, 100, seed)
    U, sigma, V = top_singular_triplets(X, torch.randn(40, 6, dtype=torch.float64), passes=200)
    U_full, s_full, Vh_full = torch.linalg.svd(X.dense())
    torch.testing.assert_close(sigma[:3], s_full[:3], rtol=1e-8, atol=0)
    for i in range(3):  # singular vectors up to sign
        assert abs(float(U[:, i] @ U_full[:, i])) == pytest.approx(1, abs=1e-8)
        assert abs(float(V[:, i] @ Vh_full[i])) == pytest.approx(1, abs=1e-8)


def dense_unobserved(X: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Brute force: ``X`` with its observed entries set to zero."""
    X = X.clone()
    X[sampling.rows, sampling.cols] = 0
    return X


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_changes_from_factors_match_the_dense_differences(seed):
    old = random_iterate(10, 12, 2, 50, seed)
    g = torch.Generator().manual_seed(100 + seed)
    new_left, new_right = torch.randn(10, 3, generator=g, dtype=torch.float64), torch.randn(12, 3, generator=g,
                                                                                         dtype=torch.float64)
    y = old.sparse + old.sampling.at(old.left, old.right)  # both iterates agree with these data
    new = LowRankPlusSparse(new_left, new_right, y - old.sampling.at(new_left, new_right), old.sampling)
    difference = new.dense() - old.dense()
    free = float(torch.linalg.matrix_norm(dense_unobserved(difference, old.sampling)) / torch.linalg.matrix_norm(
        dense_unobserved(new.dense(), old.sampling)))
    whole = float(torch.linalg.matrix_norm(difference) / torch.linalg.matrix_norm(new.dense()))
    changes = _changes(old, new, float(torch.linalg.vector_norm(y)))
    assert changes == (pytest.approx(free, rel=1e-9), pytest.approx(whole, rel=1e-9))


@pytest.mark.parametrize("tile", [lowrank.TILE_LINES, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spike", [1.0, 1e8])
def test_unobserved_norm_is_exact_beside_a_huge_observed_entry(seed, spike, tile, monkeypatch):
    """Issue #13, item 7: a product whose one observed entry is ``spike`` times the others. Row
    totals minus observed parts lose the rest of that row to rounding (checked by switching the
    entry-by-entry rows off); the library's sum matches the brute force anyway."""
    monkeypatch.setattr(lowrank, "TILE_LINES", tile)
    X = random_iterate(30, 25, 3, 300, seed)
    i, j = int(X.sampling.rows[7]), int(X.sampling.cols[7])
    A = torch.cat([X.left, spike * torch.eye(30, dtype=torch.float64)[:, i:i + 1]], 1)
    B = torch.cat([X.right, torch.eye(25, dtype=torch.float64)[:, j:j + 1]], 1)
    expected = float((dense_unobserved(A @ B.T, X.sampling) ** 2).sum())
    assert X.sampling.unobserved_squared_norm(A, B) == pytest.approx(expected, rel=1e-9)
    monkeypatch.setattr(lowrank, "CANCELLATION", -float("inf"))  # the plain subtraction everywhere
    plain = X.sampling.unobserved_squared_norm(A, B)
    assert plain == pytest.approx(expected, rel=1e-9) if spike == 1.0 else abs(plain / expected - 1) > 1e-6


@pytest.mark.parametrize(("chunk_entries", "blocks"), [(1, 12), (60, 6), (1 << 22, 1)])
def test_unobserved_norm_with_rows_observed_almost_everywhere(chunk_entries, blocks, monkeypatch):
    """Rows whose one free entry is 1e-3 of the others fall below the cancellation threshold and
    are summed entry by entry, in blocks of as many rows as ``ROW_CHUNK_ENTRIES`` allows."""
    monkeypatch.setattr(lowrank, "ROW_CHUNK_ENTRIES", chunk_entries)
    calls = []
    exact_rows = Sampling._unobserved_rows
    monkeypatch.setattr(Sampling, "_unobserved_rows", lambda self, *args: calls.append(1) or exact_rows(self, *args))
    g = torch.Generator().manual_seed(5)
    d1, d2 = 12, 25
    rows, cols = torch.nonzero(torch.arange(d2)[None, :].expand(d1, d2) != 7, as_tuple=True)
    sampling = Sampling(Observations(rows, cols, torch.ones(rows.numel(), dtype=torch.float64), (d1, d2)))
    A, B = torch.randn(d1, 3, generator=g, dtype=torch.float64), torch.randn(d2, 3, generator=g, dtype=torch.float64)
    B[7] *= 1e-3
    expected = float((dense_unobserved(A @ B.T, sampling) ** 2).sum())
    assert sampling.unobserved_squared_norm(A, B) == pytest.approx(expected, rel=1e-12)
    assert len(calls) == blocks


def test_unobserved_norm_of_a_fully_observed_matrix_is_zero():
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    sampling = Sampling(Observations(rows.flatten(), cols.flatten(), torch.ones(20, dtype=torch.float64), (4, 5)))
    A, B = torch.randn(4, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    assert sampling.unobserved_squared_norm(A, B) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_one_large_observed_entry_does_not_fake_convergence(seed, monkeypatch):
    """Issue #13, item 7, for the default method: with one observed entry 1e8 times the others the
    unobserved entries are determined only to about 1e-8 in float64. The change from the factors
    alone cancelled to zero and said converged after 17 steps (100 more moved the free entries by
    8e-7 against tol 1e-10). Measured exactly, a run that says converged must stay put; a settled fit
    of the spiked data is M + c e_i e_j^T, which they do not determine, and must say so."""
    _, observations = problems.completion_problem(30, 30, 2, 450, torch.Generator().manual_seed(seed))
    values = observations.values.clone()
    values[0] *= 1e8
    spiked = Observations(observations.rows, observations.cols, values, observations.shape)
    free = ~spiked.mask()
    for tol in (1e-10, 1e-6):
        result = two_sided_completion(spiked, tol=tol, max_iter=300)
        with monkeypatch.context() as never_settled:  # the same iteration, 100 steps further
            never_settled.setattr(two_sided, "SETTLED_STEPS", 10**9)
            longer = two_sided_completion(spiked, tol=tol, max_iter=result.iterations + 100)
        moved = float((longer.solution[free] - result.solution[free]).norm() / longer.solution[free].norm())
        if result.converged:
            assert moved < 10 * tol
        else:  # a settled fit that the spike leaves undetermined, or the budget
            assert result.status is Status.NOT_DETERMINED or result.iterations == 300
        assert "free entries" in result.message
    assert two_sided_completion(observations, max_iter=300).converged


def dense_kernel_interpolant(X, rows, cols, y, epsilon):
    """Brute force: K_L = (XX^T)^{1/2}, K_R = (X^TX)^{1/2} with the spectrum clipped at epsilon, and
    Z = W^{-1} P^T (P W^{-1} P^T)^{-1} y with W^{-1} = K_L (x) K_R on row-major vec(Z)."""
    d1, d2 = X.shape
    U, s, Vh = torch.linalg.svd(X)
    left = torch.full((d1,), epsilon, dtype=X.dtype)
    right = torch.full((d2,), epsilon, dtype=X.dtype)
    left[: s.numel()] = s.clamp(min=epsilon)
    right[: s.numel()] = s.clamp(min=epsilon)
    K_L = (U * left) @ U.T
    K_R = (Vh.T * right) @ Vh
    W_inverse = torch.kron(K_L, K_R)
    index = rows * d2 + cols
    coefficients = torch.linalg.solve(W_inverse[index][:, index], y)
    return (W_inverse[:, index] @ coefficients).reshape(d1, d2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(8, 8), (7, 11)])
def test_one_step_is_the_dense_weighted_least_squares_interpolant(seed, shape):
    d1, d2 = shape
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(d1, d2, 35, g)
    observations = Observations(rows, cols, torch.randn(35, generator=g, dtype=torch.float64), shape)
    X = torch.randn(d1, 2, generator=g, dtype=torch.float64) @ torch.randn(2, d2, generator=g, dtype=torch.float64)
    X += 0.1 * torch.randn(d1, d2, generator=g, dtype=torch.float64)
    U, s, Vh = torch.linalg.svd(X, full_matrices=False)
    k = 3
    epsilon = float(s[k])
    step, _ = kernel_interpolant(Sampling(observations), observations.values, U[:, :k], s[:k], Vh[:k].T, epsilon,
                                 tol=1e-14)
    expected = dense_kernel_interpolant(X, observations.rows, observations.cols, observations.values, epsilon)
    torch.testing.assert_close(step.dense(), expected, rtol=1e-8, atol=1e-9)


def test_the_step_refuses_directions_at_or_below_the_smoothing():
    X = random_iterate(6, 6, 2, 20, 0)
    U, sigma, V = top_singular_triplets(X, torch.randn(6, 3, dtype=torch.float64), passes=20)
    with pytest.raises(ValueError, match="sigma: every singular value must exceed"):
        kernel_interpolant(X.sampling, X.sparse, U, sigma, V, float(sigma[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d1", "d2", "rank"), [(120, 120, 3), (90, 150, 4)])
def test_recovers_to_the_certified_accuracy_without_a_rank_oracle(seed, d1, d2, rank):
    count = int(2.5 * rank * (d1 + d2 - rank))
    Y, observations = problems.completion_problem(d1, d2, rank, count, torch.Generator().manual_seed(seed))
    result = two_sided_completion(observations)
    assert result.converged and result.status is Status.CONVERGED
    assert result.info["rank"] == rank
    # The certificate: a rank-k matrix fitting the data to tol, whence (unique completion) an error ~ tol.
    assert result.info["residual"] < 1e-10
    assert metrics.unobserved_relative_error(result.solution, Y, observations) < 1e-9
    torch.testing.assert_close(result.solution[observations.rows, observations.cols], observations.values,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_tiles_change_no_step(seed, monkeypatch):
    """The same run with the entries in 5 x 4 tiles (the sampling's own order, not the observations')
    as in one: the same iterations, rank and recovered matrix; only the products' summation order differs."""
    Y, observations = problems.completion_problem(90, 70, 3, 2000, torch.Generator().manual_seed(seed))
    whole = two_sided_completion(observations, dense=False)
    monkeypatch.setattr(lowrank, "TILE_LINES", 20)
    tiled = two_sided_completion(observations, dense=False)
    assert tiled.solution.sampling.order is not None and whole.solution.sampling.order is None
    assert whole.converged and tiled.converged
    assert (tiled.iterations, tiled.info["certified_rank"]) == (whole.iterations, whole.info["certified_rank"])
    torch.testing.assert_close(tiled.solution.dense(), whole.solution.dense(), rtol=0, atol=1e-9)
    assert metrics.unobserved_relative_error(two_sided_completion(observations).solution, Y, observations) < 1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_an_ill_conditioned_matrix(seed):
    Y, observations = problems.conditioned_completion_problem(150, 150, 3, 3 * 3 * 297, 1e4,
                                                              torch.Generator().manual_seed(seed))
    result = two_sided_completion(observations)
    assert result.converged
    assert metrics.relative_error(result.solution, Y) < 1e-9


def test_rank_oracle_and_adaptive_rank_agree():
    Y, observations = problems.completion_problem(80, 100, 3, 1500, torch.Generator().manual_seed(4))
    adaptive = two_sided_completion(observations)
    oracle = two_sided_completion(observations, rank=3)
    assert adaptive.converged and oracle.converged
    torch.testing.assert_close(adaptive.solution, oracle.solution, rtol=0, atol=1e-8 * float(Y.abs().max()))


def test_factored_output_never_forms_the_matrix_and_matches_the_dense_one():
    _, observations = problems.completion_problem(60, 70, 2, 900, torch.Generator().manual_seed(5))
    factored = two_sided_completion(observations, dense=False)
    assert isinstance(factored.solution, LowRankPlusSparse)
    assert factored.solution.left.shape[0] == 60 and factored.solution.right.shape[0] == 70
    dense = two_sided_completion(observations)
    torch.testing.assert_close(factored.solution.dense(), dense.solution, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [6, 7, 8])
@pytest.mark.parametrize(("d1", "d2", "rank"), [(80, 80, 2), (300, 300, 5), (200, 350, 4)])
def test_float32_converges_at_its_tolerance(seed, d1, d2, rank):
    """float32 certifies the true rank with an error of the order of its tol, 1e-4 (before the
    inner solves could reach 100 epsilons, rounding-level directions made it refuse these fits)."""
    count = 3 * rank * (d1 + d2 - rank)
    Y, observations = problems.completion_problem(d1, d2, rank, count, torch.Generator().manual_seed(seed))
    result = two_sided_completion(observations, dtype=torch.float32)
    assert result.converged, result.message
    assert result.solution.dtype == torch.float32 and result.info["certified_rank"] == rank
    assert metrics.unobserved_relative_error(result.solution.double(), Y, observations) < 1e-3


def test_a_budget_too_small_is_reported_not_hidden():
    _, observations = problems.completion_problem(80, 80, 2, 1200, torch.Generator().manual_seed(7))
    result = two_sided_completion(observations, max_iter=3)
    assert not result.converged and result.status is Status.MAX_ITER and "max_iter = 3" in result.message


def test_callback_history_and_zero_data():
    _, observations = problems.completion_problem(40, 40, 2, 600, torch.Generator().manual_seed(8))
    seen = []
    result = two_sided_completion(observations, callback=lambda i, X: seen.append(i) or {"left_columns":
                                                                                          X.left.shape[1]})
    assert seen == [entry["iteration"] for entry in result.history] == list(range(1, result.iterations + 1))
    assert {"change", "residual", "smoothing", "rank", "cg_iterations", "seconds", "left_columns"} <= set(
        result.history[-1])
    zeros = Observations(observations.rows, observations.cols, torch.zeros_like(observations.values), (40, 40))
    assert two_sided_completion(zeros).solution.abs().max() == 0
    row = Observations(torch.tensor([0, 0]), torch.tensor([0, 2]), torch.tensor([1.0, 2.0], dtype=torch.float64), (1, 3))
    single = two_sided_completion(row)
    assert single.converged and "single row or column" in single.message
    assert single.solution.tolist() == [[1.0, 0.0, 2.0]]


def test_largest_rank_counts_degrees_of_freedom():
    assert largest_rank(10_000, 500, 500, 1.0) == 10  # 10 * 990 = 9900 <= 10000 < 11 * 989
    assert largest_rank(10_000, 500, 500, 1.5) == 6
    assert largest_rank(3, 2, 2, 1.0) == 1  # never the full rank


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"rank": 0}, "rank: expected"), ({"rank": 40}, "rank: must be below"), ({"tol": -1.0}, "tol"),
     ({"max_iter": 0}, "max_iter"), ({"passes": 0}, "passes")],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    _, observations = problems.completion_problem(40, 40, 2, 600, torch.Generator().manual_seed(9))
    with pytest.raises(ValueError, match=message):
        two_sided_completion(observations, **arguments)
    with pytest.raises(ValueError, match="observations: expected an Observations object"):
        two_sided_completion(torch.zeros(3, 3))


def brute_force_line_conditioning(rows, cols, U, V) -> float:
    """The smallest inverse condition number of the per-line Gram matrices, one line at a time."""
    ratios = []
    for lines, others, W in ((rows, cols, V), (cols, rows, U)):
        for line in range(U.shape[0] if W is V else V.shape[0]):
            picked = W[others[lines == line]]
            eigenvalues = torch.linalg.eigvalsh(picked.T @ picked)
            ratios.append(0.0 if float(eigenvalues[-1]) == 0 else max(float(eigenvalues[0] / eigenvalues[-1]), 0.0))
    return min(ratios)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d1", "d2", "k", "count"), [(30, 40, 3, 600), (50, 20, 2, 400), (25, 25, 1, 200)])
@pytest.mark.parametrize("tile", [lowrank.TILE_LINES, 9])
def test_line_conditioning_matches_the_line_by_line_grams(seed, d1, d2, k, count, tile, monkeypatch):
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(d1, d2, count, g)
    sampling = Sampling(Observations(rows, cols, torch.zeros(count, dtype=torch.float64), (d1, d2)), tile)
    U = torch.linalg.qr(torch.randn(d1, k, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(d2, k, generator=g, dtype=torch.float64)).Q
    expected = brute_force_line_conditioning(rows, cols, U, V)
    assert expected > 0
    assert sampling.line_conditioning(U, V) == pytest.approx(expected, rel=1e-9)
    monkeypatch.setattr(lowrank, "ROW_CHUNK_ENTRIES", 7)  # one line per block
    assert sampling.line_conditioning(U, V) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_line_conditioning_is_zero_for_an_empty_line(seed):
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(20, 15, 200, g)
    keep = rows != 7  # row 7 unobserved
    sampling = Sampling(Observations(rows[keep], cols[keep], torch.zeros(int(keep.sum()), dtype=torch.float64), (20, 15)))
    U = torch.linalg.qr(torch.randn(20, 2, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(15, 2, generator=g, dtype=torch.float64)).Q
    assert brute_force_line_conditioning(rows[keep], cols[keep], U, V) == 0.0
    assert sampling.line_conditioning(U, V) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_line_conditioning_is_zero_for_a_free_direction(seed):
    """A row space holding e_4 leaves free a direction of every row that misses column 4."""
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(30, 30, 500, g)
    assert rows[cols == 4].unique().numel() < 30  # some row misses column 4
    sampling = Sampling(Observations(rows, cols, torch.zeros(500, dtype=torch.float64), (30, 30)))
    U = torch.linalg.qr(torch.randn(30, 2, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(30, 2, generator=g, dtype=torch.float64)).Q
    assert sampling.line_conditioning(U, V) > 1e-4
    localized = torch.cat([V, torch.eye(30, dtype=torch.float64)[:, 4:5]], 1)
    localized = torch.linalg.qr(localized).Q
    U3 = torch.linalg.qr(torch.randn(30, 3, generator=g, dtype=torch.float64)).Q
    assert sampling.line_conditioning(U3, localized) < 1e-14


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_row_with_fewer_observations_than_the_rank_is_not_certified(seed):
    """With one observed entry in a row of a rank-2 matrix, every completion of that row along the
    row space fits the data: the run must not report convergence. Two more entries determine it."""
    Y, observations = problems.completion_problem(60, 60, 2, 1400, torch.Generator().manual_seed(seed))
    in_row_0 = torch.nonzero(observations.rows == 0).flatten()
    for kept, expected in ((1, Status.NOT_DETERMINED), (3, Status.CONVERGED)):
        keep = torch.ones(observations.rows.numel(), dtype=torch.bool)
        keep[in_row_0[kept:]] = False
        thinned = Observations(observations.rows[keep], observations.cols[keep], observations.values[keep], (60, 60))
        result = two_sided_completion(thinned, rank=2)
        assert result.status is expected, result.message
        assert result.converged == (expected is Status.CONVERGED)
        if result.converged:
            assert metrics.relative_error(result.solution, Y) < 1e-8
        else:
            assert "do not determine" in result.message and result.info["line_conditioning"] < 1e-8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_certified_rank_drops_only_directions_below_tol(seed):
    """A rank-2 fit plus a third direction s u e_7^T. Where u lives on the rows that miss column 7, the
    data cannot see it (the fits of one rank too many of the module docstring): it is dropped when
    its size is below tol and kept otherwise. Where u lives on the rows that observe column 7, the
    data see it: it is kept when the rank-2 truncation misfits them by more than tol, though its
    size is below tol."""
    g = torch.Generator().manual_seed(seed)
    Y = torch.randn(40, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 40, generator=g, dtype=torch.float64)
    rows, cols = observed(40, 40, 700, g)
    sampling = Sampling(Observations(rows, cols, Y[rows, cols], (40, 40)))
    U, sigma, Vh = torch.linalg.svd(Y)
    U, sigma, V = U[:, :2], sigma[:2], Vh[:2].T
    seeing = torch.zeros(40, 1, dtype=torch.float64)
    seeing[rows[cols == 7]] = 1.0
    assert 0 < float(seeing.sum()) < 40

    def with_direction(u, size):
        u = u / torch.linalg.vector_norm(u)
        e = torch.eye(40, dtype=torch.float64)[:, 7:8]
        sigma3 = torch.cat([sigma, sigma.new_tensor([size * float(sigma[0])])])
        U3, V3 = torch.cat([U, u], 1), torch.cat([V, e], 1)
        return U3, sigma3, V3, sampling.at(U3 * sigma3, V3)  # the data of that rank-3 matrix

    def norm(y):
        return float(torch.linalg.vector_norm(y))

    for size, expected in ((1e-13, 2), (1e-6, 3)):
        U3, sigma3, V3, y = with_direction(1 - seeing, size)
        assert _certified_rank(sampling, y, norm(y), U3, sigma3, V3, 3, tol=1e-10) == expected
    U3, sigma3, V3, y = with_direction(seeing, 1e-6)
    tail = 1e-6 * float(sigma[0]) / float(torch.linalg.vector_norm(sigma3))
    misfit = 1e-6 * float(sigma[0]) / float(torch.linalg.vector_norm(y))
    assert tail < misfit
    assert _certified_rank(sampling, y, norm(y), U3, sigma3, V3, 3, tol=(tail * misfit) ** 0.5) == 3
    assert _certified_rank(sampling, y, norm(y), U3, sigma3, V3, 3, tol=2 * misfit) == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_line_conditioning_of_leading_vectors_is_no_smaller(seed):
    """Cauchy interlacing, on which the certified rank rests: dropping trailing singular vectors never
    lowers the line conditioning."""
    g = torch.Generator().manual_seed(seed)
    rows, cols = observed(30, 45, 300, g)
    sampling = Sampling(Observations(rows, cols, torch.zeros(300, dtype=torch.float64), (30, 45)))
    U = torch.linalg.qr(torch.randn(30, 6, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(45, 6, generator=g, dtype=torch.float64)).Q
    values = [sampling.line_conditioning(U[:, :j], V[:, :j]) for j in range(1, 7)]
    assert all(a >= b * (1 - 1e-12) for a, b in itertools.pairwise(values))
    assert values[0] > values[-1]
