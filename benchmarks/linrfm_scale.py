"""lin-RFM at scale: the exact dense step against a dense matmul, and the low-rank variant as far as it goes.

Per size d: a square d x d matrix of rank r, `--oversampling` observations per degree of freedom
r (2d - r), chosen uniformly (`recovery.core.problems.factored_completion_problem`: the matrix is
kept as factors, so a 10^5 x 10^5 instance costs megabytes). On each instance, in one process:

- matmul: the median time of one dense d x d by d x d product, the yardstick of the exact step;
- exact: lin-RFM alpha = 1/2 with its dense step (`recovery.rfm.linrfm`, paper B's iteration,
  batched; momentum 0.9, ours): ms per iteration and its ratio to the matmul (`step_vs_matmul`);
- low-rank: the two-sided lin-RFM (`recovery.rfm.two_sided`, ours), whose iterates are stored as
  low rank plus sparse and never as d x d matrices; rank adapted from the data (no oracle).

Both report the time to a relative error of `--target` (1e-6) and `--finer` (1e-10) on
`--test-entries` unobserved entries drawn uniformly (`problems.distinct_entries`), evaluated outside
the methods' clocks (`recovery.core.timing.timed`), each within its time budget. Sizes in
`--large-sizes` run the low-rank method only (the exact step needs d^2 memory and d^3 time). Each
size runs in a fresh process, so the peak resident memory (or GPU memory) is that size's own.

    python benchmarks/linrfm_scale.py --threads 2 --out results/benchmarks/linrfm_scale_cpu.json

The last two lines are `step_vs_matmul_d2000` (exact step / matmul at d = 2000; goal <= 1) and
`largest_d_<device>_10min` (the largest size whose low-rank run reached `--target` within 600 s).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.core import problems
from recovery.core.timing import format_time, timed
from recovery.rfm import linrfm, two_sided

TEN_MINUTES = 600.0


def matmul_seconds(d: int, dtype: torch.dtype, device: str, repeats: int = 5) -> float:
    """Median seconds of one ``d x d`` by ``d x d`` product (after one untimed product)."""
    A = torch.randn(d, d, dtype=dtype, device=device)
    B = torch.randn(d, d, dtype=dtype, device=device)
    synchronize = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for _ in range(repeats + 1):
        synchronize()
        start = time.perf_counter()
        A @ B
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def run_size(d: int, exact: bool, args: argparse.Namespace) -> dict:
    """One size, both methods (or the low-rank one only), in the calling process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype, device = getattr(torch, args.dtype), args.device
    generator = torch.Generator().manual_seed(args.seed + d)
    built = time.perf_counter()
    num_obs = round(args.oversampling * problems.degrees_of_freedom(d, d, args.rank))
    left, right, observations = problems.factored_completion_problem(d, d, args.rank, num_obs, generator, dtype=dtype)
    count = min(args.test_entries, d * d - num_obs)
    rows, cols = problems.distinct_entries(d, d, count, generator, excluding=observations)
    truth = (left[rows] * right[cols]).sum(1)
    truth_norm = float(torch.linalg.vector_norm(truth))
    observations, rows, cols, truth = observations.to(device=device), rows.to(device), cols.to(device), truth.to(device)
    row = {"d": d, "rank": args.rank, "observed": num_obs, "test_entries": count,
           "build_seconds": time.perf_counter() - built}
    print(f"d = {d:,}: {num_obs:,} observed ({num_obs / d**2:.2%}, {args.oversampling:g} per degree of freedom), "
          f"{d * d - num_obs:,} missing; built in {row['build_seconds']:.1f} s", flush=True)

    def sampled_error(values: torch.Tensor) -> float:
        return float(torch.linalg.vector_norm(values - truth)) / truth_norm

    if exact:
        row["matmul_seconds"] = matmul_seconds(d, dtype, device)
        timing = timed("exact", lambda cb: linrfm.lin_rfm_completion(observations, 0.5, momentum=0.9, tol=0.0,
                                                                     max_iter=args.max_iter, callback=cb),
                       lambda Z: sampled_error(Z[rows, cols]), target=args.target, finer=args.finer,
                       budget_seconds=args.budget, device=device)
        row.update(_columns("exact", timing, row["matmul_seconds"]))
        _report("exact dense step (lin-RFM)", timing, args, row["matmul_seconds"])
    directions = []

    def low_rank_error(X) -> float:
        directions.append(X.left.shape[1] // 2)  # the low-rank part of a step has 2k columns
        return sampled_error(X.entries(rows, cols))

    timing = timed("low-rank", lambda cb: two_sided.two_sided_completion(observations, dense=False,
                                                                        max_iter=args.max_iter, callback=cb),
                   low_rank_error, target=args.target, finer=args.finer, budget_seconds=args.low_rank_budget,
                   device=device)
    row.update(_columns("low_rank", timing, row.get("matmul_seconds")))
    row["low_rank_rank"] = directions[-1] if directions else None
    _report("low-rank (two-sided, ours)", timing, args, row.get("matmul_seconds"))
    if device.startswith("cuda"):
        row["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    row["peak_resident_memory_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  rank found {row['low_rank_rank']}; peak resident memory {row['peak_resident_memory_gib']:.2f} GiB"
          + (f", GPU {row['peak_gpu_memory_gib']:.2f} GiB" if "peak_gpu_memory_gib" in row else ""), flush=True)
    return row


def _columns(prefix: str, timing, matmul: float | None) -> dict:
    per_iteration = timing.seconds_per_iteration
    return {
        f"{prefix}_iterations": timing.iterations,
        f"{prefix}_seconds": timing.seconds,
        f"{prefix}_ms_per_iteration": 1e3 * per_iteration,
        f"{prefix}_step_vs_matmul": None if matmul is None else per_iteration / matmul,
        f"{prefix}_seconds_to_target": None if timing.reached_at is None else timing.reached_at[1],
        f"{prefix}_iterations_to_target": None if timing.reached_at is None else timing.reached_at[0],
        f"{prefix}_seconds_to_finer": None if timing.finer_at is None else timing.finer_at[1],
        f"{prefix}_final_relative_error": timing.error,
    }


def _report(name: str, timing, args, matmul: float | None) -> None:
    ratio = "" if matmul is None else f" ({timing.seconds_per_iteration / matmul:.2f} x matmul {1e3 * matmul:.1f} ms)"
    print(f"  {name:28s} {1e3 * timing.seconds_per_iteration:9.1f} ms/it{ratio}; to {args.target:g}: "
          f"{format_time(timing.reached_at).strip()}; to {args.finer:g}: {format_time(timing.finer_at).strip()}; "
          f"error {timing.error:.1e} after {timing.iterations} it, {timing.seconds:.1f} s", flush=True)


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
    record = provenance.record(benchmark="linrfm_scale", parameters=vars(args) | {"out": str(args.out)},
                               results=rows, runtime_seconds=time.perf_counter() - started) | summary
    record["device"]["torch_device"] = args.device
    record["device"]["load_average_at_start"] = load
    if args.device.startswith("cuda"):
        record["device"]["cuda_device"] = torch.cuda.get_device_name()
    if args.out is not None:
        provenance.write(args.out, record)
        print(f"wrote {args.out}")
    for key, value in summary.items():
        print(f"{key}: {'none' if value is None else (f'{value:.3f}' if isinstance(value, float) else value)}")


if __name__ == "__main__":
    main()
