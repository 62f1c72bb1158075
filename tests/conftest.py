"""Shared test helpers."""

from __future__ import annotations

import pytest
import torch

from recovery.measurements import DenseMeasurements


@pytest.fixture
def dense_identity():
    """Build the identity map explicitly, as the stack of all unit matrices e_a e_b^T."""

    def build(d1: int, d2: int) -> DenseMeasurements:
        unit_matrices = torch.eye(d1 * d2, dtype=torch.float64).reshape(-1, d1, d2)
        return DenseMeasurements(unit_matrices, scale=1.0)

    return build
