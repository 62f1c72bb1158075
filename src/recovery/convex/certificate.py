r"""A dual certificate that a low-rank matrix is the unique minimiser of a weighted nuclear-norm program.

The program is :math:`\min \|D_1 Y D_2\|_*` subject to :math:`\mathcal{A}(Y) = \mathcal{A}(M^\star)`
(nuclear-norm minimisation when :math:`D_1 = D_2 = I`; the flat relaxation of paper A with its
rescaling matrices). In :math:`Z = D_1 Y D_2` it reads :math:`\min \|Z\|_*` subject to
:math:`\tilde{\mathcal{A}}(Z) = \tilde{\mathcal{A}}(Z^\star)`, with
:math:`\tilde{\mathcal{A}}(Z) = \mathcal{A}(D_1^{-1} Z D_2^{-1})` and :math:`Z^\star = D_1 M^\star D_2`.
Let :math:`Z^\star = U\Sigma V^\top` (compact SVD, rank :math:`r`),
:math:`T = \{UA^\top + BV^\top\}` its tangent space and :math:`P_T`, :math:`P_{T^\perp}` the
orthogonal projections onto :math:`T` and its complement,
:math:`P_{T^\perp}(W) = (I - UU^\top) W (I - VV^\top)`.

**Sufficient condition** (the dual certificate of Candès and Recht, 2009). :math:`Z^\star` is the
unique minimiser if (i) :math:`\tilde{\mathcal{A}}` is injective on :math:`T`, and (ii) some
:math:`\lambda` has :math:`P_T\tilde{\mathcal{A}}^*\lambda = UV^\top` and
:math:`\|P_{T^\perp}\tilde{\mathcal{A}}^*\lambda\|_{\mathrm{op}} < 1`. Proof: a feasible
:math:`Z^\star + H` has :math:`\tilde{\mathcal{A}}(H) = 0`, so
:math:`\langle \tilde{\mathcal{A}}^*\lambda, H\rangle = 0` and
:math:`\langle UV^\top, H\rangle = -\langle P_{T^\perp}\tilde{\mathcal{A}}^*\lambda, P_{T^\perp}H\rangle`.
With a subgradient :math:`UV^\top + W` of the nuclear norm at :math:`Z^\star` (:math:`W \in T^\perp`,
:math:`\|W\|_{\mathrm{op}} \le 1`, :math:`\langle W, P_{T^\perp}H\rangle = \|P_{T^\perp}H\|_*`) and
:math:`\nu = \|P_{T^\perp}\tilde{\mathcal{A}}^*\lambda\|_{\mathrm{op}}`,

.. math::
   \|Z^\star + H\|_* \ge \|Z^\star\|_* + (1 - \nu)\,\|P_{T^\perp}H\|_*,

which is strict unless :math:`P_{T^\perp}H = 0`, that is :math:`H \in T \cap \ker\tilde{\mathcal{A}} = \{0\}`.

**Deciding.** With :math:`\lambda_0` the least-norm solution of
:math:`P_T\tilde{\mathcal{A}}^*\lambda = UV^\top` (computed from the :math:`m \times \dim T` matrix
:math:`\tilde A_T = \tilde{\mathcal{A}}Q` of the map on an orthonormal basis :math:`Q` of :math:`T`:
the matrices :math:`u_i e_j^\top` and :math:`u^\perp_l v_k^\top`), every solution is
:math:`\lambda_0 + (I - P)\mu`, :math:`P` the projection onto the range of :math:`\tilde A_T`. Let

.. math::
   \eta = \min_\mu \|P_{T^\perp}\tilde{\mathcal{A}}^*(\lambda_0 + (I - P)\mu)\|_{\mathrm{op}}.

By the KKT conditions of a program with linear constraints, :math:`Z^\star` is a minimiser exactly
when :math:`\eta \le 1`. :func:`exact_recovery` brackets :math:`\eta`:

* an **upper bound**, the norm at the best :math:`\mu` found by minimising the Schatten
  :math:`p`-norm (a smooth majorant of the operator norm, within a factor
  :math:`\min(d_1, d_2)^{1/p}`) with L-BFGS for :math:`p = 8, 32, \dots, 8192`
  (:data:`EXPONENTS`); evaluated exactly, so an upper bound below 1 (with :data:`SLACK`) and
  injectivity prove :math:`M^\star` the unique minimiser whatever the optimiser's accuracy;
* a **lower bound**, :math:`\langle C, G\rangle / \|G\|_*`, where
  :math:`C = P_{T^\perp}\tilde{\mathcal{A}}^*\lambda` for any admissible :math:`\lambda`, for
  any :math:`G` orthogonal to every
  :math:`P_{T^\perp}\tilde{\mathcal{A}}^*(I - P)\mu` (on that set :math:`\langle C, G\rangle` does not
  depend on :math:`\mu`, and :math:`\langle C, G\rangle \le \|C\|_{\mathrm{op}}\|G\|_*`); we take
  combinations of the top singular pairs of :math:`C` at the best :math:`\mu` (the form of the
  optimal :math:`G`), projected onto that set. A lower bound above 1
  (with :data:`SLACK`) proves :math:`M^\star` is not a minimiser: the relaxation fails however long
  a solver runs (the dual counterpart of :func:`recovery.convex.undercuts`).

When the bracket contains 1 the trial is undecided: :math:`\eta` is then within the bracket's
width of 1 (a few :math:`10^{-4}` at most on the phase-transition figures' instances).
Injectivity is read from :math:`\tilde A_T`'s singular values (smallest over largest above
:data:`INJECTIVE`); without it no recovery is certified.

Cost: :math:`\dim T = r(d_1 + d_2 - r)` applications of the map, :math:`m` of its adjoint, an SVD
of :math:`\tilde A_T`, some hundreds of products with the :math:`(d_1 - r)(d_2 - r) \times m`
matrix of the map on :math:`T^\perp`, and for the lower bound one SVD of that matrix: seconds at
:math:`d = 60`; meant for the phase-transition figures' sizes, not for large instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recovery.core import operators, validation

#: Injectivity on T: the smallest singular value of the map's matrix on T above this times the largest.
#: Rounding puts about eps / INJECTIVE = 1e-8 (float64) of relative error into the certificate.
INJECTIVE = 1e-8

#: Room for that rounding: recovery is certified when the upper bound on eta is at most
#: 1 - SLACK, failure when the lower bound is at least 1 + SLACK.
SLACK = 1e-6

#: The Schatten exponents of the continuation, and L-BFGS iterations per exponent.
EXPONENTS = (8, 32, 128, 512, 2048, 8192)
STEPS = 200


@dataclass(frozen=True)
class Certificate:
    r"""Bounds on :math:`\eta` (module docstring) and what they prove.

    ``injectivity``: smallest over largest singular value of the map on the tangent space (0 when
    it has fewer measurements than the space's dimension, then ``upper = inf`` and
    ``lower = 0``); ``upper`` and ``lower``: the bracket on :math:`\eta` (``lower`` is 0 when it
    was not computed: the upper bound already decided)."""

    injectivity: float
    upper: float
    lower: float

    @property
    def recovers(self) -> bool:
        """Proven: :math:`M^\\star` is the unique minimiser."""
        return self.injectivity > INJECTIVE and self.upper <= 1 - SLACK

    @property
    def fails(self) -> bool:
        """Proven: :math:`M^\\star` is not a minimiser."""
        return self.lower >= 1 + SLACK


def _tangent_basis(U: torch.Tensor, U_perp: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    r"""Orthonormal basis of :math:`T = \{UA^\top + BV^\top\}`, ``(r(d1 + d2 - r), d1, d2)``:
    :math:`u_i e_j^\top` for all :math:`i, j`, then :math:`u^\perp_l v_k^\top` (``U_perp``: an
    orthonormal basis of the complement of ``U``'s columns)."""
    d1, r = U.shape
    d2 = V.shape[0]
    first = torch.einsum("ai,jb->ijab", U, torch.eye(d2, dtype=U.dtype)).reshape(r * d2, d1, d2)
    second = torch.einsum("al,bk->lkab", U_perp, V).reshape((d1 - r) * r, d1, d2)
    return torch.cat([first, second])


def _complement(U: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the orthogonal complement of the columns of ``U``."""
    d, r = U.shape
    complete, _ = torch.linalg.qr(torch.cat([U, torch.eye(d, dtype=U.dtype)], dim=1))
    return complete[:, r:d]


def _schatten(C: torch.Tensor, p: int) -> torch.Tensor:
    """log of the Schatten p-norm, computed stably from the singular values."""
    return torch.logsumexp(p * torch.log(torch.linalg.svdvals(C)), 0) / p


def exact_recovery(op: operators.MeasurementMap, M, D1=None, D2=None, *, rank: int | None = None) -> Certificate:
    r"""Bracket :math:`\eta` of the module docstring for :math:`M^\star` = ``M`` under ``op`` and
    the weights ``D1``, ``D2`` (symmetric positive definite, identity when omitted); the result's
    ``recovers`` and ``fails`` say what the bracket proves.

    ``rank`` is :math:`M^\star`'s rank; by default the number of singular values of
    :math:`D_1 M^\star D_2` above :math:`\max(d_1, d_2)\,\varepsilon\,\sigma_1`. Deterministic:
    the optimiser starts from :math:`\mu = 0`."""
    M = validation.tensor("M", M, ndim=2).to(torch.float64)
    if tuple(M.shape) != tuple(op.shape):
        raise ValueError(f"M: expected shape {tuple(op.shape)} to match the map, got {tuple(M.shape)}")
    d1, d2 = op.shape
    D1 = torch.eye(d1, dtype=M.dtype) if D1 is None else validation.tensor("D1", D1, ndim=2).to(M)
    D2 = torch.eye(d2, dtype=M.dtype) if D2 is None else validation.tensor("D2", D2, ndim=2).to(M)
    left, right = torch.linalg.inv(D1), torch.linalg.inv(D2)
    U, s, Vh = torch.linalg.svd(D1 @ M @ D2, full_matrices=False)
    if rank is None:
        rank = int((s > max(d1, d2) * torch.finfo(s.dtype).eps * s[0]).sum())
    validation.positive_int("rank", rank)
    if rank >= min(d1, d2):
        raise ValueError(f"rank: a certificate needs rank < min(d1, d2) = {min(d1, d2)}, got {rank}")
    U, V = U[:, :rank], Vh[:rank].T
    U_perp, V_perp = _complement(U), _complement(V)
    basis = _tangent_basis(U, U_perp, V)
    on_tangent = torch.stack([op.apply(left @ Q @ right) for Q in basis], dim=1)  # m x dim T
    m, dim = on_tangent.shape
    if m < dim:
        return Certificate(0.0, float("inf"), 0.0)
    W, sigma, Ph = torch.linalg.svd(on_tangent, full_matrices=False)
    injectivity = float(sigma[-1] / sigma[0])
    if not injectivity > INJECTIVE:
        return Certificate(injectivity, float("inf"), 0.0)
    lam0 = W @ ((Ph @ torch.einsum("tab,ab->t", basis, U @ V.T)) / sigma)
    # The map on T-perp: lambda -> U_perp^T A~*(lambda) V_perp, as a (d1 - r)(d2 - r) x m matrix.
    off = U_perp.T @ (left.T @ operators._adjoint_stack(op).to(M) @ right.T) @ V_perp  # (m, d1 - r, d2 - r)
    shape = off.shape[1:]
    off = off.reshape(m, -1).T

    def free(mu):  # (I - P) mu: the directions that keep P_T A~* lambda = UV^T
        return mu - W @ (W.T @ mu)

    def matrix(mu):
        return (off @ (lam0 + free(mu))).reshape(shape)

    mu = torch.zeros(m, dtype=M.dtype, requires_grad=True)
    upper = float(torch.linalg.matrix_norm(matrix(mu.detach()), ord=2))
    for p in EXPONENTS:
        if upper <= 1 - SLACK:
            break
        _minimise(lambda p=p: _schatten(matrix(mu), p), mu)
        upper = min(upper, float(torch.linalg.matrix_norm(matrix(mu.detach()), ord=2)))
    if upper <= 1 - SLACK:
        return Certificate(injectivity, upper, 0.0)
    return Certificate(injectivity, upper, _lower_bound(matrix(mu.detach()), off, W, shape))


def _minimise(objective, variable: torch.Tensor) -> None:
    """Run :data:`STEPS` L-BFGS iterations (strong Wolfe line search) on ``objective()`` in place."""
    optimiser = torch.optim.LBFGS([variable], max_iter=STEPS, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        optimiser.zero_grad()
        value = objective()
        value.backward()
        return value

    optimiser.step(closure)


def _lower_bound(C: torch.Tensor, off: torch.Tensor, W: torch.Tensor, shape) -> float:
    r"""The largest :math:`\langle C, G\rangle / \|G\|_*` over a few :math:`G` orthogonal to every
    :math:`\mathrm{off}\,(I - P)\mu` (each ratio is a valid bound: module docstring).

    At the minimiser the dual matrix is :math:`U_k S V_k^\top`, :math:`S \succeq 0` with trace 1,
    over the :math:`k` singular pairs of ``C`` that tie for the largest. For each :math:`k` with
    :math:`\sigma_k \ge (1 - \delta)\sigma_1`, :math:`\delta \in \{10^{-6}, \dots, 10^{-1}\}`, we take
    the symmetric :math:`S` of trace 1 whose :math:`U_k S V_k^\top` is closest to that orthogonal
    complement (least squares), then project it there exactly."""
    u, sigma, vh = torch.linalg.svd(C, full_matrices=False)
    moving = off - (off @ W) @ W.T  # its columns span the directions C moves in
    basis, singular, _ = torch.linalg.svd(moving, full_matrices=False)
    basis = basis[:, singular > singular[0] * max(moving.shape) * torch.finfo(C.dtype).eps]
    ties = sorted({int((sigma >= (1 - 10.0**-e) * sigma[0]).sum()) for e in range(1, 7)})
    best = 0.0
    for k in ties:
        pairs = [(i, j) for i in range(k) for j in range(i, k)]
        # vec(U_k E_ij V_k^T) for the symmetric unit matrices E_ij, seen by the moving directions
        units = torch.stack([(torch.outer(u[:, i], vh[j]) + torch.outer(u[:, j], vh[i])).reshape(-1) / (1 + (i == j))
                             for i, j in pairs], dim=1)
        seen = basis.T @ units
        trace = torch.tensor([float(i == j) for i, j in pairs], dtype=C.dtype)
        # min ||seen s||^2 subject to trace . s = 1 (KKT system)
        n = len(pairs)
        kkt = torch.zeros(n + 1, n + 1, dtype=C.dtype)
        kkt[:n, :n], kkt[:n, n], kkt[n, :n] = seen.T @ seen, trace, trace
        rhs = torch.zeros(n + 1, dtype=C.dtype)
        rhs[n] = 1
        weights = torch.linalg.lstsq(kkt, rhs).solution[:n]
        G = units @ weights
        G = G - basis @ (basis.T @ G)
        nuclear = float(torch.linalg.matrix_norm(G.reshape(shape), ord="nuc"))
        if nuclear > 0:
            best = max(best, float(G @ C.reshape(-1)) / nuclear)
    return best
