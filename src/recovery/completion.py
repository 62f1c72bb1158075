r"""Complete your own matrix: one call from a NumPy, SciPy-sparse or torch matrix with gaps to a filled one.

:func:`complete` accepts the observed entries in the form they usually come in:

- a NumPy array (or anything ``numpy.asarray`` takes) with ``nan`` at the missing entries;
- a ``scipy.sparse`` matrix or array, whose *stored* entries are the observations (an explicitly
  stored zero is an observed zero);
- a torch tensor with ``nan`` at the missing entries, or with a boolean ``mask`` of the observed ones;
- a :class:`~recovery.core.observations.Observations`;

runs one of the library's methods, and returns a :class:`~recovery.core.results.Result` whose
``solution`` is the completed matrix as the same kind of array (a dense NumPy array for NumPy and
SciPy input, a tensor on the input's device for torch), in the input's floating dtype. Methods:

- ``"two-sided"`` (default; ours, not paper B's): the two-sided lin-RFM of
  :mod:`recovery.rfm.two_sided`, log-det reweighting on rows and columns with the rank adapted to
  the data; converges quadratically (about 20 iterations to a relative error of :math:`10^{-12}`
  on paper B's reference problem) and stops only when a low-rank matrix fits the data to ``tol``;
- ``"lin-rfm"``: lin-RFM of exponent ``alpha`` (paper B; :math:`\alpha = 1/2`, the
  SVD-free kernel :math:`K = G`), with momentum 0.9 (ours, not paper B's: it keeps the fixed
  points and cuts the iterations severalfold; :func:`recovery.rfm.linrfm.lin_rfm_completion`);
- ``"irls"``: IRLS-:math:`p` (:func:`recovery.rfm.irls.irls_completion`);
- ``"nuclear"``: nuclear-norm minimisation :math:`\min\|X\|_*` subject to the observations (ADMM);
- ``"flat"``: the flat relaxation :math:`\min\|D_1XD_2\|_*` of paper A, with :math:`D_1, D_2`
  the square roots of the row and column counts (every row and column must be observed).

**Defaults that converge.** ``tol`` defaults to :math:`10^{-10}` in float64 and :math:`10^{-4}`
in float32 for ``"two-sided"`` (the relative change and the low-rank part's relative residual on
the observed entries), and to :math:`\sqrt{\epsilon}` of the dtype for the others
(:math:`1.5\cdot10^{-8}` in float64, :math:`3.5\cdot10^{-4}` in float32): the relative change of
the iterate for the reweighted methods, the relative primal and dual residuals for the convex ones.
A run that stops at ``max_iter`` instead returns ``converged=False``, says so in ``message`` and
emits a :class:`~recovery.core.results.ConvergenceWarning`. The relative change bounds the
distance to the limit only up to the contraction factor of the iteration: the error of the
estimate is typically 10 to 1000 times ``tol`` (measured in ``tests/test_completion.py``).

**Sizes.** ``"two-sided"`` holds :math:`O((d_1 + d_2)k + |\Omega|)` numbers while it iterates and
the dense answer at the end (:func:`recovery.rfm.two_sided.two_sided_completion` with
``dense=False`` returns factors instead, for matrices too large to store). The other reweighted
methods hold a :math:`d_2\times d_2` kernel and a few
:math:`d_1\times d_2` iterates, the convex ones a few :math:`d_1\times d_2` iterates and their SVDs;
a problem whose dense storage exceeds ``memory_budget`` bytes is refused before any work, with
the size it would need.

:class:`MatrixCompleter` wraps :func:`complete` as a scikit-learn-style estimator
(``fit``, ``fit_transform``, ``n_iter_``, ``converged_``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy import sparse

from recovery.convex import weighted_nuclear_completion
from recovery.core import validation
from recovery.core.observations import Observations
from recovery.core.results import ConvergenceWarning, Result
from recovery.flat.flatness import flat_completion
from recovery.rfm.irls import irls_completion
from recovery.rfm.linrfm import lin_rfm_completion
from recovery.rfm.two_sided import DEFAULT_TOL, two_sided_completion

METHODS = ("two-sided", "lin-rfm", "irls", "nuclear", "flat")
#: Default ``max_iter`` per method: far above what the defaults need on the reference problems.
MAX_ITER = {"two-sided": 500, "lin-rfm": 5000, "irls": 5000, "nuclear": 20_000, "flat": 20_000}
#: Default ``memory_budget``: 4 GiB of dense storage.
MEMORY_BUDGET = 4 * 2**30
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def complete(
    data,
    mask=None,
    *,
    method: str = "two-sided",
    alpha: float = 0.5,
    p: float = 0.0,
    momentum: float = 0.9,
    tol: float | None = None,
    max_iter: int | None = None,
    memory_budget: int = MEMORY_BUDGET,
) -> Result:
    """Complete the matrix ``data`` from its observed entries (see the module docstring).

    ``mask`` (boolean, the shape of ``data``) marks the observed entries of a dense NumPy array or
    tensor; without it they are the entries that are not ``nan``. ``alpha`` is lin-RFM's
    exponent, ``p`` IRLS's, ``momentum`` lin-RFM's extrapolation (0 is the method as published).
    Raises ``ValueError`` naming the argument for anything it cannot complete exactly as given:
    complex, integer or boolean data, infinite observed values, no observed entry, a shape that is
    not two positive integers, an unknown method, a problem above ``memory_budget``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    observations, restore = _observations(data, mask)
    dtype = observations.values.dtype
    if tol is None:
        tol = DEFAULT_TOL[dtype] if method == "two-sided" else math.sqrt(torch.finfo(dtype).eps)
    tol = validation.positive_number("tol", tol)
    max_iter = MAX_ITER[method] if max_iter is None else validation.positive_int("max_iter", max_iter)
    _check_memory(method, observations.shape, dtype, validation.positive_int("memory_budget", memory_budget))
    if method == "two-sided":
        result = two_sided_completion(observations, tol=tol, max_iter=max_iter)
        name = "two-sided lin-RFM (ours)"
    elif method == "lin-rfm":
        result = lin_rfm_completion(observations, alpha, momentum=momentum, tol=tol, max_iter=max_iter)
        name = f"lin-RFM (alpha = {alpha:g}, momentum {momentum:g})"
    elif method == "irls":
        result = irls_completion(observations, p, tol=tol, max_iter=max_iter)
        name = f"IRLS-{p:g}"
    else:
        result = _convex(observations, method, tol, max_iter)
        name = "nuclear-norm minimisation (ADMM)" if method == "nuclear" else "the flat relaxation (ADMM)"
    message = f"{name}: {result.message}"
    converged = bool(result.converged)
    if not converged:
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return Result(restore(result.solution), converged, result.status, message, result.iterations,
                  result.history, result.info)


class MatrixCompleter:
    """A scikit-learn-style estimator over :func:`complete` (same arguments, same results).

    ``fit(X)`` completes ``X`` and stores ``completed_``, ``result_``, ``n_iter_`` and
    ``converged_``; ``fit_transform(X)`` returns ``completed_``. Completion is transductive: the
    estimator fills the matrix it was fitted on and has no ``transform`` for new data.
    """

    def __init__(self, method: str = "lin-rfm", **options: Any):
        self.method = method
        self.options = options

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The arguments given to :func:`complete`."""
        return {"method": self.method, **self.options}

    def set_params(self, **params: Any) -> MatrixCompleter:
        """Change arguments of :func:`complete`; returns the estimator."""
        self.method = params.pop("method", self.method)
        self.options.update(params)
        return self

    def fit(self, X, mask=None) -> MatrixCompleter:
        """Complete ``X`` (observed where ``mask`` is true, or where ``X`` is not ``nan``)."""
        self.result_ = complete(X, mask, method=self.method, **self.options)
        self.completed_ = self.result_.solution
        self.n_iter_ = self.result_.iterations
        self.converged_ = bool(self.result_.converged)
        return self

    def fit_transform(self, X, mask=None):
        """Complete ``X`` and return the completed matrix, as the same kind of array."""
        return self.fit(X, mask).completed_


def _observations(data, mask):
    """The observations in ``data`` (and ``mask``), and how to return a tensor as ``data``'s kind."""
    if isinstance(data, Observations):
        if mask is not None:
            raise ValueError("mask: an Observations object already says which entries are observed")
        _floating("data", data.values.dtype)
        return data, lambda Z: Z
    if isinstance(data, torch.Tensor):
        _floating("data", data.dtype)
        observed = _mask(mask, data.shape, lambda m: torch.as_tensor(m, device=data.device), ~torch.isnan(data))
        return _from_dense(data, observed), lambda Z: Z.to(device=data.device, dtype=data.dtype)
    if sparse.issparse(data):
        if mask is not None:
            raise ValueError("mask: a sparse matrix's stored entries are its observations; no mask is taken")
        _floating("data", data.dtype)
        coo = data.tocoo()
        shape = _shape(coo.shape)
        values = torch.as_tensor(np.asarray(coo.data))
        rows = torch.as_tensor(np.asarray(coo.row, dtype=np.int64))
        cols = torch.as_tensor(np.asarray(coo.col, dtype=np.int64))
        return _checked(rows, cols, values, shape), lambda Z: Z.cpu().numpy()
    array = np.asarray(data)
    _floating("data", array.dtype)
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    observed = _mask(mask, tensor.shape, lambda m: torch.from_numpy(np.asarray(m)), ~torch.isnan(tensor))
    return _from_dense(tensor, observed), lambda Z: Z.cpu().numpy().astype(array.dtype, copy=False)


def _floating(name: str, dtype) -> None:
    """Refuse anything but float32 and float64 data, saying why."""
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float32, torch.float64):
            return
        kind = "complex" if dtype.is_complex else "integer or boolean" if not dtype.is_floating_point else str(dtype)
    else:
        dtype = np.dtype(dtype)
        if dtype in _FLOATS:
            return
        kind = {"c": "complex", "i": "integer", "u": "integer", "b": "boolean"}.get(dtype.kind, str(dtype))
    raise ValueError(f"{name}: expected float32 or float64 values, got {kind} data ({dtype}); "
                     "convert it explicitly (complex parts are never dropped and integers never rounded silently)")


def _shape(shape) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"data: expected a matrix (2 dimensions), got shape {tuple(shape)}")
    return validation.matrix_shape("data", tuple(shape))


def _mask(mask, shape, as_tensor, default: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return default
    mask = as_tensor(mask)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask: expected a boolean array, got dtype {mask.dtype}")
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"mask: shape {tuple(mask.shape)} differs from the data's {tuple(shape)}")
    return mask


def _from_dense(matrix: torch.Tensor, observed: torch.Tensor) -> Observations:
    shape = _shape(matrix.shape)
    rows, cols = torch.nonzero(observed, as_tuple=True)
    return _checked(rows, cols, matrix[rows, cols], shape)


def _checked(rows, cols, values, shape) -> Observations:
    if values.numel() == 0:
        raise ValueError("data: no entry is observed")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("data: an observed entry is infinite or nan (mark missing entries with nan or the mask)")
    return Observations(rows, cols, values, shape)


def _check_memory(method: str, shape: tuple[int, int], dtype: torch.dtype, budget: int) -> None:
    d1, d2 = shape
    itemsize = torch.finfo(dtype).bits // 8
    if method == "two-sided":
        need, what = itemsize * 2 * d1 * d2, f"the dense {d1} x {d2} answer"
    elif method in ("lin-rfm", "irls"):
        need, what = itemsize * (4 * d1 * d2 + 2 * d2 * d2), f"a {d2} x {d2} kernel and {d1} x {d2} iterates"
    else:
        need, what = itemsize * 7 * d1 * d2, f"{d1} x {d2} iterates and their SVDs"
    if need > budget:
        raise ValueError(f"memory_budget: {method} on a {d1} x {d2} matrix needs about {need / 2**30:.3g} GiB "
                         f"of dense storage ({what}), above memory_budget = {budget / 2**30:.3g} GiB")


def _convex(observations: Observations, method: str, tol: float, max_iter: int) -> Result:
    """Nuclear-norm minimisation or the flat relaxation, as one instance of the batched ADMM."""
    if method == "flat":
        counts = {"row": observations.row_counts(), "column": observations.col_counts()}
        for name, count in counts.items():
            if not bool((count > 0).all()):
                raise ValueError(f"data: the flat relaxation needs every {name} observed; {name} "
                                 f"{int(torch.nonzero(count == 0)[0, 0])} has no observed entry")
        result = flat_completion(observations, tol=tol, max_iter=max_iter)
    else:
        result = weighted_nuclear_completion(observations, tol=tol, max_iter=max_iter)
    return Result(result.solution, result.converged[0], result.status, result.message, result.iterations,
                  info={key: value[0] for key, value in result.info.items()})
