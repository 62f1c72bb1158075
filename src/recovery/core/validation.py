"""Validation at the public boundary: every check names the offending argument."""

from __future__ import annotations

import operator

import torch


def tensor(name: str, value, *, ndim: int | None = None) -> torch.Tensor:
    """Return ``value`` as a finite floating tensor, raising ``ValueError`` naming ``name``.

    Tensors keep their dtype and device; anything else becomes a float64 CPU tensor.
    """
    if isinstance(value, torch.Tensor) and value.is_complex():
        raise ValueError(f"{name}: expected real numbers, got complex dtype {value.dtype}")
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name}: expected an array of numbers ({exc})") from None
    if not value.is_floating_point():
        value = value.to(torch.float64)
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name}: contains non-finite entries (nan or inf)")
    return value


def same_rows(name: str, value: torch.Tensor, rows: int, what: str) -> None:
    """Raise unless ``value`` has ``rows`` rows, explaining that they must match ``what``."""
    if value.shape[0] != rows:
        raise ValueError(
            f"{name}: expected {rows} rows to match {what}, got shape {tuple(value.shape)}"
        )


def factors(L, R) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate factors ``L`` (d1 x k) and ``R`` (d2 x k) of a common width ``k >= 1``."""
    L = tensor("L", L, ndim=2)
    R = tensor("R", R, ndim=2)
    if L.shape[1] < 1:
        raise ValueError("L: width k must be at least 1, got 0 columns")
    if R.shape[1] != L.shape[1]:
        raise ValueError(
            f"R: width {R.shape[1]} differs from the width {L.shape[1]} of L; "
            "factors L (d1 x k) and R (d2 x k) share k"
        )
    if R.dtype != L.dtype or R.device != L.device:
        raise ValueError(f"R: dtype/device {R.dtype}/{R.device} differ from L's {L.dtype}/{L.device}")
    return L, R


def factor_pair(L, R, d1: int, d2: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate factors as in :func:`factors` and their row counts against a map's ``(d1, d2)``."""
    L, R = factors(L, R)
    same_rows("L", L, d1, "d1 of the measurement map")
    same_rows("R", R, d2, "d2 of the measurement map")
    return L, R


def positive_int(name: str, value) -> int:
    """Return ``value`` if it is an integer >= 1, else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def matrix_shape(name: str, value) -> tuple[int, int]:
    """Return ``value`` as a pair of positive integers ``(d1, d2)`` whose entries can be numbered
    row-major in int64 (``d1 * d2 < 2**62``); floats such as ``2.7`` are refused, not truncated."""
    try:
        d1, d2 = (operator.index(size) for size in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair of positive integers (d1, d2), got {value!r}") from None
    if d1 < 1 or d2 < 1:
        raise ValueError(f"{name}: expected a pair of positive integers (d1, d2), got {value!r}")
    if d1 * d2 >= 2**62:
        raise ValueError(f"{name}: {d1} x {d2} has more entries than int64 indices can number")
    return d1, d2


def indices(name: str, value, size: int, device=None) -> torch.Tensor:
    """Return ``value`` as a 1-d int64 index tensor with entries in ``[0, size)``."""
    try:
        index = torch.as_tensor(value, device=device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: expected an array of integer indices ({exc})") from None
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer indices, got dtype {index.dtype}")
    if index.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of indices, got shape {tuple(index.shape)}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
        raise ValueError(f"{name}: indices must lie in [0, {size}), got range [{int(index.min())}, {int(index.max())}]")
    return index.to(torch.int64)


def _real(name: str, value) -> float:
    """``value`` as a float: a real number (Python, NumPy or a one-element tensor), not a flag or text."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None


def positive_number(name: str, value, *, at_most: float = float("inf")) -> float:
    """Return ``value`` as a float in ``(0, at_most]`` (finite), else raise ``ValueError`` naming ``name``."""
    number = _real(name, value)
    if not (0 < number <= at_most and number < float("inf")):
        bound = "" if at_most == float("inf") else f" and at most {at_most:g}"
        raise ValueError(f"{name}: expected a finite number > 0{bound}, got {value!r}")
    return number


def nonnegative_number(name: str, value) -> float:
    """Return ``value`` as a finite float ``>= 0``, else raise ``ValueError`` naming ``name``."""
    number = _real(name, value)
    if not 0 <= number < float("inf"):
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return number
