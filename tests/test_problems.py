"""Ground-truth samplers: the structure each model promises, reproducibility, bad input."""

from __future__ import annotations

import collections
import itertools

import pytest
import torch

from recovery.convex import robust_pca
from recovery.core import problems
from recovery.core.observations import Observations, equal_length_lines, line_pointers

F64 = torch.float64


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("d1", "d2", "outliers"), [(12, 12, 3), (8, 15, 2), (15, 8, 4), (6, 9, 6), (5, 5, 0)])
def test_robust_pca_outliers_respect_the_budget_per_row_and_column(seed, d1, d2, outliers):
    M, S = problems.robust_pca_problem(d1, d2, 2, outliers, torch.Generator().manual_seed(seed))
    assert M.shape == S.shape == (d1, d2)
    assert float(torch.linalg.matrix_norm(M)) == pytest.approx(1.0, rel=1e-14)
    assert int(torch.linalg.matrix_rank(M)) == 2
    support = S != 0
    assert int(support.sum(dim=1).max()) <= outliers and int(support.sum(dim=0).max()) <= outliers
    # The shorter side is fully used: every row (d1 <= d2) or column gets exactly `outliers`.
    per_short_side = support.sum(dim=1) if d1 <= d2 else support.sum(dim=0)
    assert bool((per_short_side == outliers).all())
    again = problems.robust_pca_problem(d1, d2, 2, outliers, torch.Generator().manual_seed(seed))
    assert torch.equal(again[0], M) and torch.equal(again[1], S)


def test_robust_pca_support_is_random():
    """Different seeds give different supports, and over many draws every entry gets corrupted."""
    hits = torch.zeros(6, 9)
    for seed in range(200):
        _, S = problems.robust_pca_problem(6, 9, 1, 2, torch.Generator().manual_seed(seed))
        hits += S != 0
    assert bool((hits > 0).all())
    # Each of the 6 x 2 outliers lands uniformly on 9 columns: about 200 * 2 / 9 hits per entry.
    assert float(hits.min()) > 20 and float(hits.max()) < 70


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_robust_pca_is_recovered_by_the_relaxation(seed):
    """Theorem 1.3's regime: few outliers per row and column, budget ||S*||_1 exactly."""
    g = torch.Generator().manual_seed(seed)
    M, S = problems.robust_pca_problem(25, 25, 1, 1, g)
    result = robust_pca(M + S, float(S.abs().sum()))
    assert bool(result.converged)
    assert float(torch.linalg.matrix_norm(result.solution - M)) <= 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("positive", "negative"), [(3, 0), (2, 1), (1, 2), (1, 0)])
def test_network_target_has_the_promised_inertia_and_unit_norm(seed, positive, negative):
    U1, U2 = problems.network_target(10, positive, negative, torch.Generator().manual_seed(seed))
    assert U1.shape == (10, positive) and U2.shape == (10, negative)
    M = U1 @ U1.T - U2 @ U2.T
    assert float(torch.linalg.matrix_norm(M)) == pytest.approx(1.0, rel=1e-14)
    eigenvalues = torch.linalg.eigvalsh(M)
    assert int((eigenvalues > 1e-10).sum()) == positive and int((eigenvalues < -1e-10).sum()) == negative


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_vector(seed):
    x = problems.sparse_vector(50, 7, torch.Generator().manual_seed(seed))
    assert int((x != 0).sum()) == 7 and float(x.norm()) == pytest.approx(1.0, rel=1e-14)
    assert torch.equal(x, problems.sparse_vector(50, 7, torch.Generator().manual_seed(seed)))


def test_samplers_reject_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="outliers: at most min"):
        problems.robust_pca_problem(5, 8, 1, 6, g)
    with pytest.raises(ValueError, match="outliers:"):
        problems.robust_pca_problem(5, 8, 1, -1, g)
    with pytest.raises(ValueError, match="rank:"):
        problems.robust_pca_problem(5, 8, 6, 1, g)
    with pytest.raises(ValueError, match="magnitude:"):
        problems.robust_pca_problem(5, 8, 1, 1, g, magnitude=float("inf"))
    with pytest.raises(ValueError, match="negative:"):
        problems.network_target(4, 3, 2, g)
    with pytest.raises(ValueError, match="negative:"):
        problems.network_target(4, 1, -1, g)
    with pytest.raises(ValueError, match="positive:"):
        problems.network_target(4, 0, 1, g)
    with pytest.raises(ValueError, match="sparsity:"):
        problems.sparse_vector(4, 5, g)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: problems.degrees_of_freedom(4, 6, 5), "rank:"),
    (lambda: problems.degrees_of_freedom(0, 6, 1), "d1:"),
    (lambda: problems.degrees_of_freedom(4, 6.0, 1), "d2:"),
    (lambda: problems.symmetric_degrees_of_freedom(3, 4), "rank:"),
    (lambda: problems.symmetric_degrees_of_freedom(3, True), "rank:"),
])
def test_degrees_of_freedom_refuse_impossible_shapes_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_degrees_of_freedom_of_full_rank_are_all_entries():
    assert problems.degrees_of_freedom(4, 6, 4) == 24
    assert problems.symmetric_degrees_of_freedom(5, 5) == 15


@pytest.mark.parametrize(("rank", "condition"), [(5, 10.0), (3, 1e5), (1, 7.0)])
def test_conditioned_completion_problem_has_the_stated_spectrum(rank, condition):
    M, observations = problems.conditioned_completion_problem(40, 30, rank, 500, condition,
                                                              torch.Generator().manual_seed(rank))
    sigma = torch.linalg.svdvals(M)
    assert float(sigma[0]) == pytest.approx(1, rel=1e-12)
    if rank > 1:
        assert float(sigma[0] / sigma[rank - 1]) == pytest.approx(condition, rel=1e-8)
        ratios = sigma[1:rank] / sigma[: rank - 1]
        torch.testing.assert_close(ratios, torch.full_like(ratios, condition ** (-1 / (rank - 1))), rtol=1e-8, atol=0)
    assert float(sigma[rank]) < 1e-12  # rank exactly `rank`
    assert observations.count == 500
    torch.testing.assert_close(observations.values, M[observations.rows, observations.cols])
    with pytest.raises(ValueError, match="condition"):
        problems.conditioned_completion_problem(4, 4, 2, 5, 0.5, torch.Generator())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("d1, d2, rank, num_obs", [(30, 20, 3, 150), (7, 9, 2, 50)])
def test_factored_completion_problem_observes_its_own_matrix(seed, d1, d2, rank, num_obs):
    left, right, observations = problems.factored_completion_problem(
        d1, d2, rank, num_obs, torch.Generator().manual_seed(seed))
    Y = left @ right.T
    assert torch.linalg.matrix_rank(Y) == rank
    assert float(Y.square().sum()) == pytest.approx(d1 * d2, rel=1e-12)
    assert observations.count == num_obs and observations.shape == (d1, d2)
    torch.testing.assert_close(observations.values, Y[observations.rows, observations.cols], rtol=1e-12, atol=1e-12)
    again = problems.factored_completion_problem(d1, d2, rank, num_obs, torch.Generator().manual_seed(seed))
    assert torch.equal(again[2].values, observations.values)


@pytest.mark.parametrize("count", [3, 15])  # the sparse draw and the permutation fallback
def test_distinct_entries_are_uniform_off_the_excluded_ones(count):
    d1, d2, draws = 4, 5, 3000
    g = torch.Generator().manual_seed(0)
    excluded = Observations(torch.tensor([0, 2]), torch.tensor([1, 4]), torch.ones(2, dtype=torch.float64), (d1, d2))
    frequency = torch.zeros(d1, d2)
    for _ in range(draws):
        rows, cols = problems.distinct_entries(d1, d2, count, g, excluding=excluded)
        assert rows.numel() == count and torch.unique(rows * d2 + cols).numel() == count
        frequency[rows, cols] += 1
    assert frequency[0, 1] == frequency[2, 4] == 0
    free = frequency.flatten()[frequency.flatten() > 0]
    p = count / (d1 * d2 - 2)
    assert free.numel() == d1 * d2 - 2
    assert (free / draws - p).abs().max() < 5 * (p * (1 - p) / draws) ** 0.5  # each free position equally likely


def test_distinct_entries_refuse_more_than_the_free_positions():
    excluded = Observations(torch.tensor([0]), torch.tensor([0]), torch.ones(1, dtype=torch.float64), (2, 2))
    with pytest.raises(ValueError, match="count: only 3 positions"):
        problems.distinct_entries(2, 2, 4, torch.Generator(), excluding=excluded)
    with pytest.raises(ValueError, match="excluding"):
        problems.distinct_entries(3, 2, 1, torch.Generator(), excluding=excluded)


def _masks(observations) -> frozenset:
    return frozenset(zip(observations.rows.tolist(), observations.cols.tolist(), strict=True))


def test_conditioned_sampling_is_uniform_over_the_masks_with_enough_per_line():
    """3 x 3, 5 entries, at least 1 per row and column: 126 masks, of which brute force counts the
    qualifying ones; 6,000 draws must hit only those, each about equally often."""
    cells = [(i, j) for i in range(3) for j in range(3)]
    qualifying = {frozenset(mask) for mask in itertools.combinations(cells, 5)
                  if all(any(i == k for i, _ in mask) for k in range(3))
                  and all(any(j == k for _, j in mask) for k in range(3))}
    generator = torch.Generator().manual_seed(0)
    counts = collections.Counter(
        _masks(problems.conditioned_completion_problem(3, 3, 1, 5, 1.0, generator, min_per_line=1)[1])
        for _ in range(6000))
    assert set(counts) <= qualifying and len(counts) == len(qualifying)
    expected = 6000 / len(qualifying)
    assert max(abs(count - expected) for count in counts.values()) < 5 * expected**0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conditioned_sampling_keeps_the_first_qualifying_draw_or_the_last_one(seed):
    def draw(num_obs, **conditions):
        return problems.conditioned_completion_problem(30, 20, 2, num_obs, 10.0, torch.Generator().manual_seed(seed),
                                                       **conditions)

    plain = draw(300)
    assert _masks(draw(300, min_per_line=plain[1].fewest_per_line())[1]) == _masks(plain[1])  # the first draw qualifies
    strict = draw(300, min_per_line=plain[1].fewest_per_line() + 1)
    assert strict[1].fewest_per_line() > plain[1].fewest_per_line() and strict[1].count == 300
    impossible = draw(150, min_per_line=6, max_draws=3)  # 30 rows x 6 > 150: no draw qualifies
    assert impossible[1].count == 150 and impossible[1].fewest_per_line() < 6
    torch.testing.assert_close(strict[0], plain[0])  # the matrix is drawn before the entries
    for bad in ({"min_per_line": -1}, {"min_per_line": 1.5}, {"max_draws": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            problems.conditioned_completion_problem(4, 4, 2, 5, 2.0, torch.Generator(), **bad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_line_pointers_and_equal_length_lines_group_every_entry_of_every_non_empty_line_once(seed):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, 6, (40,), generator=g)
    pointers = line_pointers(counts)
    assert pointers.tolist() == [sum(counts[:t].tolist()) for t in range(41)]
    groups = equal_length_lines(pointers)
    assert [n for n, _ in groups] == sorted(set(counts.tolist()) - {0})
    expected = {n: [list(range(int(pointers[t]), int(pointers[t + 1]))) for t in range(40) if counts[t] == n]
                for n, _ in groups}
    for n, positions in groups:
        assert positions.tolist() == expected[n]
