"""Sample-complexity scoreboard: how few entries each completion method needs for exact recovery.

Setting (that of MatrixIRLS's comparison, Kümmerle & Verdun, ICML 2021, in our own generator
`recovery.core.problems.conditioned_completion_problem`): d x d matrices of rank r with singular
values spaced evenly on a log scale from 1 to 1/kappa, uniformly random frames, and
m = rho * r (2d - r) observed entries, for each oversampling rho and condition number kappa, drawn
under the published experiments' protocol: uniformly at random, again and again until every row and
column holds at least r + 1 of them, at most 1,000 times (the last draw is kept if none qualifies,
as happens below rho of about 1.5 at d = 1000); `--uniform` keeps the first draw instead. Success is
a relative Frobenius error ||X - M|| / ||M|| below 1e-4 (their criterion). Per (method, kappa, rho)
the record holds every instance (error, converged, iterations, seconds, the condition asked and the
fewest observations in any row or column) and the median error and success rate;
`rho_exact_kappa<kappa>` is the smallest rho of the grid from which on the default method's median
error stays below 1e-4, `rho_exact_<method>_kappa<kappa>` the same for each other method run.

Methods (`--methods`, default: the default method only, the one the record's keys are about):
- default: `recovery.complete`'s default, the two-sided lin-RFM (ours), adaptive rank;
- oracle: the two-sided lin-RFM told the rank (ours; MatrixIRLS's setting);
- linrfm: lin-RFM as published (alpha = 1/2, `recovery.rfm.linrfm.lin_rfm_completion` defaults);
- irls: IRLS-0 (`recovery.rfm.irls.irls_completion` defaults);
- nuclear: nuclear-norm minimisation (our ADMM on low-rank-plus-sparse iterates,
  `recovery.convex.lowrank_nuclear_completion` defaults).
The slow methods (linrfm, irls, nuclear) need minutes per instance at d = 1000; pass `--d` smaller
to compare them all. Every run is capped by iterations (`--max-iter`), never by wall-clock time,
and says whether it converged. `--jobs N` runs instances in N worker processes (one thread each
unless `--threads`). Results are appended to `<out>.partial.jsonl` as they come, and a rerun with
the same arguments skips what is there (resumable).

Published thresholds drawn as reference marks (their numbers, not a rerun; d = 1000, r = 5,
smallest rho with median relative error below 1e-4): MatrixIRLS 1.5 (kappa 10) and 1.9 (1e5);
R2RILS 1.5 and 2.8; first-order methods (ScaledGD, LMaFit, LRGeomCG) 2.6-2.9 and none.

    python benchmarks/sample_complexity.py --jobs 2 --out results/benchmarks/sample_complexity.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from joblib import Parallel, delayed

from recovery.book import provenance
from recovery.book.sweep import end_with_parent
from recovery.experiments.completion_scoreboard import (
    LABELS,
    PUBLISHED,
    SUCCESS,
    kappa_key,
    run_instance,
    summarise,
    threshold,
)

COLUMNS = ("method", "d", "rank", "kappa", "rho", "instance", "seed", "observations", "min_per_line",
           "min_line_observations", "relative_error", "converged", "iterations", "seconds")


def solve_instance(key: tuple, args: argparse.Namespace, caller: int) -> dict:
    """One (method, kappa, rho, instance), in a worker process or in this one (``caller``)."""
    if os.getpid() != caller:  # a worker: this process's own threads were set in main
        end_with_parent()
        torch.set_num_threads(args.threads or 1)
    method, kappa, rho, instance = key
    row = run_instance(method, args.d, args.rank, kappa, rho, instance, args.max_iter, conditioned=not args.uniform)
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
    parser.add_argument("--uniform", action="store_true", help="plain uniform entries, not the published protocol")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    git = provenance.git_state()
    started = time.perf_counter()
    partial = None if args.out is None else args.out.with_suffix(".partial.jsonl")
    keys = [(method, kappa, rho, instance) for method in args.methods for kappa in args.kappas for rho in args.rhos
            for instance in range(args.instances)]
    done = {}
    if partial is not None and partial.exists():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            done[(row["method"], row["kappa"], row["rho"], row["instance"])] = row
    pending = [key for key in keys if key not in done]
    work = (delayed(solve_instance)(key, args, os.getpid()) for key in pending)
    results = (Parallel(n_jobs=args.jobs, return_as="generator_unordered")(work) if args.jobs > 1
               else (call(*arguments) for call, arguments, _ in work))
    for count, row in enumerate(results, 1):
        done[(row["method"], row["kappa"], row["rho"], row["instance"])] = row
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
        print(f"[{count}/{len(pending)}] {row['method']} kappa {row['kappa']:g} rho {row['rho']:g} instance "
              f"{row['instance']}: error {row['relative_error']:.1e}, converged {row['converged']}, "
              f"{row['iterations']} it, {row['seconds']:.1f} s", flush=True)
    rows = [done[key] for key in keys]
    summary = summarise(rows)
    for point in summary:
        print(f"{point['method']:8s} kappa {point['kappa']:<8g} rho {point['rho']:<4g} median error "
              f"{point['median_relative_error']:.1e}  success {point['success_rate']:.0%}  converged "
              f"{point['converged_rate']:.0%}  qualifying masks {point['qualifying']}/{point['instances']}  "
              f"median {point['median_seconds']:.2f} s")
    thresholds = {f"rho_exact_{'' if method == 'default' else method + '_'}{kappa_key(kappa)}":
                  threshold(rows, method, kappa) for method in args.methods for kappa in args.kappas}
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
