r"""Linear measurement maps :math:`\mathcal{A}: \mathbb{R}^{d_1\times d_2} \to \mathbb{R}^m`.

A map is given by matrices :math:`A_1, \dots, A_m` through

.. math:: \mathcal{A}(X) = (\langle A_1, X\rangle, \dots, \langle A_m, X\rangle),
   \qquad \mathcal{A}^*(y) = \sum_i y_i A_i ,

together with the weight :math:`c` of the factorised loss
:math:`f(L, R) = c\,\|\mathcal{A}(LR^\top) - b\|^2` (``scale``). Besides ``apply`` and
``adjoint`` a map exposes its two Gram sums
:math:`G_1 = \sum_i A_i A_i^\top` (:math:`d_1\times d_1`) and
:math:`G_2 = \sum_i A_i^\top A_i` (:math:`d_2\times d_2`), which is all that Hessian traces need.
Structured maps compute them without forming the :math:`A_i`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from recovery import _checks


class MeasurementMap(ABC):
    """Abstract linear map from ``d1 x d2`` matrices to ``m`` measurements."""

    shape: tuple[int, int]
    num_measurements: int
    scale: float

    @abstractmethod
    def apply(self, X: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\mathcal{A}(X) \in \mathbb{R}^m`."""

    @abstractmethod
    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\mathcal{A}^*(y) = \sum_i y_i A_i \in \mathbb{R}^{d_1\times d_2}`."""

    @abstractmethod
    def left_gram(self) -> torch.Tensor:
        r"""Return :math:`G_1 = \sum_i A_i A_i^\top`."""

    @abstractmethod
    def right_gram(self) -> torch.Tensor:
        r"""Return :math:`G_2 = \sum_i A_i^\top A_i`."""

    def measure(self, X) -> torch.Tensor:
        """Validate ``X`` against the map's shape and return its measurements ``b = A(X)``."""
        X = _checks.tensor("X", X, ndim=2)
        if tuple(X.shape) != self.shape:
            raise ValueError(f"X: expected shape {self.shape}, got {tuple(X.shape)}")
        return self.apply(X)


@dataclass(frozen=True, eq=False)
class DenseMeasurements(MeasurementMap):
    r"""A map given explicitly by a stack ``A`` of shape ``(m, d1, d2)``.

    ``scale`` defaults to :math:`1/m`, the paper's loss
    :math:`f(L,R) = \frac1m \sum_i (\langle A_i, LR^\top\rangle - b_i)^2`.
    """

    A: torch.Tensor
    scale: float | None = None

    def __post_init__(self) -> None:
        A = _checks.tensor("A", self.A, ndim=3)
        if A.shape[0] < 1 or A.shape[1] < 1 or A.shape[2] < 1:
            raise ValueError(f"A: every dimension of (m, d1, d2) must be >= 1, got {tuple(A.shape)}")
        scale = 1.0 / A.shape[0] if self.scale is None else float(self.scale)
        if not 0 < scale < float("inf"):
            raise ValueError(f"scale: expected a positive finite loss weight, got {self.scale}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "scale", scale)

    @property
    def shape(self) -> tuple[int, int]:  # type: ignore[override]
        return (self.A.shape[1], self.A.shape[2])

    @property
    def num_measurements(self) -> int:  # type: ignore[override]
        return self.A.shape[0]

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        return torch.einsum("mij,ij->m", self.A, X)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return torch.einsum("m,mij->ij", y, self.A)

    def left_gram(self) -> torch.Tensor:
        return torch.einsum("mij,mkj->ik", self.A, self.A)

    def right_gram(self) -> torch.Tensor:
        return torch.einsum("mij,mik->jk", self.A, self.A)


@dataclass(frozen=True, eq=False)
class IdentityMeasurements(MeasurementMap):
    r"""The identity map: every entry is observed, :math:`A_{(a,b)} = e_a e_b^\top`.

    The loss weight is ``scale = 1``, so :math:`f(L,R) = \|LR^\top - M^\star\|_F^2` exactly as in
    Section 2 of the flat-minima paper; then :math:`G_1 = d_2 I` and :math:`G_2 = d_1 I`.
    """

    d1: int
    d2: int
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"
    scale: float = 1.0

    def __post_init__(self) -> None:
        _checks.positive_int("d1", self.d1)
        _checks.positive_int("d2", self.d2)

    @property
    def shape(self) -> tuple[int, int]:  # type: ignore[override]
        return (self.d1, self.d2)

    @property
    def num_measurements(self) -> int:  # type: ignore[override]
        return self.d1 * self.d2

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        return X.reshape(-1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y.reshape(self.d1, self.d2)

    def left_gram(self) -> torch.Tensor:
        return self.d2 * torch.eye(self.d1, dtype=self.dtype, device=self.device)

    def right_gram(self) -> torch.Tensor:
        return self.d1 * torch.eye(self.d2, dtype=self.dtype, device=self.device)
