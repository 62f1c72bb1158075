r"""Linear Recursive Feature Machines (lin-RFM) for sparse regression and matrix completion.

Convention (paper B; the released code's): start from :math:`M_0 = I`. At step :math:`t` fit the
minimum-norm linear predictor on the features :math:`x \mapsto M_t x`, i.e. kernel regression with
the kernel :math:`K_t = M_t^2`, then set :math:`M_{t+1} = G_t^{\alpha}` where :math:`G_t` is the
average gradient outer product (AGOP) of the fitted predictor. Hence :math:`K_{t+1} = G_t^{2\alpha}`,
smoothed as below.

- **Sparse regression** (:math:`X \in \mathbb{R}^{n\times d}`, :math:`y = X\beta^\star`): the AGOP is
  :math:`\operatorname{diag}(\beta_t^2)`, so
  :math:`K = \operatorname{diag}\big((\beta_t^2 + \lambda_t)^{2\alpha}\big)` and
  :math:`\beta_{t+1} = K X^\top (X K X^\top)^{-1} y`, the minimiser of
  :math:`\sum_i \beta_i^2 / K_{ii}` subject to :math:`X\beta = y`.
- **Matrix completion** (observed :math:`Y_{ij}`, :math:`(i,j)\in\Omega`, estimate
  :math:`Z \in \mathbb{R}^{d_1\times d_2}`): the AGOP is :math:`G = Z^\top Z / d_1`, each row is
  the kernel interpolant :math:`z_i = K_{:,\Omega_i}K_{\Omega_i\Omega_i}^{-1} y_i`, :math:`K = (G + \lambda_t I)^{2\alpha}`,
  with observed entries written back (:mod:`recovery.rfm.kernel`), i.e. the minimiser of
  :math:`\operatorname{tr}(Z K^{-1} Z^\top)` subject to :math:`P_\Omega(Z) = P_\Omega(Y)`.

With :math:`p = 2 - 4\alpha` one step is one step of IRLS-p (:mod:`recovery.rfm.irls`): weights
:math:`K^{-1} = G^{(p-2)/2}`. :math:`\alpha = 1/4` is the nuclear norm (:math:`p = 1`),
:math:`\alpha = 1/2` log-det (:math:`p = 0`). When :math:`2\alpha` is an integer the kernel
:math:`G^{2\alpha}` is a matrix product (:math:`\alpha = 1/2`: :math:`K = G` itself), the
**SVD-free** path; other exponents use a symmetric eigendecomposition.

**Where the smoothing goes.** The kernel is :math:`K_t = (G_t + \lambda_t I)^{2\alpha}`: the
smoothing sits inside the power, where IRLS puts it, so that one lin-RFM step *is* one IRLS-:math:`p`
step of the smoothed objective :math:`\operatorname{tr}\,\phi_p(G)` at every :math:`\alpha`
(:func:`recovery.rfm.irls.smoothed_objective`), which therefore decreases from step to step (paper
B, claim 2). For vectors it is the same placement, :math:`(\beta_t^2 + \lambda_t)^{2\alpha}`. Paper B's
released code adds a ridge outside the power instead, :math:`G^{2\alpha} + \lambda I`
(:mod:`recovery.rfm.published` keeps that form); the two coincide at :math:`\alpha = 1/2`, the
SVD-free method, and differ by :math:`O(\lambda)` elsewhere.

**Smoothing schedule** (uses observed data only; no test error is ever seen). The smoothing is
relative to the scale of the AGOP: :math:`\lambda_t = \varepsilon_t \operatorname{tr}(G_t)/d_2`
(for vectors :math:`\varepsilon_t \operatorname{mean}(\beta_t^2)`), with
:math:`\varepsilon_0` = ``smoothing``, and ``schedule`` (:mod:`recovery.rfm.schedules`) lowers it.
The default, :class:`~recovery.rfm.schedules.AdaptiveSmoothing` with factor 10, sets the kernel's
relative smoothing from the progress of the iteration,
:math:`\varepsilon_{t+1}^{2\alpha} = \min(\varepsilon_t^{2\alpha}, 10\,\delta_t)` down to a floor,
where :math:`\delta_t = \|F(Z_t) - Z_t\|_F / \|P_{\Omega^c} F(Z_t)\|_F` is the relative change
made by the lin-RFM map :math:`F` on the unobserved entries (the observed ones are the data at every
step; measured against the whole iterate, one large observed entry would make any change look
small). For vectors :math:`\delta_t` is the relative change of :math:`\beta`. IRLS's geometric
schedule (:class:`~recovery.rfm.schedules.GeometricSmoothing`) runs here too, and lin-RFM's runs
in IRLS: under one schedule the two methods take the same steps. The iteration stops when
:math:`\delta_t <` ``tol``.

**Momentum** (optional, ``momentum`` :math:`= \mu \in [0, 1)`): the next point is extrapolated,
:math:`Z_{t+1} = F(Z_t) + \mu\,(F(Z_t) - F(Z_{t-1}))`. The fixed points are those of plain
lin-RFM (:math:`\mu = 0`, the method as published, and the default); with large smoothing the plain
map contracts slowly, and :math:`\mu \approx 0.9` cuts the iterations severalfold (see the
benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from recovery.core.iteration import Callback, iterate
from recovery.core.observations import Observations
from recovery.core.results import Result
from recovery.rfm.kernel import (
    DEFAULT_MEMORY_BUDGET,
    RowGroups,
    agop,
    completion_data,
    interpolate_rows,
    regression_data,
    shifted_power,
    weighted_min_norm,
)
from recovery.rfm.schedules import ADAPTIVE, SmoothingSchedule, require_schedule


def completion_step(
    Z: torch.Tensor,
    observations: Observations,
    alpha: float,
    smoothing: float,
    *,
    groups: RowGroups | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> torch.Tensor:
    r"""One lin-RFM step :math:`F(Z)`: row-wise interpolation with the kernel
    :math:`K = (G + \lambda I)^{2\alpha}`, :math:`G = Z^\top Z/d_1`,
    :math:`\lambda = \varepsilon\,\operatorname{tr}(G)/d_2` (``smoothing`` is :math:`\varepsilon`;
    ``0`` needs a positive definite :math:`G`). This is the IRLS-:math:`p` step of
    :func:`recovery.rfm.irls.completion_step` with :math:`p = 2 - 4\alpha`, computed by products
    when :math:`2\alpha` is an integer."""
    d2 = observations.shape[1]
    G = agop(Z)
    shift = smoothing * float(torch.trace(G)) / d2
    if 2 * alpha == 1:  # K = G + shift I: the shift is added to the gathered blocks, G is not copied
        return interpolate_rows(G, observations, shift, groups=groups, memory_budget=memory_budget)
    return interpolate_rows(shifted_power(G, shift, 2 * alpha), observations, 0.0, groups=groups,
                            memory_budget=memory_budget)


def regression_step(X: torch.Tensor, y: torch.Tensor, beta: torch.Tensor, alpha: float, smoothing: float) -> torch.Tensor:
    r"""One lin-RFM step for :math:`y = X\beta`: :math:`\beta^+ = KX^\top(XKX^\top)^{-1}y` with
    :math:`K = \operatorname{diag}((\beta^2 + \varepsilon\operatorname{mean}(\beta^2))^{2\alpha})`."""
    square = beta.square()
    return weighted_min_norm(X, y, (square + smoothing * float(square.mean())) ** (2 * alpha))


def validate_exponent(alpha) -> float:
    """Return ``alpha`` as a float if it is a finite exponent > 0."""
    alpha = float(alpha)
    if not 0 < alpha < float("inf"):
        raise ValueError(f"alpha: expected a finite exponent > 0, got {alpha}")
    return alpha


def irls_exponent(alpha: float) -> float:
    r"""Return :math:`p = 2 - 4\alpha`: lin-RFM with exponent ``alpha`` is IRLS-:math:`p`, the
    reweighting of the smoothed :math:`\ell_p` / Schatten-:math:`p` penalty (paper B, claim 2;
    :math:`p = 0` is the logarithm, :math:`\alpha = 1/4` gives :math:`\ell_1` / the nuclear norm)."""
    return 2 - 4 * validate_exponent(alpha)


def lin_rfm_completion(
    observations: Observations,
    alpha: float = 0.5,
    *,
    smoothing: float = 1.0,
    schedule: SmoothingSchedule = ADAPTIVE,
    momentum: float = 0.0,
    max_iter: int = 1000,
    tol: float = 1e-12,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    callback: Callback | None = None,
    record_every: int = 1,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Result:
    r"""Complete a ``d1 x d2`` matrix from ``observations`` with lin-RFM of exponent ``alpha``.

    Starts from the zero-filled data (the iterate after :math:`M_0 = I`) and applies
    :func:`completion_step` with the schedule of the module docstring. Rows without observations
    are predicted as zero, and so are columns without observations (their column of :math:`G`
    starts, and stays, zero): nothing in the data speaks for them. ``callback(iteration, Z)`` may
    return a dict of metrics for the history. Runs on ``device`` in ``dtype`` (defaults: those of the observations).
    """
    alpha, schedule = validate_exponent(alpha), require_schedule(schedule)
    observations, groups = completion_data(observations, dtype, device)

    def step(Z, epsilon):
        return completion_step(Z, observations, alpha, epsilon, groups=groups, memory_budget=memory_budget)

    update, floor = schedule.rule(2 * alpha, observations.values.dtype)
    return iterate(step, observations.zero_filled(), smoothing=smoothing, update=update, floor=floor,
                   momentum=momentum, max_iter=max_iter, tol=tol, callback=callback, record_every=record_every,
                   fixed=(observations.rows, observations.cols))


def lin_rfm_regression(
    X,
    y,
    alpha: float = 0.5,
    *,
    smoothing: float = 1.0,
    schedule: SmoothingSchedule = ADAPTIVE,
    momentum: float = 0.0,
    max_iter: int = 500,
    tol: float = 1e-12,
    callback: Callback | None = None,
    record_every: int = 1,
) -> Result:
    r"""Sparse linear regression :math:`y = X\beta` (:math:`n < d`) by lin-RFM of exponent ``alpha``.

    Starts from the minimum-norm solution (:math:`M_0 = I`) and applies :func:`regression_step`
    with the schedule of the module docstring.
    """
    alpha, schedule = validate_exponent(alpha), require_schedule(schedule)
    X, y, start = regression_data(X, y)
    update, floor = schedule.rule(2 * alpha, X.dtype)
    return iterate(lambda beta, epsilon: regression_step(X, y, beta, alpha, epsilon), start, smoothing=smoothing,
                   update=update, floor=floor, momentum=momentum, max_iter=max_iter, tol=tol, callback=callback,
                   record_every=record_every)


def continuation(
    observations: Observations,
    alpha: float,
    smoothings: Sequence[float],
    *,
    momentum: float = 0.9,
    max_iter: int = 2000,
    tol: float = 1e-11,
) -> list[Result]:
    r"""lin-RFM completion at each fixed smoothing of ``smoothings`` in turn (warm started).

    Stage :math:`j` iterates the lin-RFM map :math:`F_{\varepsilon_j}` of
    :func:`completion_step` with :math:`\varepsilon_j` held fixed (momentum
    ``momentum``) from the previous stage's end (the first from the zero-filled data, as
    :func:`lin_rfm_completion`), until the relative change is below ``tol`` or
    ``max_iter`` steps. Returns one result per stage; the last solution approximates the
    :math:`\varepsilon \to 0` limit.
    """
    alpha = validate_exponent(alpha)
    if not smoothings or any(not eps > 0 for eps in smoothings):
        raise ValueError(f"smoothings: expected a non-empty sequence of positive numbers, got {smoothings!r}")
    observations, groups = completion_data(observations)
    Z = observations.zero_filled()
    results = []
    for eps in smoothings:
        result = iterate(lambda Z, e: completion_step(Z, observations, alpha, e, groups=groups), Z,
                         smoothing=eps, update=lambda e, change: e, momentum=momentum, max_iter=max_iter,
                         tol=tol, callback=None, record_every=max_iter, fixed=(observations.rows, observations.cols))
        results.append(result)
        Z = result.solution
    return results
