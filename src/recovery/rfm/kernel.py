r"""Row-wise kernel interpolation of observed entries: the linear solve inside lin-RFM and IRLS.

Given a PSD kernel :math:`K \in \mathbb{R}^{d_2\times d_2}`, observations :math:`Y_{ij}`,
:math:`(i,j) \in \Omega`, and a smoothing :math:`\lambda \ge 0`, row :math:`i` of the estimate is

.. math::
   z_i = K_{:,\Omega_i}\,(K_{\Omega_i\Omega_i} + \lambda I)^{-1} y_i ,

the minimiser of :math:`z (K + \lambda I)^{-1} z^\top` subject to :math:`z_{\Omega_i} = y_i`
evaluated off :math:`\Omega_i`. On :math:`\Omega_i` the observed values are written back, which
makes the rule exactly the interpolation with the smoothed kernel :math:`K + \lambda I`.

Rows with the same number of observations are solved together by batched Cholesky
factorisations, in chunks whose size follows a memory budget; in a small problem every row is padded
into one batch instead (:class:`RowGroups`). On a CPU the chunks are shared among
``torch.get_num_threads()`` threads: torch gathers the blocks (``index_select``), factors and solves
them one matrix after another on one thread, so the blocks of one step would otherwise leave the
other cores idle. Below :data:`THREADED_FLOPS` of factorisation per step one thread solves them all:
handing small chunks to threads costs more than it saves (measured here, 2 cores, one step's blocks:
16 against 23 ms at :math:`d = 200`, 3.2 against 11.6 ms at :math:`d = 100`; at :math:`d = 300` the
threads win, 29 against 37 ms). The prediction
:math:`Z = S K` is one sparse-times-dense product (:func:`sparse_times_dense`), where :math:`S` holds the coefficients
:math:`(K_{\Omega_i\Omega_i} + \lambda I)^{-1} y_i` at the observed positions. A row with no
observation is predicted as zero (the minimum-norm interpolant of nothing). The same code runs on
CPU and CUDA tensors, in float32 or float64.

The vector analogue, used for sparse regression, is :func:`weighted_min_norm`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from recovery.core import validation
from recovery.core.lowrank import csr_matrix, csr_times
from recovery.core.observations import Observations, equal_length_lines, line_pointers

DEFAULT_MEMORY_BUDGET = 2**28  # bytes for the batched n x n blocks of one chunk
GRAM_STRIPS = 8  # row strips of the upper triangle in agop
MIN_STRIP_WIDTH = 128  # columns of a strip at least: narrower strips cost more in calls than they save
SPARSE_BLOCK = 64  # columns of the kernel per sparse product on a CPU (sparse_times_dense)
#: Cholesky flops of a step's blocks (``RowGroups.cholesky_flops``) from which a CPU shares them
#: among threads; below, one thread solves them all.
THREADED_FLOPS = 8e7
#: The fixed cost of one batched solve (about 0.1 ms of calls) counted in the flops the blocks run at
#: meanwhile (about 4 GFLOP/s): rows are padded into one batch (:class:`RowGroups`) when that adds fewer
#: flops than the calls it saves cost.
CALL_FLOPS = 4e5


def agop(Z: torch.Tensor, strips: int = GRAM_STRIPS, min_width: int = MIN_STRIP_WIDTH) -> torch.Tensor:
    r"""The average gradient outer product :math:`G = Z^\top Z / d_1` of the predictor with rows
    :math:`z_i`, computed strip by strip on and above the diagonal and mirrored below it:
    :math:`(s + 1)/(2s)` of the products of ``Z.T @ Z`` for ``strips`` :math:`= s` (0.56 at
    :math:`s = 8`; BLAS has no symmetric product in torch). Exactly symmetric. A strip holds at least
    ``min_width`` columns (fewer strips for a small :math:`d_2`, one up to ``min_width``): measured here
    (float64, 2 threads) one strip takes 0.035 ms at :math:`d = 30` against 0.23 for eight, and at
    :math:`d = 500` four take 2.6 ms against 3.0 for eight and 4.9 for one."""
    d1, d2 = Z.shape
    width = max(-(-d2 // strips), min_width)
    G = torch.empty(d2, d2, dtype=Z.dtype, device=Z.device)
    for start in range(0, d2, width):
        end = start + width
        G[start:end, start:] = Z[:, start:end].T @ Z[:, start:]
        diagonal = G[start:end, start:end]
        diagonal.copy_(diagonal.triu() + diagonal.triu(1).T)
        G[end:, start:end] = G[start:end, end:].T
    return G.div_(d1)


def shifted_power(G: torch.Tensor, shift: float, exponent: float) -> torch.Tensor:
    r"""The kernel :math:`(G + \lambda I)^{e}` of symmetric PSD ``G``, :math:`\lambda` = ``shift``
    :math:`\ge 0`, :math:`e` = ``exponent`` :math:`> 0`: repeated products when :math:`e` is an
    integer (SVD-free), otherwise :func:`spectral_power`."""
    if float(exponent).is_integer():
        shifted = G + shift * torch.eye(G.shape[0], dtype=G.dtype, device=G.device) if shift else G
        return torch.linalg.matrix_power(shifted, int(exponent))
    return spectral_power(G, shift, exponent)


def spectral_power(G: torch.Tensor, shift: float, exponent: float) -> torch.Tensor:
    r""":math:`(G + \lambda I)^{e}` from a symmetric eigendecomposition of ``G``: its eigenvalues,
    clipped below at 0 (rounding), are shifted by :math:`\lambda` before the power, so the kernel
    is positive definite for any :math:`\lambda > 0`, however small against the rounding of ``G``."""
    eigenvalues, vectors = torch.linalg.eigh(G)
    return (vectors * (eigenvalues.clamp(min=0) + shift) ** exponent) @ vectors.T


@dataclass(frozen=True, eq=False)
class RowGroups:
    r"""Observed entries grouped by row count: ``groups[n]`` holds an index array of shape
    ``(rows with n observations, n)`` into the observation arrays; ``pointers`` are the
    compressed-row offsets of the (row-major) observations. Computed once per problem.

    ``padded``: one group holds every non-empty row, each padded to the longest; its slot :math:`s`
    past the row's observations holds the index ``count`` :math:`+ s`, which :func:`interpolate_rows`
    reads as a virtual column :math:`d_2 + s` of the kernel, 1 on its diagonal and 0 elsewhere,
    with a datum 0. The padded block is
    :math:`\operatorname{diag}(K_{\Omega_i\Omega_i} + \lambda I, (1 + \lambda) I)`, its solution
    the row's coefficients followed by zeros. One batched call then replaces one per row length,
    whose fixed costs dominate small problems (d = 30, ten lengths: 0.4 against 1.0 ms per lin-RFM
    iteration here; d = 100, twenty lengths, 1.6 times the flops: 2.0 against 3.2 ms per step's blocks;
    d = 150, thirty lengths, 2.7 times the flops: 10.7 against 7.1 ms)."""

    groups: tuple[tuple[int, torch.Tensor], ...]
    pointers: torch.Tensor
    padded: bool = False

    @property
    def cholesky_flops(self) -> float:
        r"""The flops of factorising every row's block (padded or not), :math:`\sum_i n_i^3/3`."""
        return sum(index.shape[0] * n**3 / 3 for n, index in self.groups)

    def workers(self, device: torch.device) -> int:
        """Threads that share the blocks by default: ``torch.get_num_threads()`` on a CPU once they take
        :data:`THREADED_FLOPS` to factorise, otherwise one (and one on a GPU)."""
        threaded = device.type == "cpu" and self.cholesky_flops >= THREADED_FLOPS
        return torch.get_num_threads() if threaded else 1

    @classmethod
    def of(cls, observations: Observations, padded: bool | None = None) -> RowGroups:
        """The grouping of ``observations``; ``padded`` as the class docstring (default: where padding adds
        fewer flops than :data:`CALL_FLOPS` per batch it saves)."""
        pointers = line_pointers(observations.row_counts())
        exact = cls(equal_length_lines(pointers), pointers)
        longest = max((n for n, _ in exact.groups), default=0)
        if padded is None:
            rows = sum(index.shape[0] for _, index in exact.groups)
            padded = rows * longest**3 / 3 - exact.cholesky_flops < (len(exact.groups) - 1) * CALL_FLOPS
        if not padded or not exact.groups:
            return exact
        counts = pointers[1:] - pointers[:-1]
        lines = torch.nonzero(counts).flatten()
        slots = torch.arange(longest, device=pointers.device)
        index = torch.where(slots < counts[lines, None], pointers[lines, None] + slots, observations.count + slots)
        return cls(((longest, index),), pointers, True)


def interpolate_rows(
    K: torch.Tensor,
    observations: Observations,
    smoothing: float,
    *,
    groups: RowGroups | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    workers: int | None = None,
) -> torch.Tensor:
    r"""Return :math:`Z` with rows :math:`K_{:,\Omega_i}(K_{\Omega_i\Omega_i}+\lambda I)^{-1}y_i`,
    observed entries overwritten by the data.

    ``K`` is ``d2 x d2`` (PSD), ``smoothing`` is :math:`\lambda \ge 0` (``0`` needs every block
    :math:`K_{\Omega_i\Omega_i}` positive definite); ``groups`` may be passed
    to reuse the grouping of rows across iterations. The blocks are solved by ``workers`` threads
    (default: :meth:`RowGroups.workers`), which share ``memory_budget``; the
    result does not depend on their number. Raises ``FloatingPointError`` if a block is
    numerically indefinite (``K`` far from PSD).
    """
    values = observations.values.to(K.dtype)
    groups = groups or RowGroups.of(observations)
    cols, kernel = observations.cols, K
    if groups.padded:  # the pads' virtual columns and data (RowGroups)
        slots = groups.groups[0][0]
        kernel = torch.block_diag(K, torch.eye(slots, dtype=K.dtype, device=K.device))
        cols = torch.cat([cols, K.shape[1] + torch.arange(slots, device=cols.device)])
        values = torch.cat([values, values.new_zeros(slots)])
    workers = validation.positive_int("workers", groups.workers(K.device) if workers is None else workers)
    d2 = kernel.shape[1]
    # flat positions c_a d2 + c_b of the blocks' entries in K: int32 where they fit (half the index memory)
    cols = cols.to(torch.int32 if d2 * d2 <= torch.iinfo(torch.int32).max else torch.int64)
    flat_K = kernel.reshape(-1)
    coefficients = torch.empty_like(values)
    upper_only = K.device.type == "cpu"

    def solve(n: int, block: torch.Tensor) -> int | None:
        """Coefficients of the rows ``block`` (each with ``n`` observations); ``n`` if a block is indefinite."""
        c = cols[block]
        # the blocks K[c, c] in one pass: index_select of the flattened K is 1.5 to 3.5 times faster than
        # torch.take on a CPU (d = 2000, 199,500 entries, torch 2.13: 109 against 377 ms on one thread)
        positions = c[:, :, None] * d2 + c[:, None, :]
        if upper_only:
            # LAPACK's Cholesky reads one triangle only (the lower of the column-major A.mT below, i.e.
            # the upper of the row-major A), and the gather is bound by cache misses: the entries below
            # the diagonal all read K[0, 0], one cached line (d = 2000, 199,500 entries, one thread: 76
            # against 189 ms); tests compare every row with a dense solve of the full block
            positions.triu_()
        A = flat_K.index_select(0, positions.view(-1)).view(-1, n, n)
        A.diagonal(dim1=-2, dim2=-1).add_(smoothing)
        # A.mT is the blocks in the column-major layout LAPACK factors in place, with the upper triangle
        # of A as its lower one: no copy (on a CPU, 2 threads, 2,000 blocks of 100: 60 against 98 ms)
        factor = A.mT
        info = torch.empty(factor.shape[:-2], dtype=torch.int32, device=A.device)
        torch.linalg.cholesky_ex(factor, out=(factor, info))
        if bool(info.any()):
            return n
        coefficients[block] = cholesky_solve(factor, values[block][..., None])[..., 0]
        return None

    tasks = _block_tasks(groups, memory_budget // workers, K.element_size(), workers)
    if workers == 1:
        failed = [solve(n, block) for n, block in tasks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            failed = list(pool.map(lambda task: solve(*task), tasks))
    for n in failed:
        if n is not None:
            raise FloatingPointError(
                f"smoothing: kernel block of size {'at most ' if groups.padded else ''}{n} is not positive definite with "
                f"smoothing {smoothing:.3g}; increase the smoothing"
            )
    Z = sparse_times_dense(observations, groups.pointers, coefficients[:observations.count], K)
    Z[observations.rows, observations.cols] = values[:observations.count]
    return Z


def _block_tasks(groups: RowGroups, memory_budget: int, bytes_per_entry: int, workers: int) -> list:
    """``(n, rows)`` chunks of the groups, costliest (rows x n^3) first, for ``workers`` threads to take
    in turn: each holds at most ``memory_budget`` bytes of blocks (counted three times over, for the
    index and the solves' work space) and, for several workers, at most 1/(8 ``workers``) of all rows,
    so that the threads finish together without splitting small groups into chunks whose per-call
    costs would dominate (d = 500, 2 threads: 36 against 47 ms per step for every group split in two)."""
    rows = int(groups.pointers.numel() - 1)
    most_rows = rows if workers == 1 else max(1, -(-rows // (8 * workers)))
    tasks = []
    for n, index in groups.groups:
        size = max(1, min(memory_budget // (3 * n * n * bytes_per_entry), most_rows))
        tasks.extend((n, index[start : start + size]) for start in range(0, index.shape[0], size))
    return sorted(tasks, key=lambda task: -task[1].shape[0] * task[0] ** 3)


def sparse_times_dense(observations: Observations, pointers: torch.Tensor, coefficients: torch.Tensor,
                       K: torch.Tensor, block: int = SPARSE_BLOCK) -> torch.Tensor:
    """:math:`SK` for the sparse :math:`S` holding ``coefficients`` at the observed positions
    (row-major, compressed-row ``pointers``). On a CPU, ``K`` is taken ``block`` columns at a time
    (:func:`~recovery.core.lowrank.csr_times`), so that the block stays in cache while the rows of
    :math:`S` pass over it: measured at d = 2000 (float64, torch 2.13, MKL), 199,500 entries, 53
    against 153 ms for one product on one thread and 30 against 67 ms on two; 80,000 entries, 32
    against 73 and 19 against 39 ms. On a GPU one product."""
    return csr_times(csr_matrix(pointers, observations.cols, coefficients, observations.shape), K, block)


def cholesky_solve(factor: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    r""":math:`(LL^\top)^{-1}b` for lower-triangular ``factor`` :math:`L` (batched), by two triangular
    solves: on a CPU 3 times faster than ``torch.cholesky_solve`` for 2,000 blocks of size 100
    (23 against 77 ms, one thread, torch 2.13, MKL)."""
    forward = torch.linalg.solve_triangular(factor, rhs, upper=False)
    return torch.linalg.solve_triangular(factor.mT, forward, upper=True)


def weighted_min_norm(X: torch.Tensor, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""Return :math:`\beta = K X^\top (X K X^\top)^{-1} y`, :math:`K = \operatorname{diag}(k)`:
    the minimiser of :math:`\sum_i \beta_i^2 / k_i` subject to :math:`X\beta = y`."""
    XK = X * k
    factor, info = torch.linalg.cholesky_ex(XK @ X.T)
    if bool(info):
        raise FloatingPointError("X: X K X^T is singular; X needs full row rank and K positive weights")
    return XK.T @ cholesky_solve(factor, y[:, None])[:, 0]


def completion_data(observations, dtype=None, device=None) -> tuple[Observations, RowGroups]:
    """Validate ``observations`` for a completion method and move them to ``device`` / ``dtype``."""
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations object, got {type(observations).__name__}")
    observations = observations.to(device=device, dtype=dtype)
    return observations, RowGroups.of(observations)


def regression_data(X, y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate ``X`` (n x d) and ``y`` (n,); return them with the minimum-norm solution."""
    X = validation.tensor("X", X, ndim=2)
    y = validation.tensor("y", y, ndim=1).to(X)
    validation.same_rows("y", y, X.shape[0], "the rows of X")
    return X, y, weighted_min_norm(X, y, torch.ones(X.shape[1], dtype=X.dtype, device=X.device))
