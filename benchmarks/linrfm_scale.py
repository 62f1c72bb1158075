"""lin-RFM at scale: the exact dense step against a dense matmul, and the low-rank variant as far as it goes.

Per size d: a square d x d matrix of rank r, `--oversampling` observations per degree of freedom
r (2d - r), chosen uniformly (`recovery.core.problems.factored_completion_problem`: the matrix is
kept as factors, so a 10^5 x 10^5 instance costs megabytes). On each instance, in one process:

- matmul: the median time of one dense d x d by d x d product, the yardstick of the exact step;
- exact: lin-RFM alpha = 1/2 with its dense step (`recovery.rfm.linrfm`, paper B's iteration,
  batched; momentum 0.9, ours): ms per iteration and its ratio to the matmul (`step_vs_matmul`);
- loop (CPU only, exact sizes): three iterations of the same method as published, one NumPy solve per
  row (`recovery.rfm.published.run_published`): ms per iteration and the exact step's share of it
  (`exact_vs_loop`);
- low-rank: the two-sided lin-RFM (`recovery.rfm.two_sided`, ours), whose iterates are stored as
  low rank plus sparse and never as d x d matrices; rank adapted from the data (no oracle).

Both report the time to a relative error of `--target` (1e-6) and `--finer` (1e-10) on
`--test-entries` unobserved entries drawn uniformly (`problems.distinct_entries`), evaluated outside
the methods' clocks (`recovery.core.timing.timed`), each within its time budget; the measurements
are `recovery.experiments.lowrank_scale.time_size`, whose records the book's figure
`linrfm-lowrank-scale` draws. Sizes in
`--large-sizes` run the low-rank method only (the exact step needs d^2 memory and d^3 time). Each
size runs in a fresh process, so the peak resident memory (or GPU memory) is that size's own.

    python benchmarks/linrfm_scale.py --threads 2 --out results/benchmarks/linrfm_scale_cpu.json

The last two lines are `step_vs_matmul_d2000` (exact step / matmul at d = 2000; goal <= 1) and
`largest_d_<device>_10min` (the largest size whose low-rank run reached `--target` within 600 s).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import multiprocessing
import os
import signal
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.experiments.lowrank_scale import TEN_MINUTES, time_size

PR_SET_PDEATHSIG = 1  # prctl option: the signal a process receives when its parent ends (Linux)


def die_with_parent() -> None:
    """On Linux, have the kernel end this process when its parent ends, so that a killed benchmark
    leaves no orphan computing on the machine (and skewing every later timing); elsewhere nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_size(d: int, exact: bool, args: argparse.Namespace) -> dict:
    """One size in the calling process (a fresh one per size: see ``main``)."""
    die_with_parent()
    if args.threads:
        torch.set_num_threads(args.threads)
    return time_size(d, exact=exact, rank=args.rank, oversampling=args.oversampling, target=args.target,
                     finer=args.finer, test_entries=args.test_entries, max_iter=args.max_iter, budget=args.budget,
                     low_rank_budget=args.low_rank_budget, seed=args.seed, dtype=getattr(torch, args.dtype),
                     device=args.device, log=lambda message: print(message, flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 1000, 2000], help="exact and low-rank")
    parser.add_argument("--large-sizes", type=int, nargs="*", default=[10_000, 100_000, 200_000],
                        help="low-rank only")
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--oversampling", type=float, default=5.0, help="observations per degree of freedom")
    parser.add_argument("--target", type=float, default=1e-6, help="relative error on unobserved entries")
    parser.add_argument("--finer", type=float, default=1e-10)
    parser.add_argument("--test-entries", type=int, default=100_000)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for the exact method per size")
    parser.add_argument("--low-rank-budget", type=float, default=TEN_MINUTES, help="seconds for the low-rank method")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0, help="the instance of size d uses seed + d")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = parser.parse_args()
    started, load = time.perf_counter(), os.getloadavg()
    context = multiprocessing.get_context("spawn")
    rows = []
    for d, exact in [(d, True) for d in args.sizes] + [(d, False) for d in args.large_sizes]:
        with context.Pool(1) as pool:  # a fresh process per size: its own peak memory
            rows.append(pool.apply(run_size, (d, exact, args)))
    where = "cpu" if args.device == "cpu" else args.device.split(":")[0]
    at_2000 = [row["exact_step_vs_matmul"] for row in rows if row["d"] == 2000 and "exact_step_vs_matmul" in row]
    within = [row["d"] for row in rows
              if row["low_rank_seconds_to_target"] is not None and row["low_rank_seconds_to_target"] <= TEN_MINUTES]
    summary = {"step_vs_matmul_d2000": at_2000[0] if at_2000 else None,
               f"largest_d_{where}_10min": max(within) if within else None}
    record = provenance.benchmark_record("linrfm_scale", args, rows, started, load, **summary)
    record["device"]["torch_device"] = args.device
    if args.device.startswith("cuda"):
        record["device"]["cuda_device"] = torch.cuda.get_device_name()
    if args.out is not None:
        provenance.write(args.out, record)
        print(f"wrote {args.out}")
    for key, value in summary.items():
        print(f"{key}: {'none' if value is None else (f'{value:.3f}' if isinstance(value, float) else value)}")


if __name__ == "__main__":
    main()
