r"""Nuclear-norm completion at scale: the ADMM of :mod:`recovery.convex.admm` on low-rank-plus-sparse iterates (ours).

Solves :math:`\min \|X\|_*` subject to :math:`X_{ij} = M_{ij}` on :math:`\Omega` with the
iteration of :mod:`recovery.convex.admm` without over-relaxation (:math:`\eta = 1`):

.. math::
   X^{k+1} = \operatorname{SVT}_{1/\rho}(Z^k - U^k),\qquad
   Z^{k+1} = P(X^{k+1} + U^k),\qquad
   U^{k+1} = U^k + X^{k+1} - Z^{k+1},

where :math:`P` overwrites the observed entries with the data. Off :math:`\Omega` the projection
leaves :math:`X^{k+1} + U^k`, so :math:`U^{k+1}` vanishes there: the scaled dual lives on
:math:`\Omega` (a vector :math:`u`), :math:`Z^{k+1} = X^{k+1} + P_\Omega^*(b - P_\Omega X^{k+1})`,
and the matrix whose singular values are thresholded is

.. math::
   Z^k - U^k = X^k + P_\Omega^*\big(b - P_\Omega X^k - u^k\big),

low rank plus sparse (:class:`~recovery.core.lowrank.LowRankPlusSparse`). Its singular values
above the threshold :math:`\tau = 1/\rho` come from subspace iteration
(:func:`~recovery.core.lowrank.top_singular_triplets`) on a block of the previous rank plus a
margin, warm started from the previous right singular vectors; when the block's smallest
singular value still exceeds :math:`\tau` the block doubles. A step costs
:math:`O(|\Omega| b + (d_1 + d_2) b^2)` for a block of :math:`b` columns and never forms a
:math:`d_1\times d_2` matrix, where the dense ADMM takes one full SVD (:math:`O(d_1 d_2
\min(d_1, d_2))`).

The residuals and the :math:`\rho` balancing are those of the dense ADMM, computed from the
factors: the primal residual is :math:`\|P_\Omega X - b\|/\max(\|X\|_F, \|b\|)` (:math:`X - Z`
lives on :math:`\Omega`), the dual residual :math:`\|P_{\Omega^c}(X^{k+1} - X^k)\|_F/\|u\|`
(:math:`Z` changes only off :math:`\Omega`, where it equals :math:`X`). With exact singular
values it produces the dense ADMM's iterates at :math:`\eta = 1`; the tests compare the two.
This solver is ours (neither paper's): it exists so that the nuclear norm can be scored at
:math:`d = 1000` and beyond (:mod:`recovery.experiments.completion_scoreboard`).
"""

from __future__ import annotations

import torch

from recovery.core import validation
from recovery.core.lowrank import LowRankPlusSparse, Sampling, top_singular_triplets
from recovery.core.observations import Observations
from recovery.core.results import Result, Status

#: Extra columns of the subspace iteration beyond the previous rank (at least).
MARGIN = 8
#: Seed of the random columns that widen the subspace (a fixed seed: the same data give the same run).
SEED = 0


def lowrank_nuclear_completion(
    observations: Observations,
    *,
    tol: float = 1e-8,
    max_iter: int = 20_000,
    passes: int = 3,
    dense: bool = True,
) -> Result:
    r"""Nuclear-norm completion of ``observations`` by the low-rank ADMM of the module docstring.

    Stops when the relative primal and dual residuals are both at most ``tol``, or after
    ``max_iter`` iterations (``converged=False``). ``passes`` is the number of subspace-iteration
    passes per singular value thresholding. The solution is a dense tensor, or with
    ``dense=False`` a :class:`~recovery.core.lowrank.LowRankPlusSparse` (its sparse part zero:
    the thresholded iterate :math:`X`, which meets the data to the primal residual).
    ``info`` holds the final ``rank``, ``primal_residual`` and ``dual_residual``.
    """
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations, got {type(observations).__name__}")
    tol = validation.positive_number("tol", tol, at_most=1)
    validation.positive_int("max_iter", max_iter)
    validation.positive_int("passes", passes)
    sampling = Sampling(observations)
    b = observations.values
    d1, d2 = observations.shape
    generator = torch.Generator(device=b.device).manual_seed(SEED)
    tiny = torch.finfo(b.dtype).tiny
    data_size = float(torch.linalg.vector_norm(b).clamp(min=tiny))
    rho = 1 / data_size
    left, right = b.new_zeros(d1, 0), b.new_zeros(d2, 0)  # X = left @ right.T
    on_data = torch.zeros_like(b)  # P_Omega X
    u = torch.zeros_like(b)
    for iteration in range(1, max_iter + 1):
        thresholded = LowRankPlusSparse(left, right, b - on_data - u, sampling)
        new_left, new_right = _singular_value_threshold(thresholded, right, 1 / rho, passes, generator)
        new_on_data = sampling.at(new_left, new_right)
        u = u + new_on_data - b
        primal = float(torch.linalg.vector_norm(new_on_data - b)) / max(_norm(new_left, new_right), data_size)
        off_data_step = (_difference_norm(new_left, new_right, left, right) ** 2
                         - float(torch.linalg.vector_norm(new_on_data - on_data)) ** 2)
        step = max(off_data_step, 0.0) ** 0.5
        dual = step / max(float(torch.linalg.vector_norm(u)), tiny) if step > 0 else 0.0
        left, right, on_data = new_left, new_right, new_on_data
        if not (primal == primal and dual == dual):  # NaN
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


def _singular_value_threshold(W: LowRankPlusSparse, previous_right: torch.Tensor, threshold: float, passes: int,
                              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Factors ``(A, B)`` with :math:`AB^\top = \operatorname{SVT}_\tau(W)`: the singular triplets of
    ``W`` above ``threshold``, their values shrunk by it, found by subspace iteration on a block
    that starts at the previous rank plus :data:`MARGIN` (warm started from ``previous_right``)
    and doubles while its smallest singular value exceeds the threshold."""
    d2, full = previous_right.shape[0], min(W.left.shape[0], previous_right.shape[0])
    width = min(full, previous_right.shape[1] + max(MARGIN, previous_right.shape[1] // 2))
    start = previous_right
    while True:
        extra = torch.randn(d2, width - start.shape[1], generator=generator, dtype=start.dtype, device=start.device)
        U, sigma, V = top_singular_triplets(W, torch.cat([start, extra], 1), passes)
        if sigma[-1] <= threshold or width == full:
            break
        start, width = V, min(full, 2 * width)
    keep = sigma > threshold
    return U[:, keep] * (sigma[keep] - threshold), V[:, keep]


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
