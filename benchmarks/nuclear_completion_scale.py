"""Nuclear-norm completion: the ADMM on low-rank-plus-sparse iterates against the dense ADMM.

Both run the same iteration (`recovery.convex.admm` at eta = 1, without over-relaxation; the
low-rank one is `recovery.convex.lowrank_nuclear_completion`) from the same start on the same
instance, for the same number of iterations (`--iterations`), one after the other in this
process: d x d, rank 5, singular values log-spaced from 1 to 1/10, rho = 4 observations per
degree of freedom (the scoreboard's generator and protocol, seed 3). Reported per size: ms per
iteration of each, their ratio, and the relative distance between the two final iterates (the
same iteration up to the low-rank one's thresholding, accurate to a tenth of the current
residual, so the two part while the residuals are large). The last line is
`dense_vs_lowrank_d<largest>: <dense ms per iteration / low-rank ms per iteration>`.

    python benchmarks/nuclear_completion_scale.py [--sizes 300 1000] [--iterations 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from recovery.convex import lowrank_nuclear_completion, weighted_nuclear_completion
from recovery.experiments.completion_scoreboard import draw_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rank, rho = 5, 4.0
    ratio = None
    for d in args.sizes:
        _, observations = draw_problem(d, rank, 10.0, rho, seed=3, min_per_line=rank + 1)
        started = time.perf_counter()
        # tol below reach: both run exactly --iterations
        dense = weighted_nuclear_completion(observations, tol=1e-300, max_iter=args.iterations,
                                            relaxation=1.0).solution
        dense_ms = 1e3 * (time.perf_counter() - started) / args.iterations
        started = time.perf_counter()
        result = lowrank_nuclear_completion(observations, tol=1e-300, max_iter=args.iterations)
        lowrank_ms = 1e3 * (time.perf_counter() - started) / args.iterations
        ratio = dense_ms / lowrank_ms
        distance = float(torch.linalg.matrix_norm(result.solution - dense) / torch.linalg.matrix_norm(dense))
        print(f"d {d:5d}: dense {dense_ms:8.1f} ms/it  low-rank {lowrank_ms:6.1f} ms/it (rank {result.info['rank']})  "
              f"ratio {ratio:6.1f}  iterates apart {distance:.1e}", flush=True)
    print(f"dense_vs_lowrank_d{args.sizes[-1]}: {ratio:.1f}")


if __name__ == "__main__":
    main()
