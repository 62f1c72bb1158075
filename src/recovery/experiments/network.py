r"""Quadratic-activation networks and covariance estimation (flat-minima paper, Theorem 1.4).

The student :math:`x \mapsto \|U_1^\top x\|^2 - \|U_2^\top x\|^2` fits :math:`m` samples of a teacher
with :math:`r_1` positive and :math:`r_2` negative components, :math:`y_i = x_i^\top M^\star x_i`,
:math:`x_i \sim N(0, I_d)`: matrix sensing with :math:`A_i = x_ix_i^\top` of a symmetric target.
Its flat interpolants solve the *flat relaxation*
:math:`\min \|D^{1/2}XD^{1/2}\|_*` subject to :math:`x_i^\top X x_i = y_i`, with
:math:`D = \frac1m\sum_i\|x_i\|^2x_ix_i^\top` (up to a constant factor, which changes no minimiser);
covariance estimation (:math:`r_2 = 0`, :math:`M^\star \succeq 0`) restricts to :math:`X \succeq 0`,
where the weighted nuclear norm is :math:`\operatorname{tr}(DX)`.

The sweep solves, for each :math:`(d, m)` and each trial, the flat relaxation, plain nuclear-norm
minimisation (the baseline of the paper's Figure 3(d)) and the minimum-Frobenius-norm interpolant
(another interpolating solution, the one a linear model in the features :math:`xx^\top` returns),
all on the same draw, and records recovery errors and the *generalisation error* on fresh
inputs, in closed form: for :math:`E = X - M^\star` symmetric and :math:`x \sim N(0, I)`,

.. math::
   \mathbb{E}\,(x^\top E x)^2 = 2\|E\|_F^2 + (\operatorname{tr} E)^2 ,

reported relative to :math:`\mathbb{E}\,(x^\top M^\star x)^2`, the error of predicting zero.
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
from recovery.core.operators import gaussian_quadratic
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, phase_diagram
from recovery.experiments.spec import FigureSpec, Row, column, parts, split_parts, trial_generator
from recovery.flat import flatness

FIGURE_ID = "flat-network"
SUCCESS = 1e-6  # recovery when ||X - M*||_F < SUCCESS (||M*||_F = 1), as in the paper
MODELS = {"network": "symmetric", "covariance": "psd"}
METHODS = ("flat", "nuclear", "min-norm")


def expected_squared_error(E: torch.Tensor) -> torch.Tensor:
    r"""Return :math:`\mathbb{E}(x^\top E x)^2 = 2\|E\|_F^2 + (\operatorname{tr}E)^2` for symmetric
    ``E`` (batched over leading dimensions) and :math:`x \sim N(0, I)`."""
    trace = torch.diagonal(E, dim1=-2, dim2=-1).sum(dim=-1)
    return 2 * torch.linalg.matrix_norm(E).square() + trace.square()


def solve_point(d: int, m: int, model: str, params: Mapping[str, Any], index: tuple[int, ...]) -> list[Row]:
    """Draw ``params["trials"]`` instances at ``(d, m)`` and solve them, batched; one row per
    (trial, method)."""
    if model not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {model!r}")
    positive, negative = params["components"][model]
    maps, data, truths, weights = [], [], [], []
    for trial in range(params["trials"]):
        generator = trial_generator(params["seed"], *index, trial)
        U1, U2 = problems.network_target(d, positive, negative, generator)
        op = gaussian_quadratic(m, d, generator)
        M = U1 @ U1.T - U2 @ U2.T
        maps.append(op)
        data.append(op.apply(M))
        truths.append(M)
        weights.append(flatness.rescaling_matrices(op)[0])
    y, M, D = (torch.stack(item) for item in (data, truths, weights))
    kind = MODELS[model]
    options = {"kind": kind, "tol": params["tol"], "max_iter": params["max_iter"]}
    flat = convex.weighted_nuclear_minimization(maps, y, D, D, **options)
    nuclear = convex.weighted_nuclear_minimization(maps, y, **options)
    x = torch.stack([op.x for op in maps])
    features = (x[:, :, :, None] * x[:, :, None, :]).reshape(len(maps), m, -1)  # row i: x_i x_i^T, flattened
    min_norm = torch.linalg.pinv(features) @ y[..., None]
    solutions = {
        "flat": (flat.solution, flat.converged, flat.iterations),
        "nuclear": (nuclear.solution, nuclear.converged, nuclear.iterations),
        "min-norm": (min_norm.reshape(M.shape), torch.ones(M.shape[0], dtype=torch.bool), 0),
    }
    baseline = expected_squared_error(M)
    rows = []
    for method, (X, converged, iterations) in solutions.items():
        error = torch.linalg.matrix_norm(X - M)
        generalisation = expected_squared_error(X - M) / baseline
        for trial in range(M.shape[0]):
            rows.append(
                {
                    "model": model, "d": d, "m": m, "trial": trial, "method": method,
                    "error": float(error[trial]),
                    "success": int(bool(error[trial] < SUCCESS)),
                    "generalisation_error": float(generalisation[trial]),
                    "converged": int(bool(converged[trial])),
                    "iterations": iterations,
                }
            )
    return rows


def compute(params: Mapping[str, Any]) -> list[Row]:
    """Sweep ``models x dims x ratios``; trial ``t`` at grid point ``(i, j)`` of model number
    ``k`` is drawn from ``trial_generator(seed, k, i, j, t)``.

    The number of samples is ``m = round(ratio * dof)``, with ``dof`` the dimension of the symmetric
    matrices of rank ``r1 + r2`` (:func:`recovery.core.problems.symmetric_degrees_of_freedom`). It must stay
    below :math:`d(d+1)/2`, the dimension of the symmetric matrices: beyond it the samples
    determine :math:`X` by linear algebra alone and there is nothing to compare.
    Parameters: ``models``, ``components`` (``{model: [r1, r2]}``), ``dims``, ``ratios``,
    ``trials``, ``tol``, ``max_iter``, ``seed``.
    """
    rows: list[Row] = []
    for part in parts(params, len(params["models"]) * len(params["dims"])):
        k, i = divmod(part, len(params["dims"]))
        model, d = params["models"][k], params["dims"][i]
        rank = sum(params["components"][model])
        for j, ratio in enumerate(params["ratios"]):
            m = samples(d, rank, ratio)
            if m >= d * (d + 1) // 2:
                raise ValueError(f"ratios: {ratio} gives m = {m} >= d(d+1)/2 = {d * (d + 1) // 2} at d = {d}")
            rows += [{**row, "ratio": ratio} for row in solve_point(d, m, model, params, (k, i, j))]
    return rows


def samples(d: int, rank: int, ratio: float) -> int:
    """Number of samples ``round(ratio * problems.symmetric_degrees_of_freedom(d, rank))``."""
    return round(ratio * problems.symmetric_degrees_of_freedom(d, rank))


def success_frequency(rows: list[Row], model: str, method: str, dims, ratios) -> np.ndarray:
    """Fraction of successful trials, ``(len(ratios), len(dims))`` for a phase diagram."""
    return np.array(
        [[np.mean(column(rows, "success", model=model, method=method, d=d, ratio=ratio)) for d in dims]
         for ratio in ratios]
    )


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """Per model (rows): flat and nuclear success frequency over (d, m / degrees of freedom), and
    the generalisation error against m at the largest d for flat, nuclear and minimum-norm
    interpolants."""
    dims, ratios, models = params["dims"], params["ratios"], params["models"]
    fig, axes = plt.subplots(len(models), 3, figsize=(WIDTH, 2.6 * len(models) + 0.8), layout="constrained",
                             squeeze=False)
    for index, (row_axes, model) in enumerate(zip(axes, models, strict=True)):
        letters = "abcdefghi"[3 * index:3 * index + 3]
        for axis, method, letter in zip(row_axes[:2], ("flat", "nuclear"), letters[:2], strict=True):
            image = phase_diagram(axis, success_frequency(rows, model, method, dims, ratios), dims, ratios,
                                  xlabel="dimension $d$", ylabel="$m$ / degrees of freedom",
                                  title=f"({letter}) {model}: {method}")
            axis.axhline(1.0, color="tab:red", lw=1.2, ls="--", label="$m$ = degrees of freedom")
            unfinished = [(d, ratio) for d in dims for ratio in ratios
                          if not all(column(rows, "converged", model=model, method=method, d=d, ratio=ratio))]
            if unfinished:
                axis.scatter(*zip(*unfinished, strict=True), marker="x", s=14, color="tab:orange", lw=1,
                             label=f"some solves stopped at {params['max_iter']} iterations")
        row_axes[1].set_ylabel("")
        fig.colorbar(image, ax=row_axes[1], label="success frequency")
        last = dims[-1]
        for method, marker in zip(METHODS, ("o", "s", "^"), strict=True):
            medians = [np.median(column(rows, "generalisation_error", model=model, method=method, d=last,
                                        ratio=ratio)) for ratio in ratios]
            row_axes[2].plot(ratios, np.maximum(medians, FLOOR), marker=marker, label=method)
        row_axes[2].axvline(1.0, color="tab:red", lw=1, ls="--")
        row_axes[2].set(yscale="log", xlabel="$m$ / degrees of freedom",
                        ylabel="median test error",
                        title=f"({letters[2]}) test error, $d = {last}$")
    handles = {}
    for axis in axes.flat:  # one legend for all panels, below them
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=3, frameon=False)
    return fig


FLOOR = 1e-18


def _network_matches_nuclear(rows, params) -> Evidence:
    """Flat interpolants recover wherever nuclear norm does (within 3 of 10 trials per (model, d, m)
    cell, overall at most 2% of the trials fewer), and the minimum-norm interpolant, the non-flat
    baseline, recovers in none of them; "stronger" when flat recovers more than 2% more often."""
    cells = sorted({(row["model"], row["d"], row["m"]) for row in rows})
    deficit, flat_total, nuclear_total, min_norm_total = 0.0, 0, 0, 0
    for model, d, m in cells:
        flat, total = claims.share(rows, lambda row: row["success"], model=model, d=d, m=m, method="flat")
        nuclear, _ = claims.share(rows, lambda row: row["success"], model=model, d=d, m=m, method="nuclear")
        min_norm, _ = claims.share(rows, lambda row: row["success"], model=model, d=d, m=m, method="min-norm")
        deficit = max(deficit, (nuclear - flat) / total)
        flat_total, nuclear_total, min_norm_total = flat_total + flat, nuclear_total + nuclear, min_norm_total + min_norm
    margin = claims.allowance(sum(row["method"] == "flat" for row in rows), 0.02)
    holds = deficit <= 0.3 + 1e-9 and flat_total >= nuclear_total - margin and min_norm_total == 0
    return Evidence(holds, f"flat {flat_total}, nuclear {nuclear_total}, minimum norm {min_norm_total} successes "
                           f"over {len(cells)} cells", stronger=flat_total > nuclear_total + margin)


def _students_generalise(rows, params) -> Evidence:
    """At the largest number of samples, flat students compute the teacher (error < 1e-6, so zero
    test error) in every trial at every d, for both models. Partly: in at least 6 of 10 trials."""
    top = max(row["ratio"] for row in rows)
    worst = {}
    for model in sorted({row["model"] for row in rows}):
        shares = [claims.share(rows, lambda row: row["success"], model=model, d=d, ratio=top, method="flat")
                  for d in sorted({row["d"] for row in rows if row["model"] == model})]
        worst[model] = min(shares, key=lambda share: share[0] / share[1])
    every = all(good == total for good, total in worst.values())
    most = all(10 * good >= 6 * total for good, total in worst.values())
    return Evidence(every, f"at m = {top:g} x dof, fewest flat recoveries over d: "
                           + ", ".join(f"{model} {good}/{total}" for model, (good, total) in worst.items()),
                    partly=not every and most)


CLAIMS = (
    Claim("flat-network-recovers", "paper A, Theorem 1.4",
          "Flat interpolants of quadratic-activation networks and of covariance estimation recover M* wherever "
          "nuclear-norm minimisation does, where the minimum-norm interpolant never does.",
          "successes per (model, d, m) cell of flat, nuclear and minimum-norm solutions", _network_matches_nuclear),
    Claim("flat-network-generalises", "paper A, Theorem 1.4",
          "With enough samples (the grid's largest, 2.25 times the degrees of freedom at paper scale) every flat "
          "student computes the teacher: zero test error in every trial.",
          "fewest flat recoveries over d at the largest sample size", _students_generalise),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/flat_network.ipynb",
        claims=CLAIMS,
        claim=(
            "Theorem 1.4 (flat-minima paper): flat interpolants of quadratic-activation networks and "
            "of covariance estimation recover M* (zero generalisation error) once m is a small "
            "multiple of (r1 + r2) d, where nuclear-norm minimisation does."
        ),
        scales={
            "ci": {
                "models": ["network", "covariance"], "components": {"network": [2, 1], "covariance": [3, 0]},
                "dims": [10, 12], "ratios": [1.0, 2.0], "trials": 2,
                "tol": 1e-10, "max_iter": 5000, "seed": 2024,
            },
            "paper": {
                "models": ["network", "covariance"], "components": {"network": [2, 1], "covariance": [3, 0]},
                "dims": [12, 16, 20, 24, 28, 32, 36, 40],
                "ratios": [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25],
                "trials": 10, "tol": 1e-9, "max_iter": 3000, "seed": 2024,
            },
        },
        compute=compute,
        plot=plot,
        split=split_parts(lambda params: len(params["models"]) * len(params["dims"])),
    ),
)
