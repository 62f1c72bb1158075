"""lin-RFM and IRLS-p: one step equals the weighted least-squares solution computed independently
(dense KKT / complement solves), batching equals a per-row loop, and both methods recover."""

from __future__ import annotations

import pytest
import torch

from recovery.core import metrics, problems
from recovery.core.iteration import Tracker, free_norm, iterate, relative_change
from recovery.core.observations import Observations
from recovery.rfm import irls, kernel, linrfm
from recovery.rfm.kernel import (
    RowGroups,
    agop,
    cholesky_solve,
    interpolate_rows,
    sparse_times_dense,
)

F64 = torch.float64


def random_observations(d1, d2, fraction, seed, *, empty_row=None):
    g = torch.Generator().manual_seed(seed)
    Y = torch.randn(d1, d2, generator=g, dtype=F64)
    mask = torch.rand(d1, d2, generator=g) < fraction
    mask[:, 0] |= ~mask.any(1)  # every row observed at least once ...
    if empty_row is not None:
        mask[empty_row] = False  # ... unless a test wants an empty row
    return Y, Observations.from_mask(mask, Y), mask


def psd_power(G, exponent):
    w, V = torch.linalg.eigh(G)
    return (V * w**exponent) @ V.T


def reference_completion_step(Y, mask, weight):
    """argmin tr(Z W Z^T) s.t. observed entries fixed, row by row via the unobserved block of W."""
    out = torch.empty_like(Y)
    for i in range(Y.shape[0]):
        seen, hidden = mask[i], ~mask[i]
        out[i, seen] = Y[i, seen]
        out[i, hidden] = -torch.linalg.solve(weight[hidden][:, hidden], weight[hidden][:, seen] @ Y[i, seen])
    return out


def reference_regression_step(X, y, w):
    """argmin sum_i w_i beta_i^2 s.t. X beta = y from the dense KKT system."""
    n, d = X.shape
    kkt = torch.zeros(d + n, d + n, dtype=F64)
    kkt[:d, :d] = torch.diag(2 * w)
    kkt[:d, d:] = X.T
    kkt[d:, :d] = X
    rhs = torch.cat([torch.zeros(d, dtype=F64), y])
    return torch.linalg.solve(kkt, rhs)[:d]


def rel(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.25, 0.375, 0.5, 0.75, 1.0])
def test_completion_step_is_the_weighted_least_squares_step(seed, alpha):
    """lin-RFM(alpha) = IRLS(p = 2 - 4 alpha) = the independent reference, for W = G^{-2 alpha}."""
    d1, d2 = 9, 6
    Y, obs, mask = random_observations(d1, d2, 0.5, seed)
    Z = torch.randn(d1, d2, generator=torch.Generator().manual_seed(10 + seed), dtype=F64)
    G = Z.T @ Z / d1
    expected = reference_completion_step(Y, mask, psd_power(G, -2 * alpha))
    assert rel(linrfm.completion_step(Z, obs, alpha, 0.0), expected) < 1e-10
    p = 2 - 4 * alpha
    if 0 <= p <= 1:
        assert rel(irls.completion_step(Z, obs, p, 0.0), expected) < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.25, 0.375, 0.5, 1.0])
def test_regression_step_is_the_weighted_least_squares_step(seed, alpha):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(7, 15, generator=g, dtype=F64)
    y = torch.randn(7, generator=g, dtype=F64)
    beta = torch.randn(15, generator=g, dtype=F64)
    expected = reference_regression_step(X, y, beta.abs() ** (-4 * alpha))
    assert rel(linrfm.regression_step(X, y, beta, alpha, 0.0), expected) < 1e-10
    p = 2 - 4 * alpha
    if 0 <= p <= 1:
        assert rel(irls.regression_step(X, y, beta, p, 0.0), expected) < 1e-10


@pytest.mark.parametrize("seed", [0, 1])
def test_smoothing_enters_as_a_shifted_kernel(seed):
    """Ridge lambda plus overwriting the observed entries = interpolation with K + lambda I."""
    Y, obs, mask = random_observations(7, 5, 0.6, seed)
    B = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(seed))
    K = B @ B.T  # rank 2: singular, the shift makes it definite
    lam = 0.3
    expected = reference_completion_step(Y, mask, torch.linalg.inv(K + lam * torch.eye(5, dtype=F64)))
    assert rel(interpolate_rows(K, obs, lam), expected) < 1e-10


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("workers", [1, 2])
def test_an_indefinite_kernel_block_is_refused_with_the_smoothing_named(workers, padded):
    _, obs, _ = random_observations(20, 8, 0.5, 7)
    groups = RowGroups.of(obs, padded)
    K = torch.eye(8, dtype=F64)
    K[3, 3] = -1.0
    with pytest.raises(FloatingPointError, match=r"smoothing: kernel block of size (at most )?\d+ is not positive definite"):
        interpolate_rows(K, obs, 0.0, groups=groups, workers=workers)
    assert bool(torch.isfinite(interpolate_rows(K, obs, 2.5, groups=groups, workers=workers)).all())  # -1 + 2.5 > 0


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_must_be_a_positive_integer(workers):
    _, obs, _ = random_observations(6, 5, 0.6, 0)
    with pytest.raises(ValueError, match="workers: expected a positive integer"):
        interpolate_rows(torch.eye(5, dtype=F64), obs, 0.1, workers=workers)


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("budget", [2**28, 64])
@pytest.mark.parametrize("workers", [1, 3])
def test_batched_rows_equal_a_per_row_loop_and_empty_rows_are_zero(budget, workers, padded):
    d1, d2 = 30, 12
    Y, obs, mask = random_observations(d1, d2, 0.3, 3, empty_row=4)
    A = torch.randn(d2, d2, generator=torch.Generator().manual_seed(5), dtype=F64)
    K = A @ A.T
    lam = 0.1
    groups = RowGroups.of(obs, padded)
    assert groups.padded == padded
    assert len(groups.groups) == 1 if padded else len(groups.groups) > 1
    Z = interpolate_rows(K, obs, lam, groups=groups, memory_budget=budget, workers=workers)
    for i in range(d1):
        seen = mask[i]
        if not seen.any():
            assert torch.equal(Z[i], torch.zeros(d2, dtype=F64))
            continue
        a = torch.linalg.solve(K[seen][:, seen] + lam * torch.eye(int(seen.sum()), dtype=F64), Y[i, seen])
        row = K[:, seen] @ a
        row[seen] = Y[i, seen]
        assert rel(Z[i], row) < 1e-12
    assert bool(torch.isfinite(Z).all())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lin_rfm_and_irls_complete_a_low_rank_matrix(seed):
    Y, obs = problems.completion_problem(60, 40, 2, 1200, torch.Generator().manual_seed(seed))
    tracked = []

    def test_error(iteration, Z):
        tracked.append(iteration)
        return {"test_mse": metrics.unobserved_mse(Z, Y, obs)}

    fast = linrfm.lin_rfm_completion(obs, 0.5, momentum=0.9, max_iter=400, tol=1e-13, callback=test_error)
    assert metrics.unobserved_mse(fast.solution, Y, obs) < 1e-12
    assert fast.history[-1]["test_mse"] == metrics.unobserved_mse(fast.solution, Y, obs)
    assert tracked == [entry["iteration"] for entry in fast.history]
    plain = linrfm.lin_rfm_completion(obs, 0.5, max_iter=300)
    assert metrics.unobserved_mse(plain.solution, Y, obs) < 1e-3
    reweighted = irls.irls_completion(obs, 0.0, max_iter=300)
    assert metrics.unobserved_mse(reweighted.solution, Y, obs) < 1e-3


def test_float32_runs_in_float32():
    Y, obs = problems.completion_problem(30, 20, 2, 400, torch.Generator().manual_seed(0))
    result = linrfm.lin_rfm_completion(obs, 0.5, dtype=torch.float32, momentum=0.9, max_iter=200, tol=1e-6)
    assert result.solution.dtype == torch.float32
    assert metrics.unobserved_mse(result.solution.double(), Y, obs) < 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_regression_recovery(seed):
    g = torch.Generator().manual_seed(seed)
    n, d, s = 40, 100, 4
    X = torch.randn(n, d, generator=g, dtype=F64)
    beta_star = torch.zeros(d, dtype=F64)
    beta_star[torch.randperm(d, generator=g)[:s]] = torch.randn(s, generator=g, dtype=F64)
    y = X @ beta_star
    # The l1 cases (p = 1) stop at a bias of order sqrt(smoothing floor); log-det goes further.
    for result, accuracy in (
        (linrfm.lin_rfm_regression(X, y, 0.5, max_iter=300), 1e-8),
        (linrfm.lin_rfm_regression(X, y, 0.25, max_iter=300), 1e-4),
        (irls.irls_regression(X, y, 1.0, max_iter=300), 1e-6),
        (irls.irls_regression(X, y, 0.0, max_iter=300), 1e-10),
    ):
        assert rel(result.solution, beta_star) < accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relative_change_leaves_out_the_fixed_entries(seed):
    g = torch.Generator().manual_seed(seed)
    previous, current = torch.randn(5, 7, generator=g, dtype=F64), torch.randn(5, 7, generator=g, dtype=F64)
    free = torch.rand(5, 7, generator=g) < 0.6
    current[~free] = previous[~free] = 1e8 * torch.randn(int((~free).sum()), generator=g, dtype=F64)
    fixed = torch.nonzero(~free, as_tuple=True)
    expected = float((current[free] - previous[free]).norm() / current[free].norm())
    assert relative_change(current, previous, fixed) == pytest.approx(expected, rel=1e-12)
    whole = float((current - previous).norm() / current.norm())
    assert relative_change(current, previous) == pytest.approx(whole, rel=1e-12)
    assert whole < 1e-6 < expected  # measured on the whole iterate, the large fixed entries hide the change
    assert relative_change(current, current, fixed) == 0.0


@pytest.mark.parametrize("scale", [0.0, 1.0, 1.5, 1e8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_free_norm_against_the_masked_sum(seed, scale):
    """Both ways of free_norm (the difference of squares while the fixed entries hold at most half of
    the square, zeroing a copy beyond) against the sum over the free entries; scale 1.5 puts the
    fixed entries near that half, 1e8 far beyond it."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 30, generator=g, dtype=F64)
    free = torch.rand(40, 30, generator=g) < 0.7
    x[~free] *= scale
    fixed = torch.nonzero(~free, as_tuple=True)
    expected = float(x[free].square().sum().sqrt())
    assert free_norm(x, fixed) == pytest.approx(expected, rel=1e-13)
    assert free_norm(x) == pytest.approx(float(x.square().sum().sqrt()), rel=1e-13)
    assert free_norm(torch.zeros(3, 4, dtype=F64), (torch.tensor([0]), torch.tensor([1]))) == 0.0


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_momentum_extrapolates_the_images_and_keeps_fixed_entries_exact(seed, momentum):
    """x_{t+1} = F(x_t) + mu (F(x_t) - F(x_{t-1})) against a hand-written loop, for an affine
    contraction F that writes data into two fixed entries: they stay exactly the data."""
    g = torch.Generator().manual_seed(seed)
    A = 0.3 * torch.randn(6, 6, generator=g, dtype=F64)
    b = torch.randn(6, generator=g, dtype=F64)
    fixed, data = (torch.tensor([1, 4]),), torch.tensor([2.5, -1e6], dtype=F64)

    def F(x, _smoothing=None):
        image = A @ x + b
        image[fixed] = data
        return image

    start = F(torch.zeros(6, dtype=F64))
    result = iterate(F, start, smoothing=1.0, update=lambda e, change: e, momentum=momentum, max_iter=6, tol=0.0,
                     callback=None, record_every=1, fixed=fixed)
    x, image_before = start, None
    for _ in range(6):
        image = F(x)
        x = image if image_before is None else image + momentum * (image - image_before)
        image_before = image
    assert torch.allclose(result.solution, image, rtol=1e-13, atol=1e-13 * float(image.abs().max()))
    assert torch.equal(result.solution[fixed], data)


@pytest.mark.parametrize("method", ["lin-rfm", "irls"])
@pytest.mark.parametrize("seed", [0, 1])
def test_one_large_observed_entry_does_not_fake_convergence(method, seed):
    """Issue #13, item 7: with one observed entry 1e8 times the others the relative change of the
    whole iterate is below any tol after one step while the unobserved entries keep moving."""
    _, observations = problems.completion_problem(30, 30, 2, 450, torch.Generator().manual_seed(seed))
    values = observations.values.clone()
    values[0] *= 1e8
    spiked = Observations(observations.rows, observations.cols, values, observations.shape)
    run = linrfm.lin_rfm_completion if method == "lin-rfm" else irls.irls_completion
    free = ~spiked.mask()
    result = run(spiked, max_iter=200, tol=1e-8)
    longer = run(spiked, max_iter=result.iterations + 100, tol=0.0)
    moved = float((longer.solution[free] - result.solution[free]).norm() / longer.solution[free].norm())
    assert result.iterations > 1
    assert moved < 1e-4 if result.converged else moved > 1e-8
    assert "free entries" in run(observations, tol=1e-8).message


def test_divergence_names_the_iteration():
    tracker = Tracker(torch.ones(3), 0.0, None, 1)
    tracker.record(1, torch.ones(3), 2 * torch.ones(3), 0.1)
    with pytest.raises(FloatingPointError, match="iteration 2"):
        tracker.record(2, torch.ones(3), torch.tensor([1.0, float("nan"), 0.0]), 0.1)
    with pytest.raises(FloatingPointError, match="iteration 3"):
        tracker.record(3, torch.ones(3), torch.full((3,), 1e12), 0.1)


def test_bad_input_names_the_argument():
    rows, cols, values = torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([1.0, 2.0])
    obs = Observations(rows, cols, values, (2, 3))
    X = torch.randn(3, 5, dtype=F64)
    cases = [
        (lambda: Observations(torch.tensor([0, 2]), cols, values, (2, 3)), "rows:"),
        (lambda: Observations(rows, torch.tensor([0, 3]), values, (2, 3)), "cols:"),
        (lambda: Observations(rows, cols, torch.tensor([1.0, float("inf")]), (2, 3)), "values:"),
        (lambda: Observations(torch.tensor([0, 0]), torch.tensor([1, 1]), values, (2, 3)), "twice"),
        (lambda: Observations(rows[:0], cols[:0], values[:0], (2, 3)), "empty"),
        (lambda: Observations(rows, cols[:1], values, (2, 3)), "values:"),
        (lambda: Observations(rows.double(), cols, values, (2, 3)), "rows:"),
        (lambda: Observations.from_mask(torch.ones(2, 2, dtype=torch.bool), torch.ones(2, 3)), "mask:"),
        (lambda: Observations.from_mask(torch.ones(2, 3), torch.ones(2, 3)), "mask:"),
        (lambda: linrfm.lin_rfm_completion(obs, 0.0), "alpha:"),
        (lambda: linrfm.lin_rfm_completion(obs, -1.0), "alpha:"),
        (lambda: linrfm.lin_rfm_completion(obs, momentum=1.0), "momentum:"),
        (lambda: linrfm.lin_rfm_completion(obs, smoothing=0.0), "smoothing:"),
        (lambda: linrfm.lin_rfm_completion(torch.ones(2, 3)), "observations:"),
        (lambda: irls.irls_completion(obs, 1.5), "p:"),
        (lambda: irls.irls_completion(obs, -0.1), "p:"),
        (lambda: irls.irls_regression(X, torch.ones(4, dtype=F64)), "y:"),
        (lambda: linrfm.lin_rfm_regression(X, torch.ones(3, dtype=F64), max_iter=0), "max_iter:"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # Exact repeats are merged, not rejected.
    merged = Observations(torch.tensor([1, 0, 1]), torch.tensor([2, 0, 2]), torch.tensor([2.0, 1.0, 2.0]), (2, 3))
    assert merged.count == 2 and merged.rows.tolist() == [0, 1]


@pytest.mark.parametrize(("d1", "d2", "rank", "num_obs"), [(20, 12, 2, 100), (9, 30, 3, 200)])
def test_completion_problem_and_errors(d1, d2, rank, num_obs):
    Y, obs = problems.completion_problem(d1, d2, rank, num_obs, torch.Generator().manual_seed(1))
    assert int(torch.linalg.matrix_rank(Y)) == rank
    assert abs(float(Y.square().mean()) - 1) < 1e-12
    assert obs.count == num_obs and torch.equal(obs.values, Y[obs.rows, obs.cols])
    hidden = ~obs.mask()
    Z = torch.randn(d1, d2, generator=torch.Generator().manual_seed(2), dtype=F64)
    Z[~hidden] = Y[~hidden]  # observed entries exact: only the hidden ones count
    assert abs(metrics.unobserved_mse(Z, Y, obs) - float((Z - Y)[hidden].square().mean())) < 1e-12
    expected = float(torch.linalg.vector_norm((Z - Y)[hidden]) / torch.linalg.vector_norm(Y[hidden]))
    assert abs(metrics.unobserved_relative_error(Z, Y, obs) - expected) < 1e-12
    with pytest.raises(ValueError, match="num_obs:"):
        problems.completion_problem(d1, d2, rank, d1 * d2 + 1, torch.Generator())
    Y, everything = problems.completion_problem(d1, d2, rank, d1 * d2, torch.Generator())
    with pytest.raises(ValueError, match="observations:"):
        metrics.unobserved_mse(Y, Y, everything)


def test_unobserved_rows_and_columns_stay_finite_and_zero():
    """A row or column without any observation is predicted as zero (up to rounding), never NaN."""
    _, obs = problems.completion_problem(25, 20, 2, 300, torch.Generator().manual_seed(4))
    keep = (obs.rows != 3) & (obs.cols != 7)
    holey = Observations(obs.rows[keep], obs.cols[keep], obs.values[keep], obs.shape)
    for result in (
        linrfm.lin_rfm_completion(holey, 0.5, max_iter=30),
        linrfm.lin_rfm_completion(holey, 0.25, max_iter=30),
        irls.irls_completion(holey, 0.0, max_iter=30),
    ):
        Z = result.solution
        assert bool(torch.isfinite(Z).all())
        assert float(Z[3].abs().max()) == 0.0  # no coefficients at all for an empty row
        assert float(Z[:, 7].abs().max()) < 1e-12 * float(Z.abs().max())


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_step_equals_the_published_per_row_loop(seed):
    """The benchmark's baseline and our batched step agree when given the same ridge: at
    alpha = 1/2, where a ridge outside the power (the released code) and a shift inside (ours) are
    one kernel; at alpha = 1 they are different kernels, (G + lambda)^2 against G^2 + lambda."""
    from recovery.rfm.published import published_step

    _, obs = problems.completion_problem(40, 30, 3, 500, torch.Generator().manual_seed(seed))
    Z = torch.randn(40, 30, generator=torch.Generator().manual_seed(9), dtype=F64)
    lam = 0.05
    scale = float(torch.trace(Z.T @ Z / 40)) / 30
    ours = {alpha: linrfm.completion_step(Z, obs, alpha, lam / scale) for alpha in (0.5, 1.0)}
    loop = {alpha: torch.from_numpy(published_step(Z.numpy(), obs, alpha, lam)) for alpha in (0.5, 1.0)}
    assert rel(ours[0.5], loop[0.5]) < 1e-10
    assert rel(ours[1.0], loop[1.0]) > 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.25, 0.375, 0.5, 0.75, 1.0])
def test_smoothed_step_is_the_irls_step_at_every_alpha(seed, alpha):
    """Issue #13, item 2: with smoothing, lin-RFM(alpha) = IRLS(p = 2 - 4 alpha) = the weighted
    least-squares step with W = (G + lambda I)^{-2 alpha}, lambda = smoothing tr(G)/d2, computed
    independently (dense per-row solves)."""
    d1, d2 = 9, 6
    Y, obs, mask = random_observations(d1, d2, 0.5, seed)
    Z = torch.randn(d1, d2, generator=torch.Generator().manual_seed(20 + seed), dtype=F64)
    Z[mask] = Y[mask]
    G = Z.T @ Z / d1
    smoothing = 0.1
    shifted = G + smoothing * float(torch.trace(G)) / d2 * torch.eye(d2, dtype=F64)
    expected = reference_completion_step(Y, mask, psd_power(shifted, -2 * alpha))
    assert rel(linrfm.completion_step(Z, obs, alpha, smoothing), expected) < 1e-10
    p = 2 - 4 * alpha
    if 0 <= p <= 1:
        ours = linrfm.completion_step(Z, obs, alpha, smoothing)
        assert rel(ours, irls.completion_step(Z, obs, p, smoothing)) < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("d1, d2, strips", [(30, 17, 8), (5, 40, 3), (12, 3, 8), (9, 9, 1)])
def test_agop_from_strips_is_the_symmetric_gram_matrix(seed, d1, d2, strips):
    Z = torch.randn(d1, d2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    G = agop(Z, strips, min_width=1)
    torch.testing.assert_close(G, Z.T @ Z / d1, rtol=1e-12, atol=1e-12)
    assert torch.equal(G, G.T)


@pytest.mark.parametrize("seed", [0, 1])
def test_row_groups_count_the_flops_of_every_rows_block(seed):
    _, obs, _ = random_observations(23, 17, 0.4, seed)
    counts = [n for n in torch.bincount(obs.rows, minlength=23).tolist() if n]
    exact, padded = RowGroups.of(obs, False), RowGroups.of(obs, True)
    assert exact.cholesky_flops == pytest.approx(sum(n**3 / 3 for n in counts), rel=1e-12)
    assert padded.cholesky_flops == pytest.approx(len(counts) * max(counts) ** 3 / 3, rel=1e-12)
    # by default padded where that adds fewer flops than the batched calls it saves cost
    saved = (len(exact.groups) - 1) * kernel.CALL_FLOPS
    assert RowGroups.of(obs).padded == (padded.cholesky_flops - exact.cholesky_flops < saved)
    _, large, _ = random_observations(300, 200, 0.5, seed)
    exact = RowGroups.of(large, False)
    extra = RowGroups.of(large, True).cholesky_flops - exact.cholesky_flops
    assert not RowGroups.of(large).padded and extra >= (len(exact.groups) - 1) * kernel.CALL_FLOPS
    assert RowGroups.of(random_observations(40, 30, 0.3, seed)[1]).padded  # small: one batch


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("block", [1, 4, 9, 64])  # one column per block, a ragged last block, one block
def test_sparse_times_dense_matches_the_dense_product_in_column_blocks(threads, block):
    _, obs, _ = random_observations(13, 9, 0.4, 2)
    g = torch.Generator().manual_seed(1)
    K = torch.randn(9, 9, generator=g, dtype=F64)
    coefficients = torch.randn(obs.count, generator=g, dtype=F64)
    S = torch.zeros(13, 9, dtype=F64)
    S[obs.rows, obs.cols] = coefficients
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        product = sparse_times_dense(obs, RowGroups.of(obs).pointers, coefficients, K, block)
    finally:
        torch.set_num_threads(previous)
    torch.testing.assert_close(product, S @ K, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cholesky_solve_by_triangular_solves_matches_a_dense_solve(seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(5, 7, 12, generator=g, dtype=F64)
    A = X @ X.mT + 0.1 * torch.eye(7, dtype=F64)
    b = torch.randn(5, 7, 1, generator=g, dtype=F64)
    solution = cholesky_solve(torch.linalg.cholesky(A), b)
    torch.testing.assert_close(solution, torch.linalg.solve(A, b), rtol=1e-10, atol=1e-10)
