"""Convex relaxations (paper A): the programs (:mod:`~recovery.convex.programs`) and the one
ADMM engine that solves them all (:mod:`~recovery.convex.admm`)."""

from recovery.convex.programs import (
    robust_pca,
    weighted_lq_minimization,
    weighted_nuclear_completion,
    weighted_nuclear_minimization,
)

__all__ = [
    "robust_pca",
    "weighted_lq_minimization",
    "weighted_nuclear_completion",
    "weighted_nuclear_minimization",
]
