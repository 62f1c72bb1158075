"""Ground truths for the recovery experiments, drawn from an explicit ``torch.Generator``."""

from __future__ import annotations

import torch
from scipy import optimize, stats

from recovery.core import validation
from recovery.core.observations import Observations


def degrees_of_freedom(d1: int, d2: int, rank: int) -> int:
    r"""Return :math:`r(d_1 + d_2 - r)`, the dimension of the manifold of :math:`d_1\times d_2`
    matrices of rank :math:`r`: the count that sample sizes are measured in (oversampling)."""
    for name, value in (("d1", d1), ("d2", d2), ("rank", rank)):
        validation.positive_int(name, value)
    if rank > min(d1, d2):
        raise ValueError(f"rank: must be at most min(d1, d2) = {min(d1, d2)}, got {rank}")
    return rank * (d1 + d2 - rank)


def symmetric_degrees_of_freedom(d: int, rank: int) -> int:
    r"""Return :math:`rd - r(r - 1)/2`, the dimension of the manifold of symmetric :math:`d\times d`
    matrices of rank :math:`r` (any inertia), as in covariance estimation and quadratic networks."""
    validation.positive_int("d", d)
    validation.positive_int("rank", rank)
    if rank > d:
        raise ValueError(f"rank: must be at most d = {d}, got {rank}")
    return rank * d - rank * (rank - 1) // 2


def low_rank_matrix(
    d1: int,
    d2: int,
    rank: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    r"""Return :math:`M^\star = G_1 G_2^\top / \|G_1 G_2^\top\|_F` with Gaussian :math:`G_1, G_2`.

    ``G1`` is ``d1 x rank`` and ``G2`` is ``d2 x rank`` with i.i.d. standard normal entries, so
    :math:`M^\star` has rank ``rank`` almost surely and unit Frobenius norm, as in the papers.
    """
    for name, value in (("d1", d1), ("d2", d2), ("rank", rank)):
        validation.positive_int(name, value)
    if rank > min(d1, d2):
        raise ValueError(f"rank: must be at most min(d1, d2) = {min(d1, d2)}, got {rank}")
    G1 = torch.randn(d1, rank, generator=generator, dtype=dtype)
    G2 = torch.randn(d2, rank, generator=generator, dtype=dtype)
    M = G1 @ G2.T
    return M / torch.linalg.matrix_norm(M)


def robust_pca_problem(
    d1: int,
    d2: int,
    rank: int,
    outliers: int,
    generator: torch.Generator,
    *,
    magnitude: float = 10.0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return :math:`(M^\star, S^\star)` for robust PCA, :math:`Y = M^\star + S^\star` (Theorem 1.3).

    :math:`M^\star` is :func:`low_rank_matrix` (unit Frobenius norm). :math:`S^\star` has at
    most ``outliers`` nonzeros in every row and in every column: with :math:`d_1 \le d_2`, row
    :math:`i` is corrupted in the columns :math:`\pi_2((\pi_1(i) + s) \bmod d_2)`,
    :math:`s = 0,\dots,l-1`, for random permutations :math:`\pi_1, \pi_2` (so every row has
    exactly :math:`l` outliers, every column at most :math:`l`; transposed when :math:`d_1 > d_2`).
    The support is thus random but never violates the budget, which a Bernoulli support would.
    Values are i.i.d. :math:`N(0, 1)` times ``magnitude`` times the root-mean-square entry
    :math:`1/\sqrt{d_1d_2}` of :math:`M^\star`: gross corruptions, ten times a typical entry by
    default. ``outliers = 0`` gives :math:`S^\star = 0`; more than :math:`\min(d_1, d_2)` per row
    and column is impossible and raises ``ValueError``.
    """
    M = low_rank_matrix(d1, d2, rank, generator, dtype=dtype)
    if isinstance(outliers, bool) or not isinstance(outliers, int) or outliers < 0:
        raise ValueError(f"outliers: expected a non-negative integer, got {outliers!r}")
    if outliers > min(d1, d2):
        raise ValueError(
            f"outliers: at most min(d1, d2) = {min(d1, d2)} per row and column fit a {d1} x {d2} "
            f"matrix, got {outliers}"
        )
    magnitude = validation.positive_number("magnitude", magnitude)
    short, long = min(d1, d2), max(d1, d2)
    start = torch.randperm(short, generator=generator)
    shift = torch.arange(outliers)
    rows = torch.arange(short).repeat_interleave(outliers)
    cols = torch.randperm(long, generator=generator)[((start[:, None] + shift) % long).reshape(-1)]
    S = torch.zeros(short, long, dtype=dtype)
    S[rows, cols] = magnitude / (d1 * d2) ** 0.5 * torch.randn(rows.numel(), generator=generator, dtype=dtype)
    return M, (S if d1 <= d2 else S.T.contiguous())


def network_target(
    d: int,
    positive: int,
    negative: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return teacher weights :math:`(U_1^\star, U_2^\star)` of a quadratic-activation network.

    The teacher is :math:`y(x) = \|U_1^{\star\top} x\|^2 - \|U_2^{\star\top} x\|^2`, with
    :math:`U_1^\star \in \mathbb{R}^{d\times r_1}` (``positive`` components) and
    :math:`U_2^\star \in \mathbb{R}^{d\times r_2}` (``negative``, possibly 0: covariance
    estimation), i.i.d. Gaussian and scaled together so that
    :math:`M^\star = U_1^\star U_1^{\star\top} - U_2^\star U_2^{\star\top}` has unit Frobenius
    norm (Theorem 1.4). :math:`M^\star` has :math:`r_1` positive and :math:`r_2` negative
    eigenvalues almost surely, so :math:`r_1 + r_2 \le d` is required.
    """
    validation.positive_int("d", d)
    validation.positive_int("positive", positive)
    if isinstance(negative, bool) or not isinstance(negative, int) or negative < 0:
        raise ValueError(f"negative: expected a non-negative integer, got {negative!r}")
    if positive + negative > d:
        raise ValueError(f"negative: positive + negative = {positive + negative} components exceed d = {d}")
    U1 = torch.randn(d, positive, generator=generator, dtype=dtype)
    U2 = torch.randn(d, negative, generator=generator, dtype=dtype)
    size = torch.linalg.matrix_norm(U1 @ U1.T - U2 @ U2.T) ** 0.5
    return U1 / size, U2 / size


def sparse_vector(d: int, sparsity: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Return a unit-norm :math:`x^\star \in \mathbb{R}^d` with ``sparsity`` Gaussian nonzeros on a
    uniformly random support (the sparse-recovery model of the depth discussion, Section 9)."""
    validation.positive_int("d", d)
    validation.positive_int("sparsity", sparsity)
    if sparsity > d:
        raise ValueError(f"sparsity: must be at most d = {d}, got {sparsity}")
    x = torch.zeros(d, dtype=dtype)
    x[torch.randperm(d, generator=generator)[:sparsity]] = torch.randn(sparsity, generator=generator, dtype=dtype)
    return x / torch.linalg.vector_norm(x)


def _check_sizes(d1: int, d2: int, rank: int, num_obs: int) -> None:
    for name, value in (("d1", d1), ("d2", d2), ("rank", rank), ("num_obs", num_obs)):
        validation.positive_int(name, value)
    if rank > min(d1, d2):
        raise ValueError(f"rank: must be at most min(d1, d2) = {min(d1, d2)}, got {rank}")
    if num_obs > d1 * d2:
        raise ValueError(f"num_obs: at most d1 * d2 = {d1 * d2} entries exist, got {num_obs}")


def _observe(M: torch.Tensor, num_obs: int, generator: torch.Generator) -> Observations:
    """``num_obs`` distinct entries of ``M``, chosen uniformly at random."""
    d1, d2 = M.shape
    flat = torch.randperm(d1 * d2, generator=generator)[:num_obs]
    return Observations(flat // d2, flat % d2, M.reshape(-1)[flat], (d1, d2))


def completion_problem(
    d1: int,
    d2: int,
    rank: int,
    num_obs: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, Observations]:
    r"""Return a rank-``rank`` matrix ``Y`` and ``num_obs`` of its entries, chosen uniformly.

    The generator of the lin-RFM paper's experiments: :math:`Y = UV/\sqrt{r}` with
    i.i.d. standard normal :math:`U \in \mathbb{R}^{d_1\times r}`, :math:`V \in \mathbb{R}^{r\times d_2}`,
    rescaled so that :math:`\|Y\|_F^2 = d_1 d_2` (mean squared entry 1; predicting zeros gives
    a test mean squared error of about 1); exactly ``num_obs`` distinct entries are observed,
    uniformly at random. Everything is drawn on the CPU from ``generator``.
    """
    _check_sizes(d1, d2, rank, num_obs)
    U = torch.randn(d1, rank, generator=generator, dtype=dtype)
    V = torch.randn(rank, d2, generator=generator, dtype=dtype)
    Y = U @ V
    Y *= (d1 * d2) ** 0.5 / torch.linalg.matrix_norm(Y)
    return Y, _observe(Y, num_obs, generator)


def conditioned_completion_problem(
    d1: int,
    d2: int,
    rank: int,
    num_obs: int,
    condition: float,
    generator: torch.Generator,
    *,
    min_per_line: int = 0,
    max_draws: int = 1000,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, Observations]:
    r"""Return a rank-``rank`` matrix of condition number ``condition`` and ``num_obs`` of its entries.

    :math:`M = U\operatorname{diag}(\sigma)V^\top` with :math:`U, V` the orthonormal factors of the
    QR decompositions of i.i.d. standard normal :math:`d_1\times r` and :math:`d_2\times r` matrices
    (uniformly distributed orthonormal frames), and singular values spaced evenly on a log scale,
    :math:`\sigma_i = \kappa^{-(i-1)/(r-1)}`, from 1 down to :math:`1/\kappa`. Exactly ``num_obs``
    distinct entries are observed, uniformly at random: the setting of the sample-complexity
    comparisons with MatrixIRLS (Kümmerle & Verdun, 2021), in our own generator.

    With ``min_per_line`` :math:`= c > 0` the entries are drawn again until every row and column
    holds at least :math:`c` of them, at most ``max_draws`` times, and the last draw is kept if none
    qualifies: the sampling protocol of the published MatrixIRLS experiments (:math:`c = r + 1`, 1,000
    draws). A qualifying draw is a uniform draw conditioned on that event; where the event is rare
    (few observations per line) the draws run out and the mask is plain uniform, which the caller
    can tell from the fewest observations per line.
    """
    _check_sizes(d1, d2, rank, num_obs)
    condition = validation.positive_number("condition", condition)
    if condition < 1:
        raise ValueError(f"condition: a condition number is at least 1, got {condition}")
    U = torch.linalg.qr(torch.randn(d1, rank, generator=generator, dtype=dtype)).Q
    V = torch.linalg.qr(torch.randn(d2, rank, generator=generator, dtype=dtype)).Q
    exponents = torch.arange(rank, dtype=dtype) / max(rank - 1, 1)
    M = (U * condition ** (-exponents)) @ V.T
    if min_per_line:
        validation.positive_int("min_per_line", min_per_line)
    for _ in range(validation.positive_int("max_draws", max_draws)):
        observations = _observe(M, num_obs, generator)
        if observations.fewest_per_line() >= min_per_line:
            break
    return M, observations


def factored_completion_problem(
    d1: int,
    d2: int,
    rank: int,
    num_obs: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor, Observations]:
    r"""The distribution of :func:`completion_problem` with the matrix kept as factors, for sizes
    whose :math:`d_1 d_2` entries do not fit in memory.

    Returns ``(left, right, observations)`` with :math:`Y = LR^\top` (``left`` :math:`= L`, ``right``
    :math:`= R`): i.i.d. standard normal factors (``d1 x rank``, ``d2 x rank``) rescaled so that
    :math:`\|Y\|_F^2 = d_1 d_2`, computed as :math:`\operatorname{tr}((L^\top L)(R^\top R))`;
    and ``num_obs`` distinct entries chosen uniformly at random (:func:`distinct_entries`).
    Memory :math:`O((d_1 + d_2)r + |\Omega|)`; a :math:`10^5\times 10^5` problem with
    :math:`10^7` observations takes seconds.
    """
    _check_sizes(d1, d2, rank, num_obs)
    left = torch.randn(d1, rank, generator=generator, dtype=dtype)
    right = torch.randn(d2, rank, generator=generator, dtype=dtype)
    square_norm = float(((left.T @ left) * (right.T @ right)).sum())
    left *= (d1 * d2 / square_norm) ** 0.5
    rows, cols = distinct_entries(d1, d2, num_obs, generator)
    return left, right, Observations(rows, cols, (left[rows] * right[cols]).sum(1), (d1, d2))


def distinct_entries(
    d1: int, d2: int, count: int, generator: torch.Generator, *, excluding: Observations | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``count`` distinct positions ``(rows, cols)`` of a ``d1 x d2`` matrix, uniformly at random
    among those not in ``excluding`` (e.g. held-out test entries off the observed ones).

    Draws positions with replacement until ``count`` distinct admissible ones are in hand, then
    keeps a uniformly random ``count`` of them (by exchangeability, a uniform ``count``-subset),
    in :math:`O(\text{count}\,\log\text{count})` memory and time when ``count`` is a small
    fraction of :math:`d_1 d_2`; a permutation of all entries otherwise.
    """
    validation.positive_int("count", count)
    if excluding is not None and excluding.shape != (d1, d2):
        raise ValueError(f"excluding: observations of a {d1} x {d2} matrix expected, got shape {excluding.shape}")
    taken = None if excluding is None else excluding.rows * d2 + excluding.cols  # sorted: row-major
    free = d1 * d2 - (0 if taken is None else taken.numel())
    if count > free:
        raise ValueError(f"count: only {free} positions are available, got {count}")
    if 2 * count > free:
        flat = torch.randperm(d1 * d2, generator=generator)
        if taken is not None:
            flat = flat[~torch.isin(flat, taken)]
        flat = flat[:count]
    else:
        flat = torch.empty(0, dtype=torch.long)
        while flat.numel() < count:
            draws = torch.randint(0, d1 * d2, (count + count // 8 + 16,), generator=generator)
            flat = torch.unique(torch.cat([flat, draws]))
            if taken is not None:
                flat = flat[~torch.isin(flat, taken)]
        flat = flat[torch.randperm(flat.numel(), generator=generator)[:count]]
    return flat // d2, flat % d2


def planted_sparse_regression(
    d: int, sparsity: int, m: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A planted sparse regression instance ``(X, x_star)``: :math:`x^\star` from
    :func:`sparse_vector` (unit norm), then :math:`X \in \mathbb{R}^{m\times d}` with i.i.d.
    :math:`\mathcal{N}(0, 1)` entries, float64."""
    validation.positive_int("m", m)
    x_star = sparse_vector(d, sparsity, generator)
    return torch.randn(m, d, generator=generator, dtype=torch.float64), x_star


def l1_statistical_dimension(d: int, sparsity: int) -> float:
    r"""Where Gaussian measurements start to recover an ``sparsity``-sparse vector by :math:`\ell_1`.

    The statistical dimension of the :math:`\ell_1` descent cone, in the approximation of
    Amelunxen, Lotz, McCoy and Tropp (2014, Proposition 4.5):

    .. math::
       \delta \approx d\,\inf_{\tau \ge 0}\psi(\tau), \qquad \rho = s/d,

       \psi(\tau) = \rho(1 + \tau^2) + 2(1-\rho)\,h(\tau),

       h(\tau) = (1 + \tau^2)\,\bar\Phi(\tau) - \tau\varphi(\tau),

    the second term of :math:`\psi` being :math:`(1-\rho)\,\mathbb{E}(|g| - \tau)_+^2` for :math:`g \sim
    \mathcal{N}(0,1)`. Basis pursuit fails with high probability for :math:`m` well below
    :math:`\delta` and succeeds well above it.
    """
    validation.positive_int("d", d)
    validation.positive_int("sparsity", sparsity)
    if sparsity > d:
        raise ValueError(f"sparsity: must be at most d = {d}, got {sparsity}")
    rho = sparsity / d

    def per_coordinate(tau: float) -> float:
        tail = (1 + tau**2) * stats.norm.sf(tau) - tau * stats.norm.pdf(tau)
        return rho * (1 + tau**2) + 2 * (1 - rho) * tail

    best = optimize.minimize_scalar(per_coordinate, bounds=(0.0, 10.0), method="bounded",
                                    options={"xatol": 1e-10})
    return d * float(best.fun)
