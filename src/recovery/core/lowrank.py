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
coordinates here), tile by tile on a CPU; :func:`top_singular_triplets` computes leading singular triplets
from products alone.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import torch

from recovery.core import validation
from recovery.core.observations import Observations, equal_length_lines, line_pointers

#: A row whose unobserved part is below this fraction of its total is summed entry by entry.
CANCELLATION = 1e-3
#: Numbers per block when work goes block by block (rows summed entry by entry, per-line Grams).
ROW_CHUNK_ENTRIES = 1 << 22
#: Bytes of a dense factor beyond which a sparse product takes it a cache line's columns at a time.
CACHED_BYTES = 8 << 20
#: Bytes of a CPU cache line.
CACHE_LINE = 64
#: Rows and columns of a tile of the observed entries on a CPU (:class:`Sampling`).
TILE_LINES = 1 << 16


@dataclass(frozen=True, eq=False)
class _Tile:
    """The observed entries in rows ``[r0, r1)`` and columns ``[c0, c1)``: positions ``[start, stop)``
    of the sampling's order, in compressed rows (``row_pointers``, ``cols``, local) and compressed
    columns (``by_column`` permutes the tile's entries column-major; ``column_pointers``, ``rows``)."""

    start: int
    stop: int
    r0: int
    r1: int
    c0: int
    c1: int
    row_pointers: torch.Tensor
    cols: torch.Tensor
    pattern: torch.Tensor
    by_column: torch.Tensor
    column_pointers: torch.Tensor
    rows: torch.Tensor

    @classmethod
    def of(cls, rows: torch.Tensor, cols: torch.Tensor, dtype: torch.dtype, start: int, r0: int, r1: int, c0: int,
           c1: int) -> _Tile:
        """The tile of the entries ``(rows, cols)`` (global indices, row-major) at ``start``, for values of ``dtype``."""
        rows, cols = rows - r0, cols - c0
        row_pointers = line_pointers(torch.bincount(rows, minlength=r1 - r0))
        by_column = torch.argsort(cols * (r1 - r0) + rows)
        column_pointers = line_pointers(torch.bincount(cols, minlength=c1 - c0))
        pattern = csr_matrix(row_pointers, cols, torch.zeros(rows.numel(), dtype=dtype, device=rows.device),
                             (r1 - r0, c1 - c0))
        return cls(start, start + rows.numel(), r0, r1, c0, c1, row_pointers, cols, pattern, by_column,
                   column_pointers, rows[by_column])

    def matrix(self, e: torch.Tensor) -> torch.Tensor:
        r"""The tile's part of :math:`P_\Omega^*(e)` (``e`` on all entries, the sampling's order), compressed rows."""
        return csr_matrix(self.row_pointers, self.cols, e[self.start:self.stop], (self.r1 - self.r0, self.c1 - self.c0))

    def transpose(self, e: torch.Tensor) -> torch.Tensor:
        """The transpose of :meth:`matrix`, compressed rows: the tile's entries put column-major, a permutation
        within the tile, whose reads stay in cache (d = 4 * 10^5, 2 threads: 0.39-0.45 against 1.0-1.5 s for
        ``transpose_times`` with one permutation of all 4 * 10^7 entries)."""
        by_column = e[self.start:self.stop].index_select(0, self.by_column)
        return csr_matrix(self.column_pointers, self.rows, by_column, (self.c1 - self.c0, self.r1 - self.r0))


class Sampling:
    r"""The sampling operator :math:`P_\Omega` of ``observations`` and its adjoint, as sparse products.

    ``at(A, B)`` evaluates :math:`(AB^\top)_{ij}` on :math:`\Omega` in :math:`O(|\Omega| k)`;
    ``times(e, W)`` is :math:`P_\Omega^*(e)\,W` and ``transpose_times(e, W)`` is
    :math:`P_\Omega^*(e)^\top W`, each :math:`O(|\Omega| b)` for a block of ``b`` columns.

    **Tiles and the sampling's order.** A sparse product reads the rows of the dense factors at
    the observed positions, at random; once the factors outgrow the CPU's caches each read waits for
    memory (d = 4 * 10^5, 4 * 10^7 entries, 2 threads: 45 ns per entry for ``at`` with
    20 columns, against 15 at d = 10^4). So on a CPU the entries are cut into tiles of ``tile``
    (default :data:`TILE_LINES`) rows by ``tile`` columns, and each product runs tile by tile on
    the slices of the factors that the tile reads. The entries are kept **tile by tile**, row-major
    inside a tile: vectors on :math:`\Omega` (``e``, the result of ``at``) are in this order, that
    of ``rows`` and ``cols``; :meth:`ordered` puts the observations' values into it. With
    one tile (every matrix with at most ``tile`` rows and columns, and by default on a GPU, whose
    caches this tiling was not measured on) it is the observations' own order, row-major.
    """

    def __init__(self, observations: Observations, tile: int | None = None):
        self.shape = d1, d2 = observations.shape
        device = observations.rows.device
        if tile is None:
            tile = TILE_LINES if device.type == "cpu" else max(d1, d2)
        tile = validation.positive_int("tile", tile)
        across = -(-d2 // tile)
        key = (observations.rows // tile) * across + observations.cols // tile
        # the observations are row-major, so a stable sort by tile keeps each tile row-major
        self.order = None if max(d1, d2) <= tile else torch.argsort(key, stable=True)
        self.rows, self.cols = self.ordered(observations.rows), self.ordered(observations.cols)
        counts = torch.bincount(key, minlength=-(-d1 // tile) * across).tolist()
        self._tiles, start = [], 0
        for index, count in enumerate(counts):
            if count:
                r0, c0 = (index // across) * tile, (index % across) * tile
                entries = slice(start, start + count)
                self._tiles.append(_Tile.of(self.rows[entries], self.cols[entries], observations.values.dtype, start,
                                            r0, min(r0 + tile, d1), c0, min(c0 + tile, d2)))
            start += count
        self._observations = observations

    @property
    def tile_count(self) -> int:
        """The number of tiles that hold entries."""
        return len(self._tiles)

    @functools.cached_property
    def _whole(self) -> _Tile:
        """All the observed entries as one tile, for :meth:`line_conditioning`, which needs whole rows and
        columns: the sampling's tile when it has a single one, otherwise built on the first call."""
        if self.order is None and self._tiles:  # one tile, the whole matrix
            return self._tiles[0]
        observations, (d1, d2) = self._observations, self.shape
        return _Tile.of(observations.rows, observations.cols, observations.values.dtype, 0, 0, d1, 0, d2)

    def ordered(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` given in the observations' order (row-major), put in the sampling's order."""
        return values if self.order is None else values.index_select(0, self.order)

    def at(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        r"""The entries of :math:`AB^\top` on :math:`\Omega`, in the sampling's order: a sampled
        product per tile, which never gathers the :math:`|\Omega|\times k` rows of ``A`` and ``B``
        (25 times faster than gathering them at :math:`|\Omega| = 10^6`, :math:`k = 40`)."""
        values = [torch.sparse.sampled_addmm(tile.pattern, A[tile.r0:tile.r1], B[tile.c0:tile.c1].T, beta=0.0).values()
                  for tile in self._tiles]
        return values[0] if len(values) == 1 else torch.cat(values)

    def unobserved_squared_norm(self, A: torch.Tensor, B: torch.Tensor) -> float:
        r""":math:`\|P_{\Omega^c}(AB^\top)\|_F^2`, the squared norm of :math:`AB^\top` off
        :math:`\Omega`, in :math:`O((d_1 + d_2)k^2 + |\Omega| k)`, accurate to rounding in the
        entries of :math:`AB^\top` even when its norm is far below :math:`\|A\|\|B\|` (a
        difference of two nearly equal factorisations, say).

        With :math:`B = QR` (thin QR), :math:`AB^\top = (AR^\top)Q^\top` with orthonormal
        columns in :math:`Q`, so row :math:`i` has the squared norm :math:`\|(AR^\top)_i\|^2`:
        no Gram matrix, whose rounding of order :math:`\epsilon\|A\|^2\|B\|^2` would hide any
        relative change below :math:`\sqrt\epsilon`. The row's unobserved part is that total minus
        its observed entries' squares. Where the observed part holds all but a fraction
        :data:`CANCELLATION` of the total (one large observed entry, or a row observed almost
        everywhere), that subtraction would lose the unobserved part to rounding, so those rows
        are summed entry by entry instead (:math:`O(d_2 k)` each).
        """
        Q, R = torch.linalg.qr(B)
        A = A @ R.T
        totals = (A**2).sum(1)
        observed = torch.zeros_like(totals).index_add_(0, self.rows, self.at(A, Q) ** 2)
        unobserved = totals - observed
        suspect = torch.nonzero(unobserved < CANCELLATION * totals)[:, 0]
        if suspect.numel():
            chunk = max(1, ROW_CHUNK_ENTRIES // max(self.shape[1], 1))
            exact = torch.cat([self._unobserved_rows(A, Q, rows) for rows in suspect.split(chunk)])
            unobserved[suspect] = exact
        return float(unobserved.sum())

    def _unobserved_rows(self, A: torch.Tensor, B: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        r"""Per row in ``rows``: the sum of squares of :math:`AB^\top` off :math:`\Omega`, entry by entry."""
        block = A[rows] @ B.T
        local = torch.full((self.shape[0],), -1, dtype=rows.dtype, device=rows.device)
        local[rows] = torch.arange(rows.numel(), dtype=rows.dtype, device=rows.device)
        hit = local[self.rows] >= 0
        block[local[self.rows[hit]], self.cols[hit]] = 0
        return (block**2).sum(1)

    def line_conditioning(self, U: torch.Tensor, V: torch.Tensor) -> float:
        r"""How well the observations determine a matrix of column space ``U`` and row space ``V``
        line by line: the smallest, over the rows :math:`i` and columns :math:`j`, of the inverse
        condition numbers :math:`\lambda_{\min}/\lambda_{\max}` of the Gram matrices
        :math:`\sum_{j' \in \Omega_i} v_{j'}v_{j'}^\top` and :math:`\sum_{i' \in \Omega^j} u_{i'}u_{i'}^\top`
        (:math:`v_{j'}`, :math:`u_{i'}` the rows of ``V`` and ``U``; zero for an empty line).

        :math:`P_\Omega` is injective on the tangent space
        :math:`\{UA^\top + BV^\top\}` of the rank-:math:`k` matrices at such a matrix only if it
        is on both its parts :math:`\{BV^\top\}` and :math:`\{UA^\top\}`, that is only if every
        one of these Gram matrices is invertible: a zero here means that some rank-:math:`k`
        matrices arbitrarily close agree with it on :math:`\Omega` (a row :math:`i` with
        :math:`V` vanishing on its observed columns leaves :math:`e_i w^\top` free, for some
        :math:`w` in the row space). Costs :math:`O(|\Omega| k^2 + (d_1 + d_2)k^3)`, in blocks of
        lines of bounded memory."""
        k = U.shape[1]
        if k == 0:
            return 1.0
        whole = self._whole
        rows_side = self._lines_conditioning(whole.row_pointers, whole.cols, V)
        columns_side = self._lines_conditioning(whole.column_pointers, whole.rows, U)
        return min(rows_side, columns_side)

    @staticmethod
    def _lines_conditioning(pointers: torch.Tensor, indices: torch.Tensor, W: torch.Tensor) -> float:
        r"""The smallest inverse condition number of :math:`\sum_{t \in \text{line}} w_{i_t} w_{i_t}^\top`
        over the lines of the compressed structure ``(pointers, indices)`` (``0`` if a line is empty):
        lines of equal length ``n`` are gathered as ``(lines, n, k)`` blocks of rows of ``W`` and
        their Gram matrices formed by one batched product (k = 10, 2 threads: 0.15 against 0.77 s
        for summing the :math:`|\Omega|` outer products at d = 10^4, 10^6 entries; 1.5 against 2.8-8
        s at d = 10^5, 10^7 entries)."""
        if bool((pointers[1:] == pointers[:-1]).any()):
            return 0.0  # an empty line: its Gram matrix is zero
        k, smallest = W.shape[1], 1.0
        for n, positions in equal_length_lines(pointers):
            block = max(1, ROW_CHUNK_ENTRIES // (n * k + k * k))
            for chunk in positions.split(block):
                rows = W.index_select(0, indices[chunk.reshape(-1)]).view(-1, n, k)
                eigenvalues = torch.linalg.eigvalsh(rows.mT @ rows)
                ratios = eigenvalues[:, 0].clamp(min=0) / eigenvalues[:, -1].clamp(min=torch.finfo(W.dtype).tiny)
                smallest = min(smallest, float(ratios.min()))
        return smallest

    def times(self, e: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        r""":math:`P_\Omega^*(e)\,W` for ``W`` of shape ``(d2, b)``, ``e`` in the sampling's order."""
        return self._tile_by_tile(e, W, transpose=False)

    def transpose_times(self, e: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        r""":math:`P_\Omega^*(e)^\top W` for ``W`` of shape ``(d1, b)``, ``e`` in the sampling's order."""
        return self._tile_by_tile(e, W, transpose=True)

    def _tile_by_tile(self, e: torch.Tensor, W: torch.Tensor, transpose: bool) -> torch.Tensor:
        r"""The sum over the tiles of each tile's part of :math:`P_\Omega^*(e)` (or of its transpose) times
        the slice of ``W`` it reads, into the slice of the product it writes."""
        product = W.new_zeros(self.shape[1 if transpose else 0], W.shape[1])
        for tile in self._tiles:
            rows, cols = slice(tile.r0, tile.r1), slice(tile.c0, tile.c1)
            written, read = (cols, rows) if transpose else (rows, cols)
            sparse = tile.transpose(e) if transpose else tile.matrix(e)
            product[written] += csr_times(sparse, W[read], _line_columns(W[read]))
        return product


def _line_columns(W: torch.Tensor) -> int:
    """The columns per block for a sparse product with ``W``: all of them while ``W`` fits in
    :data:`CACHED_BYTES`, otherwise one cache line's worth, so that each row of ``W`` a stored entry
    reads is one line (d = 10^5, 10^7 stored entries, 40 columns, float64, 2 threads: 161 against
    369 ms; at d = 10^4, where ``W`` fits, blocks gain nothing)."""
    if W.numel() * W.element_size() <= CACHED_BYTES:
        return W.shape[1]
    return max(1, CACHE_LINE // W.element_size())


def csr_times(S: torch.Tensor, W: torch.Tensor, block: int) -> torch.Tensor:
    """:math:`SW` for a compressed-row sparse ``S``. On a CPU ``W`` is taken ``block`` columns at a time,
    each block copied contiguous, so that the rows of ``W`` the stored entries read stay in cache
    while the rows of :math:`S` pass over them; on a GPU, or for ``block`` >= the columns, one product."""
    if W.device.type != "cpu" or block >= W.shape[1]:
        return S @ W
    product = W.new_empty(S.shape[0], W.shape[1])
    for start in range(0, W.shape[1], block):
        product[:, start:start + block] = S @ W[:, start:start + block].contiguous()
    return product


def csr_matrix(pointers, indices, values, shape) -> torch.Tensor:
    """The compressed-row sparse matrix with row ``i``'s entries ``values[pointers[i]:pointers[i + 1]]``
    in the columns ``indices[...]`` (same range), without torch's one-time notice that the format is in beta."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return torch.sparse_csr_tensor(pointers, indices, values, shape, check_invariants=False)


@dataclass(frozen=True, eq=False)
class LowRankPlusSparse:
    r""":math:`X = AB^\top + P_\Omega^*(e)`: ``left`` is :math:`A` (``d1 x k``), ``right`` is
    :math:`B` (``d2 x k``), ``sparse`` is :math:`e` on the entries of ``sampling``, in its order."""

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
