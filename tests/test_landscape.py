"""The flat-landscape experiment's building blocks: random starts and null-space interpolants."""

from __future__ import annotations

import math

import pytest
import torch

from recovery.core import problems
from recovery.core.operators import bilinear_sensing, gaussian_sensing
from recovery.experiments import landscape

F64 = torch.float64


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("distance", [1e-6, 1e-2, 3.0])
def test_null_space_interpolant_fits_the_data_at_the_given_distance(seed, distance):
    g = torch.Generator().manual_seed(seed)
    op = gaussian_sensing(30, 7, 6, g)
    M = problems.low_rank_matrix(7, 6, 2, g)
    X = landscape.null_space_interpolant(op, M, distance, g)
    data = op.measure(M)
    assert float(torch.linalg.vector_norm(op.measure(X) - data)) < 1e-12 * float(torch.linalg.vector_norm(data))
    assert math.isclose(float(torch.linalg.matrix_norm(X - M)), distance, rel_tol=1e-12, abs_tol=1e-14)
    assert int(torch.linalg.matrix_rank(X)) == 6  # a generic interpolant, not low rank


@pytest.mark.parametrize("seed", [0, 1])
def test_random_start_has_columns_of_the_given_scale(seed):
    g = torch.Generator().manual_seed(seed)
    L, R = landscape.random_start(400, 300, 50, 0.5, g)
    assert L.shape == (400, 50) and R.shape == (300, 50) and L.dtype == F64
    for factor in (L, R):
        norms = torch.linalg.vector_norm(factor, dim=0)
        assert float((norms / 0.5 - 1).abs().max()) < 0.15


def test_experiment_inputs_are_validated():
    g = torch.Generator().manual_seed(0)
    op = gaussian_sensing(10, 4, 3, g)
    M = torch.ones(4, 3, dtype=F64)
    cases = [
        (lambda: landscape.null_space_interpolant(bilinear_sensing(10, 4, 3, g), M, 1.0, g), "op:"),
        (lambda: landscape.null_space_interpolant(gaussian_sensing(12, 4, 3, g), M, 1.0, g), "op:"),
        (lambda: landscape.null_space_interpolant(op, M[:3], 1.0, g), "M:"),
        (lambda: landscape.null_space_interpolant(op, M, 0.0, g), "distance:"),
        (lambda: landscape.random_start(0, 3, 2, 1.0, g), "d1:"),
        (lambda: landscape.random_start(4, 3, 2, -1.0, g), "scale:"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
