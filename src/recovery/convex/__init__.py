"""Convex relaxations (paper A): the programs (:mod:`~recovery.convex.programs`) and the one
ADMM engine that solves them all (:mod:`~recovery.convex.admm`)."""

from recovery.convex.programs import (
    CERTIFICATE_MARGIN,
    robust_pca,
    undercuts,
    weighted_lq_minimization,
    weighted_nuclear_completion,
    weighted_nuclear_minimization,
)

__all__ = [
    "CERTIFICATE_MARGIN",
    "robust_pca",
    "undercuts",
    "weighted_lq_minimization",
    "weighted_nuclear_completion",
    "weighted_nuclear_minimization",
]
