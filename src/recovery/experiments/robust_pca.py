r"""Robust PCA by flat minima (flat-minima paper, Theorem 1.3); the paper has no experiment.

Observe :math:`Y = M^\star + S^\star`, a rank-:math:`r` matrix plus outliers, at most :math:`l` per
row and per column (:func:`recovery.core.problems.robust_pca_problem`). The loss

.. math::
   f(L, R) = \operatorname{dist}^2(Y - LR^\top, \mathcal{C}),

   \mathcal{C} = \{S : \|S\|_{1,1} \le \|S^\star\|_{1,1}\},

is :math:`C^1` but not :math:`C^2`; on its solution set the Hessian of its local quadratic model is
that of :math:`\|LR^\top - \cdot\|_F^2`, whose scaled trace is :math:`2(\|L\|_F^2 + \|R\|_F^2)`
(the identity map, Lemma 2.1). Flat solutions are therefore norm-minimal and solve

.. math::
   \min_X \|X\|_* \quad\text{subject to}\quad Y - X \in \mathcal{C},

:func:`recovery.convex.robust_pca`. Theorem 1.3: if :math:`l \lesssim d/(\mu r)` every flat solution
recovers :math:`M^\star` exactly. The sweep records, over a grid of ranks and outlier counts, the
recovery error of this relaxation for each trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from recovery import convex
from recovery.core import problems
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, latex, phase_diagram
from recovery.experiments.spec import FigureSpec, Row, column, parts, split_parts, trial_generator

FIGURE_ID = "flat-robust-pca"
SUCCESS = 1e-6  # recovery when ||X - M*||_F < SUCCESS (||M*||_F = 1)


def solve_point(d: int, rank: int, outliers: int, params: Mapping[str, Any], index: tuple[int, ...]) -> list[Row]:
    """Draw ``params["trials"]`` instances (``d x d``, ``rank``, ``outliers`` per row and column)
    and solve the relaxation with budget :math:`\\|S^\\star\\|_{1,1}` times ``params["budget_factor"]``,
    batched; one row per trial."""
    truths, corruptions = zip(
        *(problems.robust_pca_problem(d, d, rank, outliers, trial_generator(params["seed"], *index, trial),
                                      magnitude=params["magnitude"])
          for trial in range(params["trials"])),
        strict=True,
    )
    M, S = torch.stack(truths), torch.stack(corruptions)
    budget = params["budget_factor"] * S.abs().sum(dim=(1, 2))
    result = convex.robust_pca(M + S, budget, tol=params["tol"], max_iter=params["max_iter"])
    error = torch.linalg.matrix_norm(result.solution - M)
    rank_found = torch.linalg.matrix_rank(result.solution, rtol=1e-8)
    return [
        {
            "d": d, "rank": rank, "outliers": outliers, "trial": trial,
            "error": float(error[trial]),
            "success": int(bool(error[trial] < SUCCESS)),
            "rank_found": int(rank_found[trial]),
            "converged": int(bool(result.converged[trial])),
            "iterations": result.iterations,
        }
        for trial in range(M.shape[0])
    ]


def compute(params: Mapping[str, Any]) -> list[Row]:
    """Sweep ``ranks x outliers`` at dimension ``d``; trial ``t`` at grid point ``(i, j)`` is drawn
    from ``trial_generator(seed, i, j, t)``.

    Parameters: ``d``, ``ranks``, ``outliers``, ``trials``, ``magnitude`` (outlier size relative to
    the root-mean-square entry of :math:`M^\\star`), ``budget_factor`` (1: the exact budget of the
    theorem), ``tol``, ``max_iter``, ``seed``. Success is judged by the error alone; ``converged``
    records whether the solver also met its tolerance.
    """
    rows: list[Row] = []
    for i in parts(params, len(params["ranks"])):
        rank = params["ranks"][i]
        for j, outliers in enumerate(params["outliers"]):
            rows += solve_point(params["d"], rank, outliers, params, (i, j))
    return rows


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) Success frequency over (rank, outliers per row and column); (b) median error."""
    ranks, outliers = params["ranks"], params["outliers"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.6), layout="constrained")
    frequency = [[np.mean(column(rows, "success", rank=r, outliers=count)) for r in ranks] for count in outliers]
    image = phase_diagram(left, frequency, ranks, outliers, xlabel=r"rank $r$ of $M^\star$",
                          ylabel=r"outliers $l$ per row and column",
                          title="(a) exact recovery, flat solutions")
    fig.colorbar(image, ax=left, label="success frequency")
    shades = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ranks)))
    for rank, shade in zip(ranks, shades, strict=True):
        medians = [np.median(column(rows, "error", rank=rank, outliers=count)) for count in outliers]
        right.plot(outliers, np.maximum(medians, 1e-16), marker="o", color=shade, label=f"$r = {rank}$")
    right.axhline(SUCCESS, color="tab:red", lw=1, ls="--", label=f"success threshold ${latex(SUCCESS)}$")
    right.set(yscale="log", xlabel=r"outliers $l$ per row and column", ylabel=r"median $\|X - M^\star\|_F$",
              title="(b) recovery error")
    left.set_xticks(ranks)
    left.set_yticks(outliers)
    right.set_xticks(outliers)
    right.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def _few_outliers(rows, params) -> Evidence:
    """Exact recovery with the fewest outliers at the lowest rank, none with the most at the highest."""
    low = {"rank": min(row["rank"] for row in rows), "outliers": min(row["outliers"] for row in rows)}
    high = {"rank": max(row["rank"] for row in rows), "outliers": max(row["outliers"] for row in rows)}
    good, total = claims.share(rows, lambda row: row["success"], **low)
    bad, total_high = claims.share(rows, lambda row: row["success"], **high)
    holds = good >= 0.9 * total and bad <= 0.1 * total_high
    return Evidence(holds, f"{good}/{total} recovered at rank {low['rank']} with {low['outliers']} outliers per "
                           f"row; {bad}/{total_high} at rank {high['rank']} with {high['outliers']}")


def _rank_tradeoff(rows, params) -> Evidence:
    """The corruption flat solutions tolerate falls with the rank: the trials recovered over all
    outlier counts are fewer at the highest rank than at the lowest, and no rank of the upper half
    of the grid recovers more than any rank of the lower half (a trend robust to ten trials a cell)."""
    ranks = sorted({row["rank"] for row in rows})
    if len(ranks) < 2:
        return Evidence.undecided("one rank only: a trade-off needs two")
    totals = [claims.share(rows, lambda row: row["success"], rank=rank)[0] for rank in ranks]
    half = len(ranks) // 2
    holds = totals[-1] < totals[0] and max(totals[half:]) <= min(totals[:half])
    return Evidence(holds, "trials recovered by rank " + ", ".join(map(str, ranks)) + ": " + ", ".join(map(str, totals)))


CLAIMS = (
    Claim("flat-robust-pca-recovers", "paper A, Theorem 1.3",
          "Flat solutions of the robust PCA loss recover M* exactly when the outliers per row and column are few "
          "compared with d / rank, and not when they are many.",
          "success shares at the two corners of the (rank, outliers) grid", _few_outliers),
    Claim("flat-robust-pca-rank-tradeoff", "paper A, Theorem 1.3",
          "The number of outliers per row and column that flat solutions tolerate falls as the rank grows.",
          "trials recovered per rank, over all outlier counts", _rank_tradeoff),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/flat_robust_pca.ipynb",
        claims=CLAIMS,
        claim=(
            "Theorem 1.3 (flat-minima paper): flat solutions of the robust PCA loss recover M* "
            "exactly when the outliers per row and column are few compared with d / rank."
        ),
        scales={
            "ci": {
                "d": 12, "ranks": [1, 3], "outliers": [1, 5], "trials": 2, "magnitude": 10.0,
                "budget_factor": 1.0, "tol": 1e-9, "max_iter": 1000, "seed": 2024,
            },
            "paper": {
                "d": 40, "ranks": [1, 2, 3, 4, 5, 6, 7, 8], "outliers": [2, 4, 6, 8, 10, 12, 14, 16],
                "trials": 10, "magnitude": 10.0, "budget_factor": 1.0, "tol": 1e-9, "max_iter": 3000,
                "seed": 2024,
            },
        },
        compute=compute,
        plot=plot,
        split=split_parts(lambda params: len(params["ranks"])),
    ),
)
