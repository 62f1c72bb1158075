r"""Flat = balanced = norm-minimal for the identity map (flat-minima paper, Lemmas 2.1 and 2.2).

With :math:`f(L,R) = \|LR^\top - M^\star\|_F^2` the scaled Hessian trace is
:math:`2(\|L\|_F^2 + \|R\|_F^2)`, whose minimum over the solution set
:math:`\{LR^\top = M^\star\}` is :math:`4\|M^\star\|_*`, attained exactly at balanced factors
(:math:`L^\top L = R^\top R`). The experiment draws many interpolating factorisations of
random low-rank truths, records their scaled trace against their balancedness gap, and balances
each one with :func:`recovery.flat.flatness.balanced_factors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from recovery.core import problems
from recovery.core.operators import IdentityMeasurements
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, legend_below
from recovery.experiments.spec import FigureSpec, Row, column, parts, split_parts, trial_generator
from recovery.flat import flatness

FAMILIES = flatness.FACTORISATION_FAMILIES
FIGURE_ID = "flat-identity"


def compute(params: Mapping[str, Any]) -> list[Row]:
    """Scaled trace, balancedness gap and their values after balancing, for every factorisation.

    Parameters: ``d1, d2, rank, widths, truths, samples, max_spread, seed``. Truth ``t`` and its
    factorisations use the generator ``trial_generator(seed, t)``. Within a (truth, width, family)
    cell sample 0 has spread 0 (balanced) and the others log-spaced spreads from
    ``1e-6 * max_spread`` to ``max_spread``, so the distances to the flat point span many decades.
    """
    d1, d2, rank = params["d1"], params["d2"], params["rank"]
    op = IdentityMeasurements(d1, d2)
    rows: list[Row] = []
    for truth in parts(params, params["truths"]):
        generator = trial_generator(params["seed"], truth)
        M = problems.low_rank_matrix(d1, d2, rank, generator)
        flat_value = 4 * float(flatness.nuclear_norm(M))
        spreads = [0.0, *(params["max_spread"] * np.logspace(-6, 0, params["samples"] - 1))]
        for width in params["widths"]:
            for family in FAMILIES:
                for sample, spread in enumerate(spreads):
                    L, R = flatness.random_factorisation(M, width, family, spread, generator)
                    Lb, Rb = flatness.balanced_factors(L, R)
                    trace = float(flatness.scaled_hessian_trace(op, L, R))
                    trace_after = float(flatness.scaled_hessian_trace(op, Lb, Rb))
                    rows.append(
                        {
                            "truth": truth,
                            "width": width,
                            "family": family,
                            "sample": sample,
                            "spread": spread,
                            "product_error": float(torch.linalg.matrix_norm(L @ R.T - M)),
                            "balancedness_gap": float(flatness.balancedness_gap(L, R)),
                            "scaled_trace": trace,
                            "flat_value": flat_value,
                            "trace_excess": trace / flat_value - 1,
                            "balancedness_gap_after": float(flatness.balancedness_gap(Lb, Rb)),
                            "trace_excess_after": trace_after / flat_value - 1,
                        }
                    )
    return rows


FLOOR = 1e-17  # values at rounding level are drawn on this line of the log axes


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) trace excess against balancedness gap; (b) trace excess before and after balancing."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.8), layout="constrained")
    markers = {"orbit": "o", "extra": "^"}
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(params["widths"])))
    for width, colour in zip(params["widths"], colours, strict=True):
        for family in FAMILIES:
            where = {"width": width, "family": family}
            gap = np.maximum(column(rows, "balancedness_gap", **where), FLOOR)
            before = np.maximum(column(rows, "trace_excess", **where), FLOOR)
            after = np.maximum(column(rows, "trace_excess_after", **where), FLOOR)
            style = {"marker": markers[family], "color": colour, "s": 12, "alpha": 0.6, "lw": 0}
            left.scatter(gap, before, label=f"$k = {width}$, {family}", **style)
            right.scatter(before, after, **style)
    left.set(
        xlabel=r"balancedness gap $\|L^\top L - R^\top R\|_F$",
        ylabel=r"trace excess: scaled trace$/4\|M^\star\|_* - 1$",
        title="(a) flatter = more balanced",
    )
    right.set(
        xlabel="trace excess before balancing",
        ylabel="trace excess after balancing",
        title="(b) balancing reaches the flat value",
    )
    for axis in (left, right):
        axis.set(xscale="log", yscale="log")
        axis.axhline(FLOOR, color="grey", lw=0.8, ls=":")
    legend_below(fig, left, ncol=len(params["widths"]), markerscale=1.5)
    return fig


def _trace_bound(rows, params) -> Evidence:
    """Lemma 2.2: trace >= 4||M*||_* for every factorisation, with equality after balancing."""
    below = min(row["trace_excess"] / row["flat_value"] for row in rows)
    after = max(abs(row["trace_excess_after"]) / row["flat_value"] for row in rows)
    holds = below >= -1e-9 and after <= 1e-9
    return Evidence(holds, f"{len(rows)} factorisations: none below 4||M*||_*; balanced ones equal it "
                           f"to {claims.bound(after, floor=1e-12)} relative",
                    "relative tolerance 1e-9, far above round-off and far below any excess of an unbalanced pair")


def _quadratic_growth(rows, params) -> Evidence:
    """Near the flat point (balancedness gap between 1e-5 and 1e-1) the trace excess grows like the
    square of the gap: the log-log slope lies in [1.9, 2.1]."""
    gap = np.array(column(rows, "balancedness_gap"))
    excess = np.array(column(rows, "trace_excess"))
    near = (gap > 1e-5) & (gap < 1e-1)
    if near.sum() < 3:
        return Evidence.undecided(f"{int(near.sum())} factorisations near the flat point, too few to fit a slope")
    slope = float(np.polyfit(np.log10(gap[near]), np.log10(excess[near]), 1)[0])
    return Evidence(1.9 <= slope <= 2.1, f"excess ~ gap^p with p = {slope:.1f} over {int(near.sum())} factorisations",
                    "fit over balancedness gaps between 1e-5 and 1e-1")


CLAIMS = (
    Claim("identity-trace-bound", "paper A, Lemmas 2.1-2.2",
          "For the identity map, the scaled Hessian trace 2(||L||^2 + ||R||^2) is at least 4||M*||_*, "
          "with equality exactly at balanced factors.",
          "(trace - 4||M*||_*) / 4||M*||_* before and after balancing", _trace_bound),
    Claim("identity-quadratic-growth", "companion",
          "Flatness is a sharp criterion on the solution set: near the flat point the trace excess grows like the "
          "square of the balancedness gap ||L^T L - R^T R||_F.",
          "log-log slope of the trace excess against the balancedness gap", _quadratic_growth),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/flat_identity_map.ipynb",
        claims=CLAIMS,
        claim=(
            "Lemmas 2.1-2.2 (flat-minima paper): for A = I the scaled Hessian trace is "
            "2(||L||^2 + ||R||^2), minimised with value 4||M*||_* exactly at balanced factors."
        ),
        scales={
            "ci": {
                "d1": 12, "d2": 8, "rank": 2, "widths": [2, 3, 5],
                "truths": 2, "samples": 15, "max_spread": 2.0, "seed": 2024,
            },
            "paper": {
                "d1": 30, "d2": 20, "rank": 3, "widths": [3, 4, 6, 10, 20],
                "truths": 5, "samples": 100, "max_spread": 2.0, "seed": 2024,
            },
        },
        compute=compute,
        plot=plot,
        split=split_parts(lambda params: params["truths"]),
    ),
)
