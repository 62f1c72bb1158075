r"""Flat versus sharp interpolants of one sensing instance (the paper's Figure 1, measured).

One Gaussian sensing instance :math:`b = \mathcal{A}(M^\star)` in the recovery regime and a wide
factorisation (:math:`k = d`) have a large solution set :math:`S = \{(L, R): \mathcal{A}(LR^\top) =
b\}`. The experiment collects many of its points,

- gradient descent (:func:`recovery.flat.descent.gradient_descent`) from random starts at
  several scales;
- trace-penalised descent (:func:`recovery.flat.descent.trace_penalised_descent`), which
  seeks flatness by itself, from random starts at several scales;
- random interpolants :math:`X = M^\star + N` with :math:`N \ne 0` in the null space of
  :math:`\mathcal{A}`, factorised as flatly as possible (:func:`recovery.flat.flatness.flat_factors`)
  or by a random point of the orbit
  (:func:`recovery.flat.flatness.random_factorisation`),

and records for each its scaled Hessian trace relative to the flat value
:math:`4\|D_1M^\star D_2\|_*` (the smallest scaled trace on :math:`S` when :math:`M^\star` solves
the flat relaxation, Theorem 3.2) against its recovery error :math:`\|LR^\top - M^\star\|_F`. Since
:math:`T(L, R) \ge 4\|D_1LR^\top D_2\|_*` and the weighted nuclear norm grows at least linearly
away from its unique minimiser on the affine set :math:`\{\mathcal{A}(X) = b\}`, the error is
bounded by a constant times the trace excess: the flattest interpolants recover :math:`M^\star`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from recovery.core import problems, validation
from recovery.core.operators import DenseMeasurements, gaussian_sensing
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, latex, legend_below
from recovery.experiments.spec import FigureSpec, Row, column, trial_generator
from recovery.flat import descent, flatness

FIGURE_ID = "flat-landscape"
FAMILIES = {
    "gradient": "gradient descent",
    "penalised": "trace-penalised descent",
    "null-flat": "M* + null-space N, flattest factors",
    "null-orbit": "M* + null-space N, random factors",
}


def random_start(d1: int, d2: int, width: int, scale: float, generator: torch.Generator):
    r"""Return :math:`(L_0, R_0)` with i.i.d. entries :math:`N(0, s^2/d_1)` and
    :math:`N(0, s^2/d_2)`: every column has norm about :math:`s` = ``scale``."""
    for name, value in (("d1", d1), ("d2", d2), ("width", width)):
        validation.positive_int(name, value)
    scale = validation.positive_number("scale", scale)
    kw = {"generator": generator, "dtype": torch.float64}
    return (
        scale * torch.randn(d1, width, **kw) / math.sqrt(d1),
        scale * torch.randn(d2, width, **kw) / math.sqrt(d2),
    )


def null_space_interpolant(op: DenseMeasurements, M, distance: float, generator: torch.Generator):
    r"""Return :math:`X = M + N` with :math:`\mathcal{A}(N) = 0` and :math:`\|N\|_F` = ``distance``.

    :math:`N` is a Gaussian matrix projected onto the null space of :math:`\mathcal{A}`
    (:math:`G - \mathcal{A}^*(\mathcal{A}\mathcal{A}^*)^{-1}\mathcal{A}(G)`) and rescaled; then
    :math:`X` interpolates the data of :math:`M` but does not recover it.
    """
    if not isinstance(op, DenseMeasurements):
        raise ValueError(f"op: expected DenseMeasurements, got {type(op).__name__}")
    M = validation.tensor("M", M, ndim=2)
    if tuple(M.shape) != op.shape:
        raise ValueError(f"M: expected shape {op.shape}, got {tuple(M.shape)}")
    distance = validation.positive_number("distance", distance)
    if op.num_measurements >= M.numel():
        raise ValueError(
            f"op: {op.num_measurements} measurements of a {op.shape} matrix leave no null space"
        )
    G = torch.randn(op.shape, generator=generator, dtype=M.dtype)
    stack = op.A.reshape(op.num_measurements, -1)
    coefficients = torch.linalg.solve(stack @ stack.T, op.apply(G))
    N = G - op.adjoint(coefficients)
    return M + distance * N / torch.linalg.matrix_norm(N)


def instance(params: Mapping[str, Any]) -> tuple[DenseMeasurements, torch.Tensor, torch.Tensor]:
    """Return the map, the truth and the data ``(op, M, b)`` of the experiment with ``params``.

    A ``d x d`` truth of rank ``rank`` (unit Frobenius norm) seen through ``m`` Gaussian
    measurements, both drawn from ``trial_generator(seed, 0)``.
    """
    generator = trial_generator(params["seed"], 0)
    d = params["d"]
    op = gaussian_sensing(params["m"], d, d, generator)
    M = problems.low_rank_matrix(d, d, params["rank"], generator)
    return op, M, op.measure(M)


def compute(params: Mapping[str, Any]) -> list[Row]:
    """Scaled trace, recovery error and loss of every interpolant of one instance.

    Parameters: ``d, rank, m, width`` (the instance), ``init_scales`` and ``seeds`` (gradient
    descent from ``seeds`` random starts per scale), ``penalised_scales`` (the same for
    trace-penalised descent, with ``penalty`` and ``decay``), ``tol`` and ``max_iter`` (both
    optimisers), ``null_points`` (random interpolants at distances log-spaced from ``1e-6`` to
    ``1``, each factorised flatly and by a random orbit point of spread uniform in ``[0, 2]``),
    ``seed``. The instance is :func:`instance`; start ``j`` at scale index ``i`` of
    family ``f`` (0 gradient, 1 penalised) uses ``trial_generator(seed, 1 + f, i, j)``; the random
    interpolants ``trial_generator(seed, 3)``.
    """
    d, width = params["d"], params["width"]
    op, M, b = instance(params)
    D1, D2 = flatness.rescaling_matrices(op)
    flat_value = float(4 * flatness.nuclear_norm(D1 @ M @ D2))
    data_loss = op.scale * float(b @ b)  # f(0, 0)

    def row(family, L, R, **fields) -> Row:
        trace = float(flatness.scaled_hessian_trace(op, L, R))
        return {
            "family": family,
            **fields,
            "relative_residual": math.sqrt(float(flatness.loss(op, b, L, R)) / data_loss),
            "scaled_trace": trace,
            "flat_value": flat_value,
            "trace_excess": trace / flat_value - 1,
            "error": float(torch.linalg.matrix_norm(L @ R.T - M)),
        }

    rows: list[Row] = []
    runs = (
        ("gradient", params["init_scales"], descent.gradient_descent, {}),
        ("penalised", params["penalised_scales"], descent.trace_penalised_descent,
         {"penalty": params["penalty"], "decay": params["decay"]}),
    )
    for index, (family, scales, optimiser, options) in enumerate(runs):
        for i, scale in enumerate(scales):
            for j in range(params["seeds"]):
                generator = trial_generator(params["seed"], 1 + index, i, j)
                L0, R0 = random_start(d, d, width, scale, generator)
                result = optimiser(
                    op, b, L0, R0, tol=params["tol"], max_iter=params["max_iter"], **options
                )
                rows.append(row(family, result.info["L"], result.info["R"], init_scale=scale, sample=j,
                                distance=0.0, iterations=result.iterations,
                                converged=result.converged))
    points = trial_generator(params["seed"], 3)
    for j, distance in enumerate(np.logspace(-6, 0, params["null_points"])):
        X = null_space_interpolant(op, M, float(distance), points)
        L, R = flatness.flat_factors(op, X, width)
        fields = {"init_scale": 0.0, "sample": j, "distance": float(distance), "iterations": 0,
                  "converged": True}
        rows.append(row("null-flat", L, R, **fields))
        spread = 2 * float(torch.rand((), generator=points, dtype=M.dtype))
        L, R = flatness.random_factorisation(X, width, "orbit", spread, points)
        rows.append(row("null-orbit", L, R, **fields))
    return rows


FLOOR = 1e-12  # trace excesses below this (rounding, or a residual of order tol) are drawn on it


#: The families' names in the figure (mathtext).
_LABELS = {**FAMILIES, "null-flat": r"$M^\star$ + null-space $\Delta$, flattest factors",
           "null-orbit": r"$M^\star$ + null-space $\Delta$, random factors"}


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) recovery error against trace excess, every interpolant; (b) error against start scale."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 4.4), layout="constrained")
    common = {"s": 22, "alpha": 0.75, "lw": 0}
    styles = {
        "gradient": {**common, "marker": "o", "color": "tab:blue"},
        "penalised": {**common, "marker": "*", "color": "tab:red", "s": 70},
        "null-flat": {**common, "marker": "^", "color": "tab:green"},
        "null-orbit": {**common, "marker": "v", "color": "tab:grey"},
    }
    for family, label in _LABELS.items():
        excess = np.maximum(column(rows, "trace_excess", family=family), FLOOR)
        error = column(rows, "error", family=family)
        left.scatter(excess, error, label=label, **styles[family])
    if min(column(rows, "trace_excess")) <= FLOOR:
        left.axvline(FLOOR, color="grey", lw=0.8, ls=":", label=f"excess at or below ${latex(FLOOR)}$")
    left.set(
        xscale="log", yscale="log",
        xlabel=r"trace excess: scaled trace$/4\|D_1M^\star D_2\|_* - 1$",
        ylabel=r"recovery error $\|LR^\top - M^\star\|_F$",
        title=r"(a) the flattest recover $M^\star$",
    )
    for family in ("gradient", "penalised"):
        scale = column(rows, "init_scale", family=family)
        error = column(rows, "error", family=family)
        right.scatter(scale, error, label=_LABELS[family], **styles[family])
    right.set(
        xscale="log", yscale="log",
        xlabel=r"scale $\omega$ of the random start (column norms)",
        ylabel=r"recovery error $\|LR^\top - M^\star\|_F$",
        title=r"(b) error against start scale",
    )
    legend_below(fig, left)
    return fig


def _flattest_recover(rows, params) -> Evidence:
    """Among the converged interpolants, the flattest tenth (smallest trace excess) all recover M*
    (error < 1e-3), and every trace-penalised descent run does."""
    converged = sorted((row for row in rows if row["converged"]), key=lambda row: row["trace_excess"])
    flattest = converged[:max(1, len(converged) // 10)]
    penalised, total = claims.share(rows, lambda row: row["error"] < 1e-3, family="penalised")
    flat_ok = sum(row["error"] < 1e-3 for row in flattest)
    holds = flat_ok == len(flattest) and total > 0 and penalised == total
    return Evidence(holds, f"flattest {len(flattest)} interpolants: {flat_ok} recover; trace-penalised descent: "
                           f"{penalised}/{total} recover")


def _descent_lands_sharp(rows, params) -> Evidence:
    """Plain gradient descent lands on sharp interpolants that miss M*: at every start scale the
    median trace excess and the median error exceed 1e-2, and both are larger from the largest start
    than from the smallest."""
    scales = sorted({row["init_scale"] for row in rows if row["family"] == "gradient"})
    if not scales:
        return Evidence.undecided("no gradient-descent interpolant among these rows")
    medians = [(float(np.median(column(rows, "trace_excess", family="gradient", init_scale=s))),
                float(np.median(column(rows, "error", family="gradient", init_scale=s)))) for s in scales]
    missed = sum(excess > 1e-2 and error > 1e-2 for excess, error in medians)
    grows = medians[-1][0] > medians[0][0] and medians[-1][1] > medians[0][1]
    return Evidence(missed == len(scales) and grows,
                    f"median trace excess and error above 1e-2 at {missed} of {len(scales)} start scales, "
                    f"{'larger' if grows else 'not larger'} from the largest start than from the smallest",
                    partly=missed == len(scales) and not grows)


CLAIMS = (
    Claim("flat-landscape-flattest-recover", "paper A, Figure 1 and Theorems 3.2, 4.10",
          "Among many interpolants of one Gaussian sensing instance, the flattest recover M*, and trace-penalised "
          "gradient descent finds them without a convex solver.",
          "error of the flattest tenth of the interpolants; error of trace-penalised descent", _flattest_recover,
          "measured on one instance with sampled interpolants; the paper's Figure 1 is a sketch"),
    Claim("flat-landscape-descent-lands-sharp", "companion",
          "Plain gradient descent on the factorised loss lands on sharp interpolants that miss M*, the more so "
          "the larger its initialisation.", "median trace excess and error of gradient descent per start scale",
          _descent_lands_sharp),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/flat_landscape.ipynb",
        claims=CLAIMS,
        claim=(
            "Figure 1 and Theorems 3.2, 4.10 (flat-minima paper), measured: among many "
            "interpolants of one Gaussian sensing instance, the flattest (smallest scaled trace) "
            "recover M*; trace-penalised descent finds them without a convex solver."
        ),
        scales={
            "ci": {
                "d": 6, "rank": 1, "m": 27, "width": 6, "init_scales": [0.3, 1.0], "seeds": 1,
                "penalised_scales": [1.0], "penalty": 0.2, "decay": 0.99, "tol": 1e-8,
                "max_iter": 20_000, "null_points": 4, "seed": 2024,
            },
            "paper": {
                "d": 15, "rank": 2, "m": 140, "width": 15,
                "init_scales": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0], "seeds": 4,
                "penalised_scales": [0.01, 0.1, 1.0, 3.0], "penalty": 0.2, "decay": 0.997,
                "tol": 1e-10, "max_iter": 100_000, "null_points": 40, "seed": 2024,
            },
        },
        compute=compute,
        plot=plot,
    ),
)
