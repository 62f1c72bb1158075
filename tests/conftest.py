"""Shared test helpers."""

from __future__ import annotations

import pytest
import torch

from recovery.core.operators import (
    DenseMeasurements,
    bernoulli_completion,
    bilinear_sensing,
    gaussian_sensing,
)


@pytest.fixture
def dense_identity():
    """Build the identity map explicitly, as the stack of all unit matrices e_a e_b^T."""

    def build(d1: int, d2: int) -> DenseMeasurements:
        unit_matrices = torch.eye(d1 * d2, dtype=torch.float64).reshape(-1, d1, d2)
        return DenseMeasurements(unit_matrices, scale=1.0)

    return build


def sample_map(kind: str, d1: int, d2: int, generator: torch.Generator, *, m: int, p: float):
    """A ``d1 x d2`` measurement map of ``kind``: ``m`` Gaussian (``"sensing"``) or rank-one
    (``"bilinear"``) measurements, or entries observed with probability ``p`` (``"completion"``)."""
    if kind == "sensing":
        return gaussian_sensing(m, d1, d2, generator)
    if kind == "bilinear":
        return bilinear_sensing(m, d1, d2, generator)
    if kind == "completion":
        return bernoulli_completion(d1, d2, p, generator)
    raise ValueError(f"kind: expected sensing, bilinear or completion, got {kind!r}")
