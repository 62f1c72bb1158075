"""Ground truths for the recovery experiments, drawn from an explicit ``torch.Generator``."""

from __future__ import annotations

import torch

from recovery import _checks


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
