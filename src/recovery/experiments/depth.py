r"""Depth hurts flat minima but helps gradient descent (flat-minima paper, Section 9).

Sparse recovery: :math:`x^\star \in \mathbb{R}^d` with ``sparsity`` nonzeros, a Gaussian
:math:`X \in \mathbb{R}^{m\times d}` and :math:`y = Xx^\star`, fitted through a depth-:math:`k`
Hadamard factorisation :math:`x = v_1\odot\cdots\odot v_k` with the loss
:math:`\frac1m\|X(v_1\odot\cdots\odot v_k) - y\|^2` (:func:`recovery.flat.flatness.hadamard_loss`).
The flattest factorisation of an interpolant :math:`x` has Hessian trace
:math:`\frac{2k}{m}\sum_i \|X_{:,i}\|^2|x_i|^{2-2/k}`
(:func:`recovery.flat.flatness.hadamard_flat_value`), so flat solutions are the minimisers, over
the interpolants :math:`\{x : Xx = y\}`, of

.. math::
   \sum_i \|X_{:,i}\|^2 |x_i|^{q}, \qquad q = 2 - \frac2k ,

weighted :math:`\ell_1` (sparse) for :math:`k = 2`, strictly convex and hence dense for
:math:`k \ge 3`, tending to weighted :math:`\ell_2` as :math:`k \to \infty` (recorded as
``depth = inf``). Gradient descent from a small initialisation on the depth-:math:`k` diagonal
network :math:`x = u^{\odot k} - v^{\odot k}` (:func:`recovery.rfm.deep.deep_diagonal_regression`,
loss :math:`\frac{1}{2m}\|Xx - y\|^2`, the same minimisers) is known instead to approach the
minimum-:math:`\ell_1` interpolant for every depth (the rich regime). The experiment solves both
on the same planted instances and records each estimate's error, residual and flattest trace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from recovery.core import metrics, problems
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, latex
from recovery.experiments.spec import (
    FigureSpec,
    Row,
    column,
    frequency,
    parts,
    split_parts,
    trial_generator,
)
from recovery.flat import flatness
from recovery.rfm import deep

FIGURE_ID = "flat-depth"


def _row(m, trial, method, depth, X, y, x_star, estimate, converged, iterations) -> Row:
    flat_trace = float(flatness.hadamard_flat_value(X, estimate, depth)) if math.isfinite(depth) else math.inf
    return {
        "m": m,
        "trial": trial,
        "method": method,
        "depth": depth,
        "q": flatness.hadamard_flat_exponent(depth),
        "relative_error": metrics.relative_error(estimate, x_star),
        "relative_residual": metrics.relative_error(X @ estimate, y),
        "flat_trace": flat_trace,
        "converged": bool(converged),
        "iterations": int(iterations),
    }


def compute(params: Mapping[str, Any]) -> list[Row]:
    r"""Flat solutions (every depth and the l2 limit) and gradient descent, on the same instances.

    Parameters: ``d, sparsity, m_values, trials, depths, init_scales`` (one per depth),
    ``gd_max_iter, gd_tol, admm_max_iter, seed``. Instance ``t`` at ``m`` is
    :func:`recovery.core.problems.planted_sparse_regression` drawn from ``trial_generator(seed, m, t)``. One row per (``m``,
    trial, method, depth): method ``"flat"`` (batched over trials, ``depth = inf`` for the
    weighted :math:`\ell_2` limit) or ``"gd"``. ``flat_trace`` is the smallest Hessian trace of a
    depth-``depth`` factorisation of the estimate (infinite for the limit); ``converged`` and
    ``iterations`` are the solver's (the ADMM's batch count for ``"flat"``).
    """
    depths, scales = list(params["depths"]), list(params["init_scales"])
    if len(depths) != len(scales):
        raise ValueError(f"init_scales: expected one per depth {depths}, got {scales}")
    rows: list[Row] = []
    for index in parts(params, len(params["m_values"])):
        m = params["m_values"][index]
        instances = [
            problems.planted_sparse_regression(params["d"], params["sparsity"], m, trial_generator(params["seed"], m, t))
            for t in range(params["trials"])
        ]
        X = torch.stack([instance[0] for instance in instances])
        x_star = torch.stack([instance[1] for instance in instances])
        y = (X @ x_star[..., None])[..., 0]
        for depth in [*depths, math.inf]:
            result = flatness.hadamard_flat_solutions(X, y, depth, max_iter=params["admm_max_iter"])
            for t in range(params["trials"]):
                rows.append(_row(m, t, "flat", depth, X[t], y[t], x_star[t], result.solution[t],
                                 result.converged[t], result.iterations))
        for depth, scale in zip(depths, scales, strict=True):
            for t in range(params["trials"]):
                result = deep.deep_diagonal_regression(
                    X[t], y[t], depth, init_scale=scale, max_iter=params["gd_max_iter"],
                    tol=params["gd_tol"], record_every=params["gd_max_iter"],
                )
                rows.append(_row(m, t, "gd", depth, X[t], y[t], x_star[t], result.solution,
                                 result.converged, result.iterations))
    return rows


def success_rates(
    rows: list[Row], method: str, depth: float, threshold: float, *, residual_below: float = math.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``m`` values and the fraction of trials with relative error below ``threshold``.

    With ``residual_below`` given, count instead the trials that *miss* (error at least
    ``threshold``) although they interpolate (relative residual below ``residual_below``): the
    solver settled on another interpolant, rather than not having finished fitting.
    """
    if math.isinf(residual_below):
        return frequency(rows, "m", lambda row: row["relative_error"] < threshold, method=method, depth=depth)
    return frequency(rows, "m", lambda row: row["relative_error"] >= threshold and row["relative_residual"] < residual_below,
                     method=method, depth=depth)


FLOOR = 1e-16  # errors at rounding level are drawn on this line
_SHADES = {2: "black", 3: "0.35", 4: "0.6", math.inf: "0.8"}
_MARKERS = {2: "o", 3: "s", 4: "^", math.inf: "D"}


def _label(depth: float) -> str:
    if math.isinf(depth):
        return r"$N \to \infty$ ($\ell_2$)"
    return rf"$N = {depth}$ ($q = {flatness.hadamard_flat_exponent(depth):.3g}$)"


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) flat recovery frequency; (b) gradient descent's, and how often it settles on another
    interpolant; (c) median errors of both, against m."""
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 6.4), layout="constrained")
    (flat_axis, gd_axis), (error_axis, legend_axis) = axes
    exact, approximate = params["exact_threshold"], params["gd_threshold"]
    interpolates = params["gd_interpolation_threshold"]
    depths = [*params["depths"], math.inf]
    for depth in depths:
        style = {"color": _SHADES.get(depth, "0.5"), "marker": _MARKERS.get(depth, "x"), "ms": 4}
        m_values, rates = success_rates(rows, "flat", depth, exact)
        flat_axis.plot(m_values, rates, label=_label(depth), **style)
        errors = [np.median(column(rows, "relative_error", method="flat", depth=depth, m=m)) for m in m_values]
        error_axis.plot(m_values, np.maximum(errors, FLOOR), **style)
        if math.isfinite(depth):
            m_values, rates = success_rates(rows, "gd", depth, approximate)
            gd_axis.plot(m_values, rates, ls="--", label=rf"$N = {depth}$ recovered", **style)
            m_values, rates = success_rates(rows, "gd", depth, approximate, residual_below=interpolates)
            gd_axis.plot(m_values, rates, ls=":", mfc="white", label=rf"$N = {depth}$ another interpolant",
                         **style)
            errors = [np.median(column(rows, "relative_error", method="gd", depth=depth, m=m)) for m in m_values]
            error_axis.plot(m_values, np.maximum(errors, FLOOR), ls="--", mfc="white", **style)
    transition = problems.l1_statistical_dimension(params["d"], params["sparsity"])
    for axis in (flat_axis, gd_axis, error_axis):
        axis.axvline(transition, color="grey", lw=0.8, ls=":")
        axis.set_xlabel("number of measurements $m$")
    for axis in (flat_axis, gd_axis):
        axis.set_ylim(-0.03, 1.03)
        axis.set_ylabel("fraction of trials")
    flat_axis.set_title(f"(a) flat solutions: error $< {latex(exact)}$")
    gd_axis.set_title(f"(b) GD, small start: error $< {latex(approximate)}$")
    error_axis.set(yscale="log", ylabel=r"median $\|\hat x - x^\star\| / \|x^\star\|$",
                   title="(c) median error: flat (solid), GD (dashed)")
    for threshold in (exact, approximate):
        error_axis.axhline(threshold, color="grey", lw=0.8, ls="-.")
    legend_axis.axis("off")  # the legends take the free cell of the grid, off the data
    legend_axis.add_artist(legend_axis.legend(*flat_axis.get_legend_handles_labels(), frameon=False,
                                              loc="upper left", title="flat solutions, depth"))
    legend_axis.legend(*gd_axis.get_legend_handles_labels(), frameon=False, loc="lower left",
                       title=f"GD (dotted: residual $< {latex(interpolates)}$)")
    return fig


def _depth_two_only(rows, params) -> Evidence:
    """At the largest m, flat depth-2 solutions recover (error < 1e-6 in >= 9 of 10 trials); no flat
    solution of depth >= 3 comes within 1e-3 of the truth at any m."""
    largest = max(row["m"] for row in rows)
    good, total = claims.share(rows, lambda row: row["relative_error"] < 1e-6, method="flat", depth=2, m=largest)
    deeper = [row["relative_error"] for row in rows if row["method"] == "flat" and row["depth"] != 2]
    holds = good >= 0.9 * total and min(deeper) > 1e-3
    return Evidence(holds, f"depth 2: {good}/{total} recovered at m = {largest}; depth >= 3: smallest error "
                           f"{min(deeper):.2g}")


def _gradient_descent_sharper(rows, params) -> Evidence:
    """Where gradient descent on a depth k >= 3 network recovers x*, its factorisation is sharper than
    the flat solution of the same instance: its flattest trace is larger."""
    flat = {(row["m"], row["trial"], row["depth"]): row["flat_trace"] for row in rows if row["method"] == "flat"}
    ratios = [row["flat_trace"] / flat[row["m"], row["trial"], row["depth"]] for row in rows
              if row["method"] == "gd" and row["depth"] >= 3 and row["relative_error"] < params["gd_threshold"]]
    if not ratios:
        return Evidence.undecided("no gradient-descent recovery at depth >= 3")
    sharper = sum(ratio > 1 for ratio in ratios)
    return Evidence(sharper == len(ratios), f"{sharper} of {len(ratios)} recoveries at depth >= 3 sharper than "
                                            "the flat solution", f"recovered: relative error < {params['gd_threshold']:g}")


CLAIMS = (
    Claim("flat-depth-hurts", "paper A, Section 9",
          "Flat depth-k Hadamard factorisations recover sparse vectors at k = 2 only: deeper flat solutions are "
          "weighted l_q minimisers with q > 1 and miss the truth.",
          "relative error of the flat solutions by depth and m", _depth_two_only),
    Claim("flat-depth-descent-not-flat", "companion",
          "Deep networks recover by another route than flatness: where gradient descent recovers x* at depth "
          "k >= 3, its solution is sharper than the flat one.",
          "flattest trace of gradient descent's solution over the flat solution's, per recovery",
          _gradient_descent_sharper, "gradient descent within a fixed step budget"),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/flat_depth.ipynb",
        claims=CLAIMS,
        claim=(
            "Section 9 (flat-minima paper): flat depth-k Hadamard factorisations are weighted l_q "
            "minimisers, q = 2 - 2/k; they recover sparse vectors at k = 2 only, while gradient "
            "descent from small initialisation on the same instances recovers them at every depth "
            "once it has finished fitting."
        ),
        scales={
            "ci": {
                "d": 30, "sparsity": 2, "m_values": [8, 18], "trials": 2,
                "depths": [2, 3, 4], "init_scales": [1e-6, 3e-3, 3e-2],
                "gd_max_iter": 1000, "gd_tol": 1e-10, "admm_max_iter": 20_000,
                "exact_threshold": 1e-6, "gd_threshold": 1e-2, "gd_interpolation_threshold": 1e-3,
                "seed": 9,
            },
            "paper": {
                "d": 100, "sparsity": 5, "m_values": [10, 15, 20, 25, 30, 35, 40, 50], "trials": 10,
                "depths": [2, 3, 4], "init_scales": [1e-6, 3e-3, 3e-2],
                "gd_max_iter": 40_000, "gd_tol": 1e-10, "admm_max_iter": 20_000,
                "exact_threshold": 1e-6, "gd_threshold": 1e-2, "gd_interpolation_threshold": 1e-3,
                "seed": 9,
            },
        },
        compute=compute,
        plot=plot,
        split=split_parts(lambda params: len(params["m_values"])),
    ),
)
