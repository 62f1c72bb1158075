"""Our batched ADMM against cvxpy (SCS at tight tolerance, Clarabel) on matrix sensing.

Rank 2, unit-norm truth, Gaussian measurements, m = 5 r (2d) capped at 60% of d^2 (at d = 20,
5 r (2d) = d^2 would determine the matrix without any norm), d in {20, 40, 60}, both the
nuclear norm and the flat relaxation (D1, D2 the rescaling matrices). Ours solves the trials of
one size as one batch, stopping at residuals 1e-8 (`--tol`); cvxpy solves them one by one (only
`--cvxpy-trials` of them, its time per trial is scaled to the batch; Clarabel only up to d = 40).
Reported: seconds for all trials and the largest relative error ||Y - M*|| / ||M*||; a method
counts only if it reaches 1e-7 on every trial. The last line is
`speedup_vs_cvxpy_d40: <time of the faster cvxpy solver / ours, at d = 40>`.

    python benchmarks/convex_solver.py [--sizes 20 40 60] [--trials 10] [--cvxpy-trials 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import torch

from recovery.book import provenance
from recovery.convex import weighted_nuclear_minimization
from recovery.core import problems
from recovery.core.operators import gaussian_sensing
from recovery.flat import flatness

TARGET = 1e-7


def instances(d: int, trials: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    m = min(5 * 2 * 2 * d, int(0.6 * d * d))
    ops = [gaussian_sensing(m, d, d, g) for _ in range(trials)]
    truth = torch.stack([problems.low_rank_matrix(d, d, 2, g) for _ in range(trials)])
    A = torch.stack([op.A for op in ops])
    b = torch.einsum("tmij,tij->tm", A, truth)
    weights = [flatness.rescaling_matrices(op) for op in ops]
    return m, ops, A, b, truth, torch.stack([w[0] for w in weights]), torch.stack([w[1] for w in weights])


def cvxpy_solve(A, b, D1, D2, solver):
    m, d1, d2 = A.shape
    left, right = np.linalg.inv(D1), np.linalg.inv(D2)
    rescaled = np.einsum("ab,mbc,cd->mad", left.T, A, right.T).reshape(m, -1)
    X = cp.Variable((d1, d2))
    problem = cp.Problem(cp.Minimize(cp.normNuc(X)), [rescaled @ cp.vec(X, order="C") == b])
    options = {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200_000} if solver == cp.SCS else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            problem.solve(solver=solver, **options)
        except cp.error.SolverError:
            return None
    return None if X.value is None else left @ X.value @ right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 60])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--cvxpy-trials", type=int, default=2)
    parser.add_argument("--tol", type=float, default=1e-8, help="our stopping tolerance (residuals)")
    parser.add_argument("--clarabel-max-d", type=int, default=40,
                        help="skip Clarabel above this size (about 17 s per instance at d = 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    started = time.perf_counter()
    for d in args.sizes:
        m, ops, A, b, truth, D1, D2 = instances(d, args.trials, args.seed + d)
        for relaxation, weights in (("nuclear", (None, None)), ("flat", (D1, D2))):
            start = time.perf_counter()
            result = weighted_nuclear_minimization(ops, b, *weights, tol=args.tol)  # the maps; cvxpy gets A
            seconds = time.perf_counter() - start
            error = float((torch.linalg.matrix_norm(result.solution - truth) / torch.linalg.matrix_norm(truth)).max())
            rows.append({"d": d, "m": m, "relaxation": relaxation, "method": "ours (batched ADMM)",
                         "seconds_all_trials": seconds, "max_relative_error": error,
                         "iterations": result.iterations, "converged": bool(result.converged.all())})
            solvers = [("cvxpy SCS 1e-10", cp.SCS)]
            if d <= args.clarabel_max_d:
                solvers.append(("cvxpy Clarabel", cp.CLARABEL))
            for name, solver in solvers:
                errors, start = [], time.perf_counter()
                for t in range(args.cvxpy_trials):
                    W1 = np.eye(d) if weights[0] is None else D1[t].numpy()
                    W2 = np.eye(d) if weights[1] is None else D2[t].numpy()
                    Y = cvxpy_solve(A[t].numpy(), b[t].numpy(), W1, W2, solver)
                    errors.append(np.inf if Y is None else np.linalg.norm(Y - truth[t].numpy()))
                per_trial = (time.perf_counter() - start) / args.cvxpy_trials
                rows.append({"d": d, "m": m, "relaxation": relaxation, "method": name,
                             "seconds_all_trials": per_trial * args.trials, "max_relative_error": max(errors),
                             "trials_timed": args.cvxpy_trials})
            for row in rows[-1 - len(solvers):]:
                ok = "yes" if row["max_relative_error"] <= TARGET else "NO"
                print(f"d {d:3d}  m {m:5d}  {relaxation:8s} {row['method']:22s} {row['seconds_all_trials']:9.2f} s "
                      f"for {args.trials} trials   max rel. error {row['max_relative_error']:.1e}   reaches 1e-7: {ok}",
                      flush=True)

    def seconds(d, method):
        times = [r["seconds_all_trials"] for r in rows if r["d"] == d and r["method"] == method
                 and r["max_relative_error"] <= TARGET]
        return sum(times) if len(times) == 2 else float("inf")

    speedup = float("nan")
    if 40 in args.sizes:
        fastest = min(seconds(40, "cvxpy SCS 1e-10"), seconds(40, "cvxpy Clarabel"))
        speedup = fastest / seconds(40, "ours (batched ADMM)")
    if args.out is not None:
        record = provenance.record(benchmark="convex_solver", parameters=vars(args) | {"out": str(args.out)},
                                   results=rows, speedup_vs_cvxpy_d40=speedup,
                                   runtime_seconds=time.perf_counter() - started)
        provenance.write(args.out, record)
    print(f"speedup_vs_cvxpy_d40: {speedup:.1f}")


if __name__ == "__main__":
    main()
