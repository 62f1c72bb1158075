r"""Gradient descent on the factorised sensing loss, plain or pulled towards flat minima.

For a measurement map :math:`\mathcal{A}` with loss weight :math:`c` and data :math:`b`, both
methods minimise, from a given start :math:`\theta_0 = (L_0, R_0)`,

.. math::
   F_t(L, R) = f(L, R) + \lambda_t\, T(L, R),

   f(L,R) = c\,\|\mathcal{A}(LR^\top) - b\|^2,

   T(L, R) = 2\big(\|D_1L\|_F^2 + \|D_2R\|_F^2\big),

where :math:`T` is the scaled Hessian trace of :math:`f` (Lemma 3.1 of the flat-minima paper, its
flatness measure; :math:`D_1, D_2` from :func:`recovery.flat.flatness.rescaling_matrices`), with gradient
:math:`\nabla T = (4D_1^2L,\ 4D_2^2R)`. :func:`gradient_descent` is the case :math:`\lambda_t = 0`;
:func:`trace_penalised_descent` takes :math:`\lambda_t = \lambda_0 q^t`, a homotopy that first pulls
towards a small scaled trace and then lets the pull vanish, so that the iterates end on the
solution set :math:`\{\mathcal{A}(LR^\top) = b\}` near its flattest point.

Why the trace and not another sharpness measure: :math:`f` is a polynomial of degree four in
:math:`\theta`, so for Gaussian weight noise :math:`\xi` with entries of variance
:math:`\sigma^2/d_1` on :math:`L` and :math:`\sigma^2/d_2` on :math:`R`,

.. math::
   \mathbb{E}_\xi\, f(\theta + \xi) = f(\theta) + \tfrac{\sigma^2}{2}\, T(\theta) + C_\sigma

exactly (the third-order term has mean zero and the fourth derivative is constant). The penalised
loss with :math:`\lambda = \sigma^2/2` is the loss averaged over random weight perturbations, up
to a constant, and the homotopy anneals the noise to zero. Sharpness-aware minimisation targets
the largest Hessian eigenvalue instead, not the trace that the paper's theorems are about.

**Step size.** Backtracking with Armijo's sufficient decrease: the trial step is 1.25 times the
last accepted one (``1`` at the start) and is halved until
:math:`F_t(\theta_t - \eta\nabla F_t) \le F_t(\theta_t) - \frac{\eta}{2}\|\nabla F_t(\theta_t)\|^2`.
Wherever :math:`\|\nabla^2 F_t\| \le S` along the step, every :math:`\eta \le 1/S` passes, so the
accepted step is at least :math:`1/(2S)`, adapts to the local curvature in both directions, and
every step decreases :math:`F_t` (and :math:`F_{t+1} \le F_t` pointwise since :math:`\lambda_t`
decreases): the iterates cannot blow up. If 60 halvings find no decrease (overflow, non-finite
values), ``FloatingPointError`` names the iteration.

**Stopping.** Both stop when the loss reaches :math:`f \le \text{tol}^2 f(0, 0)`, i.e. the
relative residual :math:`\|\mathcal{A}(LR^\top) - b\|/\|b\|` is at most ``tol``, or after
``max_iter`` steps with ``converged = False``. The result's ``solution`` is the product
:math:`LR^\top`; its ``info`` holds the factors ``"L"``, ``"R"`` and the final ``"loss"`` :math:`f`.
"""

from __future__ import annotations

import math

import torch

from recovery.core import validation
from recovery.core.operators import MeasurementMap
from recovery.core.results import Result, Status
from recovery.flat import flatness

_HALVINGS = 60
_GROWTH = 1.25


class TracePenalisedLoss:
    r"""The objective :math:`F(L, R) = f(L, R) + \lambda\, T(L, R)` of one map and data.

    :math:`D_1^2, D_2^2` are computed once, so :meth:`trace` costs two small products; it agrees
    with :func:`recovery.flat.flatness.scaled_hessian_trace`, which recomputes the Gram sums.
    """

    def __init__(self, op: MeasurementMap, b):
        if not isinstance(op, MeasurementMap):
            raise ValueError(f"op: expected a MeasurementMap, got {type(op).__name__}")
        b = validation.tensor("b", b, ndim=1)
        if b.shape[0] != op.num_measurements:
            raise ValueError(
                f"b: expected {op.num_measurements} measurements to match the map, got {b.shape[0]}"
            )
        self.op, self.b = op, b
        D1, D2 = (D.to(b) for D in flatness.rescaling_matrices(op))
        self._squares = (D1 @ D1, D2 @ D2)

    def trace(self, L, R) -> torch.Tensor:
        r"""Return the scaled trace :math:`T(L, R) = 2\langle L, D_1^2L\rangle + 2\langle R, D_2^2R\rangle`."""
        return self._trace(*validation.factor_pair(L, R, *self.op.shape))

    def _trace(self, L: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        P1, P2 = (P.to(L) for P in self._squares)
        return 2 * (torch.sum(L * (P1 @ L)) + torch.sum(R * (P2 @ R)))

    def value(self, L, R, weight: float) -> torch.Tensor:
        r"""Return :math:`f(L, R) + \lambda T(L, R)`, :math:`\lambda` = ``weight`` :math:`\ge 0`."""
        return flatness.loss(self.op, self.b, L, R) + validation.nonnegative_number("weight", weight) * self.trace(L, R)

    def gradient(self, L, R, weight: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`(\nabla_L f + 4\lambda D_1^2 L,\ \nabla_R f + 4\lambda D_2^2 R)`."""
        weight = validation.nonnegative_number("weight", weight)
        L, R = validation.factor_pair(L, R, *self.op.shape)
        grad_L, grad_R = flatness.gradient(self.op, self.b, L, R)
        P1, P2 = (P.to(L) for P in self._squares)
        return grad_L + 4 * weight * (P1 @ L), grad_R + 4 * weight * (P2 @ R)


def gradient_descent(
    op: MeasurementMap, b, L, R, *, tol: float = 1e-10, max_iter: int = 100_000
) -> Result:
    r"""Plain gradient descent on :math:`f(L,R) = c\|\mathcal{A}(LR^\top) - b\|^2` from ``(L, R)``.

    Armijo backtracking and the stopping rule of the module docstring.
    """
    return _descend("gradient_descent", TracePenalisedLoss(op, b), L, R, 0.0, 1.0, tol, max_iter)


def trace_penalised_descent(
    op: MeasurementMap,
    b,
    L,
    R,
    *,
    penalty: float = 0.2,
    decay: float = 0.997,
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> Result:
    r"""Gradient descent on :math:`f + \lambda_t T`, :math:`\lambda_t` = ``penalty`` :math:`\cdot`
    ``decay``:math:`^t`, from ``(L, R)``: a flatness-seeking optimiser with no convex solver.

    For a fixed :math:`\lambda` and :math:`(\tilde L, \tilde R) = (D_1L, D_2R)` this is the
    factorised form (Srebro-Shraibman) of :math:`\min_X c\|\tilde{\mathcal{A}}(X) - b\|^2 + 4\lambda\|X\|_*`
    with :math:`\tilde{\mathcal{A}}(X) = \mathcal{A}(D_1^{-1}XD_2^{-1})`, whose solutions tend, as
    :math:`\lambda \to 0`, to those of the flat relaxation (Theorem 3.2). Two conditions make the
    homotopy work: the decay must be slow enough for the iterates to follow that path, with
    :math:`\lambda_0/(1-q)` large enough to shrink the surplus columns away while the pull is
    strong; and :math:`\lambda_0` should not be far above
    half the largest singular value of :math:`D_1 M D_2` for the target :math:`M`, or everything
    may shrink towards the saddle point at zero faster than the decay can release it.
    """
    penalty = validation.positive_number("penalty", penalty)
    decay = validation.positive_number("decay", decay, at_most=1.0)
    objective = TracePenalisedLoss(op, b)
    return _descend("trace_penalised_descent", objective, L, R, penalty, decay, tol, max_iter)


def _descend(name, objective, L, R, penalty, decay, tol, max_iter) -> Result:
    tol = validation.positive_number("tol", tol, at_most=1.0)
    max_iter = validation.positive_int("max_iter", max_iter)
    op, b = objective.op, objective.b
    L, R = validation.factor_pair(L, R, *op.shape)
    b = b.to(L)
    data_loss = float(flatness.loss(op, b, torch.zeros_like(L), torch.zeros_like(R)))
    target = tol**2 * data_loss
    f = float(flatness.loss(op, b, L, R))
    if not math.isfinite(f):
        raise FloatingPointError(f"{name}: the loss is {f} at iteration 0; the start overflows")
    T = float(objective.trace(L, R))
    step, iteration = 1 / _GROWTH, 0
    while f > target and iteration < max_iter:
        weight = penalty * decay**iteration
        grad_L, grad_R = objective.gradient(L, R, weight)
        current = f + weight * T
        squared = float(grad_L.square().sum() + grad_R.square().sum())
        step *= _GROWTH
        for _ in range(_HALVINGS):
            L_new, R_new = L - step * grad_L, R - step * grad_R
            # Unchecked evaluations: nan or inf fail the test and halve the step.
            f_new = float(flatness._loss(op, b, L_new, R_new))
            T_new = float(objective._trace(L_new, R_new))
            if f_new + weight * T_new <= current - step / 2 * squared:
                break
            step /= 2
        else:
            raise FloatingPointError(
                f"{name}: no step decreased the objective at iteration {iteration} "
                f"(loss {f:.3e}, penalty weight {weight:.3e})"
            )
        L, R, f, T = L_new, R_new, f_new, T_new
        iteration += 1
    converged = f <= target
    if data_loss > 0:
        relative = math.sqrt(f / data_loss)
    else:  # b = 0: the target is f = 0
        relative = 0.0 if f == 0 else math.inf
    if converged:
        status = Status.CONVERGED
        message = f"relative residual {relative:.2g} at most tol {tol:.2g} after {iteration} iterations"
    else:
        status = Status.MAX_ITER
        message = f"stopped at max_iter = {max_iter} with relative residual {relative:.2g} (tol {tol:.2g})"
    return Result(L @ R.T, converged, status, message, iteration, info={"L": L, "R": R, "loss": f})
