r"""Iteratively reweighted least squares (IRLS-p) in its standard, eigendecomposition-based form.

- **Vectors** (Daubechies, DeVore, Fornasier and Güntürk): with weights
  :math:`w_i = (\beta_i^2 + \varepsilon)^{p/2 - 1}`,
  :math:`\beta^+ = \operatorname{argmin}\{\sum_i w_i\beta_i^2 : X\beta = y\}`.
- **Matrices** (Fornasier, Rauhut and Ward; Mohan and Fazel), completion form: with the weight
  :math:`W = (Z^\top Z/d_1 + \varepsilon I)^{p/2 - 1}` computed from a symmetric eigendecomposition,
  :math:`Z^+` minimises :math:`\operatorname{tr}(Z W Z^\top)` subject to
  :math:`P_\Omega(Z) = P_\Omega(Y)`, solved row by row through the kernel :math:`W^{-1}` (:mod:`recovery.rfm.kernel`).

:math:`p \in (0, 1]` smooths the Schatten-:math:`p` (or :math:`\ell_p`) quasi-norm, :math:`p = 1`
the nuclear (:math:`\ell_1`) norm, and :math:`p = 0` the log-determinant (:math:`\sum\log`).
lin-RFM with exponent :math:`\alpha` takes the same step with :math:`p = 2 - 4\alpha`
(:mod:`recovery.rfm.linrfm`); they differ in where the smoothing enters and in how the kernel is
computed (matrix products there, an eigendecomposition here).

**Smoothing schedule.** The smoothing is relative to the scale of the Gram matrix,
:math:`\varepsilon_t = e_t \operatorname{tr}(Z_t^\top Z_t/d_1)/d_2` (for vectors
:math:`e_t\operatorname{mean}(\beta_t^2)`), with :math:`e_0` = ``smoothing``, lowered by
``schedule`` (:mod:`recovery.rfm.schedules`). The default is geometric in the style of Mohan and
Fazel, :math:`e_{t+1} = \max(0.9\,e_t, e_{\min})`
(:class:`~recovery.rfm.schedules.GeometricSmoothing`); lin-RFM's adaptive schedule
(:class:`~recovery.rfm.schedules.AdaptiveSmoothing`) runs here too, and with it IRLS-:math:`p`
takes lin-RFM's steps. Stops when the relative change of the iterate falls below ``tol``; for
completion it is measured on the unobserved entries, as in :mod:`recovery.rfm.linrfm`.

**What IRLS minimises.** For a fixed smoothing :math:`\varepsilon > 0` each step decreases the
smoothed objective :func:`smoothed_objective` (a majorise-minimise argument: the penalty is concave
in :math:`\beta_i^2`, resp. in :math:`Z^\top Z`, so its tangent at the current iterate majorises
it, and the weighted least-squares step minimises that tangent over the constraint set), and its
fixed points are the stationary points of the objective on the constraint set.
"""

from __future__ import annotations

import torch

from recovery.core import validation
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
    spectral_power,
    weighted_min_norm,
)
from recovery.rfm.schedules import GEOMETRIC, SmoothingSchedule, require_schedule


def validate_p(p) -> float:
    """Return ``p`` as a float if it lies in [0, 1]."""
    p = float(p)
    if not 0 <= p <= 1:
        raise ValueError(f"p: expected a value in [0, 1] (0 is the log-det case), got {p}")
    return p


def smoothed_objective(x: torch.Tensor, p: float, epsilon: float) -> torch.Tensor:
    r"""Return the smoothed :math:`\ell_p` / Schatten-:math:`p` objective that IRLS-:math:`p` decreases.

    With :math:`\phi_p(s) = (s + \varepsilon)^{p/2}` for :math:`p > 0`, :math:`\log(s + \varepsilon)`
    for :math:`p = 0` and :math:`-(s + \varepsilon)^{p/2}` for :math:`p < 0` (concave and increasing
    in :math:`s \ge 0` for every :math:`p < 2`, with :math:`\phi_p'(s) \propto (s+\varepsilon)^{p/2-1}`):

    - a vector ``x`` :math:`= \beta`: :math:`\sum_i \phi_p(\beta_i^2)`;
    - a ``d1 x d2`` matrix ``x`` :math:`= Z`: :math:`\sum_j \phi_p(\lambda_j)` over the eigenvalues of
      :math:`G = Z^\top Z/d_1`, i.e. :math:`\operatorname{tr}\big((G + \varepsilon I)^{p/2}\big)`, resp.
      :math:`\log\det(G + \varepsilon I)`.

    ``epsilon`` is the absolute smoothing :math:`\varepsilon \ge 0` (``> 0`` needed when :math:`p \le 0`);
    eigenvalues within rounding of zero (:math:`d_2` machine epsilons times the largest) count as
    zero. Differentiable (``torch.autograd``) for :math:`\varepsilon > 0`, the gradient being
    :math:`\nabla_Z = \frac{2}{d_1} Z\,\phi_p'(G)` at every eigenvalue, those set to zero included.
    """
    x = validation.tensor("x", x)
    if x.ndim not in (1, 2):
        raise ValueError(f"x: expected a vector or a matrix, got {x.ndim} dimensions")
    p = float(p)
    if not p < 2:
        raise ValueError(f"p: expected a number below 2, got {p}")
    epsilon = float(epsilon)
    if not (0 < epsilon < float("inf") or (epsilon == 0 and p > 0)):
        raise ValueError(f"epsilon: expected a number > 0 (or 0 when p > 0), got {epsilon}")
    if x.ndim == 1:
        s = x.square()
    else:
        s = torch.linalg.eigvalsh(x.T @ x / x.shape[0])
        cutoff = s.shape[0] * torch.finfo(s.dtype).eps * float(s.detach().abs().max())
        # eigenvalues within rounding of zero take the value 0, their gradient passes unchanged
        s = s - torch.where(s > cutoff, torch.zeros_like(s), s).detach()
    if p > 0:
        return ((s + epsilon) ** (p / 2)).sum()
    if p == 0:
        return torch.log(s + epsilon).sum()
    return -((s + epsilon) ** (p / 2)).sum()


def completion_step(
    Z: torch.Tensor,
    observations: Observations,
    p: float,
    smoothing: float,
    *,
    groups: RowGroups | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> torch.Tensor:
    r"""One IRLS-p step from ``Z``: eigendecompose :math:`Z^\top Z/d_1 = V\Lambda V^\top`, take the
    kernel :math:`W^{-1} = V(\Lambda + \varepsilon I)^{1-p/2}V^\top`,
    :math:`\varepsilon` = ``smoothing`` times :math:`\operatorname{tr}(\Lambda)/d_2`, and interpolate."""
    d2 = observations.shape[1]
    G = agop(Z)
    kernel = spectral_power(G, smoothing * float(torch.trace(G)) / d2, 1 - p / 2)
    return interpolate_rows(kernel, observations, 0.0, groups=groups, memory_budget=memory_budget)


def regression_step(X: torch.Tensor, y: torch.Tensor, beta: torch.Tensor, p: float, smoothing: float) -> torch.Tensor:
    r"""One IRLS-p step for :math:`y = X\beta` with weights :math:`(\beta_i^2 + \varepsilon)^{p/2-1}`,
    :math:`\varepsilon` = ``smoothing`` times :math:`\operatorname{mean}(\beta^2)`."""
    square = beta.square()
    return weighted_min_norm(X, y, (square + smoothing * float(square.mean())) ** (1 - p / 2))


def irls_completion(
    observations: Observations,
    p: float = 0.0,
    *,
    smoothing: float = 1.0,
    schedule: SmoothingSchedule = GEOMETRIC,
    max_iter: int = 1000,
    tol: float = 1e-12,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    callback: Callback | None = None,
    record_every: int = 1,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Result:
    """Matrix completion by IRLS-p from the zero-filled data (schedule in the module docstring)."""
    p, schedule = validate_p(p), require_schedule(schedule)
    observations, groups = completion_data(observations, dtype, device)

    def step(Z, epsilon):
        return completion_step(Z, observations, p, epsilon, groups=groups, memory_budget=memory_budget)

    update, floor = schedule.rule(1 - p / 2, observations.values.dtype)
    return iterate(step, observations.zero_filled(), smoothing=smoothing, update=update, floor=floor,
                   max_iter=max_iter, tol=tol,
                   callback=callback, record_every=record_every, fixed=(observations.rows, observations.cols))


def irls_regression(
    X,
    y,
    p: float = 1.0,
    *,
    smoothing: float = 1.0,
    schedule: SmoothingSchedule = GEOMETRIC,
    max_iter: int = 500,
    tol: float = 1e-12,
    callback: Callback | None = None,
    record_every: int = 1,
) -> Result:
    """Sparse regression :math:`y = X\\beta` by IRLS-p from the minimum-norm solution."""
    p, schedule = validate_p(p), require_schedule(schedule)
    X, y, start = regression_data(X, y)
    update, floor = schedule.rule(1 - p / 2, X.dtype)
    return iterate(lambda beta, epsilon: regression_step(X, y, beta, p, epsilon), start, smoothing=smoothing,
                   update=update, floor=floor, max_iter=max_iter, tol=tol,
                   callback=callback, record_every=record_every)
