"""Sample-complexity scoreboard: how few entries each completion method needs for exact recovery.

Setting (that of MatrixIRLS's comparison, Kümmerle & Verdun, ICML 2021, in our own generator
`recovery.core.problems.conditioned_completion_problem`): d x d matrices of rank r with singular
values spaced evenly on a log scale from 1 to 1/kappa, uniformly random frames, and
m = rho * r (2d - r) entries observed uniformly at random, for each oversampling rho and condition
number kappa. Success is a relative Frobenius error ||X - M|| / ||M|| below 1e-4 (their criterion).
Per (method, kappa, rho) the record holds every instance (error, converged, iterations, seconds,
and the fewest observations in any row or column) and the median error and success rate;
`rho_exact_kappa<kappa>` is the smallest rho of the grid from which on the default method's median
error stays below 1e-4, `rho_exact_determined_kappa<kappa>` the same over the instances whose every
row and column has at least r observations (those a method can recover at all: uniform sampling
conditioned on that event), at points with at least 5 of them.

Methods (`--methods`, default: the default method only, the one the record's keys are about):
- default: `recovery.complete`'s default, the two-sided lin-RFM (ours), adaptive rank;
- oracle: the two-sided lin-RFM told the rank (ours; MatrixIRLS's setting);
- linrfm: lin-RFM as published (alpha = 1/2, `recovery.rfm.linrfm.lin_rfm_completion` defaults);
- irls: IRLS-0 (`recovery.rfm.irls.irls_completion` defaults);
- nuclear: nuclear-norm minimisation (our ADMM, tol 1e-10).
The slow methods (linrfm, irls, nuclear) need minutes per instance at d = 1000; pass `--d` smaller
to compare them all. Every run is capped by iterations (`--max-iter`), never by wall-clock time,
and says whether it converged. Results are appended to `<out>.partial.jsonl` as they come, and a
rerun with the same arguments skips what is there (resumable).

Published thresholds drawn as reference marks (their numbers, not a rerun; d = 1000, r = 5,
smallest rho with median relative error below 1e-4): MatrixIRLS 1.5 (kappa 10) and 1.9 (1e5);
R2RILS 1.5 and 2.8; first-order methods (ScaledGD, LMaFit, LRGeomCG) 2.6-2.9 and none.

    python benchmarks/sample_complexity.py --out results/benchmarks/sample_complexity.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.core import problems
from recovery.experiments.completion_scoreboard import (
    LABELS,
    PUBLISHED,
    SUCCESS,
    fewest_per_line,
    kappa_key,
    run_instance,
    summarise,
    threshold,
)

COLUMNS = ("method", "d", "rank", "kappa", "rho", "instance", "seed", "observations", "min_line_observations",
           "relative_error", "converged", "iterations", "seconds")


def complete_row(row: dict, args: argparse.Namespace) -> dict:
    """A row in the record's column order; rows written before the line counts were recorded get
    them from their problem, redrawn from its seed (the sampling alone, no solve)."""
    row = {"d": args.d, "rank": args.rank, **row}
    if "min_line_observations" not in row:
        _, observations = problems.conditioned_completion_problem(
            args.d, args.d, args.rank, row["observations"], row["kappa"], torch.Generator().manual_seed(row["seed"]))
        row["min_line_observations"] = fewest_per_line(observations)
    return {column: row[column] for column in COLUMNS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--rank", type=int, default=5)
    parser.add_argument("--kappas", type=float, nargs="+", default=[10.0, 1e5])
    parser.add_argument("--rhos", type=float, nargs="+",
                        default=[1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=["default"],
                        choices=list(LABELS))
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    git = provenance.git_state()
    started = time.perf_counter()
    partial = None if args.out is None else args.out.with_suffix(".partial.jsonl")
    done = {}
    if partial is not None and partial.exists():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            done[(row["method"], row["kappa"], row["rho"], row["instance"])] = complete_row(row, args)
    rows = []
    for method in args.methods:
        for kappa in args.kappas:
            for rho in args.rhos:
                group = []
                for instance in range(args.instances):
                    key = (method, kappa, rho, instance)
                    row = done.get(key) or run_instance(method, args.d, args.rank, kappa, rho, instance,
                                                        args.max_iter)
                    if key not in done and partial is not None:
                        partial.parent.mkdir(parents=True, exist_ok=True)
                        with partial.open("a") as handle:
                            handle.write(json.dumps(row) + "\n")
                    group.append(row)
                rows += group
                point = summarise(group)[0]
                print(f"{method:8s} kappa {kappa:<8g} rho {rho:<4g} median error {point['median_relative_error']:.1e}  "
                      f"success {point['success_rate']:.0%}  converged {point['converged_rate']:.0%}  "
                      f"median {point['median_seconds']:.2f} s", flush=True)
    summary = summarise(rows)
    thresholds = {f"rho_exact_{kappa_key(kappa)}": threshold(rows, "default", kappa) for kappa in args.kappas}
    thresholds |= {f"rho_exact_determined_{kappa_key(kappa)}": threshold(rows, "default", kappa, determined_only=True)
                   for kappa in args.kappas}
    if args.out is not None:
        record = provenance.record(git=git, benchmark="sample_complexity",
                                   parameters=vars(args) | {"out": str(args.out)}, success_level=SUCCESS,
                                   published=PUBLISHED, summary=summary, results=rows, **thresholds,
                                   runtime_seconds=time.perf_counter() - started)
        provenance.write(args.out, record)
        print(f"wrote {args.out}")
    for key, value in thresholds.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
