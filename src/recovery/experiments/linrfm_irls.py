r"""lin-RFM is IRLS (paper B, claim 2): equal iterates, a monotone smoothed objective, stationary limits.

With :math:`p = 2 - 4\alpha` and a fixed absolute smoothing :math:`\varepsilon > 0`, both methods
take the weighted least-squares step

.. math::
   x^+ = \operatorname{argmin}\{\, \langle x, W(x_t)\, x\rangle : x \text{ feasible} \,\},

- **vectors** (:math:`X\beta = y`): :math:`W = \operatorname{diag}((\beta_t^2 + \varepsilon)^{p/2 - 1})`;
  lin-RFM's kernel is :math:`\operatorname{diag}((\beta_t^2 + \varepsilon)^{2\alpha}) = W^{-1}`, the
  smoothing placed exactly as in IRLS (:func:`recovery.rfm.linrfm.regression_step`,
  :func:`recovery.rfm.irls.regression_step`);
- **matrices** (:math:`P_\Omega(Z) = P_\Omega(Y)`, row by row): :math:`W = (G_t + \varepsilon I)^{p/2-1}`,
  :math:`G_t = Z_t^\top Z_t / d_1`. lin-RFM (:func:`recovery.rfm.linrfm.completion_step`) takes the
  kernel :math:`M^2 = (G_t + \varepsilon I)^{2\alpha}`, the smoothing placed as in IRLS, by matrix
  products when :math:`2\alpha` is an integer (:math:`\alpha = 1/2`: :math:`G + \varepsilon I`
  itself); IRLS (:func:`recovery.rfm.irls.completion_step`) from an eigendecomposition of :math:`G_t`.

The experiment runs lin-RFM, IRLS (where :math:`p \in [0, 1]`) and a direct dense solve of the
weighted least-squares step (:func:`direct_regression_step`, :func:`direct_completion_step`) each on
its own iterates from the same start (the minimum-norm solution, resp. the zero-filled data,
i.e. :math:`M_0 = I`) with the same fixed :math:`\varepsilon`, and records per iteration their
largest difference, the smoothed objective :func:`recovery.rfm.irls.smoothed_objective` at the
lin-RFM iterate, and its constrained gradient (:func:`constrained_gradient`).

**Why the objective decreases** (majorise-minimise). :math:`\phi_p(s)` is concave in
:math:`s \ge 0` for :math:`p < 2`, so :math:`\phi_p(s) \le \phi_p(s_t) + \phi_p'(s_t)(s - s_t)`, with
:math:`\phi_p'(s_t) = c_p (s_t + \varepsilon)^{p/2-1}`, :math:`c_p > 0`. Summed over coordinates
(resp. for the concave trace function :math:`G \mapsto \operatorname{tr}\phi_p(G)` with
:math:`s = G = Z^\top Z/d_1`), the tangent majorises the objective, touches it at :math:`x_t`, and up
to constants equals :math:`\langle x, W(x_t) x\rangle`. The step minimises this majoriser :math:`g_t`
over the feasible set, so :math:`f(x_{t+1}) \le g_t(x_{t+1}) \le g_t(x_t) = f(x_t)`.
At a fixed point :math:`x = \operatorname{argmin}\langle \cdot, W(x)\,\cdot\rangle`, the optimality
condition says :math:`W(x) x` is orthogonal to the feasible directions, and
:math:`\nabla f(x) = 2c_p W(x) x` (:math:`\frac{2 c_p}{d_1} Z W` for matrices): the limit is a
stationary point of :math:`f` on the constraint set.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from recovery.core import metrics, problems
from recovery.core.observations import Observations
from recovery.experiments import claims
from recovery.experiments.claims import Claim, Evidence
from recovery.experiments.plotting import WIDTH, fraction
from recovery.experiments.spec import FigureSpec, Row, column, trial_generator
from recovery.rfm import irls, linrfm
from recovery.rfm.kernel import regression_data

FIGURE_ID = "linrfm-irls"
PROBLEMS = ("vector", "matrix")


def direct_regression_step(X: torch.Tensor, y: torch.Tensor, beta: torch.Tensor, p: float, epsilon: float) -> torch.Tensor:
    r"""Reference IRLS step for vectors: the KKT system of
    :math:`\min \sum_i w_i\beta_i^2` s.t. :math:`X\beta = y`, :math:`w = (\beta^2 + \varepsilon)^{p/2-1}`,
    solved densely by LU (independent of the Cholesky-based steps of the library)."""
    n, d = X.shape
    w = (beta.square() + epsilon) ** (p / 2 - 1)
    kkt = torch.zeros(d + n, d + n, dtype=X.dtype)
    kkt[:d, :d] = torch.diag(2 * w)
    kkt[:d, d:] = X.T
    kkt[d:, :d] = X
    return torch.linalg.solve(kkt, torch.cat([torch.zeros(d, dtype=X.dtype), y]))[:d]


def direct_completion_step(Z: torch.Tensor, observations: Observations, p: float, epsilon: float) -> torch.Tensor:
    r"""Reference IRLS step for completion, one row at a time: with
    :math:`W = (G + \varepsilon I)^{p/2-1}` (inverse and products when :math:`1 - p/2` is an integer,
    else an eigendecomposition), the unobserved entries of row :math:`i` solve
    :math:`W_{hh} z_h = -W_{hs} y_s` (stationarity of :math:`z W z^\top` in :math:`z_h`)."""
    d1, d2 = Z.shape
    shifted = Z.T @ Z / d1 + epsilon * torch.eye(d2, dtype=Z.dtype)
    power = 1 - p / 2
    if float(power).is_integer():
        W = torch.linalg.matrix_power(torch.linalg.inv(shifted), int(power))
    else:
        values, vectors = torch.linalg.eigh(shifted)
        W = (vectors * values ** (-power)) @ vectors.T
    data, mask = observations.zero_filled().to(Z.dtype), observations.mask()
    out = data.clone()
    for i in range(d1):
        seen, hidden = mask[i], ~mask[i]
        if bool(hidden.any()):
            out[i, hidden] = -torch.linalg.solve(W[hidden][:, hidden], W[hidden][:, seen] @ data[i, seen])
    return out


def constrained_gradient(x: torch.Tensor, p: float, epsilon: float, constraint) -> float:
    r"""Return :math:`\|P\nabla f(x)\| / \|\nabla f(x)\|` for :math:`f` = :func:`recovery.rfm.irls.smoothed_objective`
    (gradient by automatic differentiation), :math:`P` the projection onto the feasible directions:
    the null space of :math:`X` when ``constraint`` is the matrix ``X`` (vectors), the unobserved
    entries when it is an :class:`~recovery.core.observations.Observations` (matrices). Zero at a
    stationary point of :math:`f` on the constraint set."""
    x = x.detach().clone().requires_grad_(True)
    irls.smoothed_objective(x, p, epsilon).backward()
    gradient = x.grad
    if isinstance(constraint, Observations):
        feasible = gradient.clone()
        feasible[constraint.rows, constraint.cols] = 0
    else:
        feasible = gradient - constraint.T @ torch.linalg.solve(constraint @ constraint.T, constraint @ gradient)
    return float(torch.linalg.vector_norm(feasible) / torch.linalg.vector_norm(gradient))


def _relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def vector_instance(params: Mapping[str, Any]):
    """``(X, y, beta_star)`` drawn from ``trial_generator(seed, 0)``
    (:func:`recovery.core.problems.planted_sparse_regression`)."""
    X, beta_star = problems.planted_sparse_regression(params["d"], params["sparsity"], params["n"],
                                          trial_generator(params["seed"], 0))
    return X, X @ beta_star, beta_star


def matrix_instance(params: Mapping[str, Any]):
    """``(Y, observations)`` drawn from ``trial_generator(seed, 1)`` (:func:`recovery.core.problems.completion_problem`)."""
    return problems.completion_problem(params["d1"], params["d2"], params["rank"], params["num_obs"],
                                       trial_generator(params["seed"], 1))


def _vector_runs(params, alpha):
    X, y, beta_star = vector_instance(params)
    X, y, start = regression_data(X, y)
    p = linrfm.irls_exponent(alpha)
    epsilon = params["vector_smoothing"] * float(start.square().mean())

    def relative(beta):  # the library steps take the smoothing relative to mean(beta^2)
        return epsilon / float(beta.square().mean())

    steps = {
        "lin-rfm": lambda b: linrfm.regression_step(X, y, b, alpha, relative(b)),
        "direct": lambda b: direct_regression_step(X, y, b, p, epsilon),
    }
    if 0 <= p <= 1:
        steps["irls"] = lambda b: irls.regression_step(X, y, b, p, relative(b))
    return steps, start, epsilon, X, lambda b: metrics.relative_error(b, beta_star)


def _matrix_runs(params, alpha):
    Y, observations = matrix_instance(params)
    p = linrfm.irls_exponent(alpha)
    start = observations.zero_filled()
    d2 = observations.shape[1]
    epsilon = params["matrix_smoothing"] * float(start.square().sum()) / (start.shape[0] * d2)

    def relative(Z):  # the library steps take the smoothing relative to tr(G)/d2
        return epsilon / (float(Z.square().sum()) / (Z.shape[0] * d2))

    steps = {
        "lin-rfm": lambda Z: linrfm.completion_step(Z, observations, alpha, relative(Z)),
        "direct": lambda Z: direct_completion_step(Z, observations, p, epsilon),
    }
    if 0 <= p <= 1:
        steps["irls"] = lambda Z: irls.completion_step(Z, observations, p, relative(Z))
    return steps, start, epsilon, observations, lambda Z: metrics.unobserved_relative_error(Z, Y, observations)


def compute(params: Mapping[str, Any]) -> list[Row]:
    r"""lin-RFM, IRLS and the direct step, each on its own iterates, for every problem and ``alpha``.

    Parameters: ``problems`` (``"vector"``, ``"matrix"``), ``alphas``, ``iterations``, ``seed``;
    vectors ``d, n, sparsity, vector_smoothing``; matrices ``d1, d2, rank, num_obs,
    matrix_smoothing``. The absolute smoothing is fixed for the run: ``vector_smoothing`` times
    :math:`\operatorname{mean}(\beta_0^2)`, resp. ``matrix_smoothing`` times
    :math:`\operatorname{tr}(G_0)/d_2`, at the start. One row per (problem, ``alpha``, iteration
    :math:`t = 0..T`): ``reference`` (``"irls"`` when :math:`p \in [0, 1]`, else ``"direct"``),
    ``difference`` (largest entry of lin-RFM minus the reference, relative to the reference's
    largest entry), ``difference_direct`` (the same against the direct step), ``objective``,
    ``constrained_gradient`` and ``error`` (relative to the truth; unobserved entries) at the
    lin-RFM iterate, and ``change`` (its relative change).
    """
    rows: list[Row] = []
    for problem in params["problems"]:
        if problem not in PROBLEMS:
            raise ValueError(f"problems: expected entries of {PROBLEMS}, got {problem!r}")
        for alpha in params["alphas"]:
            runs = _vector_runs if problem == "vector" else _matrix_runs
            steps, start, epsilon, constraint, error = runs(params, alpha)
            p = linrfm.irls_exponent(alpha)
            reference = "irls" if "irls" in steps else "direct"
            iterates = dict.fromkeys(steps, start)
            for t in range(params["iterations"] + 1):
                if t > 0:
                    previous = iterates["lin-rfm"]
                    iterates = {name: step(iterates[name]) for name, step in steps.items()}
                current = iterates["lin-rfm"]
                change = 0.0 if t == 0 else _relative_difference(current, previous)
                rows.append({
                    "problem": problem,
                    "alpha": alpha,
                    "p": p,
                    "iteration": t,
                    "reference": reference,
                    "difference": _relative_difference(current, iterates[reference]),
                    "difference_direct": _relative_difference(current, iterates["direct"]),
                    "objective": float(irls.smoothed_objective(current, p, epsilon)),
                    "constrained_gradient": constrained_gradient(current, p, epsilon, constraint),
                    "error": error(current),
                    "change": change,
                })
    return rows


def split(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One unit per (problem, alpha); the instances depend on the seed and the problem only."""
    return [{"problems": [problem], "alphas": [alpha]} for problem in params["problems"] for alpha in params["alphas"]]


FLOOR = 1e-17  # exact agreement is drawn on this line
_COLOURS = {0.25: "black", 0.375: "0.45", 0.5: "tab:blue", 1.0: "tab:red"}
_STYLES = {"vector": "-", "matrix": "--"}


def plot(rows: list[Row], params: Mapping[str, Any]) -> Figure:
    """(a) lin-RFM vs the direct IRLS step; (b) the smoothed objective, normalised; (c) its
    constrained gradient; against the iteration, vectors solid and matrices dashed."""
    fig, grid = plt.subplots(2, 2, figsize=(WIDTH, 6.4), layout="constrained")
    axes = [*grid.flat[:3]]
    for problem in params["problems"]:
        for alpha in params["alphas"]:
            where = {"problem": problem, "alpha": alpha}
            t = np.array(column(rows, "iteration", **where))
            style = {"color": _COLOURS.get(alpha, "0.3"), "ls": _STYLES[problem], "lw": 1.2}
            label = rf"{problem}, $\alpha = {fraction(alpha)}$ ($p = {linrfm.irls_exponent(alpha):g}$)"
            difference = np.array(column(rows, "difference_direct", **where))
            axes[0].plot(t[1:], np.maximum(difference[1:], FLOOR), label=label, **style)
            f = np.array(column(rows, "objective", **where))
            decrease = -np.diff(f) / (f[0] - f[-1])
            axes[1].plot(t[1:], np.where(decrease > 0, decrease, np.nan), **style)
            axes[1].plot(t[1:][decrease < 0], -decrease[decrease < 0], "x", color=style["color"], ms=4)
            axes[2].plot(t, np.maximum(column(rows, "constrained_gradient", **where), FLOOR), **style)
    axes[0].set(yscale="log", ylim=(FLOOR / 3, 1e-6),
                ylabel=r"$\max|x^{\mathrm{RFM}} - x^{\mathrm{IRLS}}| / \max|x^{\mathrm{IRLS}}|$",
                title="(a) lin-RFM minus the IRLS step")
    axes[1].set(yscale="log",
                ylabel=r"decrease of $f_\varepsilon$ in step $t$ / in all $T$",
                title="(b) decrease per step (x: increase)")
    axes[2].set(yscale="log", ylabel=r"$\|P\nabla f_\varepsilon\| / \|\nabla f_\varepsilon\|$",
                title="(c) gradient along the constraint set")
    for axis in axes:
        axis.set_xlabel("iteration $t$")
    grid[1, 1].axis("off")  # the legend takes the free cell of the grid, off the data
    grid[1, 1].legend(*axes[0].get_legend_handles_labels(), loc="center", frameon=False)
    return fig


def _equal_iterates(rows, params) -> Evidence:
    """lin-RFM and IRLS-p iterates agree to 1e-8 relative at every iteration of every run (the key
    prints the largest difference as a bound no finer than 1e-10: below that it is round-off, which
    moves between machines)."""
    largest = max(row["difference"] for row in rows)
    return Evidence(largest <= 1e-8, f"largest difference {claims.bound(largest, floor=1e-10)} over "
                                     f"{len(rows)} iterations", "tolerance 1e-8, far above round-off")


def _objective_decreases(rows, params) -> Evidence:
    """The smoothed objective never rises by more than 1e-10 relative between iterations."""
    runs = sorted({(row["problem"], row["alpha"]) for row in rows})
    rise = 0.0
    for problem, alpha in runs:
        values = [row["objective"] for row in sorted(rows, key=lambda row: row["iteration"])
                  if row["problem"] == problem and row["alpha"] == alpha]
        rise = max([rise] + [(b - a) / abs(a) for a, b in itertools.pairwise(values) if a])
    return Evidence(rise <= 1e-10, f"largest relative rise {claims.bound(max(rise, 0.0), floor=1e-12)} "
                                   f"in {len(runs)} runs")


def _stationary_limits(rows, params) -> Evidence:
    """Every run's limit is stationary on the constraint set: once the iterates have settled
    (relative change below 1e-10 at the last iteration), the gradient of the smoothed objective
    along the constraint set is below 1e-6 of the whole gradient. A settled run above that refutes
    the claim; a run still moving cannot decide it."""
    last = {}
    for row in rows:
        run = (row["problem"], row["alpha"])
        if run not in last or row["iteration"] > last[run]["iteration"]:
            last[run] = row
    moving = [run for run, row in last.items() if row["change"] >= 1e-10]
    stationary = sum(row["constrained_gradient"] < 1e-6 for row in last.values())
    settled_but_not = [run for run, row in last.items() if run not in moving and row["constrained_gradient"] >= 1e-6]
    if moving and not settled_but_not:
        return Evidence.undecided(f"{len(moving)} of {len(last)} runs still moving after "
                                  f"{max(row['iteration'] for row in last.values())} iterations")
    largest = max(row["constrained_gradient"] for row in last.values())
    return Evidence(stationary == len(last), f"{stationary} of {len(last)} limits stationary; largest relative "
                                             f"gradient along the constraint set {claims.bound(largest, floor=1e-12)}",
                    "settled: relative change < 1e-10; stationary: relative constrained gradient < 1e-6")


CLAIMS = (
    Claim("linrfm-is-irls", "paper B, claim 2",
          "lin-RFM with exponent alpha is IRLS-p, p = 2 - 4 alpha: from the same start with the same smoothing the "
          "iterates agree.", "relative distance between lin-RFM and IRLS iterates", _equal_iterates),
    Claim("linrfm-irls-monotone", "paper B, claim 2",
          "The smoothed objective of IRLS-p never increases along lin-RFM's iterates.",
          "relative rise of the smoothed objective between iterations", _objective_decreases),
    Claim("linrfm-irls-stationary", "paper B, claim 2",
          "With the smoothing fixed, lin-RFM's limits are stationary points of the smoothed objective on the "
          "constraint set.", "gradient along the constraint set at the last iterate, relative to the gradient",
          _stationary_limits),
)


FIGURES = (
    FigureSpec(
        id=FIGURE_ID,
        notebook="notebooks/linrfm_irls.ipynb",
        claims=CLAIMS,
        claim=(
            "Claim 2 (lin-RFM paper): lin-RFM with exponent alpha is IRLS-p, p = 2 - 4 alpha, for sparse "
            "regression and matrix completion: equal iterates from the same start with the same smoothing, "
            "a smoothed objective that never increases, and limits that are stationary on the constraint set."
        ),
        scales={
            "ci": {
                "problems": ["vector", "matrix"], "alphas": [0.25, 0.375, 0.5, 1.0], "iterations": 60,
                "d": 60, "n": 25, "sparsity": 3, "vector_smoothing": 0.1,
                "d1": 20, "d2": 20, "rank": 2, "num_obs": 160, "matrix_smoothing": 0.3, "seed": 4,
            },
            "paper": {
                "problems": ["vector", "matrix"], "alphas": [0.25, 0.375, 0.5, 1.0], "iterations": 300,
                "d": 1000, "n": 250, "sparsity": 20, "vector_smoothing": 0.1,
                "d1": 200, "d2": 200, "rank": 5, "num_obs": 12_000, "matrix_smoothing": 0.3, "seed": 4,
            },
        },
        compute=compute,
        plot=plot,
        split=split,
    ),
)
