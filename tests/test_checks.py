"""The one validation module: numbers are refused by name unless they are finite reals in range."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recovery.core import validation


@pytest.mark.parametrize("value", [True, "1.5", b"1", None, math.nan, math.inf, -1.0, [1.0], torch.ones(2)])
def test_numbers_that_are_not_finite_reals_in_range_are_refused_by_name(value):
    with pytest.raises(ValueError, match=r"^tol: expected"):
        validation.positive_number("tol", value)
    with pytest.raises(ValueError, match=r"^weight: expected"):
        validation.nonnegative_number("weight", value)


@pytest.mark.parametrize("value", [0.5, 2, np.float32(0.25), np.int64(3), torch.tensor(1e-3, dtype=torch.float64)])
def test_real_numbers_of_any_library_are_accepted_as_floats(value):
    assert validation.positive_number("tol", value) == pytest.approx(float(value))
    assert isinstance(validation.nonnegative_number("weight", value), float)


def test_the_bounds_of_each_range():
    assert validation.nonnegative_number("weight", 0) == 0.0
    with pytest.raises(ValueError, match="> 0"):
        validation.positive_number("tol", 0.0)
    assert validation.positive_number("decay", 1.0, at_most=1.0) == 1.0
    with pytest.raises(ValueError, match="at most 1"):
        validation.positive_number("decay", 1.5, at_most=1.0)
