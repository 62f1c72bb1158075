"""The robust PCA sweep: recovery with few outliers, failure with many, and an honest budget."""

from __future__ import annotations

from recovery.book import figures
from recovery.experiments import robust_pca


def test_few_outliers_are_removed_and_many_are_not():
    params = figures.parameters(robust_pca.FIGURE_ID, "paper") | {"trials": 3, "max_iter": 3000}
    easy = robust_pca.solve_point(20, 1, 1, params, (0, 0))
    assert all(row["success"] and row["rank_found"] == 1 for row in easy)
    hard = robust_pca.solve_point(20, 4, 10, params, (0, 1))
    assert not any(row["success"] for row in hard)


def test_a_loose_budget_loses_exactness():
    """With a budget 10% above ||S*||_1 the relaxation may absorb part of M* into the outliers:
    the error is then of the order of the slack, not zero."""
    params = figures.parameters(robust_pca.FIGURE_ID, "paper") | {"trials": 2, "budget_factor": 1.1}
    rows = robust_pca.solve_point(20, 1, 1, params, (0, 0))
    assert all(not row["success"] and row["error"] > 1e-4 for row in rows)
