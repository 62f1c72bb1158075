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
from recovery.experiments.plotting import WIDTH, latex, legend_below
from recovery.experiments.spec import CLAIM_LEVEL, FigureSpec, Row, column

FIGURE_ID = "linrfm-bridge"


def compute(params: Mapping[str, Any]) -> list[Row]:
    """The sparse-regression sweep (:func:`recovery.experiments.sparse_regression.compute`) with
    lin-RFM and flat methods; panel (a) of the figure needs no data."""
    return sparse_regression.compute(params)


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) recovery frequency and (b) median error against n for lin-RFM (exponent p = 2 - 4 alpha)
    and flat minima (exponent q = 2 - 2/k) on the same instances; the exponents, formulas rather
    than data, are stated in the legend and the notebook."""
    fig, (rate_axis, error_axis) = plt.subplots(1, 2, figsize=(WIDTH, 5.0), layout="constrained")
    threshold = params["threshold"]
    ranked = sparse_regression.ranked_methods(params)
    spread = 0.006 * (max(params["n_values"]) - min(params["n_values"]))
    for index, (method, parameter, rank) in enumerate(ranked):
        style = sparse_regression.line_style(method, parameter, rank)
        n_values, rates = sparse_regression.success_rates(rows, method, parameter, threshold)
        shift = spread * (index - (len(ranked) - 1) / 2)  # coinciding curves stay visible
        rate_axis.plot(n_values + shift, rates, label=sparse_regression.label(method, parameter), **style)
        medians = [np.median(column(rows, "relative_error", method=method, parameter=parameter, n=n))
                   for n in n_values]
        error_axis.plot(n_values, np.maximum(medians, sparse_regression.FLOOR), **style)
    for axis in (rate_axis, error_axis):
        axis.axvline(problems.l1_statistical_dimension(params["d"], params["sparsity"]), color="grey", lw=0.8,
                     ls=":")
        axis.set_xlabel("number of samples $n$")
    rate_axis.set(ylabel="fraction of trials recovered", ylim=(-0.03, 1.03),
                  title=rf"(a) recovered: error $< {latex(threshold)}$")
    error_axis.axhline(threshold, color="grey", lw=0.8, ls="-.")
    error_axis.set(yscale="log", ylabel=r"median $\|\hat\beta - \beta^\star\| / \|\beta^\star\|$",
                   title="(b) median error")
    legend_below(fig, rate_axis)
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
