"""Convex relaxations (paper A): the programs (:mod:`~recovery.convex.programs`), the one
ADMM engine that solves them all (:mod:`~recovery.convex.admm`), the same ADMM on
low-rank-plus-sparse iterates for nuclear-norm completion at scale
(:mod:`~recovery.convex.lowrank_admm`), and the dual certificate that decides, without a solver,
whether nuclear-norm-type programs recover a given low-rank matrix
(:mod:`~recovery.convex.certificate`)."""

from recovery.convex.lowrank_admm import lowrank_nuclear_completion
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
    "lowrank_nuclear_completion",
    "robust_pca",
    "undercuts",
    "weighted_lq_minimization",
    "weighted_nuclear_completion",
    "weighted_nuclear_minimization",
]
