"""The exact lin-RFM step against the per-row loop as published, per iteration, from small sizes up.

Per size d: a d x d matrix of rank r = min(10, max(2, d // 20)) with 5 observed entries per
degree of freedom r (2d - r), at most half of all entries, drawn uniformly
(`recovery.core.problems.factored_completion_problem`, seed d). In one process, alternately
`--repeats` times: ours, lin-RFM alpha = 1/2 with its batched dense step (`recovery.rfm.linrfm`,
momentum 0.9), over `--iterations` iterations from the zero-filled data; and three iterations of
the same method as published, one NumPy solve per row (`recovery.rfm.published.run_published`).
Reported per size: the medians in ms per iteration, their ratio (ours / loop; below 1: ours is
faster) and how the step solves its blocks there (one padded batch, or batches per row length on
one or several threads: `recovery.rfm.kernel`). The last line is `slowest_share: <the largest ratio>`.

    python benchmarks/exact_step_vs_loop.py [--sizes 30 50 ... 2000] [--threads 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.core import problems
from recovery.experiments.lowrank_scale import loop_seconds_per_iteration
from recovery.rfm import kernel, linrfm

#: Seconds of rest before each timing: NumPy's BLAS threads (the loop) and torch's spin for a while after
#: their last call, and would otherwise take the cores from the method timed next.
PAUSE = 0.5


def instance(d: int):
    """The size-``d`` problem of the module docstring: ``(rank, truth as a NumPy array, observations)``."""
    rank = min(10, max(2, d // 20))
    count = min(5 * problems.degrees_of_freedom(d, d, rank), d * d // 2)
    left, right, observations = problems.factored_completion_problem(d, d, rank, count, torch.Generator().manual_seed(d))
    return rank, (left @ right.T).numpy(), observations


def run_size(d: int, iterations: int, repeats: int) -> dict:
    """Ours and the loop on the size-``d`` instance, alternately ``repeats`` times."""
    rank, truth, observations = instance(d)
    groups = kernel.RowGroups.of(observations)
    seconds = {"ours": [], "loop": []}
    linrfm.lin_rfm_completion(observations, 0.5, momentum=0.9, tol=0.0, max_iter=1)  # first-call costs
    for _ in range(repeats):
        time.sleep(PAUSE)
        started = time.perf_counter()
        linrfm.lin_rfm_completion(observations, 0.5, momentum=0.9, tol=0.0, max_iter=iterations)
        seconds["ours"].append((time.perf_counter() - started) / iterations)
        time.sleep(PAUSE)
        seconds["loop"].append(loop_seconds_per_iteration(truth, observations, 3))
    ours, loop = (1000 * statistics.median(seconds[name]) for name in ("ours", "loop"))
    threads = "threads" if groups.workers(observations.values.device) > 1 else "one thread"
    blocks = "one padded batch" if groups.padded else f"per row length, {threads}"
    return {"d": d, "rank": rank, "observations": observations.count, "ours_ms": ours, "loop_ms": loop,
            "share": ours / loop, "blocks": blocks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 50, 100, 150, 200, 300, 500, 1000, 2000])
    parser.add_argument("--iterations", type=int, default=20, help="iterations of ours per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load, started = os.getloadavg()[0], time.perf_counter()
    rows = []
    print(f"{'d':>6} {'rank':>4} {'observed':>9} {'ours ms/it':>11} {'loop ms/it':>11} {'share':>6}  blocks")
    for d in args.sizes:
        row = run_size(d, args.iterations, args.repeats)
        rows.append(row)
        print(f"{d:>6} {row['rank']:>4} {row['observations']:>9} {row['ours_ms']:>11.2f} {row['loop_ms']:>11.2f} "
              f"{row['share']:>6.2f}  {row['blocks']}", flush=True)
    summary = {"slowest_share": max(row["share"] for row in rows)}
    if args.out is not None:
        provenance.write(args.out, provenance.benchmark_record("exact_step_vs_loop", args, rows, started, load, **summary))
        print(f"wrote {args.out}")
    print(f"slowest_share: {summary['slowest_share']:.2f}")


if __name__ == "__main__":
    main()
