"""SVD-free lin-RFM against SVD-based IRLS as the matrix grows.

For each size d (square d x d, rank r, a fraction of entries observed) this runs
- lin-RFM, alpha = 1/2 (kernel G = Z^T Z / d: matrix products only), with momentum 0.9;
- the same without momentum (the plain iteration, as published);
- IRLS-0 (log-det), whose kernel comes from a symmetric eigendecomposition every step;
and, with `--methods ... published`, the per-row NumPy loop as published (CPU only, no time
budget); it reports seconds per iteration and the time to a relative error of 1e-3 on the unobserved
entries (the error is computed outside the methods and its cost excluded). The problem and the
timing come from `recovery.experiments.linrfm_scale`, which also drives the book's figure
`linrfm-scale` (`recovery reproduce linrfm-scale`).

    python benchmarks/linrfm_scale.py                          # CPU, d in 250 500 1000 2000
    python benchmarks/linrfm_scale.py --device cuda --sizes 10000 --fraction 0.02 --rank 10 --dtype float32

Results are printed as a table and written as JSON (--out) with parameters, versions and device.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.core.timing import format_time
from recovery.experiments.linrfm_scale import (
    LABELS,
    observed_fraction,
    run_method,
    scale_problem,
    warm_up,
)


def run_size(d: int, args: argparse.Namespace) -> list[dict]:
    dtype = getattr(torch, args.dtype)
    generator = torch.Generator().manual_seed(args.seed)
    built = time.perf_counter()
    fraction = args.fraction or observed_fraction(d, args.rank)
    Y, observations = scale_problem(d, args.rank, fraction, generator, dtype=dtype)
    num_obs = observations.count
    Y, observations = Y.to(args.device), observations.to(device=args.device)
    print(f"d = {d}, rank {args.rank}: {num_obs:,} observed ({fraction:.1%}, "
          f"{num_obs / (args.rank * (2 * d - args.rank)):.1f} per degree of freedom), "
          f"{d * d - num_obs:,} missing, built in {time.perf_counter() - built:.1f} s", flush=True)
    warm_up(observations)
    rows = []
    for key in args.methods:
        name = LABELS[key]
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        timing = run_method(key, Y, observations, target=args.target, max_iter=args.max_iter,
                            budget_seconds=args.budget, device=args.device)
        row = {
            "d": d, "rank": args.rank, "observed": num_obs, "method": name, "iterations": timing.iterations,
            "seconds_per_iteration": timing.seconds_per_iteration,
            "seconds_to_target": None if timing.reached_at is None else timing.reached_at[1],
            "iterations_to_target": None if timing.reached_at is None else timing.reached_at[0],
            "final_relative_error": timing.error, "seconds": timing.seconds,
        }
        if args.device.startswith("cuda"):
            row["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        rows.append(row)
        memory = f", peak {row['peak_gpu_memory_gib']:.1f} GiB" if "peak_gpu_memory_gib" in row else ""
        print(f"  {name:38s} {timing.seconds_per_iteration * 1e3:9.1f} ms/it   to {args.target:g}: "
              f"{format_time(timing.reached_at)}   error {timing.error:.2e} after {timing.iterations} it{memory}",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--fraction", type=float, default=None,
                        help="fraction of entries observed (default: 4 per degree of freedom, within 2%%-5%%)")
    parser.add_argument("--rank", type=int, default=3)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--target", type=float, default=1e-3, help="relative error on unobserved entries")
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds per method and size (the published loop has none: it stops at --max-iter)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["momentum", "plain", "irls"], choices=list(LABELS))
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = parser.parse_args()
    if "published" in args.methods and not args.device.startswith("cpu"):
        parser.error("--methods published: the per-row loop runs in NumPy on the CPU only")
    started = time.perf_counter()
    rows = [row for d in args.sizes for row in run_size(d, args)]
    record = provenance.record(benchmark="linrfm_scale", parameters=vars(args) | {"out": str(args.out)},
                               results=rows, runtime_seconds=time.perf_counter() - started)
    record["device"]["torch_device"] = args.device
    if args.device.startswith("cuda"):
        record["device"]["cuda_device"] = torch.cuda.get_device_name()
    if args.out is not None:
        provenance.write(args.out, record)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
