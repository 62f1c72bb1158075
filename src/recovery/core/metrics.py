"""Errors of an estimate against the truth: relative errors, and errors on the unobserved entries."""

from __future__ import annotations

import torch

from recovery.core.observations import Observations


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


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    r"""Return :math:`\|\hat x - x^\star\| / \|x^\star\|`."""
    return float(torch.linalg.vector_norm(estimate - truth) / torch.linalg.vector_norm(truth))
