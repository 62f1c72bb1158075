r"""The convex programs of the flat-minima paper, each solved by :func:`recovery.convex.admm.solve`.

Nuclear-norm minimisation and the flat relaxation :math:`\min \|D_1 Y D_2\|_*` under linear
measurements (general, symmetric, positive semidefinite), its completion form, the robust-PCA
relaxation and weighted :math:`\ell_q` minimisation for sparse regression; every one batched over
instances. Each returns a :class:`~recovery.core.results.Result` whose ``converged`` is a
boolean tensor ``(T,)`` of per-instance flags (``status`` is
:attr:`~recovery.core.results.Status.CONVERGED` only when every instance converged) and whose
``info`` holds the final relative ``"primal_residual"`` and ``"dual_residual"`` (``(T,)`` each;
:func:`recovery.convex.admm.solve` defines them); the nuclear-norm programs and weighted
:math:`\ell_q` minimisation add ``"feasible"``,
the ADMM's last iterate projected onto the constraints (exactly feasible, shaped like
``solution``): a feasible point whose objective is below that of a candidate proves the
candidate is not a minimiser, converged or not.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from recovery.convex import admm
from recovery.core import operators, validation
from recovery.core.observations import Observations
from recovery.core.results import Result, Status


def weighted_nuclear_minimization(
    A,
    b,
    D1=None,
    D2=None,
    *,
    tol: float = 1e-10,
    max_iter: int = 20_000,
    kind: str = "general",
) -> Result:
    r"""Solve :math:`\min \|D_1 Y D_2\|_*` s.t. :math:`\mathcal{A}(Y) = b` (:math:`\langle A_i, Y\rangle = b_i`) for a batch.

    ``A`` is a :class:`~recovery.core.operators.MeasurementMap` (one instance) or a sequence of
    ``T`` maps of one shape ``(d1, d2)`` and one number of measurements ``m`` (a batch); a dense
    ``(m, d1, d2)`` or ``(T, m, d1, d2)`` tensor is read as
    :class:`~recovery.core.operators.DenseMeasurements`. ``b`` is ``(m,)`` or ``(T, m)``;
    ``D1`` (``(T, d1, d1)``) and ``D2`` (``(T, d2, d2)``) are invertible weights, identity when
    omitted. The measurements must be linearly independent (the Gram matrix
    :math:`\tilde A\tilde A^\top` positive definite). Returns the solutions :math:`Y` in the
    original coordinates.

    The program is solved in :math:`X = D_1 Y D_2` under the composed map
    :math:`\tilde{\mathcal{A}}(X) = \mathcal{A}(D_1^{-1} X D_2^{-1})`
    (:meth:`~recovery.core.operators.MeasurementMap.compose`). The ADMM's projection onto
    :math:`\{\tilde{\mathcal{A}}(X) = b\}` uses the map's ``apply``, ``adjoint`` and ``gram``: a
    bilinear or symmetric rank-one map never forms its :math:`m\times d_1\times d_2` stack (its
    Gram matrix is :math:`(a_i\cdot a_j)(b_i\cdot b_j)`, resp. :math:`(x_i\cdot x_j)^2`); a dense
    map projects with its stack, and maps without a structured ``compose`` (completion) fall
    back to one.

    ``kind`` selects the nuclear norm's domain: ``"general"``; ``"symmetric"`` (symmetric
    :math:`A_i` and :math:`D_1 = D_2`, e.g. the quadratic-activation network's
    :math:`x_ix_i^\top`; the threshold acts on eigenvalue magnitudes, so the iterates stay
    symmetric); ``"psd"`` (the same, restricted to :math:`X \succeq 0`, where the nuclear norm is
    the trace: covariance estimation).
    """
    maps, single = _measurement_maps(A)
    T = len(maps)
    d1, d2 = maps[0].shape
    m = maps[0].num_measurements
    like = _like(maps[0])
    b = validation.tensor("b", b).to(like)
    b = b[None] if single and b.ndim == 1 else b
    if tuple(b.shape) != (T, m):
        raise ValueError(f"b: expected shape {(T, m)} to match A, got {tuple(b.shape)}")
    D1 = _weight("D1", D1, T, d1, like, single)
    D2 = _weight("D2", D2, T, d2, like, single)
    validation.positive_int("max_iter", max_iter)
    if kind not in admm.PROXIMAL:
        raise ValueError(f"kind: expected one of {sorted(admm.PROXIMAL)}, got {kind!r}")
    symmetric = kind != "general"
    if symmetric and not (d1 == d2 and torch.allclose(D1, D2) and all(_is_symmetric(op) for op in maps)):
        raise ValueError("kind: symmetric and psd problems need square symmetric A_i and D1 = D2")
    # Work with X = D1 Y D2 and the composed map X -> A(D1^{-1} X D2^{-1}).
    left, right = torch.linalg.inv(D1), torch.linalg.inv(D2)
    if symmetric:  # keep the composed matrices symmetric: D1^{-1} A_i D1^{-1}
        right = left.transpose(-1, -2)
    rescaled = [op.compose(left[t], right[t]) for t, op in enumerate(maps)]
    if all(isinstance(op, operators.DenseMeasurements) for op in rescaled):
        stack = torch.stack([op.A for op in rescaled])
        if symmetric:
            project = admm.symmetric_affine_projection(stack, b)
        else:
            project = admm.affine_projection("A", stack.reshape(T, m, -1), b, (T, d1, d2))
    else:
        apply, adjoint = _batched(rescaled)
        gram = torch.stack([op.gram() for op in rescaled])
        project = admm.operator_projection("A", apply, adjoint, gram, b, symmetric=symmetric)
    X, iteration, converged, primal, dual = admm.solve(project, (T, d1, d2), like, tol, max_iter, admm.PROXIMAL[kind])
    # A feasible point for the certificate; for "psd" the projection onto the measurements may leave the cone.
    feasible = None if kind == "psd" else left @ project(X) @ right
    Y = left @ X @ right
    return _result(*_unbatched(single, Y, feasible), iteration, converged, primal, dual, tol, max_iter)


def _measurement_maps(A) -> tuple[list[operators.MeasurementMap], bool]:
    """Return ``(maps, single)`` for a map, a sequence of maps, or a dense stack ``(m, d1, d2)`` / ``(T, m, d1, d2)``."""
    if isinstance(A, operators.MeasurementMap):
        return [A], True
    if isinstance(A, Sequence) and not isinstance(A, str) and len(A) > 0 and all(
        isinstance(op, operators.MeasurementMap) for op in A
    ):
        maps = list(A)
        kinds = {(tuple(op.shape), op.num_measurements) for op in maps}
        if len(kinds) != 1:
            raise ValueError(f"A: the maps of a batch need one shape and number of measurements, got {sorted(kinds)}")
        return maps, False
    A = validation.tensor("A", A)
    if A.ndim == 3:
        return [operators.DenseMeasurements(A)], True
    if A.ndim != 4:
        raise ValueError(
            f"A: expected a MeasurementMap, a sequence of them, or a stack of shape (T, m, d1, d2) "
            f"or (m, d1, d2), got {tuple(A.shape)}"
        )
    return [operators.DenseMeasurements(stack) for stack in A], False


def _like(op: operators.MeasurementMap) -> torch.Tensor:
    """An empty tensor of the map's dtype and device (the dtype of its parameters)."""
    for name in ("A", "a", "x"):
        if isinstance(getattr(op, name, None), torch.Tensor):
            return getattr(op, name).new_empty(0)
    device = op.rows.device if isinstance(op, operators.CompletionMeasurements) else getattr(op, "device", "cpu")
    return torch.empty(0, dtype=getattr(op, "dtype", torch.float64), device=device)


def _is_symmetric(op: operators.MeasurementMap) -> bool:
    if isinstance(op, operators.SymmetricRankOneMeasurements):
        return True
    if isinstance(op, operators.BilinearMeasurements):
        return torch.allclose(op.a, op.b)
    stack = op.A if isinstance(op, operators.DenseMeasurements) else operators._adjoint_stack(op)
    return op.shape[0] == op.shape[1] and torch.allclose(stack, stack.transpose(-1, -2))


def _batched(maps: list[operators.MeasurementMap]):
    r"""``apply`` ``(T, d1, d2) -> (T, m)`` and ``adjoint`` ``(T, m) -> (T, d1, d2)`` of a batch of
    maps: one batched product for bilinear (:math:`a_i^\top X b_i`) or symmetric rank-one maps,
    a loop over the instances otherwise."""
    if all(isinstance(op, operators.SymmetricRankOneMeasurements) for op in maps):
        x = torch.stack([op.x for op in maps])
        a, b = x, x
    elif all(isinstance(op, operators.BilinearMeasurements) for op in maps):
        a, b = torch.stack([op.a for op in maps]), torch.stack([op.b for op in maps])
    else:
        return (lambda V: torch.stack([op.apply(v) for op, v in zip(maps, V, strict=True)]),
                lambda y: torch.stack([op.adjoint(z) for op, z in zip(maps, y, strict=True)]))
    return (lambda V: torch.sum((a @ V) * b, dim=-1),
            lambda y: (a * y[..., None]).transpose(-1, -2) @ b)


def weighted_lq_minimization(
    X, y, weights=None, *, q: float = 1.0, tol: float = 1e-10, max_iter: int = 20_000
) -> Result:
    r"""Batched :math:`\min \sum_i w_i|\beta_i|^q` s.t. :math:`X\beta = y`, for :math:`q \in [1, 2]`.

    ``X`` is ``(T, n, d)`` (or ``(n, d)``), ``y`` is ``(T, n)``, ``weights`` positive ``(T, d)``
    (ones when omitted); ``solution`` is ``(T, d)``. ``q = 1`` is (weighted) basis pursuit. The
    flattest depth-:math:`k` Hadamard factorisations :math:`\beta = v_1\odot\cdots\odot v_k` of an
    interpolant minimise this objective with :math:`q = 2 - 2/k` and :math:`w_i = \|X_{:,i}\|^2`
    (up to a constant; see :func:`recovery.flat.flatness.hadamard_trace` and paper A, Section 9): l1 for
    depth 2, :math:`q = 4/3, 3/2` for depths 3, 4, tending to the weighted :math:`\ell_2` norm.

    Same ADMM as the nuclear norms, with the entrywise proximal map of
    :math:`\frac{w}{\rho}|u|^q` in place of the singular-value threshold: the soft threshold
    :math:`\operatorname{sign}(v)\max(|v| - w/\rho, 0)` for :math:`q = 1`, the shrinkage
    :math:`v/(1 + 2w/\rho)` for :math:`q = 2`, and otherwise
    :math:`\operatorname{sign}(v)\,u` with :math:`u \ge 0` the root of
    :math:`u + c\,u^{q-1} = |v|`, :math:`c = qw/\rho` (Newton's method, see the private ``_lq_magnitude``).
    """
    X = validation.tensor("X", X)
    single = X.ndim == 2
    X = X[None] if single else X
    if X.ndim != 3:
        raise ValueError(f"X: expected shape (T, n, d) or (n, d), got {tuple(X.shape)}")
    T, n, d = X.shape
    y = validation.tensor("y", y).to(X)
    y = y[None] if single and y.ndim == 1 else y
    if tuple(y.shape) != (T, n):
        raise ValueError(f"y: expected shape {(T, n)} to match X, got {tuple(y.shape)}")
    weights = _diagonal_weights("weights", None if weights is None else torch.as_tensor(weights).reshape(T, d),
                                (T, d), X)
    q = validation.positive_number("q", q, at_most=2.0)
    if q < 1:
        raise ValueError(f"q: expected 1 <= q <= 2 (the problem is convex only for q >= 1), got {q!r}")
    validation.positive_int("max_iter", max_iter)
    project = admm.affine_projection("X", X, y, (T, d, 1))

    def proximal(V, threshold):
        c = threshold[:, None, None] * weights[:, :, None]
        if q == 1:
            return torch.sign(V) * (V.abs() - c).clamp(min=0)
        if q == 2:
            return V / (1 + 2 * c)
        return torch.sign(V) * _lq_magnitude(V.abs(), q * c, q)

    beta, iteration, converged, primal, dual = admm.solve(project, (T, d, 1), X, tol, max_iter, proximal,
                                                          relaxation=1.0)
    feasible = project(beta)[..., 0]  # for a failure certificate, as in the nuclear-norm programs
    return _result(*_unbatched(single, beta[..., 0], feasible), iteration, converged, primal, dual, tol, max_iter)


def _lq_magnitude(a: torch.Tensor, c: torch.Tensor, q: float, steps: int = 60) -> torch.Tensor:
    r"""Solve :math:`u + c\,u^{q-1} = a` for :math:`u \ge 0` (``a, c >= 0``, :math:`1 < q < 2`).

    In :math:`t = u^{q-1}` the equation reads :math:`\varphi(t) = t^{1/(q-1)} + ct - a = 0` with
    :math:`\varphi` convex and increasing on :math:`t \ge 0`, so Newton's method started to the
    right of the root, at :math:`t_0 = \min(a/c, a^{q-1})` (where :math:`\varphi \ge 0`),
    decreases monotonically to it and converges quadratically. It stops once no step exceeds
    :math:`10^{-12}` relative (the next error is then at rounding level; typically after fewer
    than ten steps), or after ``steps``.
    """
    power = 1 / (q - 1)
    t = torch.minimum(a / c.clamp(min=torch.finfo(a.dtype).tiny), a ** (q - 1))
    for _ in range(steps):
        step = (t**power + c * t - a) / (power * t ** (power - 1) + c)
        t_next = torch.where(t > 0, (t - step).clamp(min=0), t)
        settled = bool(((t_next - t).abs() <= 1e-12 * t_next).all())
        t = t_next
        if settled:
            break
    return t**power




def weighted_nuclear_completion(
    observations,
    row_weights=None,
    col_weights=None,
    *,
    tol: float = 1e-10,
    max_iter: int = 20_000,
    relaxation: float = 1.6,
) -> Result:
    r"""Completion: :math:`\min \|D_1 Y D_2\|_*` s.t. :math:`Y_{ij} = M_{ij}` for :math:`(i, j) \in \Omega`, batched.

    ``observations`` is one :class:`~recovery.core.observations.Observations` (then ``solution``
    is ``d1 x d2``) or a sequence of ``T`` of them, one per instance, all of one shape
    (``solution`` is ``(T, d1, d2)``); :math:`D_1 = \operatorname{diag}` (``row_weights``,
    ``(T, d1)``) and :math:`D_2 = \operatorname{diag}` (``col_weights``, ``(T, d2)``), ones when
    omitted. The flat relaxation of completion uses weights proportional to the square roots of
    the row and column counts (:func:`recovery.flat.flatness.rescaling_matrices` of a completion
    map); a row or column with no observation has weight zero and is rejected. In
    :math:`X = D_1 Y D_2` the constraint is :math:`X_{ij} = (D_1)_{ii} M_{ij} (D_2)_{jj}` on
    :math:`\Omega`, so the projection of the ADMM is an overwrite and nothing of size
    :math:`m\times d_1 d_2` is formed. ``relaxation`` is the ADMM's :math:`\eta`
    (:mod:`~recovery.convex.admm`); ``1.0`` is the plain iteration that
    :func:`~recovery.convex.lowrank_admm.lowrank_nuclear_completion` runs on low-rank iterates.
    """
    single = isinstance(observations, Observations)
    batch = [observations] if single else observations
    if isinstance(batch, Observations | str) or not isinstance(batch, Sequence) or len(batch) == 0 or not all(
        isinstance(o, Observations) for o in batch
    ):
        raise ValueError("observations: expected an Observations or a non-empty sequence of them")
    shapes = {tuple(o.shape) for o in batch}
    if len(shapes) != 1:
        raise ValueError(f"observations: expected one shape for the batch, got {sorted(shapes)}")
    T, (d1, d2) = len(batch), batch[0].shape
    values = torch.zeros((T, d1, d2), dtype=batch[0].values.dtype, device=batch[0].values.device)
    mask = torch.zeros((T, d1, d2), dtype=torch.bool, device=values.device)
    for t, o in enumerate(batch):
        values[t, o.rows, o.cols] = o.values.to(values)
        mask[t, o.rows, o.cols] = True
    w1 = _diagonal_weights("row_weights", _batch_of(row_weights, single), (T, d1), values)
    w2 = _diagonal_weights("col_weights", _batch_of(col_weights, single), (T, d2), values)
    validation.positive_int("max_iter", max_iter)
    scale = w1[:, :, None] * w2[:, None, :]
    target = scale * values

    def project(V):
        return torch.where(mask, target, V)

    X, iteration, converged, primal, dual = admm.solve(project, (T, d1, d2), values, tol, max_iter,
                                                       relaxation=relaxation)
    return _result(*_unbatched(single, X / scale, project(X) / scale), iteration, converged, primal, dual, tol,
                   max_iter)


#: Relative margin by which a feasible point's objective must undercut a candidate's to certify
#: that the candidate is not a minimiser.
CERTIFICATE_MARGIN = 1e-9


def undercuts(feasible_objective: float, candidate_objective: float) -> bool:
    """Whether a feasible point's objective lies below a candidate's by more than
    :data:`~recovery.convex.programs.CERTIFICATE_MARGIN`, relatively: then the candidate is not a minimiser of the program,
    however long a solver runs (the ``"feasible"`` certificate of the module docstring)."""
    return feasible_objective < (1 - CERTIFICATE_MARGIN) * candidate_objective


def _unbatched(single: bool, *batches):
    """The batches as given, or their one instance when the call was for a single instance."""
    return tuple(batch[0] if single and batch is not None else batch for batch in batches)


def _batch_of(weights, single):
    """Weights of one instance (a vector) as a batch of one."""
    if weights is None or not single:
        return weights
    weights = torch.as_tensor(weights)
    return weights[None] if weights.ndim == 1 else weights


def robust_pca(Y, budget, *, tol: float = 1e-10, max_iter: int = 20_000) -> Result:
    r"""Robust PCA relaxation :math:`\min \|X\|_*` s.t. :math:`\|Y - X\|_{1,1} \le \tau`, batched.

    ``Y`` is ``(T, d1, d2)`` (or one ``d1 x d2`` matrix) and ``budget`` the entrywise
    :math:`\ell_1` budget :math:`\tau` per instance (a number or ``(T,)``); flat solutions of the
    robust PCA loss solve this problem with :math:`\tau = \|S^\star\|_{1,1}` (paper A, Theorem 1.3).
    The ADMM's projection is :math:`Z = Y - \Pi_\tau(Y - V)`, with :math:`\Pi_\tau` the Euclidean
    projection onto the :math:`\ell_1` ball of radius :math:`\tau` (by sorting).
    """
    Y = validation.tensor("Y", Y)
    single = Y.ndim == 2
    Y = Y[None] if single else Y
    if Y.ndim != 3:
        raise ValueError(f"Y: expected shape (T, d1, d2) or (d1, d2), got {tuple(Y.shape)}")
    T = Y.shape[0]
    budget = validation.tensor("budget", budget).to(Y)
    budget = budget.expand(T) if budget.ndim == 0 else budget
    if tuple(budget.shape) != (T,) or not bool((budget >= 0).all()):
        raise ValueError(f"budget: expected {T} non-negative l1 budgets, got {budget.tolist()}")
    validation.positive_int("max_iter", max_iter)

    def project(V):
        return Y - admm.l1_ball(Y - V, budget)

    X, iteration, converged, primal, dual = admm.solve(project, tuple(Y.shape), Y, tol, max_iter)
    return _result(*_unbatched(single, X, None), iteration, converged, primal, dual, tol, max_iter)




def _result(solution, feasible, iteration, converged, primal, dual, tol, max_iter) -> Result:
    """The result of a batched ADMM run; the message counts the instances that converged.
    ``feasible`` (or None) is a feasible point per instance, kept in ``info``."""
    count, total = int(converged.sum()), converged.numel()
    rule = f"relative primal and dual residuals below tol {tol:.2g}"
    if count == total:
        worst = float(torch.maximum(primal, dual).max())
        status = Status.CONVERGED
        message = (f"{count} of {total} instances converged ({rule}; largest residual {worst:.2g}) "
                   f"after {iteration} iterations")
    else:
        worst = float(torch.maximum(primal, dual)[~converged].max())
        status = Status.MAX_ITER
        message = (f"{count} of {total} instances converged ({rule}) within max_iter = {max_iter}; "
                   f"largest residual of the others {worst:.2g}")
    info = {"primal_residual": primal, "dual_residual": dual}
    if feasible is not None:
        info["feasible"] = feasible
    return Result(solution, converged, status, message, iteration, info=info)


def _diagonal_weights(name, weights, shape, like) -> torch.Tensor:
    if weights is None:
        return torch.ones(shape, dtype=like.dtype, device=like.device)
    weights = validation.tensor(name, weights).to(like)
    if tuple(weights.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(weights.shape)}")
    if not bool((weights > 0).all()):
        raise ValueError(f"{name}: weights must be positive (a zero weight is a row or column with no observation)")
    return weights


def _weight(name, D, T, size, A, single) -> torch.Tensor:
    if D is None:
        return torch.eye(size, dtype=A.dtype, device=A.device).expand(T, size, size)
    D = validation.tensor(name, D).to(A)
    D = D[None] if single and D.ndim == 2 else D
    if tuple(D.shape) != (T, size, size):
        raise ValueError(f"{name}: expected shape {(T, size, size)}, got {tuple(D.shape)}")
    return D
