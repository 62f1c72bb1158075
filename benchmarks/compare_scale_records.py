"""Do two records of `benchmarks/linrfm_scale.py` tell the same story? A twin check across machines.

A GPU record is tied to a CPU result anyone can rerun by a CPU twin: the same command with
`--device cpu` and the same sizes and seed (the instance of size d is drawn from seed + d, on the
CPU, so both runs solve the same problems). Two CPU records from different machines compare the
same way. On the sizes both records ran, per size and method: the accuracies reached (the target
and the finer one) must be the same and the final errors of the same order (a factor of 10, or both
at most the finer target); each claim of the figure `linrfm-lowrank-scale`, evaluated on either
record's rows of those sizes, must get the same verdict wherever both records decide it (a timing
claim about the per-row loop, timed on CPUs only, is not decided on a GPU record). Timings are
shown, never compared: they belong to each machine.

    sizes="--sizes 500 1000 2000 --large-sizes 10000 100000"
    python benchmarks/linrfm_scale.py --device cuda $sizes --out gpu.json
    python benchmarks/linrfm_scale.py --device cpu --threads 2 $sizes --out cpu.json
    python benchmarks/compare_scale_records.py cpu.json gpu.json

Exits with status 1 when the records disagree (or share no size), 0 when they agree, 2 when they
cannot be compared (other instances or accuracies, or a record of an older version of the benchmark).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recovery.experiments.lowrank_scale import device_name, twin_comparison


def machine(record: dict) -> str:
    device = record["device"]
    threads, commit = device.get("torch_threads"), record["git"]["commit"][:7]
    return f"{device_name(device)} ({device.get('torch_device', 'cpu')}, {threads} threads, commit {commit})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    records = [json.loads(path.read_text()) for path in (args.first, args.second)]
    try:
        comparison = twin_comparison(*records)
    except ValueError as refused:
        parser.error(str(refused))
    for index, (path, record) in enumerate(zip((args.first, args.second), records, strict=True), 1):
        print(f"record {index}: {path}: {machine(record)}")
    print(f"sizes in both: {', '.join(f'{d:,}' for d in comparison['sizes']) or 'none'}")
    print(f"{'d':>9}  {'method':<9}  {'final errors (1 / 2)':<21}  {'reached target, finer (1 / 2)':<32}  same")
    for run in comparison["runs"]:
        errors = " / ".join(f"{error:.1e}" for error in run["errors"])
        reached = " / ".join(f"{int(target)}, {int(finer)}" for target, finer in run["reached"])
        print(f"{run['d']:>9,}  {run['method']:<9}  {errors:<21}  {reached:<32}  {'yes' if run['same'] else 'NO'}")
    for claim in comparison["claims"]:
        same = {True: "same", False: "DIFFERENT", None: "not compared"}[claim["same"]]
        print(f"claim {claim['claim']}: {same}")
        for index, (word, key) in enumerate(zip(claim["verdicts"], claim["keys"], strict=True), 1):
            print(f"    record {index}: {word} ({key})")
    print(f"agree: {'yes' if comparison['agree'] else 'no'}")
    return 0 if comparison["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
