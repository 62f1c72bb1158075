r"""Factorised losses, their derivatives and Hessian traces, in closed form and by autodiff.

For a measurement map :math:`\mathcal{A}` with loss weight :math:`c` (see
:mod:`recovery.core.operators`), data :math:`b \in \mathbb{R}^m` and factors
:math:`L \in \mathbb{R}^{d_1\times k}`, :math:`R \in \mathbb{R}^{d_2\times k}`:

.. math::
   f(L,R) = c\,\|r\|^2,

   r = \mathcal{A}(LR^\top) - b,

   \nabla_L f = 2c\,\mathcal{A}^*(r)\,R,

   \nabla_R f = 2c\,\mathcal{A}^*(r)^\top L,

and the Hessian's quadratic form

.. math::
   &\nabla^2 f(L,R)[\Delta_L,\Delta_R]^2 \\
     &\quad= 2c\,\|\mathcal{A}(\Delta_L R^\top + L\Delta_R^\top)\|^2 \\
     &\qquad + 4c\,\langle \mathcal{A}^*(r), \Delta_L \Delta_R^\top\rangle .

The residual term couples :math:`\Delta_L` with :math:`\Delta_R` only, so it contributes nothing to
the Hessian's diagonal: the trace formula

.. math::
   &\operatorname{tr}\nabla^2 f(L,R) \\
     &\quad= 2c \sum_i \big(\|A_i R\|_F^2 + \|A_i^\top L\|_F^2\big) \\
     &\quad= 2c\,\big(\operatorname{tr}(R^\top G_2 R) + \operatorname{tr}(L^\top G_1 L)\big)

holds at every point, on the solution set and off it. The *scaled* trace divides the diagonal
over :math:`L`-coordinates by :math:`d_1` and over :math:`R`-coordinates by :math:`d_2`; with the
rescaling matrices :math:`D_1 = (\tfrac{c}{d_2} G_1)^{1/2}`, :math:`D_2 = (\tfrac{c}{d_1} G_2)^{1/2}`
it equals :math:`2(\|D_1 L\|_F^2 + \|D_2 R\|_F^2)` (Lemma 3.1 of the flat-minima paper). For the
identity map :math:`D_1 = D_2 = I` and the scaled trace is :math:`2(\|L\|_F^2 + \|R\|_F^2)`
(Lemma 2.1), minimised over :math:`\{LR^\top = M^\star\}` at balanced factors with value
:math:`4\|M^\star\|_*` (Lemma 2.2).

Functions take a :class:`~recovery.core.operators.MeasurementMap` first and validate their inputs,
raising ``ValueError`` that names the argument.
"""

from __future__ import annotations

import math

import torch
from torch.func import grad, hessian, jvp, vmap

from recovery import convex
from recovery.core import validation
from recovery.core.observations import Observations
from recovery.core.operators import (
    CompletionMeasurements,
    MeasurementMap,
    SymmetricRankOneMeasurements,
)
from recovery.core.results import Result


def _data(op: MeasurementMap, b, L, R):
    L, R = validation.factor_pair(L, R, *op.shape)
    b = validation.tensor("b", b, ndim=1)
    if b.shape[0] != op.num_measurements:
        raise ValueError(
            f"b: expected {op.num_measurements} measurements to match the map, got {b.shape[0]}"
        )
    return b.to(dtype=L.dtype, device=L.device), L, R


def _loss(op: MeasurementMap, b: torch.Tensor, L: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    r = op.apply(L @ R.T) - b
    return op.scale * (r @ r)


def loss(op: MeasurementMap, b, L, R) -> torch.Tensor:
    r"""Return :math:`f(L,R) = c\,\|\mathcal{A}(LR^\top) - b\|^2` as a 0-d tensor."""
    b, L, R = _data(op, b, L, R)
    return _loss(op, b, L, R)


def gradient(op: MeasurementMap, b, L, R) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return :math:`\nabla_L f = 2c\,\mathcal{A}^*(r) R` and :math:`\nabla_R f = 2c\,\mathcal{A}^*(r)^\top L`."""
    b, L, R = _data(op, b, L, R)
    G = 2 * op.scale * op.adjoint(op.apply(L @ R.T) - b)
    return G @ R, G.T @ L


def hessian_form(op: MeasurementMap, b, L, R, dL, dR) -> torch.Tensor:
    r"""Return the Hessian quadratic form :math:`\nabla^2 f(L,R)[\Delta_L,\Delta_R]^2`.

    Equal to :math:`2c\|\mathcal{A}(\Delta_L R^\top + L\Delta_R^\top)\|^2` plus the residual term
    :math:`4c\langle\mathcal{A}^*(r), \Delta_L\Delta_R^\top\rangle`, which vanishes on the solution set
    :math:`\{\mathcal{A}(LR^\top) = b\}`.
    """
    b, L, R = _data(op, b, L, R)
    dL = validation.tensor("dL", dL, ndim=2).to(L)
    dR = validation.tensor("dR", dR, ndim=2).to(R)
    if dL.shape != L.shape:
        raise ValueError(f"dL: expected the shape {tuple(L.shape)} of L, got {tuple(dL.shape)}")
    if dR.shape != R.shape:
        raise ValueError(f"dR: expected the shape {tuple(R.shape)} of R, got {tuple(dR.shape)}")
    first = op.apply(dL @ R.T + L @ dR.T)
    residual = op.apply(L @ R.T) - b
    return 2 * op.scale * (first @ first) + 4 * op.scale * (residual @ op.apply(dL @ dR.T))


def _trace_parts(op: MeasurementMap, L, R) -> tuple[torch.Tensor, torch.Tensor]:
    """Hessian diagonal summed over L-coordinates and over R-coordinates."""
    L, R = validation.factor_pair(L, R, *op.shape)
    over_L = 2 * op.scale * torch.sum(R * (op.right_gram().to(R) @ R))
    over_R = 2 * op.scale * torch.sum(L * (op.left_gram().to(L) @ L))
    return over_L, over_R


def hessian_trace(op: MeasurementMap, L, R) -> torch.Tensor:
    r"""Return the Hessian trace :math:`2c\operatorname{tr}(R^\top G_2 R) + 2c\operatorname{tr}(L^\top G_1 L)`.

    The data ``b`` is not needed: the trace does not depend on the residual.
    """
    over_L, over_R = _trace_parts(op, L, R)
    return over_L + over_R


def scaled_hessian_trace(op: MeasurementMap, L, R) -> torch.Tensor:
    r"""Return the scaled trace :math:`\frac{1}{d_1}\operatorname{tr}_L + \frac{1}{d_2}\operatorname{tr}_R`,
    equal to :math:`2(\|D_1 L\|_F^2 + \|D_2 R\|_F^2)`."""
    over_L, over_R = _trace_parts(op, L, R)
    d1, d2 = op.shape
    return over_L / d1 + over_R / d2


def rescaling_matrices(op: MeasurementMap) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return :math:`D_1 = (\frac{c}{d_2}\sum_i A_iA_i^\top)^{1/2}` and
    :math:`D_2 = (\frac{c}{d_1}\sum_i A_i^\top A_i)^{1/2}` (symmetric PSD square roots)."""
    d1, d2 = op.shape
    return (
        _psd_sqrt(op.scale / d2 * op.left_gram()),
        _psd_sqrt(op.scale / d1 * op.right_gram()),
    )


def flat_completion(observations, *, tol: float = 1e-10, max_iter: int = 20_000) -> Result:
    r"""The flat relaxation of matrix completion (paper A, Theorem 3.2), batched:
    :math:`\min \|D_1 Y D_2\|_*` subject to :math:`Y_{ij} = M_{ij}` on :math:`\Omega`.

    :math:`D_1, D_2` are the :func:`rescaling_matrices` of the completion map
    (:class:`~recovery.core.operators.CompletionMeasurements`, ``scale`` :math:`1/m`): diagonal,
    the square roots of the row and column counts times :math:`(c/d_2)^{1/2}` and
    :math:`(c/d_1)^{1/2}`. ``observations`` is one :class:`~recovery.core.observations.Observations`
    or a sequence of them of one shape (solved as one batch by
    :func:`recovery.convex.weighted_nuclear_completion`); every row and column of every instance
    must be observed, else :math:`D_1` or :math:`D_2` is singular and ``ValueError`` is raised.
    """
    single = isinstance(observations, Observations)
    batch = [observations] if single else list(observations)
    if not batch or not all(isinstance(o, Observations) for o in batch):
        raise ValueError("observations: expected an Observations or a non-empty sequence of them")
    maps = [CompletionMeasurements(o) for o in batch]
    for t, op in enumerate(maps):
        if op.unobserved_rows().numel() or op.unobserved_cols().numel():
            raise ValueError(f"observations: instance {t} has a row or column without observation, "
                             "where the flat relaxation is not defined")
    row, col = (torch.stack(weights) for weights in zip(
        *([torch.diagonal(D) for D in rescaling_matrices(op)] for op in maps), strict=True))
    return convex.weighted_nuclear_completion(observations, row[0] if single else row, col[0] if single else col,
                                              tol=tol, max_iter=max_iter)


def _psd_sqrt(G: torch.Tensor) -> torch.Tensor:
    w, V = torch.linalg.eigh(G)
    return (V * w.clamp(min=0).sqrt()) @ V.T


def autodiff_hessian(op: MeasurementMap, b, L, R) -> torch.Tensor:
    r"""Exact Hessian of :math:`f` by ``torch.func.hessian``, an independent cross-check.

    Coordinates are :math:`\theta = (\operatorname{vec} L, \operatorname{vec} R)` in row-major
    order; the result has shape :math:`((d_1+d_2)k, (d_1+d_2)k)`. Meant for small sizes.
    """
    b, L, R = _data(op, b, L, R)
    n_L = L.numel()

    def f(theta: torch.Tensor) -> torch.Tensor:
        return _loss(op, b, theta[:n_L].reshape(L.shape), theta[n_L:].reshape(R.shape))

    return hessian(f)(torch.cat([L.reshape(-1), R.reshape(-1)]))


def autodiff_traces(op: MeasurementMap, b, L, R) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(plain, scaled)`` Hessian traces read off the exact autodiff Hessian."""
    H = autodiff_hessian(op, b, L, R)
    diagonal = torch.diagonal(H)
    n_L = L.shape[0] * L.shape[1]
    d1, d2 = op.shape
    over_L, over_R = diagonal[:n_L].sum(), diagonal[n_L:].sum()
    return over_L + over_R, over_L / d1 + over_R / d2


def hutchinson_trace(
    function,
    blocks,
    samples: int,
    generator: torch.Generator,
    weights=None,
) -> tuple[float, float]:
    r"""Seeded Hutchinson estimate of a (weighted) Hessian trace, for sizes where the exact Hessian is too big.

    ``function`` maps the tensors ``blocks`` (e.g. ``(L, R)``) to a scalar; ``weights`` gives one
    number :math:`w_j` per block (ones when omitted; ``(1/d1, 1/d2)`` gives the scaled trace).
    With Rademacher probes :math:`z` (entries :math:`\pm1`, drawn from ``generator``) scaled by
    :math:`\sqrt{w_j}` on block :math:`j`, :math:`\mathbb{E}\,z^\top\nabla^2 f\,z = \sum_j w_j
    \operatorname{tr}_j \nabla^2 f`; each :math:`\nabla^2 f\,z` is a forward-over-reverse
    Hessian-vector product (``torch.func.jvp`` of ``torch.func.grad``, vectorised over probes), so
    nothing of size :math:`n^2` is formed. Returns ``(estimate, standard_error)``, the mean of
    ``samples`` probes and its standard error.
    """
    blocks = [validation.tensor(f"blocks[{j}]", block) for j, block in enumerate(blocks)]
    if not blocks:
        raise ValueError("blocks: expected at least one tensor")
    samples = validation.positive_int("samples", samples)
    if samples < 2:
        raise ValueError(f"samples: need at least 2 probes for a standard error, got {samples}")
    weights = [1.0] * len(blocks) if weights is None else [float(w) for w in weights]
    if len(weights) != len(blocks) or not all(w > 0 for w in weights):
        raise ValueError(f"weights: expected {len(blocks)} positive numbers, one per block, got {weights}")
    like = blocks[0]
    sizes = [block.numel() for block in blocks]
    point = torch.cat([block.reshape(-1) for block in blocks])

    def flat_function(theta: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(theta, sizes)
        return function(*(piece.reshape(block.shape) for piece, block in zip(pieces, blocks, strict=True)))

    signs = torch.randint(0, 2, (samples, point.numel()), generator=generator, device=generator.device)
    scale = torch.cat([torch.full((n,), w**0.5, dtype=like.dtype) for n, w in zip(sizes, weights, strict=True)])
    probes = (2 * signs.to(like.dtype) - 1).to(like.device) * scale.to(like.device)

    def quadratic_form(probe: torch.Tensor) -> torch.Tensor:
        return probe @ jvp(grad(flat_function), (point,), (probe,))[1]

    values = vmap(quadratic_form)(probes)
    return float(values.mean()), float(values.std() / samples**0.5)


def balancedness_gap(L, R) -> torch.Tensor:
    r"""Return :math:`\|L^\top L - R^\top R\|_F`, zero exactly for balanced factors."""
    L, R = validation.factors(L, R)
    return torch.linalg.matrix_norm(L.T @ L - R.T @ R)


def nuclear_norm(X) -> torch.Tensor:
    r"""Return :math:`\|X\|_* = \sum_j \sigma_j(X)`."""
    X = validation.tensor("X", X, ndim=2)
    return torch.linalg.svdvals(X).sum()


def balanced_factors(L, R) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return balanced factors of the same product and width: the flat point of the orbit.

    With thin QR factorisations :math:`L = Q_L T_L`, :math:`R = Q_R T_R` and the SVD
    :math:`T_L T_R^\top = U \Sigma V^\top`, the factors :math:`L' = Q_L U\Sigma^{1/2}`,
    :math:`R' = Q_R V\Sigma^{1/2}` (zero-padded to width :math:`k`) satisfy
    :math:`L'R'^\top = LR^\top` and :math:`L'^\top L' = R'^\top R' = \Sigma`. For the identity map
    they minimise :math:`\|L\|_F^2 + \|R\|_F^2` with value :math:`2\|LR^\top\|_*` (Lemma 2.2).
    Cost :math:`O((d_1+d_2)k^2)`; no :math:`d_1\times d_2` matrix is formed.
    """
    L, R = validation.factors(L, R)
    k = L.shape[1]
    Q_L, T_L = torch.linalg.qr(L)
    Q_R, T_R = torch.linalg.qr(R)
    U, s, Vh = torch.linalg.svd(T_L @ T_R.T, full_matrices=False)
    root = s.sqrt()
    pad = (0, k - s.shape[0])
    return (
        torch.nn.functional.pad(Q_L @ (U * root), pad),
        torch.nn.functional.pad(Q_R @ (Vh.T * root), pad),
    )


def flat_factors(op: MeasurementMap, Y, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Flat factors of width ``width`` from a solution ``Y`` of the flat relaxation (Theorem 3.2).

    With the rescaling matrices :math:`D_1, D_2` (:func:`rescaling_matrices`, which must be
    invertible) and the compact SVD :math:`X = D_1 Y D_2 = U\Sigma V^\top`, return
    :math:`L = D_1^{-1}U\Sigma^{1/2}`, :math:`R = D_2^{-1}V\Sigma^{1/2}`, zero-padded to ``width``
    columns. Then :math:`LR^\top = Y` and the scaled trace equals
    :math:`2(\|D_1L\|_F^2 + \|D_2R\|_F^2) = 4\|D_1 Y D_2\|_*`, the smallest value any factorisation of
    :math:`Y` can have; when :math:`Y` minimises :math:`\|D_1 Y D_2\|_*` subject to
    :math:`\mathcal{A}(Y) = b` these factors are flat.
    """
    Y = validation.tensor("Y", Y, ndim=2)
    if tuple(Y.shape) != op.shape:
        raise ValueError(f"Y: expected shape {op.shape}, got {tuple(Y.shape)}")
    validation.positive_int("width", width)
    D1, D2 = (D.to(Y) for D in rescaling_matrices(op))
    for name, D in (("D1", D1), ("D2", D2)):
        smallest = float(torch.linalg.eigvalsh(D)[0])
        if not smallest > 1e-12 * float(torch.linalg.matrix_norm(D, ord=2)):
            raise ValueError(f"op: {name} is singular (a row or column of the map sees nothing); "
                             "flat factors need invertible rescaling matrices")
    U, s, Vh = torch.linalg.svd(D1 @ Y @ D2, full_matrices=False)
    rank = int((s > s[0] * 1e-12).sum()) if s.numel() and float(s[0]) > 0 else 0
    if rank > width:
        raise ValueError(f"width: must be at least rank(D1 Y D2) = {rank}, got {width}")
    root = s[:rank].sqrt()
    L = torch.linalg.solve(D1, U[:, :rank] * root)
    R = torch.linalg.solve(D2, Vh[:rank].T * root)
    pad = (0, width - rank)
    return torch.nn.functional.pad(L, pad), torch.nn.functional.pad(R, pad)


def hadamard_loss(X, b, factors) -> torch.Tensor:
    r"""Return the depth-:math:`k` diagonal network's loss :math:`\frac1m\|X(v_1\odot\cdots\odot v_k) - b\|^2`
    (``X`` is ``m x d``)."""
    X = validation.tensor("X", X, ndim=2)
    b = validation.tensor("b", b, ndim=1).to(X)
    validation.same_rows("b", b, X.shape[0], "the rows of X")
    factors = _hadamard_factors(factors, X.shape[1])
    residual = X @ torch.stack(factors).prod(dim=0) - b
    return residual @ residual / X.shape[0]


def hadamard_trace(X, factors) -> torch.Tensor:
    r"""Hessian trace of :func:`hadamard_loss`:
    :math:`\frac2m\sum_j\sum_i \|X_{:,i}\|^2 \prod_{l\ne j} v_l(i)^2`.

    Each :math:`v_j(i)` enters the product linearly, so the residual contributes nothing to the
    diagonal and the formula holds at every point (paper A, Section 9). By AM-GM its minimum over
    factorisations of a fixed :math:`x` is :math:`\frac{2k}{m}\sum_i \|X_{:,i}\|^2 |x_i|^{2-2/k}`: a
    weighted :math:`\ell_q` quasi-norm with :math:`q = 2 - 2/k`.
    """
    X = validation.tensor("X", X, ndim=2)
    factors = _hadamard_factors(factors, X.shape[1])
    squares = torch.stack(factors).square()
    column_norms = X.square().sum(dim=0)
    k = len(factors)
    others = [squares[[other for other in range(k) if other != j]].prod(dim=0) for j in range(k)]
    return 2 / X.shape[0] * (torch.stack(others) * column_norms).sum()


def _hadamard_factors(factors, d: int) -> list[torch.Tensor]:
    factors = [validation.tensor(f"factors[{j}]", v, ndim=1) for j, v in enumerate(factors)]
    if len(factors) < 1:
        raise ValueError("factors: expected at least one factor vector")
    for j, v in enumerate(factors):
        if v.shape[0] != d:
            raise ValueError(f"factors[{j}]: expected length {d} to match the columns of X, got {v.shape[0]}")
    return factors


def balanced_hadamard_factors(x, depth: int) -> list[torch.Tensor]:
    r"""Return the flattest depth-``depth`` factorisation of ``x``: :math:`|v_l(i)| = |x_i|^{1/k}`.

    :math:`v_1 = \operatorname{sign}(x)\,|x|^{1/k}` and :math:`v_2 = \dots = v_k = |x|^{1/k}`, so
    :math:`v_1\odot\cdots\odot v_k = x`. For each :math:`i` the terms of
    :func:`hadamard_trace` are :math:`\|X_{:,i}\|^2\sum_j\prod_{l\ne j} v_l(i)^2`, and by AM-GM
    :math:`\sum_j \prod_{l\ne j} p_l \ge k\,(\prod_l p_l)^{(k-1)/k}` with equality exactly when
    all :math:`p_l = v_l(i)^2` are equal: these factors attain :func:`hadamard_flat_value`.
    """
    x = validation.tensor("x", x, ndim=1)
    depth = validation.positive_int("depth", depth)
    root = x.abs() ** (1 / depth)
    return [torch.sign(x) * root] + [root.clone() for _ in range(depth - 1)]


def hadamard_flat_value(X, x, depth: int) -> torch.Tensor:
    r"""Smallest :func:`hadamard_trace` over depth-``depth`` factorisations of ``x``:
    :math:`\frac{2k}{m}\sum_i \|X_{:,i}\|^2 |x_i|^{2-2/k}`.

    Attained by :func:`balanced_hadamard_factors`. Over the interpolants :math:`X x = b` it is a
    weighted :math:`\ell_q` objective with :math:`q = 2 - 2/k`, minimised by
    :func:`recovery.convex.weighted_lq_minimization` with weights :math:`\|X_{:,i}\|^2`.
    """
    X = validation.tensor("X", X, ndim=2)
    x = validation.tensor("x", x, ndim=1).to(X)
    if x.shape[0] != X.shape[1]:
        raise ValueError(f"x: expected length {X.shape[1]} to match the columns of X, got {x.shape[0]}")
    depth = validation.positive_int("depth", depth)
    column_norms = X.square().sum(dim=0)
    return 2 * depth / X.shape[0] * (column_norms * x.abs() ** (2 - 2 / depth)).sum()


def network_loss(op: SymmetricRankOneMeasurements, y, U1, U2) -> torch.Tensor:
    r"""Loss of the quadratic-activation network :math:`x \mapsto \|U_1^\top x\|^2 - \|U_2^\top x\|^2`:
    :math:`f(U_1, U_2) = c\sum_i r_i^2` with the residuals
    :math:`r_i = x_i^\top (U_1U_1^\top - U_2U_2^\top) x_i - y_i` (Theorem 1.4; covariance
    estimation when ``U2`` has no columns)."""
    y, U1, U2 = _network_data(op, y, U1, U2)
    residual = op.apply(U1 @ U1.T - U2 @ U2.T) - y
    return op.scale * (residual @ residual)


def network_trace(op: SymmetricRankOneMeasurements, y, U1, U2) -> torch.Tensor:
    r"""Hessian trace of :func:`network_loss` with :math:`U_1 \in \mathbb{R}^{d\times k_1}`,
    :math:`U_2 \in \mathbb{R}^{d\times k_2}`:

    .. math::
       &8c\sum_i \|x_i\|^2\big(\|U_1^\top x_i\|^2 + \|U_2^\top x_i\|^2\big) \\
       &+ 4c\,(k_1 - k_2)\sum_i r_i\|x_i\|^2 ,

    :math:`r_i` the residuals. On the solution set this is :math:`8\operatorname{tr}(U^\top D U)`,
    :math:`U = [U_1, U_2]`, :math:`D = c\sum_i\|x_i\|^2x_ix_i^\top`. Unlike the :math:`(L, R)`
    parameterisation, here the residual does reach the diagonal: each weight enters a measurement
    quadratically.
    """
    y, U1, U2 = _network_data(op, y, U1, U2)
    norms = op.x.square().sum(dim=1)
    residual = op.apply(U1 @ U1.T - U2 @ U2.T) - y
    fitted = (op.x @ U1).square().sum(dim=1) + (op.x @ U2).square().sum(dim=1)
    return op.scale * (8 * (norms * fitted).sum() + 4 * (U1.shape[1] - U2.shape[1]) * (residual * norms).sum())


def _network_data(op, y, U1, U2):
    if not isinstance(op, SymmetricRankOneMeasurements):
        raise ValueError(f"op: expected SymmetricRankOneMeasurements, got {type(op).__name__}")
    d = op.shape[0]
    U1 = validation.tensor("U1", U1, ndim=2)
    U2 = validation.tensor("U2", U2, ndim=2).to(U1)
    validation.same_rows("U1", U1, d, "the input dimension d")
    validation.same_rows("U2", U2, d, "the input dimension d")
    y = validation.tensor("y", y, ndim=1).to(U1)
    if y.shape[0] != op.num_measurements:
        raise ValueError(f"y: expected {op.num_measurements} outputs to match the map, got {y.shape[0]}")
    return y, U1, U2


def hadamard_flat_exponent(depth: float) -> float:
    r"""Return :math:`q = 2 - 2/k` of the flat objective at depth :math:`k` (``math.inf`` gives 2)."""
    number = isinstance(depth, int | float) and not isinstance(depth, bool)
    if not (number and depth >= 2 and (depth == math.inf or depth == int(depth))):
        raise ValueError(f"depth: expected an integer >= 2 or math.inf, got {depth!r}")
    return 2 - 2 / depth


def hadamard_flat_solutions(X, y, depth: float, *, tol: float = 1e-10, max_iter: int = 20_000) -> Result:
    r"""Interpolants of a batch ``X`` (``(T, m, d)``), ``y`` (``(T, m)``) whose flattest depth-``depth``
    factorisations are flattest over all interpolants: :math:`\min \sum_i \|X_{:,i}\|^2|x_i|^q`
    subject to :math:`Xx = y`, :math:`q` = :func:`hadamard_flat_exponent` (``depth``), by
    :func:`recovery.convex.weighted_lq_minimization`."""
    X = validation.tensor("X", X, ndim=3)
    return convex.weighted_lq_minimization(
        X, y, X.square().sum(dim=1), q=hadamard_flat_exponent(depth), tol=tol, max_iter=max_iter
    )


#: The two families of :func:`random_factorisation`.
FACTORISATION_FAMILIES = ("orbit", "extra")


def random_factorisation(
    M: torch.Tensor,
    width: int,
    family: str,
    spread: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return factors :math:`(L, R)` of width ``width`` with :math:`LR^\top = M`.

    Start from the balanced factors :math:`(U\Sigma^{1/2}, V\Sigma^{1/2})` of ``M``, zero-padded to
    ``width`` columns. Family ``"orbit"`` keeps the padding at zero; family ``"extra"`` fills each
    padding column in one factor only, with norm about ``spread`` (a column pair :math:`(x, 0)` or
    :math:`(0, y)` adds nothing to the product). Both then move along the orbit
    :math:`(LB, RB^{-\top})` with :math:`B = Q_1 \operatorname{diag}(e^{s u}) Q_2`, random orthogonal
    :math:`Q_1, Q_2`, :math:`u` uniform in :math:`[-1, 1]^k` and :math:`s` = ``spread``. With
    ``spread = 0`` the factors are balanced (an orthogonal :math:`B` keeps the balance).
    """
    M = validation.tensor("M", M, ndim=2)
    validation.positive_int("width", width)
    if family not in FACTORISATION_FAMILIES:
        raise ValueError(f"family: expected one of {FACTORISATION_FAMILIES}, got {family!r}")
    if not spread >= 0:
        raise ValueError(f"spread: expected a non-negative number, got {spread!r}")
    U, s, Vh = torch.linalg.svd(M, full_matrices=False)
    rank = int((s > s[0] * 1e-12).sum())
    if width < rank:
        raise ValueError(f"width: must be at least rank(M) = {rank}, got {width}")
    d1, d2 = M.shape
    kw = {"generator": generator, "dtype": M.dtype}
    L = torch.zeros(d1, width, dtype=M.dtype)
    R = torch.zeros(d2, width, dtype=M.dtype)
    L[:, :rank] = U[:, :rank] * s[:rank].sqrt()
    R[:, :rank] = Vh[:rank].T * s[:rank].sqrt()
    if family == "extra":
        for j in range(rank, width):
            size = spread * float(torch.rand((), **kw) + 0.5)
            if bool(torch.rand((), **kw) < 0.5):
                L[:, j] = size * torch.randn(d1, **kw) / d1**0.5
            else:
                R[:, j] = size * torch.randn(d2, **kw) / d2**0.5
    Q1 = torch.linalg.qr(torch.randn(width, width, **kw))[0]
    Q2 = torch.linalg.qr(torch.randn(width, width, **kw))[0]
    stretch = torch.exp(spread * (2 * torch.rand(width, **kw) - 1))
    B = (Q1 * stretch) @ Q2
    B_inverse_transpose = (Q1 / stretch) @ Q2
    return L @ B, R @ B_inverse_transpose
