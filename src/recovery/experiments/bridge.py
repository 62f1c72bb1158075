r"""The bridge between the two papers: lin-RFM's exponent against the depth of flat factorisations.

- **Nuclear norm.** lin-RFM with :math:`\alpha = 1/4` is the one-sided IRLS of the nuclear norm
  (:math:`p = 2 - 4\alpha = 1`, :mod:`recovery.rfm.linrfm`): its fixed points as the smoothing
  :math:`\varepsilon \to 0` are nuclear-norm minimisers, the problem whose
  :math:`D_1, D_2`-weighted version the flat minima of depth-2 factorisations solve (flat-minima
  paper, Theorem 3.2). :func:`recovery.rfm.linrfm.continuation` follows the fixed points of the lin-RFM map at a
  decreasing sequence of fixed smoothings, each from the previous one's limit: the published
  schedule lowers :math:`\varepsilon` with the change of the iterate, and when the map contracts
  slowly (small smoothing, a minimiser of high rank) it lowers it before the iterate has arrived.
  :func:`recovery.flat.flatness.flat_completion` is the flat relaxation of completion.
- **Exponents.** Larger :math:`\alpha` moves lin-RFM towards :math:`\ell_p` / Schatten-:math:`p`
  with :math:`p = 2 - 4\alpha < 1` (:func:`recovery.rfm.linrfm.irls_exponent`), while the flattest depth-:math:`k`
  Hadamard factorisations minimise weighted :math:`\ell_q` with
  :math:`q = 2 - 2/k > 1` (:func:`recovery.flat.flatness.hadamard_flat_exponent`): from the common
  point :math:`\ell_1` (:math:`\alpha = 1/4`, :math:`k = 2`) they move in opposite directions.
  Gradient descent from small initialisation on a depth-:math:`k` diagonal network is instead
  biased towards :math:`\ell_1` at every depth.

The figure ``linrfm-bridge`` draws both exponents and the recovery frequency of lin-RFM
(:math:`\alpha = 1/4, 3/8, 1/2`) and of the flat solutions (:math:`k = 2, 3, 4`) on the same
sparse instances (:mod:`recovery.experiments.sparse_regression`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from recovery.core import problems
from recovery.experiments import claims, sparse_regression
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.spec import CLAIM_LEVEL, FigureSpec, Row
from recovery.flat import flatness
from recovery.rfm import linrfm

FIGURE_ID = "linrfm-bridge"


def compute(params: Mapping[str, Any]) -> list[Row]:
    """The sparse-regression sweep (:func:`recovery.experiments.sparse_regression.compute`) with
    lin-RFM and flat methods; panel (a) of the figure needs no data."""
    return sparse_regression.compute(params)


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) lin-RFM's exponent against alpha; (b) the flat exponent against depth (and GD's l1);
    (c) recovery frequency against n for both families on the same instances."""
    fig = plt.figure(figsize=(13.0, 4.4), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.5])
    alpha_axis = fig.add_subplot(grid[0])
    depth_axis = fig.add_subplot(grid[1], sharey=alpha_axis)
    rate_axis = fig.add_subplot(grid[2])
    lin_rfm = [spec["parameter"] for spec in params["methods"] if spec["method"] == "lin-rfm"]
    flat = [spec["parameter"] for spec in params["methods"] if spec["method"] == "flat"]
    alphas = np.linspace(0.25, 0.5, 51)
    alpha_axis.plot(alphas, [linrfm.irls_exponent(a) for a in alphas], color="tab:blue", lw=1.5)
    alpha_axis.plot(lin_rfm, [linrfm.irls_exponent(a) for a in lin_rfm], "o", color="tab:blue",
                    label=r"lin-RFM: $p = 2 - 4\alpha$")
    alpha_axis.set(xlabel=r"lin-RFM exponent $\alpha$", ylabel="exponent of the induced penalty",
                   title=r"(a) lin-RFM: $\ell_p$ / Schatten-$p$, $p \leq 1$")
    depths = np.arange(2, 11)
    depth_axis.plot(depths, [flatness.hadamard_flat_exponent(int(k)) for k in depths], "-", color="tab:purple", lw=1.5)
    depth_axis.plot(flat, [flatness.hadamard_flat_exponent(int(k)) for k in flat], "^", color="tab:purple",
                    label=r"flattest depth-$k$: $q = 2 - 2/k$")
    depth_axis.plot(depths, np.ones(len(depths)), "--", color="tab:red",
                    label=r"GD from small init: $\ell_1$ at every $k$")
    depth_axis.axhline(2, color="grey", lw=0.8, ls=":")
    depth_axis.set(xlabel=r"depth $k$ of the Hadamard factorisation",
                   title=r"(b) flat minima: weighted $\ell_q$, $q \geq 1$")
    depth_axis.text(10, 1.95, r"$k \to \infty$: weighted $\ell_2$", ha="right", va="top", fontsize=8)
    for axis, where in ((alpha_axis, "upper right"), (depth_axis, "lower right")):
        axis.axhline(1, color="black", lw=0.8, ls="-.")
        axis.set_ylim(-0.1, 2.1)
        axis.legend(loc=where, frameon=False)
    threshold = params["threshold"]
    ranked = sparse_regression.ranked_methods(params)
    spread = 0.006 * (max(params["n_values"]) - min(params["n_values"]))
    for index, (method, parameter, rank) in enumerate(ranked):
        n_values, rates = sparse_regression.success_rates(rows, method, parameter, threshold)
        shift = spread * (index - (len(ranked) - 1) / 2)
        rate_axis.plot(n_values + shift, rates, label=sparse_regression.label(method, parameter),
                       **sparse_regression.line_style(method, parameter, rank))
    rate_axis.axvline(problems.l1_statistical_dimension(params["d"], params["sparsity"]), color="grey", lw=0.8, ls=":")
    rate_axis.set(xlabel="number of samples $n$", ylabel="fraction of trials recovered", ylim=(-0.03, 1.03),
                  title=rf"(c) recovered: $\|\hat\beta - \beta^\star\| / \|\beta^\star\| < {threshold:g}$")
    rate_axis.legend(loc="upper left", frameon=True, framealpha=0.85)
    fig.suptitle(
        f"From the common point $\\ell_1$ ($\\alpha = 1/4$, $k = 2$) the two move apart\n(c): d = {params['d']}, "
        f"{params['sparsity']}-sparse unit $\\beta^\\star$, Gaussian X, noiseless, {params['trials']} trials per n, "
        "the same instances for every method\ndash-dotted: exponent 1 ($\\ell_1$ / nuclear norm); dotted in (c): "
        "$\\ell_1$ statistical dimension; curves in (c) offset slightly in n"
    )
    return fig


_METHODS = [
    {"method": "lin-rfm", "parameter": 0.25},
    {"method": "lin-rfm", "parameter": 0.375},
    {"method": "lin-rfm", "parameter": 0.5},
    {"method": "flat", "parameter": 2},
    {"method": "flat", "parameter": 3},
    {"method": "flat", "parameter": 4},
]
_BUDGETS = {"reweighted_max_iter": 5000, "reweighted_tol": 1e-10, "admm_max_iter": 20_000, "threshold": 1e-2}

def _opposite_directions(rows, params) -> Evidence:
    """Samples needed fall (or stay) as lin-RFM's alpha grows; they rise (or stay) with flat depth."""
    threshold = params["threshold"]

    def needed(method):
        parameters = sorted({row["parameter"] for row in rows if row["method"] == method})
        return [sparse_regression.samples_needed(rows, method, parameter, threshold) for parameter in parameters]

    linrfm, flat = needed("lin-rfm"), needed("flat")
    holds = (all(a >= b for a, b in itertools.pairwise(linrfm))
             and all(a <= b for a, b in itertools.pairwise(flat)) and flat[0] < flat[-1])
    return Evidence(holds, "samples needed: lin-RFM by alpha " + ", ".join(map(claims.fmt, linrfm))
                    + "; flat by depth " + ", ".join(map(claims.fmt, flat)))


CLAIMS = (
    Claim("bridge-opposite-directions", "companion",
          "lin-RFM with larger alpha needs fewer samples, while flatter-than-l1 deeper Hadamard factorisations "
          "need more: the two papers' exponents move in opposite directions.",
          "smallest n from which at least half the trials recover, by alpha and by depth", _opposite_directions),
    Claim("bridge-common-point", "companion",
          "At the papers' common point, lin-RFM with alpha = 1/4 and the flat depth-2 factorisation (both l1 "
          "in the limit) need the same number of samples.", "smallest n from which at least half the trials recover",
          sparse_regression.same_samples(("lin-rfm", 0.25), ("flat", 2.0), ("lin-RFM 1/4", "flat depth 2"))),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/linrfm_bridge.ipynb",
        # Runs that stop on a tolerance or budget: their errors and step counts move with the last
        # bits of a kernel; the claims decide on them at the recovery threshold.
        tolerances=dict.fromkeys(("relative_error", "relative_residual", "iterations"), CLAIM_LEVEL),
        claims=CLAIMS,
        claim=(
            "Bridge between the papers: lin-RFM with larger alpha moves from l1 (alpha = 1/4) towards l_p, "
            "p = 2 - 4 alpha < 1, and recovers from fewer samples, while the flattest depth-k Hadamard "
            "factorisations move from l1 (k = 2) towards weighted l_q, q = 2 - 2/k > 1, and stop recovering."
        ),
        scales={
            "ci": {"d": 30, "sparsity": 2, "n_values": [8, 16], "trials": 2, "seed": 22, "methods": _METHODS,
                   **_BUDGETS, "reweighted_max_iter": 500},
            "paper": {"d": 200, "sparsity": 8, "n_values": [16, 20, 24, 28, 32, 36, 40, 50], "trials": 10,
                      "seed": 22, "methods": _METHODS, **_BUDGETS},
        },
        compute=compute,
        plot=plot,
        split=sparse_regression.split,
        timing_columns=("seconds",),
    ),
)
