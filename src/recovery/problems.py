"""Ground truths for the recovery experiments, drawn from an explicit ``torch.Generator``."""

from __future__ import annotations

import torch

from recovery import _checks
from recovery.observations import Observations


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
        _checks.positive_int(name, value)
    if rank > min(d1, d2):
        raise ValueError(f"rank: must be at most min(d1, d2) = {min(d1, d2)}, got {rank}")
    G1 = torch.randn(d1, rank, generator=generator, dtype=dtype)
    G2 = torch.randn(d2, rank, generator=generator, dtype=dtype)
    M = G1 @ G2.T
    return M / torch.linalg.matrix_norm(M)


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
    for name, value in (("d1", d1), ("d2", d2), ("rank", rank), ("num_obs", num_obs)):
        _checks.positive_int(name, value)
    if rank > min(d1, d2):
        raise ValueError(f"rank: must be at most min(d1, d2) = {min(d1, d2)}, got {rank}")
    if num_obs > d1 * d2:
        raise ValueError(f"num_obs: at most d1 * d2 = {d1 * d2} entries exist, got {num_obs}")
    U = torch.randn(d1, rank, generator=generator, dtype=dtype)
    V = torch.randn(rank, d2, generator=generator, dtype=dtype)
    Y = U @ V
    Y *= (d1 * d2) ** 0.5 / torch.linalg.matrix_norm(Y)
    flat = torch.randperm(d1 * d2, generator=generator)[:num_obs]
    rows, cols = flat // d2, flat % d2
    return Y, Observations(rows, cols, Y[rows, cols], (d1, d2))


def _hidden_sum_of_squares(A: torch.Tensor, observations: Observations) -> float:
    if observations.count == A.numel():
        raise ValueError("observations: every entry is observed; there is no unobserved error")
    squares = A.square()
    return float(squares.sum() - squares[observations.rows, observations.cols].sum())


def unobserved_mse(Z: torch.Tensor, Y: torch.Tensor, observations: Observations) -> float:
    """Mean squared error of ``Z`` against ``Y`` over the entries that were not observed."""
    return _hidden_sum_of_squares(Z - Y, observations) / (Y.numel() - observations.count)


def unobserved_relative_error(Z: torch.Tensor, Y: torch.Tensor, observations: Observations) -> float:
    r"""Return :math:`\|P_{\Omega^c}(Z - Y)\|_F / \|P_{\Omega^c}(Y)\|_F` over the unobserved entries."""
    return (_hidden_sum_of_squares(Z - Y, observations) / _hidden_sum_of_squares(Y, observations)) ** 0.5
