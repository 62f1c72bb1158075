r"""Nuclear-norm completion at scale: the ADMM of :mod:`recovery.convex.admm` on low-rank-plus-sparse iterates (ours).

Solves :math:`\min \|X\|_*` subject to :math:`X_{ij} = M_{ij}` on :math:`\Omega` with the
iteration of :mod:`recovery.convex.admm` without over-relaxation (:math:`\eta = 1`):

.. math::
   X^{k+1} &= \operatorname{SVT}_{1/\rho}(Z^k - U^k),\\
   Z^{k+1} &= P(X^{k+1} + U^k),\\
   U^{k+1} &= U^k + X^{k+1} - Z^{k+1},

where :math:`P` overwrites the observed entries with the data. Off :math:`\Omega` the projection
leaves :math:`X^{k+1} + U^k`, so :math:`U^{k+1}` vanishes there: the scaled dual lives on
:math:`\Omega` (a vector :math:`u`), :math:`Z^{k+1} = X^{k+1} + P_\Omega^*(b - P_\Omega X^{k+1})`,
and the matrix whose singular values are thresholded is

.. math::
   Z^k - U^k = X^k + P_\Omega^*\big(b - P_\Omega X^k - u^k\big),

low rank plus sparse (:class:`~recovery.core.lowrank.LowRankPlusSparse`). Its singular values
above the threshold :math:`\tau = 1/\rho` come from subspace iteration with a Rayleigh-Ritz step
per pass, on a block of the previous rank plus a margin, warm started from the previous right
singular vectors; the block doubles while its smallest singular value exceeds :math:`\tau`, and
the passes stop when the thresholded matrix moves by less than ``svt_accuracy`` times the last
residual (relative to its size): an inexact proximal step whose error shrinks with the
residuals, as inexact ADMM needs. A step costs :math:`O(|\Omega| b + (d_1 + d_2) b^2)` per pass
for a block of :math:`b` columns and never forms a :math:`d_1\times d_2` matrix, where the dense
ADMM takes one full SVD (:math:`O(d_1 d_2 \min(d_1, d_2))`).

The residuals and the :math:`\rho` balancing are those of the dense ADMM, computed from the
factors: the primal residual is :math:`\|P_\Omega X - b\|/\max(\|X\|_F, \|b\|)` (:math:`X - Z`
lives on :math:`\Omega`), the dual residual :math:`\|P_{\Omega^c}(X^{k+1} - X^k)\|_F/\|u\|`
(:math:`Z` changes only off :math:`\Omega`, where it equals :math:`X`). With exact singular
values it produces the dense ADMM's iterates at :math:`\eta = 1`; the tests compare the two
with a tight ``svt_accuracy``.
This solver is ours (neither paper's): it exists so that the nuclear norm can be scored at
:math:`d = 1000` and beyond (:mod:`recovery.experiments.completion_scoreboard`).
"""

from __future__ import annotations

import math

import torch

from recovery.core import validation
from recovery.core.lowrank import LowRankPlusSparse, Sampling
from recovery.core.observations import Observations
from recovery.core.results import Result, Status

#: Extra columns of the subspace iteration beyond the previous rank (at least).
MARGIN = 8
#: Subspace-iteration passes per thresholding at most.
MAX_PASSES = 50
#: Seed of the random columns that widen the subspace (a fixed seed: the same data give the same run).
SEED = 0


def lowrank_nuclear_completion(
    observations: Observations,
    *,
    tol: float = 1e-8,
    max_iter: int = 20_000,
    svt_accuracy: float = 0.1,
    dense: bool = True,
) -> Result:
    r"""Nuclear-norm completion of ``observations`` by the low-rank ADMM of the module docstring.

    Stops when the relative primal and dual residuals are both at most ``tol``, or after
    ``max_iter`` iterations (``converged=False``). Each singular value thresholding iterates until
    its result moves by less than ``svt_accuracy`` times the larger of ``tol`` and the last
    smaller residual (relative to its size), or for
    :data:`~recovery.convex.lowrank_admm.MAX_PASSES` passes. The solution is a dense tensor, or
    with ``dense=False`` a :class:`~recovery.core.lowrank.LowRankPlusSparse` (its sparse part
    zero: the thresholded iterate :math:`X`, which meets the data to the primal residual).
    ``info`` holds the final ``rank``, ``primal_residual`` and ``dual_residual``. Raises
    ``FloatingPointError`` when the data's norm or a residual is not finite.
    """
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations, got {type(observations).__name__}")
    tol = validation.positive_number("tol", tol, at_most=1)
    validation.positive_int("max_iter", max_iter)
    svt_accuracy = validation.positive_number("svt_accuracy", svt_accuracy, at_most=1)
    sampling = Sampling(observations)
    b = sampling.ordered(observations.values)
    d1, d2 = observations.shape
    generator = torch.Generator(device=b.device).manual_seed(SEED)
    tiny = torch.finfo(b.dtype).tiny
    data_size = float(torch.linalg.vector_norm(b).clamp(min=tiny))
    if not math.isfinite(data_size):
        raise FloatingPointError("the norm of the observed values overflows; rescale the data")
    rho = 1 / data_size
    left, right = b.new_zeros(d1, 0), b.new_zeros(d2, 0)  # X = left @ right.T
    on_data = torch.zeros_like(b)  # P_Omega X
    u = torch.zeros_like(b)
    primal = dual = 1.0
    for iteration in range(1, max_iter + 1):
        thresholded = LowRankPlusSparse(left, right, b - on_data - u, sampling)
        accuracy = svt_accuracy * max(tol, min(primal, dual))
        new_left, new_right = _singular_value_threshold(thresholded, right, 1 / rho, accuracy, generator)
        new_on_data = sampling.at(new_left, new_right)
        u = u + new_on_data - b
        primal = float(torch.linalg.vector_norm(new_on_data - b)) / max(_norm(new_left, new_right), data_size)
        off_data_step = (_difference_norm(new_left, new_right, left, right) ** 2
                         - float(torch.linalg.vector_norm(new_on_data - on_data)) ** 2)
        step = max(off_data_step, 0.0) ** 0.5
        dual = step / max(float(torch.linalg.vector_norm(u)), tiny) if step > 0 else 0.0
        left, right, on_data = new_left, new_right, new_on_data
        if not (math.isfinite(primal) and math.isfinite(dual)):
            raise FloatingPointError(f"iteration {iteration}: an ADMM residual is not finite; rescale the data")
        if primal <= tol and dual <= tol:
            break
        if iteration % 10 == 0 and iteration <= 2000:  # then keep rho fixed, as ADMM theory asks
            change = 2.0 if primal > 2 * dual else 0.5 if dual > 2 * primal else 1.0
            rho, u = rho * change, u / change
    converged = primal <= tol and dual <= tol
    X = LowRankPlusSparse(left, right, torch.zeros_like(b), sampling)
    rule = f"relative primal and dual residuals below tol {tol:.2g}"
    message = (f"converged ({rule}) after {iteration} iterations, rank {left.shape[1]}" if converged else
               f"not converged ({rule}) within max_iter = {max_iter}: residuals {primal:.2g}, {dual:.2g}")
    info = {"rank": left.shape[1], "primal_residual": primal, "dual_residual": dual}
    return Result(X.dense() if dense else X, converged, Status.CONVERGED if converged else Status.MAX_ITER,
                  message, iteration, info=info)


def _singular_value_threshold(W: LowRankPlusSparse, previous_right: torch.Tensor, threshold: float,
                              accuracy: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Factors ``(A, B)`` with :math:`AB^\top = \operatorname{SVT}_\tau(W)` to relative ``accuracy``:
    subspace iteration :math:`V \leftarrow` the right Ritz vectors of :math:`Q^\top W`,
    :math:`Q = \operatorname{orth}(WV)`, on a block that starts at the previous rank plus
    :data:`MARGIN` columns (warm started from ``previous_right``, the rest random) and doubles while
    its smallest Ritz value exceeds the threshold; it stops when the thresholded matrix
    :math:`\sum_{\sigma_i > \tau} (\sigma_i - \tau) u_i v_i^\top` moves by at most ``accuracy``
    times its norm between passes, or after :data:`MAX_PASSES`."""
    d2, full = previous_right.shape[0], min(W.left.shape[0], previous_right.shape[0])
    width = min(full, previous_right.shape[1] + max(MARGIN, previous_right.shape[1] // 2))
    V, before = previous_right, None
    for _ in range(MAX_PASSES):
        if V.shape[1] < width:
            extra = torch.randn(d2, width - V.shape[1], generator=generator, dtype=V.dtype, device=V.device)
            V, before = torch.linalg.qr(torch.cat([V, extra], 1)).Q, None
        Q = torch.linalg.qr(W.matmul(V)).Q
        U_small, sigma, Vt = torch.linalg.svd(W.rmatmul(Q).T, full_matrices=False)
        V = Vt.T
        if sigma[-1] > threshold and width < full:
            width = min(full, 2 * width)
            continue
        keep = sigma > threshold
        A, B = (Q @ U_small[:, keep]) * (sigma[keep] - threshold), V[:, keep]
        if before is not None and _difference_norm(A, B, *before) <= accuracy * _norm(A, B):
            break
        before = (A, B)
    return A, B


def _norm(left: torch.Tensor, right: torch.Tensor) -> float:
    r""":math:`\|AB^\top\|_F` from the factors (``right`` has orthonormal columns here, but the
    small Gram product does not rely on it)."""
    return float(torch.sqrt(((left.T @ left) * (right.T @ right)).sum().clamp(min=0)))


def _difference_norm(left: torch.Tensor, right: torch.Tensor, other_left: torch.Tensor,
                     other_right: torch.Tensor) -> float:
    r""":math:`\|AB^\top - CD^\top\|_F` without cancellation: with :math:`[A, C] = Q_1R_1` and
    :math:`[B, D] = Q_2R_2`, it is :math:`\|R_1 \operatorname{diag}(I, -I) R_2^\top\|_F`."""
    R1 = torch.linalg.qr(torch.cat([left, other_left], 1)).R
    R2 = torch.linalg.qr(torch.cat([right, -other_right], 1)).R
    return float(torch.linalg.matrix_norm(R1 @ R2.T))
