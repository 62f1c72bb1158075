r"""lin-RFM for matrix completion as published: plain NumPy, one Python-level solve per row.

This is the *baseline* that the batched implementation is benchmarked against. It follows the
method of the lin-RFM paper (Radhakrishnan, Belkin, Drusvyatskiy, PNAS 2025) and the behaviour of
its released script, written anew from that description, and adds nothing to its speed.

Convention (features :math:`x \mapsto M x`, so the kernel is :math:`M^2`). From an estimate
:math:`Z \in \mathbb{R}^{d_1\times d_2}`:

.. math::
   G = \tfrac{1}{d_1} Z^\top Z, \qquad M = G^{\alpha},

   K = M^2 = G^{2\alpha},

the power taken through a symmetric eigendecomposition of :math:`G` with negative (round-off)
eigenvalues clipped to zero. For :math:`\alpha = 1/2` the kernel is :math:`K = G` itself: no
eigendecomposition at all (the SVD-free method). Each row :math:`i` with observed columns
:math:`\Omega_i` and observed values :math:`y_i` is then refitted by kernel ridge regression,

.. math::
   (K_{\Omega_i\Omega_i} + \lambda I)\,a_i = y_i,

   z_i = a_i^\top K_{\Omega_i,:},

for invertible :math:`K` equivalently :math:`z_i = \arg\min_z \lambda\, z K^{-1} z^\top + \|z_{\Omega_i} - y_i\|^2`,
which for :math:`\lambda \to 0` is the minimum-:math:`K^{-1}`-norm row agreeing with the data. Observed
entries of the new estimate are finally overwritten with the data; rows with no observation are
zero. The iteration starts from :math:`M_0 = I`, so the first estimate is the zero-filled data.

The published schedule is an **oracle**: it reads the test error, the mean squared error over the
*unobserved* entries, which a real completion problem does not know. The ridge :math:`\lambda`
starts at ``5e-2`` and drops to ``1e-3`` once the test error is below ``0.1``, and the iteration
stops once the test error is below a target (or after ``max_iter`` iterations). This module keeps
that schedule because it reproduces the published runs; the oracle belongs to this baseline only
and is no usable regularisation or stopping rule for a real completion problem.
"""

from __future__ import annotations

import time

import numpy as np

from recovery.core import validation
from recovery.core.observations import Observations
from recovery.core.results import Result, Status


def published_step(Z: np.ndarray, observations: Observations, alpha: float, lam: float) -> np.ndarray:
    r"""Return the next lin-RFM estimate from ``Z``: kernel :math:`K = G^{2\alpha}`, row refits, data overwrite.

    ``observations`` (:class:`~recovery.core.observations.Observations`) supply the observed values
    :math:`Y_{ij}, (i, j) \in \Omega`; ``alpha`` is the exponent of :math:`M = G^\alpha` with
    :math:`G = Z^\top Z / d_1`, and ``lam`` the ridge :math:`\lambda \ge 0` (for ``lam = 0`` each
    :math:`K_{\Omega_i\Omega_i}` must be invertible).
    """
    Y, mask = _problem(observations)
    Z = _finite("Z", Z)
    if Z.shape != Y.shape:
        raise ValueError(f"Z: shape {Z.shape} differs from Y's {Y.shape}")
    alpha = validation.positive_number("alpha", alpha)
    lam = validation.nonnegative_number("lam", lam)
    return _refit_rows(_kernel(Z, alpha), Y, mask, _observed_columns(mask), lam)


def run_published(
    Y: np.ndarray,
    observations: Observations,
    alpha: float,
    *,
    lam: float = 5e-2,
    lam_final: float = 1e-3,
    switch_below: float = 0.1,
    target_mse: float = 1e-3,
    max_iter: int = 3000,
    record_every: int = 1,
) -> Result:
    r"""Run published lin-RFM on the ``d1 x d2`` matrix ``Y`` observed at ``observations``.

    ``observations`` (:class:`~recovery.core.observations.Observations` of ``Y``, on
    :math:`\Omega`) are the data; ``Y`` is the full ground truth, whose unobserved entries define
    the test error :math:`\frac{1}{|\Omega^c|}\sum_{(i,j)\notin\Omega}(Z_{ij} - Y_{ij})^2`,
    evaluated after every iteration. That test error drives the published (oracle) schedule: the
    ridge is ``lam`` until the test error falls below ``switch_below`` and ``lam_final`` from the
    next iteration on; the loop stops as soon as the test error is below ``target_mse``, or after
    ``max_iter`` iterations. Iteration 1 uses :math:`K = M_0^2 = I`; iteration :math:`t+1` uses
    :math:`K = G_t^{2\alpha}` from the estimate of iteration :math:`t` (see :func:`published_step`).

    Returns a :class:`~recovery.core.results.Result`: ``solution`` is the last iterate,
    ``iterations`` the number of row-refits performed (the first one gives the zero-filled data),
    ``status`` :attr:`~recovery.core.results.Status.TARGET` (``converged`` true) if the test error
    fell below ``target_mse`` and :attr:`~recovery.core.results.Status.MAX_ITER` otherwise;
    ``info["test_mse"]`` is the last iterate's test error and ``info["seconds"]`` the wall time of
    the whole loop; ``history`` holds dicts ``{"iteration", "test_mse", "seconds"}`` (elapsed)
    recorded every ``record_every`` iterations and at the last one.
    """
    data, mask = _problem(observations)
    Y = _finite("Y", Y)
    if Y.shape != data.shape:
        raise ValueError(f"Y: shape {Y.shape} differs from the observations' {data.shape}")
    alpha = validation.positive_number("alpha", alpha)
    lam = validation.nonnegative_number("lam", lam)
    lam_final = validation.nonnegative_number("lam_final", lam_final)
    switch_below = validation.nonnegative_number("switch_below", switch_below)
    target_mse = validation.positive_number("target_mse", target_mse)
    max_iter = validation.positive_int("max_iter", max_iter)
    record_every = validation.positive_int("record_every", record_every)
    if mask.all():
        raise ValueError("observations: every entry is observed, so the test error is undefined")
    hidden = ~mask
    truth = Y[hidden]
    columns = _observed_columns(mask)
    history = []
    start = time.perf_counter()
    K = np.eye(Y.shape[1])
    for iteration in range(1, max_iter + 1):
        Z = _refit_rows(K, data, mask, columns, lam)
        test_mse = float(np.mean((Z[hidden] - truth) ** 2))
        reached = test_mse < target_mse
        last = reached or iteration == max_iter
        if iteration % record_every == 0 or last:
            history.append({"iteration": iteration, "test_mse": test_mse, "seconds": time.perf_counter() - start})
        if last:
            break
        if test_mse < switch_below:
            lam = lam_final
        K = _kernel(Z, alpha)
    seconds = time.perf_counter() - start
    if reached:
        status = Status.TARGET
        message = f"test MSE {test_mse:.2g} below target_mse {target_mse:g} after {iteration} iterations"
    else:
        status = Status.MAX_ITER
        message = f"stopped at max_iter = {max_iter} with test MSE {test_mse:.2g} (target_mse {target_mse:g})"
    return Result(Z, reached, status, message, iteration, history, {"test_mse": test_mse, "seconds": seconds})


def _kernel(Z: np.ndarray, alpha: float) -> np.ndarray:
    r"""Return :math:`K = (G^{\alpha})^2 = G^{2\alpha}` with :math:`G = Z^\top Z / d_1`.

    For :math:`\alpha = 1/2` this is :math:`G` itself, formed without an eigendecomposition.
    """
    G = Z.T @ Z / Z.shape[0]
    if alpha == 0.5:
        return G
    eigenvalues, eigenvectors = np.linalg.eigh(G)
    powers = np.clip(eigenvalues, 0.0, None) ** (2 * alpha)
    return (eigenvectors * powers) @ eigenvectors.T


def _refit_rows(
    K: np.ndarray, Y: np.ndarray, mask: np.ndarray, columns: list[np.ndarray], lam: float
) -> np.ndarray:
    r"""Return rows :math:`z_i = a_i^\top K_{\Omega_i,:}` where :math:`(K_{\Omega_i\Omega_i} + \lambda I) a_i = y_i`.

    One linear solve per row; rows without observations are zero; observed entries are then
    overwritten with the data.
    """
    Z = np.zeros_like(Y)
    for i, observed in enumerate(columns):
        if observed.size == 0:
            continue
        system = K[np.ix_(observed, observed)] + lam * np.eye(observed.size)
        Z[i] = np.linalg.solve(system, Y[i, observed]) @ K[observed]
    Z[mask] = Y[mask]
    return Z


def _observed_columns(mask: np.ndarray) -> list[np.ndarray]:
    """Return, for each row, the indices of its observed columns."""
    return [np.flatnonzero(row) for row in mask]


def _problem(observations) -> tuple[np.ndarray, np.ndarray]:
    """Return the zero-filled data (float64) and the boolean mask of ``observations`` as NumPy arrays."""
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations, got {type(observations).__name__}")
    data = observations.zero_filled().detach().cpu().double().numpy()
    return data, observations.mask().cpu().numpy()


def _finite(name: str, value) -> np.ndarray:
    """Return ``value`` as a finite 2-d float64 array, raising ``ValueError`` naming ``name``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected a real numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected 2 dimensions, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains non-finite entries (nan or inf)")
    return array.astype(np.float64)
