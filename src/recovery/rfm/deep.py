r"""Deep linear networks trained by gradient descent from small initialisation.

The baselines of the lin-RFM paper: over-parameterised linear models whose gradient descent from
a small initialisation is implicitly biased towards sparse vectors or low-rank matrices.

*Diagonal networks* for sparse regression :math:`y = X\beta` (:math:`X \in \mathbb{R}^{n\times d}`,
typically :math:`n < d`) write, with elementwise powers and depth :math:`L \ge 2`,

.. math::
   \beta = u^{\odot L} - v^{\odot L},

   f(u, v) = \frac{1}{2n}\|X\beta - y\|^2,

   \nabla_u f = L\,u^{\odot(L-1)} \odot g,

   \nabla_v f = -L\,v^{\odot(L-1)} \odot g,

where :math:`g = X^\top(X\beta - y)/n`; the difference of two powers lets :math:`\beta` take either
sign while :math:`u, v` stay positive.

*Deep matrix factorisations* for completion of :math:`Y \in \mathbb{R}^{d_1\times d_2}` from the
entries :math:`Y_{ij}`, :math:`(i, j) \in \Omega`, write

.. math::
   W = W_L W_{L-1} \cdots W_1,

   f(W_1, \dots, W_L) = \frac{1}{2|\Omega|} \sum_{(i,j)\in\Omega} (W_{ij} - Y_{ij})^2,

   \nabla_{W_l} f = A_l^\top G B_l^\top,

with :math:`A_l = W_L \cdots W_{l+1}`, :math:`B_l = W_{l-1} \cdots W_1` (identities when empty) and
:math:`G = P_\Omega(W - Y)/|\Omega|`, the residual on :math:`\Omega` and zero elsewhere.

Both run plain full-batch gradient descent :math:`\theta_{t+1} = \theta_t - \eta_t\nabla f(\theta_t)`
with hand-written gradients. A given ``learning_rate`` is a constant :math:`\eta_t`. The default is

.. math::
   \eta_t = \frac{1}{S_t + R_t/\rho},\qquad \rho = 0.05,

where :math:`S_t` is an upper bound on the spectral norm of the Hessian :math:`\nabla^2 f(\theta_t)`
and :math:`R_t` the largest relative gradient of a weight (a coordinate of :math:`u, v`; a factor
:math:`W_l` in Frobenius norm), both given with each function. Hence :math:`\eta_t\|\nabla^2
f(\theta_t)\| \le 1 < 2` (locally stable), and no weight changes by more than :math:`\rho = 5\%`
of itself in one step, so the iteration follows gradient flow, whose implicit bias is the point,
through the small-weight phase, where :math:`S_t` alone would allow far larger steps. The step
adapts to the weights: for :math:`L \ge 3` it is large while they (and the curvature) are small and
shrinks as they grow; near a solution :math:`R_t \to 0` and :math:`\eta_t \to 1/S_t`. It is a bound at
the current point, not a line search, so monotone decrease is not guaranteed, only observed (and
tested on small instances).

Gradient descent from a small scale :math:`\alpha` inherits the dynamics of gradient flow: with
depth :math:`L \ge 3`, leaving a saddle takes time of order :math:`\alpha^{-(L-2)}` at a step bounded
by the weights already fitted, and weights switched on along the way and off again near the end
decay sublinearly. Smaller :math:`\alpha` gives a stronger bias but, for :math:`L \ge 3`, far longer runs.
"""

from __future__ import annotations

import itertools
import math
import numbers

import torch

from recovery.core import validation
from recovery.core.iteration import Callback
from recovery.core.observations import Observations
from recovery.core.results import Result, Status

_DIVERGENCE_FACTOR = 1e6
_RELATIVE_STEP = 0.05
_SPECTRAL_REFRESH = 32  # steps between exact spectral norms of the factors (see _Factored)


def deep_diagonal_regression(
    X,
    y,
    depth: int,
    *,
    init_scale: float = 1e-3,
    learning_rate: float | None = None,
    max_iter: int = 100_000,
    tol: float = 1e-10,
    dtype: torch.dtype = torch.float64,
    callback: Callback | None = None,
    record_every: int = 100,
) -> Result:
    r"""Fit :math:`y = X\beta` by gradient descent on :math:`\beta = u^{\odot L} - v^{\odot L}`.

    :math:`L` = ``depth``; :math:`u` and :math:`v` start at ``init_scale`` times the all-ones
    vector, so :math:`\beta_0 = 0` and the run is deterministic. The loss is
    :math:`f = \frac{1}{2n}\|X\beta - y\|^2`. Runs on ``X``'s device in ``dtype``.

    Default step (see the module): with :math:`w = [u; v] \in \mathbb{R}^{2d}`,
    :math:`X_\pm = [X, -X]` (so :math:`X\beta = X_\pm w^{\odot L}`), :math:`g_\pm = X_\pm^\top(X\beta - y)/n`,
    :math:`J = L w^{\odot(L-1)}`, :math:`\lambda = \|X_\pm\|_2^2/n` and column weights
    :math:`c_k = \|X_\pm e_k\|^2/n`,

    .. math::
       S_t &= \min\Big(\lambda \max_k J_k^2,\ \sum_k c_k J_k^2\Big) \\
           &\quad + (L-1) R_t,

       R_t = \max_k \frac{|\partial_{w_k} f|}{w_k} = L \max_k w_k^{L-2} |g_{\pm,k}|:

    the minimum bounds the Gauss-Newton part :math:`\operatorname{diag}(J) X_\pm^\top X_\pm
    \operatorname{diag}(J)/n` by its spectral norm and by its trace, which is tight once the weight
    sits on a few coordinates, and :math:`(L-1)R_t` is the norm of the residual part
    :math:`\operatorname{diag}(L(L-1) w^{\odot(L-2)} \odot g_\pm)`. The relative change of each
    :math:`w_k` per step is below :math:`\rho`, so :math:`u, v` stay positive.

    Stops when :math:`\|X\beta - y\|/\|y\| <` ``tol`` or after ``max_iter`` steps; raises
    ``FloatingPointError`` naming the iteration if the loss becomes non-finite or exceeds
    :math:`10^6` times its initial value. At iteration 0, every ``record_every`` steps and at the
    last, ``history`` records the relative residual and what ``callback(iteration, beta)``
    returns (a dict or ``None``), e.g. a test error that the algorithm never sees.
    """
    options = _options(max_iter, tol, callback, record_every)
    X = validation.tensor("X", X, ndim=2)
    y = validation.tensor("y", y, ndim=1)
    validation.same_rows("y", y, X.shape[0], "the rows of X")
    dtype = _float_dtype(dtype)
    X, y = X.to(dtype), y.to(dtype=dtype, device=X.device)
    if not bool(y.any()):
        raise ValueError("y: all zero, so the relative residual is undefined")
    depth = _depth(depth)
    init_scale = validation.positive_number("init_scale", init_scale)
    model = _Diagonal(X, y, depth, init_scale, _learning_rate(learning_rate))
    return _descend("deep_diagonal_regression", model, *options)


def deep_matrix_completion(
    observations: Observations,
    depth: int,
    *,
    width: int | None = None,
    init_scale: float = 1e-3,
    learning_rate: float | None = None,
    max_iter: int = 100_000,
    tol: float = 1e-10,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator,
    callback: Callback | None = None,
    record_every: int = 100,
) -> Result:
    r"""Complete a matrix by gradient descent on :math:`W = W_L \cdots W_1` from small random factors.

    Factors: :math:`W_1 \in \mathbb{R}^{k\times d_2}`, :math:`W_2, \dots, W_{L-1} \in
    \mathbb{R}^{k\times k}`, :math:`W_L \in \mathbb{R}^{d_1\times k}` with :math:`k` = ``width``
    (default :math:`\min(d_1, d_2)`) and :math:`L` = ``depth``. Each starts with i.i.d.
    :math:`\mathcal{N}(0, \alpha^2/k)` entries, :math:`\alpha` = ``init_scale``, drawn in float64 on
    the CPU from ``generator`` (the same start on every device and dtype): a factor has spectral
    norm about :math:`\alpha(\sqrt{\text{rows}} + \sqrt{\text{columns}})/\sqrt{k}` (:math:`2\alpha` if
    square), so :math:`W` is of order :math:`\alpha^L`.

    The observed entries are gathered from the product :math:`W = A_1 W_1` by flat index and the
    residual is scattered into a :math:`d_1\times d_2` buffer for :math:`G`, whose entries off
    :math:`\Omega` are never written: at the sizes of interest dense products beat sparse
    accumulation. A step costs :math:`O(L k d_1 d_2 + L k^2 (d_1 + d_2))` and runs on the
    observations' device in ``dtype``.

    Default step (see the module): with upper bounds :math:`n_l \ge \|W_l\|_2` on the spectral
    norms, :math:`a_l = \prod_{m\ne l} n_m` and the residual vector :math:`r` on :math:`\Omega`,

    .. math::
       S_t = \frac{1}{|\Omega|}\Big(\sum_l a_l^2 + \|r\| \max_l \sum_{m\ne l} \frac{a_l}{n_m}\Big),

       R_t = \max_l \frac{\|\nabla_{W_l} f\|_F}{\|W_l\|_F}:

    the first term bounds the Gauss-Newton part :math:`\frac{1}{|\Omega|}\|P_\Omega(\sum_l A_l
    \Delta_l B_l)\|^2` and the second the residual part

    .. math::
       2\Big\langle G, \sum_{l<m} A_m \Delta_m W_{m-1}\cdots W_{l+1} \Delta_l B_l\Big\rangle,

    both through :math:`\|A\Delta B\|_F \le \|A\|_2\|\Delta\|_F\|B\|_2`. The :math:`n_l` are exact
    (an SVD of each factor) every ``32`` steps and in between grow by the triangle inequality,
    :math:`n_l \leftarrow n_l + \eta_t\|\nabla_{W_l} f\|_F`, so they stay upper bounds at a small
    fraction of the cost of a step. (Frobenius norms would be cheaper still, but at a rank-:math:`r`
    product they overstate each :math:`\|W_l\|_2^2` about :math:`r`-fold, and the step by
    :math:`r^{L-1}`: the depth-3 network then spends most of its budget on the plateaus between
    saddles.)

    Stopping (relative observed residual :math:`\|P_\Omega(W - Y)\|/\|P_\Omega(Y)\| <` ``tol``),
    divergence (``FloatingPointError`` naming the iteration), ``history`` and
    ``callback(iteration, W)`` are as in :func:`deep_diagonal_regression`.
    """
    if not isinstance(observations, Observations):
        raise ValueError(f"observations: expected an Observations, got {type(observations).__name__}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    options = _options(max_iter, tol, callback, record_every)
    dtype = _float_dtype(dtype)
    depth = _depth(depth)
    d1, d2 = observations.shape
    width = min(d1, d2) if width is None else validation.positive_int("width", width)
    init_scale = validation.positive_number("init_scale", init_scale)
    learning_rate = _learning_rate(learning_rate)
    if not bool(observations.values.any()):
        raise ValueError("observations: all observed values are zero, so the relative residual is undefined")
    sizes = [d2] + [width] * (depth - 1) + [d1]
    factors = [
        torch.randn(out, inp, generator=generator, dtype=torch.float64)
        .mul_(init_scale / math.sqrt(width))
        .to(dtype=dtype, device=observations.values.device)
        for inp, out in itertools.pairwise(sizes)
    ]
    model = _Factored(observations, factors, learning_rate)
    return _descend("deep_matrix_completion", model, *options)


class _Diagonal:
    r"""State and step of the diagonal network; :meth:`evaluate` caches the residual for :meth:`step`.

    With :math:`w = [u; v] \in \mathbb{R}^{2d}` and :math:`X_\pm = [X, -X]`, :math:`X\beta = X_\pm w^{\odot L}`.
    """

    def __init__(self, X, y, depth, init_scale, learning_rate):
        n, d = X.shape
        self.signed = torch.cat([X, -X], dim=1)
        self.y, self.depth, self.learning_rate = y, depth, learning_rate
        self.w = torch.full((2 * d,), init_scale, dtype=X.dtype, device=X.device)
        self.y_norm = float(torch.linalg.vector_norm(y))
        if learning_rate is None:
            self.spectral = torch.linalg.matrix_norm(self.signed, ord=2).square() / n
            self.diagonal = self.signed.square().sum(dim=0) / n

    def estimate(self) -> torch.Tensor:
        u, v = self.w.pow(self.depth).chunk(2)
        return u - v

    def evaluate(self) -> tuple[float, float]:
        self.residual = self.signed @ self.w.pow(self.depth) - self.y
        norm = float(torch.linalg.vector_norm(self.residual))
        return norm**2 / (2 * self.signed.shape[0]), norm / self.y_norm

    def gradient(self) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return :math:`g_\pm = X_\pm^\top r/n = [g; -g]` and :math:`\nabla_w f = L w^{\odot(L-1)} \odot g_\pm`.

        Here :math:`r = X\beta - y` is the residual at the evaluated point; the halves of the
        gradient are :math:`\nabla_u f = L u^{\odot(L-1)}\odot g` and :math:`\nabla_v f = -L v^{\odot(L-1)}\odot g`.
        """
        g = self.signed.T @ self.residual / self.signed.shape[0]
        return g, self.depth * self.w.pow(self.depth - 1) * g

    def step_size(self, g: torch.Tensor) -> torch.Tensor:
        r"""The default step :math:`1/(S_t + R_t/\rho)` at the evaluated point, given :math:`g_\pm`."""
        L, w = self.depth, self.w
        jacobian_squares = L**2 * w.pow(2 * L - 2)
        gauss_newton = torch.minimum(self.spectral * jacobian_squares.max(), self.diagonal @ jacobian_squares)
        relative = L * (w.pow(L - 2) * g.abs()).max()
        return 1 / (gauss_newton + (L - 1 + 1 / _RELATIVE_STEP) * relative)

    def step(self) -> None:
        g, grad = self.gradient()
        self.w -= (self.step_size(g) if self.learning_rate is None else self.learning_rate) * grad


class _Factored:
    """State and step of the deep factorisation; :meth:`evaluate` caches what :meth:`step` needs."""

    def __init__(self, observations: Observations, factors: list[torch.Tensor], learning_rate):
        d1, d2 = observations.shape
        self.flat = observations.rows * d2 + observations.cols
        self.values = observations.values.to(factors[0].dtype)
        self.factors, self.learning_rate = factors, learning_rate
        self.values_norm = float(torch.linalg.vector_norm(self.values))
        self.scattered = torch.zeros(d1 * d2, dtype=self.values.dtype, device=self.values.device)
        self.steps = 0
        self.spectral_bounds = _matrix_norms(factors, 2) if learning_rate is None else None

    def estimate(self) -> torch.Tensor:
        """The product :math:`W` at the last evaluated point."""
        return self.product

    def evaluate(self) -> tuple[float, float]:
        self.lefts = _left_products(self.factors)
        self.product = self.lefts[0] @ self.factors[0]
        self.residual = self.product.reshape(-1).take(self.flat) - self.values
        self.residual_norm = float(torch.linalg.vector_norm(self.residual))
        return self.residual_norm**2 / (2 * self.values.shape[0]), self.residual_norm / self.values_norm

    def gradients(self) -> list[torch.Tensor]:
        r"""Return :math:`\nabla_{W_l} f = A_l^\top G B_l^\top`, :math:`G = P_\Omega(r)/|\Omega|`, at the evaluated point.

        :math:`G` is scattered into a dense buffer whose entries off :math:`\Omega` are never written
        (dense products beat sparse accumulation at these sizes); :math:`B_{l+1} = W_l B_l`, :math:`B_2 = W_1`.
        """
        self.scattered.index_copy_(0, self.flat, self.residual / self.residual.shape[0])
        G = self.scattered.view(self.product.shape)
        grads = [self.lefts[0].T @ G]
        right = self.factors[0]
        for k in range(1, len(self.factors)):
            if k > 1:
                right = self.factors[k - 1] @ right
            left_G = G if k == len(self.lefts) else self.lefts[k].T @ G
            grads.append(left_G @ right.T)
        return grads

    def step_size(self, grads: list[torch.Tensor]) -> float:
        r"""The default step :math:`1/(S_t + R_t/\rho)` at the evaluated point, given the gradients."""
        return self._step_size(_matrix_norms(grads))

    def _step_size(self, grad_norms: list[float]) -> float:
        norms = self.spectral_bounds
        others = [math.prod(norms) / n for n in norms]
        reciprocals = sum(1 / n for n in norms)
        coupling = max(a * (reciprocals - 1 / n) for a, n in zip(others, norms, strict=True))
        bound = (sum(a * a for a in others) + self.residual_norm * coupling) / self.values.shape[0]
        sizes = _matrix_norms(self.factors)
        relative = max(g / n for g, n in zip(grad_norms, sizes, strict=True))
        return 1 / (bound + relative / _RELATIVE_STEP)

    def step(self) -> None:
        grads = self.gradients()
        if self.learning_rate is not None:  # a constant step needs no norms
            for W, grad in zip(self.factors, grads, strict=True):
                W -= self.learning_rate * grad
            return
        grad_norms = _matrix_norms(grads)
        eta = self._step_size(grad_norms)
        for W, grad in zip(self.factors, grads, strict=True):
            W -= eta * grad
        self.steps += 1
        if self.steps % _SPECTRAL_REFRESH == 0:
            self.spectral_bounds = _matrix_norms(self.factors, 2)
        else:  # ||W + dW||_2 <= ||W||_2 + ||dW||_F
            self.spectral_bounds = [n + eta * g for n, g in zip(self.spectral_bounds, grad_norms, strict=True)]


def _matrix_norms(matrices: list[torch.Tensor], ord: str | int = "fro") -> list[float]:
    """Frobenius (default) or spectral (``ord=2``, an SVD each) norms of ``matrices``."""
    return torch.stack([torch.linalg.matrix_norm(M, ord=ord) for M in matrices]).tolist()


def _left_products(factors: list[torch.Tensor]) -> list[torch.Tensor]:
    r"""Return :math:`[A_1, \dots, A_{L-1}]`, :math:`A_l = W_L \cdots W_{l+1}`, for ``factors`` :math:`[W_1, \dots, W_L]`."""
    lefts = [factors[-1]]
    for W in factors[-2:0:-1]:
        lefts.append(lefts[-1] @ W)
    return lefts[::-1]


def _descend(name, model, max_iter, tol, callback, record_every) -> Result:
    """Run ``model.step`` until the residual drops below ``tol`` or ``max_iter`` steps are taken."""
    history: list[dict] = []
    start = None
    for iteration in range(max_iter + 1):
        loss, residual = model.evaluate()
        if start is None:
            start = loss
        if not math.isfinite(loss) or loss > _DIVERGENCE_FACTOR * start:
            raise FloatingPointError(
                f"{name}: gradient descent diverged at iteration {iteration} (loss {loss:.3e}, "
                f"initially {start:.3e}); lower learning_rate"
            )
        converged = residual < tol
        if iteration % record_every == 0 or converged or iteration == max_iter:
            extra = None if callback is None else callback(iteration, model.estimate())
            history.append({**(extra or {}), "iteration": iteration, "residual": residual})
        if converged or iteration == max_iter:
            break
        model.step()
    if converged:
        status = Status.CONVERGED
        message = f"relative residual {residual:.2g} below tol {tol:.2g} after {iteration} iterations"
    else:
        status = Status.MAX_ITER
        message = f"stopped at max_iter = {max_iter} with relative residual {residual:.2g} (tol {tol:.2g})"
    return Result(model.estimate(), converged, status, message, iteration, history)


def _options(max_iter, tol, callback, record_every) -> tuple[int, float, Callback | None, int]:
    max_iter = validation.positive_int("max_iter", max_iter)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not math.isfinite(tol) or tol < 0:
        raise ValueError(f"tol: expected a finite number >= 0, got {tol!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: expected a callable or None, got {type(callback).__name__}")
    return max_iter, float(tol), callback, validation.positive_int("record_every", record_every)


def _depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"depth: expected an integer >= 2, got {depth!r}")
    return depth


def _learning_rate(value) -> float | None:
    return None if value is None else validation.positive_number("learning_rate", value)


def _float_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype
