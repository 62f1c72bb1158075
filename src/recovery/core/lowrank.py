r"""Matrices stored as low rank plus sparse: :math:`X = AB^\top + P_\Omega^*(e)`.

:math:`A \in \mathbb{R}^{d_1\times k}`, :math:`B \in \mathbb{R}^{d_2\times k}`, and
:math:`P_\Omega^*(e)` is the matrix that holds :math:`e_t` at the observed position
:math:`(i_t, j_t)` and zero elsewhere. Such an :math:`X` costs :math:`O((d_1 + d_2)k + |\Omega|)`
memory however large :math:`d_1 d_2` is, and a product :math:`XW` or :math:`X^\top W` with a
:math:`d\times b` block costs :math:`O((d_1 + d_2)kb + |\Omega| b)`: the form of the iterates of
the two-sided lin-RFM (:mod:`recovery.rfm.two_sided`), which never forms a dense matrix.

:class:`Sampling` is the sampling operator :math:`P_\Omega` of one observation set with its
sparse structure built once (compressed rows for :math:`P_\Omega^*(e)W`, compressed columns
for :math:`P_\Omega^*(e)^\top W`; the compressed format multiplies about twice as fast as
coordinates here); :func:`top_singular_triplets` computes leading singular triplets
from products alone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from recovery.core.observations import Observations


class Sampling:
    r"""The sampling operator :math:`P_\Omega` of ``observations`` and its adjoint, as sparse products.

    ``at(A, B)`` evaluates :math:`(AB^\top)_{ij}` on :math:`\Omega` in :math:`O(|\Omega| k)`;
    ``times(e, W)`` is :math:`P_\Omega^*(e)\,W` and ``transpose_times(e, W)`` is
    :math:`P_\Omega^*(e)^\top W`, each :math:`O(|\Omega| b)` for a block of ``b`` columns.
    """

    def __init__(self, observations: Observations):
        self.shape = observations.shape
        self.rows, self.cols = observations.rows, observations.cols
        d1 = self.shape[0]
        zero = self.rows.new_zeros(1)
        self._row_pointers = torch.cat([zero, torch.cumsum(observations.row_counts(), 0)])
        self._by_column = torch.argsort(self.cols * d1 + self.rows)
        self._column_pointers = torch.cat([zero, torch.cumsum(observations.col_counts(), 0)])
        self._rows_by_column = self.rows[self._by_column]
        self._pattern = csr_matrix(self._row_pointers, self.cols, torch.zeros_like(observations.values), self.shape)

    def at(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        r"""The entries of :math:`AB^\top` on :math:`\Omega`, in the observations' order (row-major,
        that of the compressed rows): a sampled product, which never gathers the :math:`|\Omega|\times k`
        rows of ``A`` and ``B`` (25 times faster than gathering them at :math:`|\Omega| = 10^6`, :math:`k = 40`)."""
        return torch.sparse.sampled_addmm(self._pattern, A, B.T, beta=0.0).values()

    def times(self, e: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        r""":math:`P_\Omega^*(e)\,W` for ``W`` of shape ``(d2, b)``."""
        return csr_matrix(self._row_pointers, self.cols, e, self.shape) @ W

    def transpose_times(self, e: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        r""":math:`P_\Omega^*(e)^\top W` for ``W`` of shape ``(d1, b)``."""
        return csr_matrix(self._column_pointers, self._rows_by_column, e[self._by_column], self.shape[::-1]) @ W


def csr_matrix(pointers, indices, values, shape) -> torch.Tensor:
    """The compressed-row sparse matrix with row ``i``'s entries ``values[pointers[i]:pointers[i + 1]]``
    in the columns ``indices[...]`` (same range), without torch's one-time notice that the format is in beta."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return torch.sparse_csr_tensor(pointers, indices, values, shape, check_invariants=False)


@dataclass(frozen=True, eq=False)
class LowRankPlusSparse:
    r""":math:`X = AB^\top + P_\Omega^*(e)`: ``left`` is :math:`A` (``d1 x k``), ``right`` is
    :math:`B` (``d2 x k``), ``sparse`` is :math:`e` on the entries of ``sampling``."""

    left: torch.Tensor
    right: torch.Tensor
    sparse: torch.Tensor
    sampling: Sampling

    def matmul(self, W: torch.Tensor) -> torch.Tensor:
        r""":math:`XW` for ``W`` of shape ``(d2, b)``."""
        return self.left @ (self.right.T @ W) + self.sampling.times(self.sparse, W)

    def rmatmul(self, W: torch.Tensor) -> torch.Tensor:
        r""":math:`X^\top W` for ``W`` of shape ``(d1, b)``."""
        return self.right @ (self.left.T @ W) + self.sampling.transpose_times(self.sparse, W)

    def entries(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        r""":math:`X_{ij}` at the positions ``(rows[t], cols[t])`` that are *not* observed (the
        sparse part is zero there): :math:`O(k)` each, so a test set of any size is cheap."""
        return (self.left[rows] * self.right[cols]).sum(1)

    def dense(self) -> torch.Tensor:
        """The ``d1 x d2`` matrix (only for sizes whose dense storage is affordable)."""
        X = self.left @ self.right.T
        X[self.sampling.rows, self.sampling.cols] += self.sparse
        return X


def frobenius_inner(A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor) -> float:
    r""":math:`\langle AB^\top, CD^\top\rangle_F = \operatorname{tr}((A^\top C)(D^\top B))` without
    forming either product."""
    return float(((A.T @ C) * (B.T @ D)).sum())


def top_singular_triplets(
    X: LowRankPlusSparse, start: torch.Tensor, passes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Leading singular triplets :math:`(U, \sigma, V)` of ``X`` by subspace iteration.

    ``start`` (``d2 x b``) spans the initial right subspace; each pass applies :math:`XX^\top`
    to it and re-orthonormalises, and a final Rayleigh-Ritz step returns ``b`` triplets in
    decreasing order. Subspace :math:`i` converges at the rate :math:`\sigma_{b+1}/\sigma_i` per
    pass, so a warm start from the previous iterate's vectors, as the two-sided lin-RFM uses,
    needs few passes, and none of them forms ``X``.
    """
    V = torch.linalg.qr(start).Q
    for _ in range(passes):
        V = torch.linalg.qr(X.rmatmul(torch.linalg.qr(X.matmul(V)).Q)).Q
    Q = torch.linalg.qr(X.matmul(V)).Q
    U_small, sigma, Vt = torch.linalg.svd(X.rmatmul(Q).T, full_matrices=False)
    return Q @ U_small, sigma, Vt.T
