r"""Phase transitions of the flat relaxation against nuclear-norm minimisation (paper A, Figure 3).

For a model (Gaussian matrix ``"sensing"``, Theorem 4.10; rank-one ``"bilinear"`` sensing,
Theorem 4.11; Bernoulli matrix ``"completion"``, Theorem 1.2), a square size :math:`d` and an
*oversampling* :math:`\rho`, each trial draws a rank-:math:`r` truth :math:`M^\star` of unit
Frobenius norm (:func:`recovery.core.problems.low_rank_matrix`) and a measurement map with, on
average, :math:`\rho` times as many measurements as the :math:`r(d_1 + d_2 - r)` degrees of
freedom of a rank-:math:`r` matrix: :math:`m = \operatorname{round}(\rho\, r(2d - r))` for
sensing, the observation probability :math:`p = \rho\, r(2d - r)/d^2` for completion. Both
relaxations are solved for all trials of a grid point in one batch:

.. math::
   X_{\mathrm{nuc}} = \arg\min\{\|X\|_* : \mathcal{A}(X) = b\},

   Y_{\mathrm{flat}} = \arg\min\{\|D_1 Y D_2\|_* : \mathcal{A}(Y) = b\},

with :math:`D_1, D_2` the rescaling matrices of the instance's map
(:func:`recovery.flat.flatness.rescaling_matrices`; diagonal, proportional to the square roots of the
row and column counts, for completion). :math:`Y_{\mathrm{flat}} = D_1^{-1} X D_2^{-1}` is the
product :math:`LR^\top` of every flat solution (Theorem 3.2), so the flat error is
:math:`\|Y_{\mathrm{flat}} - M^\star\|_F`. A trial *succeeds* when the solver converged with an
error below ``success_tol``, or when a dual certificate proves :math:`M^\star` the unique minimiser
of the relaxation. A solve that stopped at ``max_iter`` decides nothing by itself: it is a
certified failure when its feasible iterate undercuts :math:`M^\star`'s objective
(:func:`failure_certified`); otherwise :func:`recovery.convex.certificate.exact_recovery` brackets
the dual quantity :math:`\eta` that decides the question (:math:`\eta < 1`: recovery,
:math:`\eta > 1`: failure). What neither decides (:math:`\eta` so close to 1 that the bracket,
a few :math:`10^{-4}` wide at most on the paper-scale grids, contains 1) counts as a failure and
is counted as *undecided*.

Regularity (paper A, Figure 4): from :math:`Y_{\mathrm{flat}}` the flat factors
:math:`L = D_1^{-1}U\Sigma^{1/2}`, :math:`R = D_2^{-1}V\Sigma^{1/2}`
(:func:`recovery.flat.flatness.flat_factors`) give the balancedness gap
:math:`\|L^\top L - R^\top R\|_F` and the norm gap
:math:`\tfrac12(\|L\|_F^2 + \|R\|_F^2) - \|X_{\mathrm{nuc}}\|_*`, the excess over the norm-minimal
interpolating factorisations (Srebro-Shraibman). With :math:`\kappa` the ratio of the largest to
the smallest eigenvalue of :math:`D_1` and :math:`D_2` together, any interpolating
:math:`(L', R')` satisfies :math:`\|D_1L\|^2 + \|D_2R\|^2 \le \|D_1L'\|^2 + \|D_2R'\|^2`, hence
(Theorem 3.3) the norm gap is at most :math:`(\kappa^2 - 1)\|X_{\mathrm{nuc}}\|_*`.

**Rows.** One per trial: ``model, d, oversampling``; ``rate`` (:math:`p` for completion,
:math:`m/d^2` on average otherwise); ``m`` (the measurements actually drawn); ``trial``;
``unobserved``; for each method ``*_error`` (Frobenius), ``*_converged``, ``*_success`` and
``*_iterations`` (of the whole batch), ``*_failure_certified`` (1 when the ADMM's last iterate,
projected onto the measurements, has a smaller objective than :math:`M^\star`, see
:func:`failure_certified`, or, for a capped solve, when the dual bracket proves :math:`\eta > 1`:
then :math:`M^\star` is not a minimiser and the trial fails however long the solver runs),
``*_recovery_certified`` (1 when a capped solve's dual bracket proves :math:`\eta < 1`; computed
for capped solves only, since a converged solve decides by itself); ``flat_nuclear_error``
(:math:`\|Y_{\mathrm{flat}} - M^\star\|_* / \|M^\star\|_*`, the quantity Theorem 1.2 bounds);
``balancedness_gap, norm_gap, kappa, norm_gap_bound``.

**Unobserved rows or columns (completion).** Then :math:`D_1` or :math:`D_2` is singular: the
weighted nuclear norm does not see that row or column, the flat relaxation has no unique solution
and flat factors are undefined. Such a trial is flagged (``unobserved`` counts the empty rows and
columns), counts as a failure of the flat relaxation, and its flat columns are left empty (they
are skipped by the regularity figure). Nuclear-norm minimisation is still solved and judged as
usual (it cannot recover an unobserved row either, and the data show it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from recovery import convex
from recovery.convex import certificate
from recovery.core import operators, problems, validation
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, difference_map, legend_below, phase_diagram
from recovery.experiments.spec import (
    CLAIM_LEVEL,
    FigureSpec,
    Row,
    parts,
    split_parts,
    trial_generator,
)
from recovery.flat import flatness

MODELS = ("sensing", "bilinear", "completion")


def _model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    return model


def draw_instance(
    model: str, d: int, oversampling: float, rank: int, generator: torch.Generator
) -> tuple[operators.MeasurementMap, torch.Tensor]:
    r"""Draw a ``d x d`` truth of rank ``rank`` and a map with ``oversampling`` x the degrees of freedom.

    Sensing and bilinear: :math:`m = \operatorname{round}(\rho\,r(2d - r))` measurements, at most
    :math:`d^2`; completion: observation probability :math:`p = \rho\,r(2d - r)/d^2 \le 1`.
    Returns ``(op, M)``; the truth is drawn first, then the map, from ``generator``.
    """
    _model(model)
    validation.positive_int("d", d)
    validation.positive_int("rank", rank)
    if isinstance(oversampling, bool) or not isinstance(oversampling, int | float) or not oversampling > 0:
        raise ValueError(f"oversampling: expected a positive number, got {oversampling!r}")
    M = problems.low_rank_matrix(d, d, rank, generator)
    target = oversampling * problems.degrees_of_freedom(d, d, rank)
    if model == "completion":
        if target > d * d:
            raise ValueError(f"oversampling: p = {target / d**2:.3g} exceeds 1 at d = {d}")
        return operators.bernoulli_completion(d, d, target / d**2, generator), M
    m = round(target)
    if not 1 <= m <= d * d:
        raise ValueError(f"oversampling: m = {m} must lie in [1, d^2 = {d * d}] at d = {d}")
    sample = operators.gaussian_sensing if model == "sensing" else operators.bilinear_sensing
    return sample(m, d, d, generator), M


def _solve_nuclear_and_flat(model, ops, truths, tol, max_iter):
    """Batched solves; returns (nuclear result, flat result, indices of the flat batch)."""
    if model == "completion":
        observations = [op.observe(M) for op, M in zip(ops, truths, strict=True)]
        nuclear = convex.weighted_nuclear_completion(observations, tol=tol, max_iter=max_iter)
        usable = [t for t, op in enumerate(ops)
                  if op.unobserved_rows().numel() == 0 and op.unobserved_cols().numel() == 0]
        if not usable:
            return nuclear, None, usable
        flat = flatness.flat_completion([observations[t] for t in usable], tol=tol, max_iter=max_iter)
        return nuclear, flat, usable
    b = torch.stack([op.apply(M) for op, M in zip(ops, truths, strict=True)])
    nuclear = convex.weighted_nuclear_minimization(ops, b, tol=tol, max_iter=max_iter)
    D1, D2 = (torch.stack(Ds) for Ds in zip(*(flatness.rescaling_matrices(op) for op in ops), strict=True))
    flat = convex.weighted_nuclear_minimization(ops, b, D1, D2, tol=tol, max_iter=max_iter)
    return nuclear, flat, list(range(len(ops)))


def _regularity(op, Y, X_nuclear, rescaling) -> dict[str, float]:
    """Gaps of the flat factors of ``Y`` and the condition number of the ``rescaling`` ``(D1, D2)``."""
    d1, d2 = op.shape
    L, R = flatness.flat_factors(op, Y, min(d1, d2))
    eigenvalues = torch.cat([torch.linalg.eigvalsh(D) for D in rescaling])
    kappa = float(eigenvalues.max() / eigenvalues.min())
    nuclear = float(flatness.nuclear_norm(X_nuclear))
    return {
        "balancedness_gap": float(flatness.balancedness_gap(L, R)),
        "norm_gap": float(L.square().sum() + R.square().sum()) / 2 - nuclear,
        "kappa": kappa,
        "norm_gap_bound": (kappa**2 - 1) * nuclear,
    }


def failure_certified(feasible: torch.Tensor, truth: torch.Tensor, D1=None, D2=None) -> int:
    r"""1 if ``feasible``, a point that satisfies the measurements, has a smaller objective
    :math:`\|D_1 Y D_2\|_*` (:math:`D_1 = D_2 = I` when omitted: the nuclear norm) than
    :math:`M^\star` by more than :data:`~recovery.convex.programs.CERTIFICATE_MARGIN`, relatively
    (:func:`~recovery.convex.programs.undercuts`); else 0. Then
    :math:`M^\star` is not a minimiser of the relaxation, so the trial fails however long the
    solver runs: the evidence a capped solve cannot give."""
    def objective(Y):
        return float(flatness.nuclear_norm(Y if D1 is None else D1 @ Y @ D2))
    return int(convex.undercuts(objective(feasible), objective(truth)))


FLAT_COLUMNS = ("flat_error", "flat_converged", "flat_success", "flat_nuclear_error", "flat_failure_certified",
                "flat_recovery_certified", "balancedness_gap", "norm_gap", "kappa", "norm_gap_bound")


def verdict(method: str, op, M, solution, converged: bool, feasible, rescaling, *, rank: int,
            success_tol: float) -> Row:
    """``*_error``, ``*_converged``, ``*_success``, ``*_failure_certified`` and ``*_recovery_certified``
    of one solve of ``method`` (``"nuclear"`` or ``"flat"``; ``rescaling`` is ``()`` or ``(D1, D2)``):
    the solver decides when it converged; a capped solve is decided by :func:`failure_certified`,
    else by the dual bracket of :func:`recovery.convex.certificate.exact_recovery`."""
    error = float(torch.linalg.matrix_norm(solution - M))
    failure = failure_certified(feasible, M, *rescaling)
    recovery = 0
    if not converged and not failure:
        bracket = certificate.exact_recovery(op, M, *rescaling, rank=rank)
        failure, recovery = int(bracket.fails), int(bracket.recovers)
    return {f"{method}_error": error, f"{method}_converged": int(converged),
            f"{method}_success": int((converged and error < success_tol) or bool(recovery)),
            f"{method}_failure_certified": failure, f"{method}_recovery_certified": recovery}


def defined(value) -> bool:
    """Whether a flat column holds a value: ``None`` (in computed rows and in rows read back from
    CSV) for trials whose flat relaxation is undefined (unobserved row or column)."""
    return value is not None


def grid_point(
    model: str,
    d: int,
    oversampling: float,
    *,
    rank: int,
    trials: int,
    seed: int,
    index: Sequence[int],
    tol: float,
    max_iter: int,
    success_tol: float,
) -> list[Row]:
    """Draw ``trials`` instances with ``trial_generator(seed, *index, trial)``, solve both relaxations
    in one batch each, and return one row per trial (columns in the module docstring)."""
    validation.positive_int("trials", trials)
    ops, truths = zip(*(draw_instance(model, d, oversampling, rank, trial_generator(seed, *index, t))
                        for t in range(trials)), strict=True)
    truths = torch.stack(truths)
    nuclear, flat, usable = _solve_nuclear_and_flat(model, ops, truths, tol, max_iter)
    dof = problems.degrees_of_freedom(d, d, rank)
    rows = []
    judge = {"rank": rank, "success_tol": success_tol}
    for t, (op, M) in enumerate(zip(ops, truths, strict=True)):
        unobserved = (op.unobserved_rows().numel() + op.unobserved_cols().numel()
                      if model == "completion" else 0)
        row: Row = {
            "model": model, "d": d, "oversampling": float(oversampling),
            "rate": oversampling * dof / d**2, "m": op.num_measurements, "trial": t,
            "unobserved": unobserved,
            **verdict("nuclear", op, M, nuclear.solution[t], bool(nuclear.converged[t]), nuclear.info["feasible"][t],
                      (), **judge),
            "nuclear_iterations": nuclear.iterations,
            "flat_iterations": flat.iterations if flat is not None else 0,
            **dict.fromkeys(FLAT_COLUMNS),
        }
        if t in usable:
            s = usable.index(t)
            Y, rescaling = flat.solution[s], flatness.rescaling_matrices(op)
            row.update(
                **verdict("flat", op, M, Y, bool(flat.converged[s]), flat.info["feasible"][s], rescaling, **judge),
                flat_nuclear_error=float(flatness.nuclear_norm(Y - M) / flatness.nuclear_norm(M)),
                **_regularity(op, Y, nuclear.solution[t], rescaling),
            )
        else:
            row["flat_success"] = 0
        rows.append(row)
    return rows


def compute(params: Mapping[str, Any]) -> list[Row]:
    """Rows for every ``(d, oversampling)`` of the grid: parameters ``model, dims, oversampling,
    rank, trials, seed, tol, max_iter, success_tol``; grid point ``(i, j)`` uses the seeds
    ``trial_generator(seed, i, j, trial)``."""
    model = _model(params["model"])
    rows: list[Row] = []
    for i in parts(params, len(params["dims"])):
        d = params["dims"][i]
        for j, oversampling in enumerate(params["oversampling"]):
            rows += grid_point(
                model, d, oversampling, rank=params["rank"], trials=params["trials"],
                seed=params["seed"], index=(i, j), tol=params["tol"],
                max_iter=params["max_iter"], success_tol=params["success_tol"],
            )
    return rows


def _per_cell(rows: list[Row], params: Mapping[str, Any], reduce) -> np.ndarray:
    """``reduce`` of each grid cell's rows, shape ``(len(oversampling), len(dims))``."""
    grid = np.zeros((len(params["oversampling"]), len(params["dims"])))
    for i, d in enumerate(params["dims"]):
        for j, oversampling in enumerate(params["oversampling"]):
            grid[j, i] = reduce([row for row in rows if row["d"] == d and row["oversampling"] == oversampling])
    return grid


def accurate(row: Row, method: str, params: Mapping[str, Any]) -> bool:
    """Whether ``method``'s error is below ``success_tol``, converged or not (the paper's criterion)."""
    error = row[f"{method}_error"]
    return defined(error) and error < params["success_tol"]


def success_frequencies(
    rows: list[Row], method: str, params: Mapping[str, Any], *, require_convergence: bool = True
) -> np.ndarray:
    """Success frequency of ``method`` (``"nuclear"`` or ``"flat"``), shape ``(len(oversampling), len(dims))``;
    with ``require_convergence=False`` an accurate but unconverged solve counts too."""
    if method not in ("nuclear", "flat"):
        raise ValueError(f"method: expected 'nuclear' or 'flat', got {method!r}")
    if require_convergence:
        return _per_cell(rows, params, lambda cell: np.mean([row[f"{method}_success"] for row in cell]))
    return _per_cell(rows, params, lambda cell: np.mean([accurate(row, method, params) for row in cell]))


def median_weak_error(rows: list[Row], params: Mapping[str, Any]) -> np.ndarray:
    r"""Per cell, the median of :math:`\|LR^\top - M^\star\|_* / \|M^\star\|_*` over the trials whose
    flat relaxation is defined (the quantity Theorem 1.2 bounds); ``nan`` where none is."""
    def median(cell):
        values = [row["flat_nuclear_error"] for row in cell if defined(row["flat_nuclear_error"])]
        return np.median(values) if values else np.nan

    return _per_cell(rows, params, median)


def success_table(rows: list[Row], params: Mapping[str, Any]) -> str:
    """Text table of successes, ``nuclear|flat`` out of ``trials``, oversampling down the rows
    (largest first) and ``d`` across."""
    nuclear, flat = (success_frequencies(rows, method, params) for method in ("nuclear", "flat"))
    trials = params["trials"]
    lines = ["rho \\ d " + "".join(f"{d:>8}" for d in params["dims"])]
    for j in reversed(range(len(params["oversampling"]))):
        cells = "".join(f"{round(nuclear[j, i] * trials):>5}|{round(flat[j, i] * trials):<2}"
                        for i in range(len(params["dims"])))
        lines.append(f"{params['oversampling'][j]:>8} {cells}")
    return "\n".join(lines)


def compare_methods(rows: list[Row], params: Mapping[str, Any]) -> dict[str, Any]:
    """Summary of a grid: successes of each method, cells whose frequencies differ, the largest
    difference, how many solves did not converge, how many of those carry a certificate of
    failure (``*_not_converged_certified``) or of recovery (``*_not_converged_recovered``) and how
    many neither (``*_undecided``), and the same comparison when accurate but unconverged solves
    count (``*_accurate``)."""
    def capped(method):
        return [row for row in rows if defined(row[f"{method}_converged"]) and not row[f"{method}_converged"]]

    nuclear, flat = (success_frequencies(rows, method, params) for method in ("nuclear", "flat"))
    loose = [success_frequencies(rows, method, params, require_convergence=False)
             for method in ("nuclear", "flat")]
    return {
        "nuclear_accurate": sum(accurate(row, "nuclear", params) for row in rows),
        "flat_accurate": sum(accurate(row, "flat", params) for row in rows),
        "largest_difference_accurate": float(np.abs(loose[1] - loose[0]).max()),
        "cells": nuclear.size,
        "trials": len(rows),
        "nuclear_successes": sum(row["nuclear_success"] for row in rows),
        "flat_successes": sum(row["flat_success"] for row in rows),
        "cells_differing": int((nuclear != flat).sum()),
        "largest_difference": float(np.abs(flat - nuclear).max()),
        **{f"{method}_not_converged": len(capped(method)) for method in ("nuclear", "flat")},
        **{f"{method}_not_converged_certified": sum(row[f"{method}_failure_certified"] for row in capped(method))
           for method in ("nuclear", "flat")},
        **{f"{method}_not_converged_recovered": sum(row[f"{method}_recovery_certified"] for row in capped(method))
           for method in ("nuclear", "flat")},
        **{f"{method}_undecided": sum(1 - row[f"{method}_failure_certified"] - row[f"{method}_recovery_certified"]
                                      for row in capped(method)) for method in ("nuclear", "flat")},
        "unobserved": sum(row["unobserved"] > 0 for row in rows),
    }


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """Success frequency of (a) nuclear norm, (b) the flat relaxation, (c) their difference, and
    (d) the median weak-recovery error of flat solutions, on the (d, m / degrees of freedom) grid,
    a 2 x 2 grid of panels; the dashed line is m = r(2d - r)."""
    model, dims, rhos = params["model"], params["dims"], params["oversampling"]
    nuclear = success_frequencies(rows, "nuclear", params)
    flat = success_frequencies(rows, "flat", params)
    weak = np.maximum(median_weak_error(rows, params), WEAK_FLOOR)
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 6.2), layout="constrained", sharex=True, sharey=True)
    labels = {"xlabel": "", "ylabel": ""}
    meshes = [
        phase_diagram(axes[0, 0], nuclear, dims, rhos, title=r"(a) nuclear norm $\|X\|_*$", **labels),
        phase_diagram(axes[0, 1], flat, dims, rhos, title=r"(b) flat $\|D_1 Y D_2\|_*$", **labels),
        difference_map(axes[1, 0], flat - nuclear, dims, rhos, title="(c) flat $-$ nuclear", **labels),
        phase_diagram(axes[1, 1], weak, dims, rhos, title="(d) flat: weak-recovery error", cmap="gray_r",
                      norm=LogNorm(WEAK_FLOOR, 1), **labels),
    ]
    bars = ["success frequency", "success frequency", "difference of frequencies",
            r"median $\|LR^\top - M^\star\|_* / \|M^\star\|_*$"]
    dof = r"$\pi\,d^2 = r(2d - r)$" if model == "completion" else r"$m = r(2d - r)$"
    for axis, mesh, label in zip(axes.flat, meshes, bars, strict=True):
        axis.set_facecolor("lightsteelblue")
        axis.axhline(1.0, ls="--", color="tab:red", lw=1.2, label=f"{dof} (degrees of freedom)")
        fig.colorbar(mesh, ax=axis, label=label, shrink=0.9)
    if model == "completion":
        marks = sorted({(row["d"], row["oversampling"]) for row in rows if row["unobserved"] > 0})
        for axis in axes.flat:
            axis.scatter(*zip(*marks, strict=True), marker="x", color="tab:orange", s=16,
                         label="a trial with an unobserved row or column")
    for axis in axes[1]:
        axis.set_xlabel(r"dimension $d$ ($d_1 = d_2 = d$)")
    for axis in axes[:, 0]:
        axis.set_ylabel(r"$\pi\,d^2 / r(2d - r)$" if model == "completion" else r"$m / r(2d - r)$")
    legend_below(fig, axes[0, 0])
    return fig


#: Weak-recovery errors below this are drawn as it (white in panel (d)).
WEAK_FLOOR = 1e-12


def regularity_compute(params: Mapping[str, Any]) -> list[Row]:
    """Rows of :func:`compute` along one slice ``(d, oversampling)`` per model: parameters ``slices``
    (a list of ``{"model", "d", "oversampling"}``) and ``rank, trials, seed, tol, max_iter,
    success_tol``; slice ``k`` uses the seed ``seed + k``."""
    rows: list[Row] = []
    for k in parts(params, len(params["slices"])):
        piece = params["slices"][k]
        common = {key: params[key] for key in ("rank", "trials", "tol", "max_iter", "success_tol")}
        rows += compute({**common, "model": piece["model"], "dims": [piece["d"]],
                         "oversampling": piece["oversampling"], "seed": params["seed"] + k})
    return rows


def recovered(rows: list[Row]) -> list[Row]:
    """The trials Theorem 3.3 speaks about, with gaps measured on converged solutions: the flat
    solve converged to M* (a recovery certified on a capped solve proves M* the minimiser, but its
    iterate is not accurate enough to measure gaps on) and the nuclear-norm solve (whose minimiser
    the gaps are measured against) converged."""
    return [row for row in rows
            if row["flat_success"] == 1 and row["flat_converged"] == 1 and row["nuclear_converged"] == 1]


def regularity_summary(rows: list[Row]) -> list[dict[str, Any]]:
    """Per ``(model, d, oversampling)``, over the :func:`recovered` trials (both relaxations
    converged, the flat one to M*): their number, the smallest and median gaps, the median condition number
    of the rescaling, and whether every norm gap lies in ``(0, (kappa^2 - 1)||X_nuc||_*]``."""
    groups: dict[tuple, list[Row]] = {}
    for row in recovered(rows):
        groups.setdefault((row["model"], row["d"], row["oversampling"]), []).append(row)
    summary = []
    for (model, d, oversampling), group in sorted(groups.items()):
        balance = np.array([row["balancedness_gap"] for row in group])
        norm = np.array([row["norm_gap"] for row in group])
        bound = np.array([row["norm_gap_bound"] for row in group])
        summary.append({
            "model": model, "d": d, "oversampling": oversampling, "recovered": len(group),
            "kappa": float(np.median([row["kappa"] for row in group])),
            "balancedness_gap_min": float(balance.min()), "balancedness_gap": float(np.median(balance)),
            "norm_gap_min": float(norm.min()), "norm_gap": float(np.median(norm)),
            "within_bound": bool(((norm > 0) & (norm <= bound)).all()),
        })
    return summary


def regularity_plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """Per model: log10 of the balancedness and norm gaps of flat factors against the oversampling,
    filled where the flat relaxation recovered M*, with the Theorem 3.3 bound on the norm gap."""
    slices = params["slices"]
    columns = min(len(slices), 2)
    grid = -(-len(slices) // columns)
    fig, axes = plt.subplots(grid, columns, figsize=(WIDTH, 3.2 * grid), layout="constrained",
                             sharey=True, squeeze=False)
    for axis, piece in zip(axes.flat[:len(slices)], slices, strict=True):
        own = [row for row in rows if row["model"] == piece["model"] and row["d"] == piece["d"]
               and defined(row["kappa"])]
        success = np.array([row["flat_success"] == 1 for row in own], dtype=bool)
        rho = np.array([row["oversampling"] for row in own])
        jitter = 1 + 0.04 * (np.array([row["trial"] for row in own]) / params["trials"] - 0.5)
        for name, marker, label in (("balancedness_gap", "o", r"$\|L^\top L - R^\top R\|_F$"),
                                    ("norm_gap", "^", r"$\frac{1}{2}(\|L\|_F^2+\|R\|_F^2) - \|X_{\mathrm{nuc}}\|_*$")):
            gap = np.array([row[name] for row in own])
            for chosen, style, text in ((success, {"color": "black"}, f"{label}, recovered"),
                                        (~success, {"facecolors": "none", "edgecolors": "grey"},
                                         f"{label}, not recovered")):
                shown = chosen & (gap > 0)
                axis.scatter(rho[shown] * jitter[shown], np.log10(gap[shown]), marker=marker, s=14,
                             label=text, **style)
        levels = sorted(set(rho))
        bound = [np.median([row["norm_gap_bound"] for row in own if row["oversampling"] == level])
                 for level in levels]
        axis.plot(levels, np.log10(bound), "--", marker="_", color="tab:red", lw=1,
                  label=r"$(\kappa^2 - 1)\|X_{\mathrm{nuc}}\|_*$, median (Theorem 3.3 bound)")
        axis.set(title=f"{piece['model']}, $d = {piece['d']}$",
                 xlabel="oversampling $m / r(2d - r)$" if piece["model"] != "completion"
                 else "oversampling $\\pi\\,d^2 / r(2d - r)$")
    for axis in axes[:, 0]:
        axis.set_ylabel(r"$\log_{10}$ gap")
    spare = axes.flat[len(slices):]
    if len(spare):  # the legend takes the free cell of the grid
        for axis in spare:
            axis.axis("off")
        spare[0].legend(*axes[0][0].get_legend_handles_labels(), loc="center", frameon=False)
    else:
        legend_below(fig, axes[0][0])
    return fig


_SOLVER = {"rank": 2, "tol": 1e-10, "max_iter": 3000, "success_tol": 1e-6}
_CLAIMS = {
    "sensing": "Theorem 4.10 (flat-minima paper): with Gaussian measurements the flat relaxation "
               "recovers M* wherever nuclear-norm minimisation does (Figure 3a).",
    "bilinear": "Theorem 4.11 (flat-minima paper): with rank-one measurements a_i b_i^T the flat "
                "relaxation recovers M* wherever nuclear-norm minimisation does (Figure 3b).",
    "completion": "Theorem 1.2 (flat-minima paper): only weak recovery is proven for completion, "
                  "yet flat solutions recover M* exactly where nuclear norm does (Figure 3c).",
}
_PAPER_GRIDS = {
    "sensing": {"dims": [12, 16, 20, 24, 28, 32, 36, 40],
                "oversampling": [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]},
    "bilinear": {"dims": [12, 16, 20, 24, 28, 32, 36, 40],
                 "oversampling": [0.5, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0]},
    # With the count weights the flat completion ADMM converges slowly (about 9,000 iterations at
    # d = 60, oversampling 6, against about 4,000 for nuclear norm): 10,000 iterations let both
    # finish above the transition; below it they run to the cap.
    # Completion needs about log(d) times more samples than the degrees of freedom, hence the
    # higher oversampling (and d >= 25, where p stays below 1).
    "completion": {"dims": [25, 30, 35, 40, 45, 50, 55, 60],
                   "oversampling": [1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0], "max_iter": 10_000},
}
def _matches_nuclear(rows, params) -> Evidence:
    """Flat recovers wherever nuclear does: in no cell more than 3 of 10 trials fewer successes,
    overall at most 2% fewer; "stronger" when flat recovers more than 2% more often overall."""
    trials = params["trials"]
    nuclear, flat = (np.rint(success_frequencies(rows, method, params) * trials)
                     for method in ("nuclear", "flat"))
    deficit = int((nuclear - flat).max())
    margin = claims.allowance(len(rows), 0.02)
    gap = int(flat.sum() - nuclear.sum())
    holds = deficit <= 0.3 * trials + 1e-9 and gap >= -margin
    return Evidence(holds, f"flat {int(flat.sum())}, nuclear {int(nuclear.sum())} successes of {len(rows)}; "
                           f"flat behind nuclear by at most {max(deficit, 0)} of {trials} in a cell",
                    "a success: converged with ||Y - M*||_F < 1e-6, or recovery proven by the dual certificate",
                    stronger=gap > margin)


def _bracketed(top_share: float):
    """A check: neither relaxation recovers in any trial at or below the degrees of freedom
    (oversampling <= 1), and both recover in at least ``top_share`` of the trials of every cell of
    the largest oversampling."""

    def check(rows, params) -> Evidence:
        trials, rho = params["trials"], np.array(params["oversampling"])
        counts = {method: np.rint(success_frequencies(rows, method, params) * trials) for method in ("nuclear", "flat")}
        below = int(sum(count[rho <= 1].sum() for count in counts.values()))
        top = int(min(count[-1].min() for count in counts.values()))
        if not (rho <= 1).any():
            return Evidence.undecided("no oversampling at or below 1 in these rows")
        return Evidence(below == 0 and top >= top_share * trials,
                        f"successes at rho <= 1: {below}; fewest in a cell at rho = {rho[-1]:g}: {top} of {trials}")

    return check


def _bracketed_claim(model: str, reference: str, top_share: float) -> Claim:
    every = "every trial recovers" if top_share == 1 else f"both recover in at least {top_share:.0%} of the trials"
    return Claim(f"flat-{model}-transition-bracketed", reference,
                 f"In {model}, neither relaxation recovers M* at or below the degrees of freedom, and at the largest "
                 f"oversampling {every} in every cell.",
                 "success counts at oversampling <= 1 and at the largest oversampling", _bracketed(top_share))


def _weak_error_exact(rows, params) -> Evidence:
    """Theorem 1.2 bounds ||LR^T - M*||_* / ||M*||_* (weak recovery); at the largest oversampling its
    median over the trials of every d is below the exact-recovery threshold ``success_tol`` (the key
    prints it as a bound no finer than 1e-8: below that it is solver precision)."""
    worst = float(np.nanmax(median_weak_error(rows, params)[-1]))
    return Evidence(worst < params["success_tol"], f"largest median weak error at rho = {params['oversampling'][-1]:g}: "
                                                   f"{claims.bound(worst, floor=1e-8)}",
                    f"exact recovery: below {params['success_tol']:g}")


def _matches_nuclear_claim(model: str, reference: str) -> Claim:
    return Claim(f"flat-{model}-matches-nuclear", reference,
                 f"In {model}, the flat relaxation recovers M* wherever nuclear-norm minimisation does: success "
                 "counts no more than 3 of 10 trials lower in any cell and 2% lower overall.",
                 "success counts of both relaxations per grid cell", _matches_nuclear,
                 "grid in units of the degrees of freedom; a capped solve counts only when a certificate decides it")


def _within_norm_bound(rows, params) -> Evidence:
    """Theorem 3.3: where flat solutions recover M*, the norm gap is within (kappa^2 - 1)||X_nuc||_*."""
    chosen = recovered(rows)
    inside = sum(row["norm_gap"] <= row["norm_gap_bound"] * (1 + 1e-6) + 1e-9 for row in chosen)
    return Evidence(bool(chosen) and inside == len(chosen), f"{inside} of {len(chosen)} recovered trials within the bound",
                    "recovered: the flat relaxation recovered M* and the nuclear-norm solve converged")


def _gaps_not_zero(rows, params) -> Evidence:
    """Nearly, not exactly: in every recovered trial the flat factors are unbalanced by more than
    1e-4 and cost more than 100 times the solver tolerance above the norm-minimal factors (the norm
    gap is of the order of the squared balancedness gap), so neither gap is solver error."""
    chosen = recovered(rows)
    if not chosen:
        return Evidence.undecided("no recovered trial")
    floor = 100 * params["tol"]
    unbalanced = sum(row["balancedness_gap"] > math.sqrt(floor) for row in chosen)
    costlier = sum(row["norm_gap"] > floor for row in chosen)
    return Evidence(unbalanced == costlier == len(chosen),
                    f"{len(chosen)} recovered trials: balancedness gap > {math.sqrt(floor):.0e} in {unbalanced}, "
                    f"norm gap > {floor:.0e} in {costlier}")


#: ADMM iteration counts move by a step or two with the BLAS kernel; claims never rest on them.
_ITERATION_COUNTS = {"nuclear_iterations": CLAIM_LEVEL, "flat_iterations": CLAIM_LEVEL}

#: Claims of one model's chapter only.
_MODEL_CLAIMS = {
    "completion": (Claim("flat-completion-weak-error-exact", "paper A, Theorem 1.2",
                         "Above the transition, the weak-recovery error ||LR^T - M*||_* / ||M*||_* that "
                         "Theorem 1.2 bounds is at the exact-recovery level.",
                         "median weak error at the largest oversampling, per d", _weak_error_exact,
                         "the theorem proves weak recovery only"),),
}

#: Share of the trials both relaxations recover in every cell of the largest oversampling: all of
#: them for Gaussian and rank-one maps; completion's transition is a log factor wider.
_TOP_SHARE = {"sensing": 1.0, "bilinear": 1.0, "completion": 0.9}

_REFERENCES = {"sensing": "paper A, Theorem 4.10 / Figure 3(a)",
               "bilinear": "paper A, Theorem 4.11 / Figure 3(b)",
               "completion": "paper A, Theorem 1.2 / Figure 3(c)"}

_REGULARITY_CLAIMS = (
    Claim("flat-regularity-bound", "paper A, Theorem 3.3 / Figure 4",
          "Where flat factors recover M*, their norm gap is at most (kappa^2 - 1)||X_nuc||_*.",
          "norm gap against its bound, per recovered trial", _within_norm_bound),
    Claim("flat-regularity-gaps-not-zero", "paper A, Theorem 3.3 / Figure 4",
          "Where flat factors recover M*, they are nearly but not exactly balanced and norm-minimal: both gaps "
          "are far above the solver's tolerance.", "balancedness and norm gaps per recovered trial", _gaps_not_zero),
)


def _model_figure(number: int, model: str) -> FigureSpec:
    """The phase-transition figure of one measurement model (``flat-sensing``, ...)."""
    reference = _REFERENCES[model]
    return FigureSpec(
        id=f"flat-{model}",
        notebook=f"notebooks/flat_{model}.ipynb",
        tolerances=_ITERATION_COUNTS,
        claims=(_matches_nuclear_claim(model, reference), _bracketed_claim(model, reference, _TOP_SHARE[model]),
                *_MODEL_CLAIMS.get(model, ())),
        claim=_CLAIMS[model],
        scales={
            "ci": {"model": model, "dims": [10, 12], "oversampling": [0.75, 2.5],
                   "trials": 3, "seed": 300 + number, **_SOLVER, "max_iter": 1000},
            "paper": {"model": model, "trials": 10, "seed": 300 + number, **_SOLVER, **_PAPER_GRIDS[model]},
        },
        compute=compute,
        plot=plot,
        split=split_parts(lambda params: len(params["dims"])),
    )


FIGURES = (
    *(_model_figure(number, model) for number, model in enumerate(MODELS)),
    FigureSpec(
        id="flat-regularity",
        notebook="notebooks/flat_regularity.ipynb",
        tolerances=_ITERATION_COUNTS,
        claims=_REGULARITY_CLAIMS,
        claim="Figure 4 / Theorem 3.3 (flat-minima paper): where they recover M*, flat factors are "
              "nearly but not exactly balanced and norm-minimal; the norm gap is at most "
              "(kappa^2 - 1)||X_nuc||_*.",
        scales={
            "ci": {"slices": [{"model": model, "d": 10, "oversampling": [2.5]} for model in MODELS],
                   "trials": 3, "seed": 400, **_SOLVER, "max_iter": 1000},
            "paper": {"slices": [{"model": "sensing", "d": 40, "oversampling": [2.5, 3.0, 4.0, 6.0]},
                                 {"model": "bilinear", "d": 40, "oversampling": [2.5, 3.0, 4.0, 6.0]},
                                 {"model": "completion", "d": 60, "oversampling": [4.0, 5.0, 6.0, 8.0]}],
                      "trials": 10, "seed": 400, **_SOLVER},
        },
        compute=regularity_compute,
        plot=regularity_plot,
        split=split_parts(lambda params: len(params["slices"])),
    ),
)
