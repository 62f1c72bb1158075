"""The sparse products of the low-rank lin-RFM, tile by tile against in one piece, in one process.

Per size d: a d x d pattern of 5 x 10 x (2d - 10) entries drawn uniformly (the observation count
of `benchmarks/linrfm_scale.py` at rank 10, 5 per degree of freedom), and the three products of
`recovery.core.lowrank.Sampling` that each conjugate-gradient step of the two-sided lin-RFM calls:
`at` (the entries of A B^T on Omega, A and B with 2k = 20 columns), `times` and
`transpose_times` (P_Omega^*(e) W and its transpose, W with k = 10 columns). Each is timed (median
of `--repeats`) with tiles of `--tile` rows and columns (default `TILE_LINES`, the library's) and with
the whole pattern as one tile, alternately in this process, and checked to agree to rounding.
Reported per size and product: seconds both ways and their ratio (one piece / tiles; above 1: the
tiles are faster); the last line is `tiled_speedup_d<largest>: <the three products' summed ratio>`.

    python benchmarks/sampling_tiles.py [--sizes 100000 400000] [--tile 65536] [--threads 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from recovery.book import provenance
from recovery.core import lowrank
from recovery.core.lowrank import Sampling
from recovery.core.observations import Observations

PRODUCTS = ("at", "times", "transpose_times")


def pattern(d: int, count: int, generator: torch.Generator) -> Observations:
    """``count`` distinct entries of a ``d x d`` matrix drawn uniformly (fewer after removing repeats)."""
    flat = torch.randint(0, d * d, (count,), generator=generator).unique()
    return Observations(flat // d, flat % d, torch.randn(flat.numel(), generator=generator, dtype=torch.float64),
                        (d, d))


def run_size(d: int, tile: int, repeats: int, seed: int, log=print) -> dict:
    """Time the three products on the pattern of size ``d`` with tiles of ``tile`` lines and in one piece."""
    generator = torch.Generator().manual_seed(seed + d)
    observations = pattern(d, 5 * 10 * (2 * d - 10), generator)
    A, B = (torch.randn(d, 20, generator=generator, dtype=torch.float64) for _ in range(2))
    V, U = (torch.randn(d, 10, generator=generator, dtype=torch.float64) for _ in range(2))
    values = torch.randn(observations.count, generator=generator, dtype=torch.float64)
    samplings = {"tiles": Sampling(observations, tile=tile), "one piece": Sampling(observations, tile=d)}
    row = {"d": d, "entries": observations.count, "tile": min(tile, d), "tiles": samplings["tiles"].tile_count}
    for product in PRODUCTS:
        results, seconds = {}, {name: [] for name in samplings}
        for _ in range(repeats):  # alternately, so that a drift of the machine weighs on both
            for name, sampling in samplings.items():
                e = sampling.ordered(values)
                arguments = {"at": (A, B), "times": (e, V), "transpose_times": (e, U)}[product]
                started = time.perf_counter()
                results[name] = getattr(sampling, product)(*arguments)
                seconds[name].append(time.perf_counter() - started)
                if product == "at" and sampling.order is not None:  # back to the observations' order
                    results[name] = torch.empty_like(results[name]).index_copy_(0, sampling.order, results[name])
        torch.testing.assert_close(results["tiles"], results["one piece"], rtol=1e-12, atol=1e-12)
        tiled, whole = (statistics.median(seconds[name]) for name in ("tiles", "one piece"))
        row |= {f"{product}_seconds_tiles": tiled, f"{product}_seconds_one_piece": whole,
                f"{product}_speedup": whole / tiled}
        log(f"d = {d:,} ({observations.count:,} entries, {row['tiles']} tiles): {product:15s} "
            f"tiles {1e3 * tiled:8.1f} ms, one piece {1e3 * whole:8.1f} ms, ratio {whole / tiled:.2f}")
    row["speedup"] = (sum(row[f"{product}_seconds_one_piece"] for product in PRODUCTS)
                      / sum(row[f"{product}_seconds_tiles"] for product in PRODUCTS))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--tile", type=int, default=lowrank.TILE_LINES, help="rows and columns per tile")
    parser.add_argument("--repeats", type=int, default=9, help="alternating timings per product (their median)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0, help="the pattern of size d uses seed + d")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started, load = time.perf_counter(), os.getloadavg()
    rows = [run_size(d, args.tile, args.repeats, args.seed, lambda message: print(message, flush=True)) for d in args.sizes]
    summary = {f"tiled_speedup_d{rows[-1]['d']}": rows[-1]["speedup"]}
    if args.out is not None:
        provenance.write(args.out, provenance.benchmark_record("sampling_tiles", args, rows, started, load, **summary))
        print(f"wrote {args.out}")
    for key, value in summary.items():
        print(f"{key}: {value:.2f}")


if __name__ == "__main__":
    main()
