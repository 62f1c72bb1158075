r"""Linear measurement maps :math:`\mathcal{A}: \mathbb{R}^{d_1\times d_2} \to \mathbb{R}^m`.

A map is given by matrices :math:`A_1, \dots, A_m` through

.. math::
   \mathcal{A}(X) = (\langle A_1, X\rangle, \dots, \langle A_m, X\rangle),

   \mathcal{A}^*(y) = \sum_i y_i A_i ,

together with the weight :math:`c` of the factorised loss
:math:`f(L, R) = c\,\|\mathcal{A}(LR^\top) - b\|^2` (``scale``). Besides ``apply`` and
``adjoint`` a map exposes its two Gram sums
:math:`G_1 = \sum_i A_i A_i^\top` (:math:`d_1\times d_1`) and
:math:`G_2 = \sum_i A_i^\top A_i` (:math:`d_2\times d_2`), which is all that Hessian traces need, and
the :math:`m\times m` Gram matrix :math:`\mathcal{A}\mathcal{A}^* = (\langle A_i, A_j\rangle)_{ij}` (``gram``) that
projections onto :math:`\{\mathcal{A}(X) = b\}` need; ``compose(left, right)`` is the map
:math:`X \mapsto \mathcal{A}(\mathrm{left}\,X\,\mathrm{right})` of a weighted program.
Structured maps compute all of them without forming the :math:`A_i`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from recovery.core import validation
from recovery.core.observations import Observations


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

    def gram(self) -> torch.Tensor:
        r"""Return the :math:`m\times m` Gram matrix :math:`\mathcal{A}\mathcal{A}^*`,
        :math:`(\langle A_i, A_j\rangle)_{ij}`.

        This fallback forms the stack :math:`A_i = \mathcal{A}^*(e_i)` (:math:`m d_1 d_2` numbers);
        structured maps override it with a formula in their parameters."""
        stack = _adjoint_stack(self).reshape(self.num_measurements, -1)
        return stack @ stack.T

    def compose(self, left: torch.Tensor, right: torch.Tensor) -> MeasurementMap:
        r"""Return the map :math:`X \mapsto \mathcal{A}(\mathrm{left}\, X\, \mathrm{right})`, whose
        matrices are :math:`\mathrm{left}^\top A_i\, \mathrm{right}^\top`, with the same ``scale``.

        ``left`` is ``d1 x d1`` and ``right`` ``d2 x d2``; a weighted program
        :math:`\min \|D_1 Y D_2\|_*` sees its data through ``compose(D1^{-1}, D2^{-1})``. This fallback
        forms the dense stack; structured maps stay structured."""
        stack = _adjoint_stack(self)
        return DenseMeasurements(left.T @ stack @ right.T, scale=self.scale)

    def measure(self, X) -> torch.Tensor:
        """Validate ``X`` against the map's shape and return its measurements ``b = A(X)``."""
        X = validation.tensor("X", X, ndim=2)
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
        A = validation.tensor("A", self.A, ndim=3)
        if A.shape[0] < 1 or A.shape[1] < 1 or A.shape[2] < 1:
            raise ValueError(
                f"A: every dimension of (m, d1, d2) must be >= 1, got {tuple(A.shape)}"
            )
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "scale", _loss_weight(self.scale, A.shape[0]))

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

    def gram(self) -> torch.Tensor:
        r""":math:`\langle A_i, A_j\rangle` from the stack itself."""
        flat = self.A.reshape(self.A.shape[0], -1)
        return flat @ flat.T

    def compose(self, left: torch.Tensor, right: torch.Tensor) -> DenseMeasurements:
        return DenseMeasurements(left.T @ self.A @ right.T, scale=self.scale)


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
        validation.positive_int("d1", self.d1)
        validation.positive_int("d2", self.d2)

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

    def gram(self) -> torch.Tensor:
        """The unit matrices are orthonormal: :math:`I_{d_1 d_2}`."""
        return torch.eye(self.d1 * self.d2, dtype=self.dtype, device=self.device)


def _loss_weight(scale: float | None, m: int) -> float:
    """Return the loss weight: ``1/m`` by default, otherwise ``scale`` checked positive and finite."""
    weight = 1.0 / m if scale is None else float(scale)
    if not 0 < weight < float("inf"):
        raise ValueError(f"scale: expected a positive finite loss weight, got {scale}")
    return weight


def _adjoint_stack(op: MeasurementMap) -> torch.Tensor:
    r"""The stack :math:`(\mathcal{A}^*(e_1), \dots, \mathcal{A}^*(e_m))` of any map, ``(m, d1, d2)``."""
    dtype = getattr(op, "dtype", torch.float64)
    unit = torch.eye(op.num_measurements, dtype=dtype)
    return torch.stack([op.adjoint(e) for e in unit])


def _vectors(name: str, value) -> torch.Tensor:
    """Validate a non-empty ``(m, d)`` stack of vectors."""
    value = validation.tensor(name, value, ndim=2)
    if value.shape[0] < 1 or value.shape[1] < 1:
        raise ValueError(
            f"{name}: both dimensions of (m, d) must be >= 1, got {tuple(value.shape)}"
        )
    return value


@dataclass(frozen=True, eq=False)
class BilinearMeasurements(MeasurementMap):
    r"""Rank-one measurements :math:`A_i = a_i b_i^\top` given by ``a`` (``(m, d1)``) and ``b`` (``(m, d2)``).

    .. math::
       \mathcal{A}(X)_i = a_i^\top X b_i,

       \mathcal{A}^*(y) = \sum_i y_i a_i b_i^\top = a^\top \operatorname{diag}(y)\, b,

       G_1 = \sum_i \|b_i\|^2 a_i a_i^\top,

       G_2 = \sum_i \|a_i\|^2 b_i b_i^\top .

    ``apply`` is the row-wise sum of :math:`(aX) \odot b`: :math:`O(m d_1 d_2)` time and
    :math:`O(m(d_1+d_2))` extra memory; the :math:`A_i` are never formed. ``scale`` defaults to
    :math:`1/m` as for :class:`DenseMeasurements` (bilinear sensing, Theorem 4.11).
    """

    a: torch.Tensor
    b: torch.Tensor
    scale: float | None = None

    def __post_init__(self) -> None:
        a = _vectors("a", self.a)
        b = _vectors("b", self.b)
        validation.same_rows("b", b, a.shape[0], "the m rows of a")
        if b.dtype != a.dtype or b.device != a.device:
            raise ValueError(
                f"b: dtype/device {b.dtype}/{b.device} differ from a's {a.dtype}/{a.device}"
            )
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "scale", _loss_weight(self.scale, a.shape[0]))

    @property
    def shape(self) -> tuple[int, int]:  # type: ignore[override]
        return (self.a.shape[1], self.b.shape[1])

    @property
    def num_measurements(self) -> int:  # type: ignore[override]
        return self.a.shape[0]

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        return torch.sum((self.a @ X) * self.b, dim=1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return (self.a * y[:, None]).T @ self.b

    def left_gram(self) -> torch.Tensor:
        weights = torch.sum(self.b * self.b, dim=1)
        return (self.a * weights[:, None]).T @ self.a

    def right_gram(self) -> torch.Tensor:
        weights = torch.sum(self.a * self.a, dim=1)
        return (self.b * weights[:, None]).T @ self.b

    def gram(self) -> torch.Tensor:
        r""":math:`\langle a_ib_i^\top, a_jb_j^\top\rangle = (a_i\cdot a_j)(b_i\cdot b_j)`:
        :math:`O(m^2(d_1+d_2))` time, no :math:`A_i` formed."""
        return (self.a @ self.a.T) * (self.b @ self.b.T)

    def compose(self, left: torch.Tensor, right: torch.Tensor) -> BilinearMeasurements:
        r"""Bilinear again: :math:`\mathrm{left}^\top a_i b_i^\top \mathrm{right}^\top` is the
        outer product of :math:`\mathrm{left}^\top a_i` and :math:`\mathrm{right}\, b_i`."""
        return BilinearMeasurements(self.a @ left, self.b @ right.T, scale=self.scale)


@dataclass(frozen=True, eq=False)
class CompletionMeasurements(MeasurementMap):
    r"""The measurement map of observed entries: :math:`A_t = e_{r_t} e_{c_t}^\top` at the
    coordinates ``(rows[t], cols[t])`` of an :class:`~recovery.core.observations.Observations`.

    .. math::
       \mathcal{A}(X)_t = X_{r_t c_t},

       \mathcal{A}^*(y) = \sum_t y_t\, e_{r_t} e_{c_t}^\top,

       G_1 = \operatorname{diag}(n^{\mathrm{row}}),

       G_2 = \operatorname{diag}(n^{\mathrm{col}}),

       \mathcal{A}\mathcal{A}^* = I_m ,

    with :math:`n^{\mathrm{row}}_a = \#\{t : r_t = a\}` and :math:`n^{\mathrm{col}}_b = \#\{t : c_t = b\}`.
    The map is built from the observations (``CompletionMeasurements(observations)``) and does no
    index validation of its own: :class:`~recovery.core.observations.Observations` already
    guarantees distinct, in-range coordinates, at least one. Its data are
    ``observations.values`` (:math:`b = \mathcal{A}(M)` for the observed matrix :math:`M`), and
    :meth:`observe` gives the observations of another matrix at the same coordinates.
    ``scale`` defaults to :math:`1/m` and ``dtype`` is the dtype of the Gram sums.

    A row (column) with no observation has :math:`n^{\mathrm{row}}_a = 0`, so
    :math:`D_1 = (\tfrac{c}{d_2} G_1)^{1/2}` (:math:`D_2`) of
    :func:`recovery.flat.flatness.rescaling_matrices` is singular. The map returns that singular
    :math:`D` as it is; callers detect the case with :meth:`unobserved_rows` and
    :meth:`unobserved_cols`.
    """

    observations: Observations
    scale: float | None = None
    dtype: torch.dtype = torch.float64

    def __post_init__(self) -> None:
        if not isinstance(self.observations, Observations):
            raise ValueError(
                f"observations: expected an Observations, got {type(self.observations).__name__}"
            )
        object.__setattr__(self, "scale", _loss_weight(self.scale, self.observations.count))

    @property
    def rows(self) -> torch.Tensor:
        """Row indices :math:`r_t` of the observations (sorted row-major)."""
        return self.observations.rows

    @property
    def cols(self) -> torch.Tensor:
        """Column indices :math:`c_t` of the observations."""
        return self.observations.cols

    @property
    def shape(self) -> tuple[int, int]:  # type: ignore[override]
        return self.observations.shape

    @property
    def num_measurements(self) -> int:  # type: ignore[override]
        return self.observations.count

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        return X[self.rows, self.cols]

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        zeros = torch.zeros(self.shape, dtype=y.dtype, device=y.device)
        return zeros.index_put((self.rows, self.cols), y, accumulate=True)

    def observe(self, M) -> Observations:
        r"""Return the observations :math:`M_{r_t c_t}` of the ``d1 x d2`` matrix ``M`` at this map's coordinates."""
        return Observations(self.rows, self.cols, self.measure(M), self.shape)

    def row_counts(self) -> torch.Tensor:
        r"""Return :math:`n^{\mathrm{row}}`, the number of observations in each row (int64)."""
        return self.observations.row_counts()

    def col_counts(self) -> torch.Tensor:
        r"""Return :math:`n^{\mathrm{col}}`, the number of observations in each column (int64)."""
        return self.observations.col_counts()

    def unobserved_rows(self) -> torch.Tensor:
        """Return the indices of rows without observation (where ``D1`` is singular), ascending."""
        return torch.nonzero(self.row_counts() == 0).flatten()

    def unobserved_cols(self) -> torch.Tensor:
        """Return the indices of columns without observation (where ``D2`` is singular), ascending."""
        return torch.nonzero(self.col_counts() == 0).flatten()

    def left_gram(self) -> torch.Tensor:
        return torch.diag(self.row_counts().to(self.dtype))

    def right_gram(self) -> torch.Tensor:
        return torch.diag(self.col_counts().to(self.dtype))

    def gram(self) -> torch.Tensor:
        """:math:`\\langle A_s, A_t\\rangle = [s = t]`: the coordinates are distinct, so the Gram matrix is :math:`I_m`."""
        return torch.eye(self.num_measurements, dtype=self.dtype, device=self.rows.device)


@dataclass(frozen=True, eq=False)
class SymmetricRankOneMeasurements(MeasurementMap):
    r"""Symmetric rank-one measurements :math:`A_i = x_i x_i^\top` given by ``x`` (``(m, d)``).

    .. math::
       \mathcal{A}(X)_i = x_i^\top X x_i,

       \mathcal{A}^*(y) = \sum_i y_i x_i x_i^\top = x^\top \operatorname{diag}(y)\, x,

       G_1 = G_2 = \sum_i \|x_i\|^2 x_i x_i^\top .

    The map of the quadratic-activation network and of covariance estimation
    (Theorem 1.4); shape ``(d, d)`` and ``scale`` defaulting to :math:`1/m`. Factors enter
    through the generic :math:`(L, R)` interface; the network's :math:`X = U_1U_1^\top - U_2U_2^\top`
    is the case :math:`L = [U_1, U_2]`, :math:`R = [U_1, -U_2]`.
    """

    x: torch.Tensor
    scale: float | None = None

    def __post_init__(self) -> None:
        x = _vectors("x", self.x)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "scale", _loss_weight(self.scale, x.shape[0]))

    @property
    def shape(self) -> tuple[int, int]:  # type: ignore[override]
        return (self.x.shape[1], self.x.shape[1])

    @property
    def num_measurements(self) -> int:  # type: ignore[override]
        return self.x.shape[0]

    def apply(self, X: torch.Tensor) -> torch.Tensor:
        return torch.sum((self.x @ X) * self.x, dim=1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return (self.x * y[:, None]).T @ self.x

    def left_gram(self) -> torch.Tensor:
        weights = torch.sum(self.x * self.x, dim=1)
        return (self.x * weights[:, None]).T @ self.x

    def right_gram(self) -> torch.Tensor:
        return self.left_gram()

    def gram(self) -> torch.Tensor:
        r""":math:`\langle x_ix_i^\top, x_jx_j^\top\rangle = (x_i\cdot x_j)^2`: :math:`O(m^2 d)` time."""
        return (self.x @ self.x.T).square()

    def compose(self, left: torch.Tensor, right: torch.Tensor) -> MeasurementMap:
        r""":math:`\mathrm{left}^\top x_i x_i^\top \mathrm{right}^\top`: symmetric rank-one in
        :math:`\mathrm{left}^\top x_i` when :math:`\mathrm{right} = \mathrm{left}^\top` (symmetric weights
        :math:`D_1 = D_2`), bilinear otherwise."""
        if torch.equal(right, left.T):
            return SymmetricRankOneMeasurements(self.x @ left, scale=self.scale)
        return BilinearMeasurements(self.x @ left, self.x @ right.T, scale=self.scale)


def dense_stack(op: MeasurementMap) -> torch.Tensor:
    r"""Return the explicit stack :math:`(A_1, \dots, A_m)`, ``(m, d1, d2)``, of a sensing, bilinear
    (:math:`a_ib_i^\top`) or symmetric rank-one (:math:`x_ix_i^\top`) map, for solvers that need it.

    Completion maps are index based and have no use for a dense stack; they raise ``ValueError``.
    """
    if isinstance(op, DenseMeasurements):
        return op.A
    if isinstance(op, BilinearMeasurements):
        return op.a[:, :, None] * op.b[:, None, :]
    if isinstance(op, SymmetricRankOneMeasurements):
        return op.x[:, :, None] * op.x[:, None, :]
    raise ValueError(f"op: expected a dense, bilinear or symmetric rank-one map, got {type(op).__name__}")


def gaussian_sensing(
    m: int, d1: int, d2: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> DenseMeasurements:
    r"""Draw matrix sensing :math:`A_i` with iid :math:`N(0,1)` entries (Theorem 4.10), ``scale = 1/m``."""
    shape = (
        validation.positive_int("m", m),
        validation.positive_int("d1", d1),
        validation.positive_int("d2", d2),
    )
    return DenseMeasurements(
        torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)
    )


def bilinear_sensing(
    m: int, d1: int, d2: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> BilinearMeasurements:
    r"""Draw :math:`A_i = a_i b_i^\top` with :math:`a_i, b_i` iid standard Gaussian (Theorem 4.11)."""
    validation.positive_int("m", m)
    validation.positive_int("d1", d1)
    validation.positive_int("d2", d2)
    a = torch.randn(m, d1, generator=generator, dtype=dtype, device=generator.device)
    b = torch.randn(m, d2, generator=generator, dtype=dtype, device=generator.device)
    return BilinearMeasurements(a, b)


def bernoulli_completion(
    d1: int, d2: int, p: float, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> CompletionMeasurements:
    r"""Observe each entry of a ``d1 x d2`` matrix independently with probability :math:`p \in (0, 1]`.

    The number of observations :math:`m` is random (binomial); ``scale = 1/m``. The map's
    observations carry zero values (only the drawn coordinates matter; :meth:`CompletionMeasurements.observe`
    observes a matrix there). Rows or columns
    may go unobserved (see :class:`CompletionMeasurements`); a draw with no observation at all
    raises ``ValueError``.
    """
    validation.positive_int("d1", d1)
    validation.positive_int("d2", d2)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
        raise ValueError(f"p: expected an observation probability in (0, 1], got {p!r}")
    observed = torch.rand(d1, d2, generator=generator, device=generator.device) < p
    rows, cols = torch.nonzero(observed, as_tuple=True)
    if rows.numel() == 0:
        raise ValueError(f"p: no entry of the {d1} x {d2} matrix was observed with p = {p}")
    pattern = Observations(rows, cols, torch.zeros(rows.shape, dtype=dtype, device=rows.device), (d1, d2))
    return CompletionMeasurements(pattern, dtype=dtype)


def gaussian_quadratic(
    m: int, d: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> SymmetricRankOneMeasurements:
    r"""Draw :math:`A_i = x_i x_i^\top` with :math:`x_i \sim N(0, I_d)` iid (Theorem 1.4)."""
    validation.positive_int("m", m)
    validation.positive_int("d", d)
    return SymmetricRankOneMeasurements(
        torch.randn(m, d, generator=generator, dtype=dtype, device=generator.device)
    )
