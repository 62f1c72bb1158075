r"""Two-sided lin-RFM: completion with a row kernel and a column kernel, in low-rank-plus-sparse form.

*A method of ours, not paper B's.* Paper B's lin-RFM (:mod:`recovery.rfm.linrfm`) reweights the
columns only: with :math:`\alpha = 1/2` each step minimises :math:`\operatorname{tr}(Z K^{-1}Z^\top)`,
:math:`K = X^\top X/d_1 + \lambda I`, over the matrices :math:`Z` that agree with the data, which is
IRLS for the log-determinant (:math:`p = 0`). Here the same penalty is reweighted on both sides, as
in MatrixIRLS (Kümmerle & Verdun, ICML 2021). With the leading singular triplets
:math:`(U, \sigma, V)` of the current estimate :math:`X` and a smoothing :math:`\varepsilon`, the
row and column kernels are the square roots of :math:`XX^\top` and :math:`X^\top X` with the
spectrum clipped below at :math:`\varepsilon`,

.. math::
   K_L = \varepsilon I + U(\operatorname{diag}\sigma - \varepsilon I)U^\top,

   K_R = \varepsilon I + V(\operatorname{diag}\sigma - \varepsilon I)V^\top,

and the next estimate is the kernel interpolant

.. math::
   X^+ = \mathop{\mathrm{arg\,min}}\limits_{P_\Omega(Z) = y}\ \langle Z, K_L^{-1} Z K_R^{-1}\rangle.

**The step in closed form.** Let :math:`T` be the tangent space
:math:`\{U M V^\top + U B^\top + C V^\top : B \perp V, C \perp U\}` with orthonormal coordinates
:math:`t = (M, B, C)` and :math:`Q t` the matrix they stand for. Since
:math:`K_L \cdot K_R - \varepsilon^2 I = \varepsilon^2 Q D Q^*` with the diagonal weights
:math:`D = \sigma_i\sigma_j/\varepsilon^2 - 1` on :math:`M_{ij}` and
:math:`\sigma_i/\varepsilon - 1` on row :math:`i` of :math:`B` and of :math:`C`, the Woodbury identity
gives

.. math::
   X^+ = Q t + P_\Omega^*\big(y - P_\Omega(Q t)\big),

   \big(D^{-1} + Q^* P_\Omega^* P_\Omega Q\big)\,t = Q^* P_\Omega^*(y),

a rank-:math:`2k` matrix plus a correction on the observed entries only, where :math:`t` solves a
positive definite system of size :math:`k(d_1 + d_2 - k)`, solved by conjugate gradients
(:math:`O(|\Omega| k + (d_1 + d_2)k^2)` per product). No step forms a :math:`d_1\times d_2` matrix:
the iterate is stored as :class:`~recovery.core.lowrank.LowRankPlusSparse` and its singular
triplets come from warm-started subspace iteration. As :math:`\varepsilon \to 0`, :math:`D^{-1} \to 0`
and the step becomes a Gauss-Newton step on the manifold of rank-:math:`k` matrices, hence the
fast local convergence (measured: quadratic on the reference problem).

**Smoothing and rank.** :math:`\varepsilon_t = \min(\varepsilon_{t-1}, \sigma_{\hat r + 1}(X_t))`,
with the rank estimate :math:`\hat r` either given (``rank``, MatrixIRLS's setting: a rank
oracle) or adapted from the observations and the spectrum alone (``rank=None``, our rule):

- start from the largest rank that the observations determine with 1.5 per degree of freedom,
  :math:`r(d_1 + d_2 - r) \le |\Omega|/1.5`; an overestimate only costs work, since spurious
  directions collapse;
- *cut* to :math:`k` when :math:`\sigma_{k+1}(X_t) < 10^{-2}\,\sigma_k(X_t)` for some
  :math:`k < \hat r` (the smallest such ratio wins): a spectral gap of two decades;
- *grow* by one when the iteration stalls, i.e. the relative change of the iterate
  :math:`\|X_t - X_{t-1}\|_F/\|X_t\|_F` is below :math:`10^{-2}` times the relative residual
  on the observed entries while that residual is above ``tol``: too few directions to fit the
  data; never above the largest rank with fewer degrees of freedom than observations.

**Stopping rule and what it certifies.** The run stops when the relative change of the free
(unobserved) entries, :math:`\|P_{\Omega^c}(X_t - X_{t-1})\|_F/\|P_{\Omega^c}(X_t)\|_F`, is below
``tol`` (the measure of lin-RFM and IRLS; every iterate holds the data on :math:`\Omega`, so
nothing else moves, and one large observed entry cannot hide the change of the others) at
two consecutive steps (``SETTLED_STEPS``; one zero change can be a step that moved nothing
because the working precision was reached, as with one observed entry :math:`10^8` times the
others, while the next moves again) *and* the rank-:math:`k` truncation
:math:`X_k = U_k\Sigma_kV_k^\top` of the iterate reproduces the data,
:math:`\|y - P_\Omega(X_k)\|/\|y\| <` ``tol``, where :math:`k(d_1 + d_2 - k)` is below the number
of observations. A settled fit is then checked line by line, at the smallest rank that explains it: the
*certified rank* :math:`k_* \le k` is the smallest :math:`j` whose truncation :math:`X_j` still
reproduces the data, :math:`\|y - P_\Omega(X_j)\|/\|y\| <` ``tol``, and lies within ``tol`` of
:math:`X_k`, :math:`(\sum_{j < i \le k}\sigma_i^2)^{1/2} <` ``tol`` :math:`\|X_k\|_F` (directions
that only carry rounding are dropped; any others stay). If the observed entries of some row see
the right singular vectors :math:`V_{k_*}` (or those of some column :math:`U_{k_*}`) with an
inverse condition number below :data:`UNDETERMINED`
(:meth:`~recovery.core.lowrank.Sampling.line_conditioning`), rank-:math:`k_*` matrices arbitrarily
close to :math:`X_{k_*}` agree with the data as well, and the run stops with
``Status.NOT_DETERMINED`` and ``converged=False``. This catches a row or column with fewer than
:math:`k_*` observations, and the fits of one rank too many that any lower-rank completion admits
(if :math:`M` fits the data, so does :math:`M + z e_j^\top` for every :math:`z` vanishing on the
observed rows of column :math:`j`; the row space then holds :math:`e_j`, which the rows missing
column :math:`j` do not see), the way the default stopped wrongly on 4 of 262 instances of the
sample-complexity benchmark before this check. ``converged=True`` thus certifies a
rank-:math:`k_*` matrix consistent with the data to ``tol`` (``info["factors"]``, with
``info["certified_rank"]``) that no nearby rank-:math:`k_*` matrix matches, within ``tol`` of the
returned estimate; the error on the unobserved entries is then of the order of ``tol`` on the
benchmark instances (measured in ``tests/test_two_sided.py``). Global uniqueness is still not
certified: a distant rank-:math:`k_*` completion may fit the data too. Checking at :math:`k_*`
rather than :math:`k` never refuses more: the Gram matrices at :math:`k_*` are leading principal
submatrices of those at :math:`k`, whose inverse condition numbers are no larger (Cauchy
interlacing). It certifies fits whose last directions, unseen by the data, carry singular values
below ``tol``: on that benchmark one run refused by the check at :math:`k` (a sixth direction of
size :math:`3\cdot10^{-12}`) is certified at :math:`k_* = 5`, while two whose sixth directions
carry :math:`3.5\cdot10^{-9}` and :math:`1.1\cdot10^{-6}` (errors :math:`8\cdot10^{-7}` and
:math:`10^{-5}`, far above ``tol``) stay refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from recovery.core import validation
from recovery.core.lowrank import (
    LowRankPlusSparse,
    Sampling,
    top_singular_triplets,
)
from recovery.core.observations import Observations
from recovery.core.results import Result, Status

#: Default ``tol`` per dtype: far below what a user needs, far above the rounding of the dtype.
DEFAULT_TOL = {torch.float64: 1e-10, torch.float32: 1e-4}
START_OVERSAMPLING = 1.5  # observations per degree of freedom behind the starting rank
GAP = 1e-2  # sigma_{k+1} / sigma_k below this cuts the rank to k
STALL = 1e-2  # change below this times the residual grows the rank by one
SETTLED_STEPS = 2  # consecutive steps with a change below tol that convergence needs
OVERSAMPLING_VECTORS = 5  # extra vectors in the subspace iteration
MAX_CG = 1000
#: The inner solves stop no earlier than a relative residual of this many machine epsilons: reachable
#: in either dtype (at 10, float32 CG stalled on 1 of 8 instances), and fine enough for float32 to fit
#: rank-5 matrices at d = 1000 to 2e-5 (at 1000 the steps' own error, 1e-4, left spurious directions).
CG_FLOOR = 100
#: A settled fit whose :meth:`~recovery.core.lowrank.Sampling.line_conditioning` is below this is
#: not certified: the square root of the dtype's epsilon, far above the rounding-level values of a
#: fit with a free direction and far below those of the data's own lines.
UNDETERMINED = {dtype: torch.finfo(dtype).eps ** 0.5 for dtype in DEFAULT_TOL}

Callback = Callable[[int, LowRankPlusSparse], dict[str, Any] | None]


def largest_rank(observations: int, d1: int, d2: int, oversampling: float) -> int:
    r"""The largest :math:`r < \min(d_1, d_2)` with :math:`r(d_1 + d_2 - r)\cdot` ``oversampling``
    :math:`\le` ``observations`` (at least 1): the largest rank those observations can determine."""
    rank = 1
    while rank + 1 < min(d1, d2) and (rank + 1) * (d1 + d2 - rank - 1) * oversampling <= observations:
        rank += 1
    return rank


class _Step:
    r"""One two-sided step at the triplets ``(U, sigma, V)`` (those above :math:`\varepsilon`)."""

    def __init__(self, sampling: Sampling, U, sigma, V, epsilon: float):
        self.sampling, self.U, self.V = sampling, U, V
        ratio = sigma / epsilon
        self.inverse_weights = (1 / (ratio[:, None] * ratio[None, :] - 1), 1 / (ratio - 1)[:, None],
                                1 / (ratio - 1)[:, None])
        rate = sampling.rows.numel() / (sampling.shape[0] * sampling.shape[1])
        self.preconditioner = tuple(1 / (w + rate) for w in self.inverse_weights)

    def matrix(self, t) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Factors :math:`(A, B)` with :math:`AB^\top = Qt = UMV^\top + UB^\top + CV^\top`; ``B``
        and ``C`` are stored as ``k x d2`` and ``k x d1`` (rows)."""
        M, B, C = t
        return torch.cat([self.U, C.T], 1), torch.cat([self.V @ M.T + B.T, self.V], 1)

    def coordinates(self, A: torch.Tensor, B: torch.Tensor, e: torch.Tensor | None = None):
        r""":math:`Q^*` of :math:`AB^\top + P_\Omega^*(e)` (``e`` optional)."""
        XV = A @ (B.T @ self.V)
        XtU = B @ (A.T @ self.U)
        if e is not None:
            XV = XV + self.sampling.times(e, self.V)
            XtU = XtU + self.sampling.transpose_times(e, self.U)
        M = self.U.T @ XV
        return M, XtU.T - M @ self.V.T, XV.T - M.T @ self.U.T

    def sampled(self, e: torch.Tensor):
        r""":math:`Q^* P_\Omega^*(e)`."""
        empty = self.U[:, :0]
        return self.coordinates(empty, self.V[:, :0], e)

    def normal(self, t):
        r""":math:`(D^{-1} + Q^*P_\Omega^*P_\Omega Q)\,t`."""
        sampled = self.sampled(self.sampling.at(*self.matrix(t)))
        return tuple(s + w * x for s, w, x in zip(sampled, self.inverse_weights, t, strict=True))


def _dot(a, b) -> float:
    return sum(float((x * y).sum()) for x, y in zip(a, b, strict=True))


def _conjugate_gradients(apply, b, x, preconditioner, tol: float, max_iter: int):
    """Preconditioned CG for ``apply(x) = b`` on tuples of tensors; returns ``(x, iterations)``."""
    residual = tuple(bi - ai for bi, ai in zip(b, apply(x), strict=True))
    target = tol * math.sqrt(_dot(b, b))
    z = tuple(p * r for p, r in zip(preconditioner, residual, strict=True))
    direction, rz = z, _dot(residual, z)
    for iteration in range(max_iter):
        if math.sqrt(_dot(residual, residual)) <= target:
            return x, iteration
        image = apply(direction)
        step = rz / _dot(direction, image)
        x = tuple(xi + step * di for xi, di in zip(x, direction, strict=True))
        residual = tuple(ri - step * ai for ri, ai in zip(residual, image, strict=True))
        z = tuple(p * r for p, r in zip(preconditioner, residual, strict=True))
        rz_next = _dot(residual, z)
        direction = tuple(zi + (rz_next / rz) * di for zi, di in zip(z, direction, strict=True))
        rz = rz_next
    return x, max_iter


def kernel_interpolant(
    sampling: Sampling,
    y: torch.Tensor,
    U: torch.Tensor,
    sigma: torch.Tensor,
    V: torch.Tensor,
    epsilon: float,
    *,
    start: tuple[torch.Tensor, torch.Tensor] | None = None,
    tol: float = 1e-12,
    max_iter: int = MAX_CG,
) -> tuple[LowRankPlusSparse, int]:
    r"""One step: :math:`\arg\min\{\langle Z, K_L^{-1}ZK_R^{-1}\rangle : P_\Omega(Z) = y\}` for the
    kernels of the module docstring built from ``(U, sigma, V)`` (each :math:`\sigma_i > \varepsilon`).

    Returns the minimiser as :math:`Qt + P_\Omega^*(y - P_\Omega(Qt))` and the number of conjugate
    gradient iterations, which stop at relative residual ``tol`` (warm started from the tangent
    coordinates of the low-rank matrix ``start = (A, B)``, :math:`AB^\top`, if given).
    """
    if not bool((sigma > epsilon).all()) or not epsilon > 0:
        raise ValueError(f"sigma: every singular value must exceed the smoothing epsilon = {epsilon:.3g} > 0")
    step = _Step(sampling, U, sigma, V, epsilon)
    initial = step.coordinates(*start) if start is not None else step.sampled(torch.zeros_like(y))
    t, iterations = _conjugate_gradients(step.normal, step.sampled(y), initial, step.preconditioner, tol, max_iter)
    left, right = step.matrix(t)
    return LowRankPlusSparse(left, right, y - sampling.at(left, right), sampling), iterations


def two_sided_completion(
    observations: Observations,
    *,
    rank: int | None = None,
    tol: float | None = None,
    max_iter: int = 500,
    passes: int = 3,
    dense: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    callback: Callback | None = None,
    record_every: int = 1,
) -> Result:
    r"""Complete a matrix from ``observations`` by the two-sided lin-RFM (ours; module docstring).

    ``rank`` fixes the rank estimate (a rank oracle, as MatrixIRLS); ``None`` adapts it from the
    data. ``tol`` defaults to :data:`DEFAULT_TOL` of the dtype. ``passes`` is the number of
    subspace-iteration passes per step. With ``dense=False`` the solution is the
    :class:`~recovery.core.lowrank.LowRankPlusSparse` iterate itself (memory
    :math:`O((d_1 + d_2)k + |\Omega|)`), otherwise a dense tensor. ``callback(iteration, X)``
    receives that iterate and may return metrics for the history. ``info`` holds ``rank`` (the
    number of directions :math:`k` above the smoothing), ``smoothing``, ``residual``,
    ``cg_iterations`` (the total), ``factors`` (the rank-:math:`k` truncation, or once the iterate
    settled the rank-:math:`k_*` one) and, once settled, ``certified_rank`` :math:`k_*` and
    ``line_conditioning`` (below :data:`UNDETERMINED`: ``Status.NOT_DETERMINED``; module
    docstring). Runs on ``device`` in ``dtype`` (defaults: the observations').
    """
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations object, got {type(observations).__name__}")
    observations = observations.to(device=device, dtype=dtype)
    y = observations.values
    if y.dtype not in DEFAULT_TOL:
        raise ValueError(f"dtype: expected float32 or float64, got {y.dtype}")
    tol = DEFAULT_TOL[y.dtype] if tol is None else validation.positive_number("tol", tol)
    validation.positive_int("max_iter", max_iter)
    validation.positive_int("passes", passes)
    validation.positive_int("record_every", record_every)
    (d1, d2), m = observations.shape, y.numel()
    limit = largest_rank(m, d1, d2, 1.0)
    if rank is not None:
        rank = validation.positive_int("rank", rank)
        if rank >= min(d1, d2):
            raise ValueError(f"rank: must be below min(d1, d2) = {min(d1, d2)}, got {rank}")
    sampling = Sampling(observations)
    y = sampling.ordered(y)  # every vector on Omega below is in the sampling's order
    generator = torch.Generator().manual_seed(0)

    def random(columns: int) -> torch.Tensor:
        return torch.randn(d2, columns, generator=generator, dtype=y.dtype).to(y.device)

    empty_left, empty_right = y.new_zeros(d1, 0), y.new_zeros(d2, 0)
    X = LowRankPlusSparse(empty_left, empty_right, y, sampling)
    y_norm = float(torch.linalg.vector_norm(y))
    if y_norm == 0 or min(d1, d2) == 1:
        why = ("all observed entries are zero: the zero matrix" if y_norm == 0 else
               "a single row or column: every completion has rank 1, so the data determine no unobserved "
               "entry; they are returned as zero (the minimum-norm completion)")
        return _result(X, y, dense, True, Status.CONVERGED, why, 0, [],
                       {"rank": 0, "smoothing": 0.0, "residual": 0.0, "cg_iterations": 0})
    estimate = rank or largest_rank(m, d1, d2, START_OVERSAMPLING)
    floor = 1
    block = min(estimate + 1 + OVERSAMPLING_VECTORS, d1, d2)
    U, sigma, V = top_singular_triplets(X, random(block), 3 * passes)
    epsilon = _smoothing(sigma, estimate)
    history: list[dict[str, Any]] = []
    cg_total, started = 0, time.perf_counter()
    cg_tol, settled = 0.1, 0
    for iteration in range(1, max_iter + 1):
        k = int((sigma[:estimate] > epsilon).sum())
        X_new, cg_iterations = kernel_interpolant(sampling, y, U[:, :k], sigma[:k], V[:, :k], epsilon,
                                                  start=(X.left, X.right), tol=cg_tol)
        cg_total += cg_iterations
        change, whole_change = _changes(X, X_new, y_norm)
        residual = float(torch.linalg.vector_norm(X_new.sparse)) / y_norm
        if not math.isfinite(change):
            raise FloatingPointError(f"iteration {iteration}: the iterate is not finite")
        X = X_new
        if rank is None:
            if whole_change < STALL * residual and residual >= tol and estimate < limit:
                estimate = floor = estimate + 1
            else:
                estimate = _cut(sigma, estimate, floor)
        block = min(estimate + 1 + OVERSAMPLING_VECTORS, d1, d2)
        warm = V[:, :block] if V.shape[1] >= block else torch.cat([V, random(block - V.shape[1])], 1)
        U, sigma, V = top_singular_triplets(X, warm, passes)
        epsilon = min(epsilon, _smoothing(sigma, estimate))
        truncated = _misfit(sampling, y, U, sigma, V, k) / y_norm
        info = {"rank": k, "smoothing": epsilon, "residual": truncated, "cg_iterations": cg_total,
                "factors": (U[:, :k] * sigma[:k], V[:, :k])}
        settled = settled + 1 if change < tol else 0
        done = settled >= SETTLED_STEPS and truncated < tol
        if iteration % record_every == 0 or done:
            entry = {"iteration": iteration, "change": change, "residual": truncated, "smoothing": epsilon,
                     "rank": k, "cg_iterations": cg_iterations, "seconds": time.perf_counter() - started}
            if callback is not None:
                entry.update(callback(iteration, X) or {})
            history.append(entry)
        if done:
            message = (f"relative change {change:.2g} of the free entries below tol {tol:.2g}, and the rank-{k} "
                       f"truncation fits the observed entries to relative residual {truncated:.2g}, after "
                       f"{iteration} iterations")
            certified = _certified_rank(sampling, y, y_norm, U, sigma, V, k, tol)
            info.update(certified_rank=certified, factors=(U[:, :certified] * sigma[:certified], V[:, :certified]),
                        line_conditioning=sampling.line_conditioning(U[:, :certified], V[:, :certified]))
            if certified < k:
                message += (f"; the rank-{certified} truncation fits them as well and lies within tol of the "
                            f"rank-{k} one")
            if info["line_conditioning"] < UNDETERMINED[y.dtype]:
                message += (f"; but the data do not determine this fit: a row or column's observed entries see "
                            f"its singular vectors with inverse condition number {info['line_conditioning']:.1g} "
                            f"(below {UNDETERMINED[y.dtype]:.1g}), so rank-{certified} matrices arbitrarily close "
                            f"to it fit the data as well")
                return _result(X, y, dense, False, Status.NOT_DETERMINED, message, iteration, history, info)
            return _result(X, y, dense, True, Status.CONVERGED, message, iteration, history, info)
        cg_tol = max(min(0.1, 0.1 * residual**1.5), 1e-3 * tol, CG_FLOOR * torch.finfo(y.dtype).eps)
    message = (f"stopped at max_iter = {max_iter} with relative change {change:.2g} of the free entries and "
               f"rank-{k} residual {truncated:.2g} on the observed entries (tol {tol:.2g})")
    return _result(X, y, dense, False, Status.MAX_ITER, message, max_iter, history, info)


def _certified_rank(sampling: Sampling, y: torch.Tensor, y_norm: float, U: torch.Tensor, sigma: torch.Tensor,
                    V: torch.Tensor, k: int, tol: float) -> int:
    r"""The certified rank :math:`k_*` (module docstring): the smallest :math:`j \le k` with
    :math:`(\sum_{j < i \le k}\sigma_i^2)^{1/2} <` ``tol`` :math:`\|\sigma_{1..k}\|` and
    :math:`\|y - P_\Omega(U_j\Sigma_jV_j^\top)\| <` ``tol`` :math:`\|y\|` (``y_norm``); ``k`` if none is smaller.
    The tails shrink with :math:`j`, so only the last few ranks need the sampled product."""
    tails = sigma[:k].square().flip(0).cumsum(0).flip(0).sqrt()  # tails[j]: the norm of sigma_{j+1..k}
    for j in range(1, k):
        if float(tails[j]) < tol * float(tails[0]) and _misfit(sampling, y, U, sigma, V, j) < tol * y_norm:
            return j
    return k


def _misfit(sampling: Sampling, y: torch.Tensor, U: torch.Tensor, sigma: torch.Tensor, V: torch.Tensor,
            rank: int) -> float:
    r""":math:`\|y - P_\Omega(U_j\Sigma_jV_j^\top)\|` of the rank-:math:`j` truncation, :math:`j` = ``rank``."""
    return float(torch.linalg.vector_norm(y - sampling.at(U[:, :rank] * sigma[:rank], V[:, :rank])))


def _smoothing(sigma: torch.Tensor, estimate: int) -> float:
    r""":math:`\sigma_{\hat r + 1}`, kept above :math:`\sigma_1` times the dtype's epsilon (a matrix of
    rank at most :math:`\hat r` has :math:`\sigma_{\hat r + 1} = 0`, and the kernels need
    :math:`\varepsilon > 0`)."""
    return max(float(sigma[estimate]), torch.finfo(sigma.dtype).eps * float(sigma[0]))


def _cut(sigma: torch.Tensor, estimate: int, floor: int) -> int:
    """The rank after a cut at the widest gap of two decades among the top ``estimate`` values."""
    ratios = sigma[1:estimate] / sigma[: estimate - 1]
    ratios[: floor - 1] = 1.0
    if ratios.numel() == 0 or float(ratios.min()) >= GAP:
        return estimate
    return int(torch.argmin(ratios)) + 1


def _changes(old: LowRankPlusSparse, new: LowRankPlusSparse, y_norm: float) -> tuple[float, float]:
    r"""The relative changes of the free entries and of the whole iterate,
    :math:`\|P_{\Omega^c}(X^+ - X)\|_F / \|P_{\Omega^c}(X^+)\|_F` and
    :math:`\|X^+ - X\|_F / \|X^+\|_F`, from the factors. Both iterates hold the data on
    :math:`\Omega`, so :math:`X^+ - X` lives off :math:`\Omega`, where it equals :math:`L^+ - L`
    for the low-rank parts, and :math:`\|X^+\|^2 = \|P_{\Omega^c}(L^+)\|^2 + \|y\|^2`;
    :meth:`~recovery.core.lowrank.Sampling.unobserved_squared_norm` sums both without the Gram
    matrix's cancellation. The first is the stopping rule's (zero when every entry is observed);
    the second, on the scale of the data, is the rank rule's."""
    change = new.sampling.unobserved_squared_norm(torch.cat([new.left, -old.left], 1),
                                                  torch.cat([new.right, old.right], 1))
    size = new.sampling.unobserved_squared_norm(new.left, new.right)
    return (math.sqrt(change / size) if size > 0 else 0.0), math.sqrt(change / (size + y_norm**2))


def _result(X: LowRankPlusSparse, y, dense: bool, converged, status, message, iterations, history, info) -> Result:
    """The result; a dense solution holds the data ``y`` exactly on the observed entries (low-rank
    part plus correction agree with them only to rounding)."""
    solution = X
    if dense:
        solution = X.left @ X.right.T
        solution[X.sampling.rows, X.sampling.cols] = y
    return Result(solution, converged, status, message, iterations, history, info)
