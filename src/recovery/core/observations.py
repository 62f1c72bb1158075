r"""Observed entries of a matrix: the COO form ``(rows, cols, values, shape)``.

Matrix completion observes :math:`Y_{ij}` for :math:`(i, j) \in \Omega`. The canonical form is a
list of coordinates, which costs :math:`O(|\Omega|)` memory whatever the matrix size; a boolean
mask is accepted as a convenience (:meth:`Observations.from_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recovery.core import validation


@dataclass(frozen=True, eq=False)
class Observations:
    """Entries ``values[t] = Y[rows[t], cols[t]]`` of a ``shape = (d1, d2)`` matrix.

    Construction validates everything: integer indices within ``shape``, finite values, at least
    one entry, and no coordinate given twice with different values (exact repeats are merged).
    Entries are stored sorted row-major, so each row's entries are contiguous.
    """

    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        d1, d2 = validation.matrix_shape("shape", self.shape)
        values = validation.tensor("values", self.values, ndim=1)
        rows = validation.indices("rows", self.rows, d1, values.device)
        cols = validation.indices("cols", self.cols, d2, values.device)
        if not rows.shape == cols.shape == values.shape:
            raise ValueError(
                f"values: rows, cols and values must have one length, got {rows.shape[0]}, "
                f"{cols.shape[0]} and {values.shape[0]}"
            )
        if values.shape[0] == 0:
            raise ValueError("values: the observation set is empty")
        key = rows * d2 + cols
        order = torch.argsort(key, stable=True)
        key, rows, cols, values = key[order], rows[order], cols[order], values[order]
        repeat = key[1:] == key[:-1]
        if bool(repeat.any()):
            if bool((values[1:][repeat] != values[:-1][repeat]).any()):
                where = int(torch.nonzero(repeat & (values[1:] != values[:-1]))[0, 0]) + 1
                raise ValueError(
                    f"values: entry ({int(rows[where])}, {int(cols[where])}) is observed twice "
                    "with different values"
                )
            keep = torch.cat([torch.ones(1, dtype=torch.bool, device=key.device), ~repeat])
            rows, cols, values = rows[keep], cols[keep], values[keep]
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "shape", (d1, d2))

    @classmethod
    def from_mask(cls, mask, matrix) -> Observations:
        """Observe ``matrix`` where the boolean ``mask`` (same shape) is true."""
        matrix = validation.tensor("matrix", matrix, ndim=2)
        mask = torch.as_tensor(mask, device=matrix.device)
        if mask.dtype != torch.bool:
            raise ValueError(f"mask: expected a boolean array, got dtype {mask.dtype}")
        if mask.shape != matrix.shape:
            raise ValueError(f"mask: shape {tuple(mask.shape)} differs from the matrix's {tuple(matrix.shape)}")
        rows, cols = torch.nonzero(mask, as_tuple=True)
        return cls(rows, cols, matrix[rows, cols], tuple(matrix.shape))

    @property
    def count(self) -> int:
        """Number of observed entries :math:`|\\Omega|`."""
        return self.values.shape[0]

    def to(self, device=None, dtype=None) -> Observations:
        """Return a copy on ``device`` with values of ``dtype`` (indices stay int64)."""
        values = self.values.to(device=device, dtype=dtype or self.values.dtype)
        return Observations(self.rows.to(values.device), self.cols.to(values.device), values, self.shape)

    def row_counts(self) -> torch.Tensor:
        """Observed entries per row, shape ``(d1,)``."""
        return torch.bincount(self.rows, minlength=self.shape[0])

    def col_counts(self) -> torch.Tensor:
        """Observed entries per column, shape ``(d2,)``."""
        return torch.bincount(self.cols, minlength=self.shape[1])

    def fewest_per_line(self) -> int:
        """The fewest observed entries in any row or column. Below ``r``, that row or column of a
        rank-``r`` matrix is not determined by the data, whatever the method."""
        return int(min(self.row_counts().min(), self.col_counts().min()))

    def mask(self) -> torch.Tensor:
        """Boolean ``d1 x d2`` mask of the observed set (forms a dense array)."""
        mask = torch.zeros(self.shape, dtype=torch.bool, device=self.values.device)
        mask[self.rows, self.cols] = True
        return mask

    def zero_filled(self) -> torch.Tensor:
        """Dense ``d1 x d2`` matrix with the observed values and zeros elsewhere."""
        Z = torch.zeros(self.shape, dtype=self.values.dtype, device=self.values.device)
        Z[self.rows, self.cols] = self.values
        return Z

    def residual(self, Z: torch.Tensor) -> torch.Tensor:
        r"""Return :math:`\|P_\Omega(Z - Y)\|_F / \|P_\Omega(Y)\|_F`, the relative observed misfit."""
        misfit = Z[self.rows, self.cols] - self.values
        return torch.linalg.vector_norm(misfit) / torch.linalg.vector_norm(self.values)


def line_pointers(counts: torch.Tensor) -> torch.Tensor:
    """The compressed offsets of lines holding ``counts`` entries each, stored one line after the
    other: line ``t`` holds the entries ``pointers[t]`` to ``pointers[t + 1] - 1`` (shape ``(lines + 1,)``)."""
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def equal_length_lines(pointers: torch.Tensor) -> tuple[tuple[int, torch.Tensor], ...]:
    """The non-empty lines of a compressed structure (line ``t`` holds the entries ``pointers[t]``
    to ``pointers[t + 1] - 1``, as the rows of row-major observations do) grouped by length: one
    ``(n, positions)`` per length ``n``, ascending, ``positions`` of shape ``(lines of length n, n)``
    holding their entries' positions, so that a batch of equal lines is one reshaped gather."""
    counts = pointers[1:] - pointers[:-1]
    groups = []
    for n in torch.unique(counts).tolist():
        if n == 0:
            continue
        lines = torch.nonzero(counts == n).flatten()
        groups.append((n, pointers[lines, None] + torch.arange(n, device=pointers.device)))
    return tuple(groups)
