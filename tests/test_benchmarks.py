"""The benchmark scripts run end to end (tiny sizes) and write their JSON records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *arguments: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments], capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout


def test_reference_benchmark_prints_the_speedup_line(tmp_path):
    out = tmp_path / "reference.json"
    stdout = run("linrfm_reference.py", "--seeds", "1", "--d", "40", "--rank", "2", "--num-obs", "600",
                 "--alphas", "0.5", "--out", str(out))
    last = stdout.strip().splitlines()[-3:]
    assert [line.split(": ")[0] for line in last] == ["speedup_vs_loop_alpha_half", "speedup_vs_loop_defaults",
                                                      "seconds_to_1e-10_defaults"]
    assert all(float(line.split(": ")[1]) > 0 for line in last)
    record = json.loads(out.read_text())
    assert {row["method"] for row in record["results"]} == {"loop (published)", "ours, momentum 0.0",
                                                           "ours, momentum 0.9", "default: two-sided lin-RFM (ours)"}
    default = next(row for row in record["results"] if row["method"].startswith("default"))
    assert default["call_converged"] and default["call_relative_error"] < 1e-8
    assert record["seconds_to_1e-10_defaults"] > 0 and record["speedup_vs_loop_defaults"] > 0


def test_scale_benchmark_reports_the_step_ratio_and_the_largest_size(tmp_path):
    out = tmp_path / "scale.json"
    stdout = run("linrfm_scale.py", "--sizes", "60", "--large-sizes", "150", "--rank", "2", "--budget", "10",
                 "--low-rank-budget", "10", "--test-entries", "400", "--out", str(out))
    last = stdout.strip().splitlines()[-2:]
    assert last == ["step_vs_matmul_d2000: none", "largest_d_cpu_10min: 150"]  # no d = 2000; both sizes recover
    record = json.loads(out.read_text())
    exact, large = record["results"]
    assert record["largest_d_cpu_10min"] == 150 and record["device"]["torch_device"] == "cpu"
    assert exact["exact_ms_per_iteration"] > 0 and exact["exact_step_vs_matmul"] > 0 and "exact_iterations" not in large
    assert large["low_rank_final_relative_error"] < 1e-6 and large["low_rank_rank"] == 2
    assert all(row["peak_resident_memory_gib"] > 0 for row in record["results"])
    assert run("compare_scale_records.py", str(out), str(out)).strip().endswith("agree: yes")
    large["low_rank_final_relative_error"], large["low_rank_seconds_to_target"] = 1e-2, None
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(record))
    with pytest.raises(subprocess.CalledProcessError) as refused:
        run("compare_scale_records.py", str(out), str(doctored))
    assert refused.value.returncode == 1 and refused.value.stdout.strip().endswith("agree: no")
    record["parameters"]["seed"] = 1  # other instances: not comparable
    doctored.write_text(json.dumps(record))
    with pytest.raises(subprocess.CalledProcessError) as incomparable:
        run("compare_scale_records.py", str(out), str(doctored))
    assert incomparable.value.returncode == 2 and "seed 0 / 1" in incomparable.value.stderr


def test_convex_benchmark_runs(tmp_path):
    out = tmp_path / "convex.json"
    stdout = run("convex_solver.py", "--sizes", "8", "--trials", "2", "--cvxpy-trials", "1", "--out", str(out))
    assert stdout.strip().splitlines()[-1].startswith("speedup_vs_cvxpy_d40: ")
    record = json.loads(out.read_text())
    ours = [row for row in record["results"] if row["method"] == "ours (batched ADMM)"]
    assert len(ours) == 2 and all(row["converged"] for row in ours)  # d = 8 is too small to recover


def test_nuclear_completion_benchmark_runs_the_same_iteration_both_ways():
    lines = run("nuclear_completion_scale.py", "--sizes", "60", "--iterations", "40").strip().splitlines()
    assert lines[-1].startswith("dense_vs_lowrank_d60: ")
    assert float(lines[0].rsplit("apart", 1)[1]) < 1e-5


def test_sample_complexity_benchmark_resumes_and_reports_thresholds(tmp_path):
    out = tmp_path / "sample.json"
    arguments = ("--d", "40", "--rank", "2", "--rhos", "2", "4", "--instances", "2", "--jobs", "2",
                 "--out", str(out))
    stdout = run("sample_complexity.py", *arguments)
    assert [line.split(": ")[0] for line in stdout.strip().splitlines()[-2:]] == ["rho_exact_kappa10",
                                                                                 "rho_exact_kappa1e5"]
    record = json.loads(out.read_text())
    assert len(record["results"]) == 2 * 2 * 2 and {"rho_exact_kappa10", "rho_exact_kappa1e5"} <= set(record)
    assert all(row["min_per_line"] == 3 <= row["min_line_observations"] for row in record["results"])
    assert record["published"]["MatrixIRLS"] == {"kappa10": 1.5, "kappa1e5": 1.9}
    partial = out.with_suffix(".partial.jsonl").read_text().splitlines()
    assert len(partial) == 8
    run("sample_complexity.py", *arguments)  # a rerun reads every instance from the partial file
    assert out.with_suffix(".partial.jsonl").read_text().splitlines() == partial


def test_sample_complexity_benchmark_reports_each_method_threshold(tmp_path):
    out = tmp_path / "oracle.json"
    stdout = run("sample_complexity.py", "--d", "30", "--rank", "2", "--kappas", "10", "--rhos", "4", "--instances", "1",
                 "--methods", "oracle", "--out", str(out))
    assert stdout.strip().splitlines()[-1] == "rho_exact_oracle_kappa10: 4.0"
    record = json.loads(out.read_text())
    assert record["rho_exact_oracle_kappa10"] == 4.0 and "rho_exact_kappa10" not in record


def test_tiles_benchmark_times_the_same_products_both_ways(tmp_path):
    """Small tiles on a small pattern (5 x 5 tiles): the script itself checks that both ways give the
    same products (it fails otherwise) and records their times and ratios."""
    out = tmp_path / "tiles.json"
    stdout = run("sampling_tiles.py", "--sizes", "300", "--tile", "64", "--repeats", "1", "--out", str(out))
    assert stdout.strip().splitlines()[-1].startswith("tiled_speedup_d300: ")
    record = json.loads(out.read_text())
    (row,) = record["results"]
    assert row["tiles"] == 25 and 0 < row["entries"] <= 5 * 10 * (2 * 300 - 10)  # draws, repeats merged
    assert all(row[f"{product}_speedup"] > 0 for product in ("at", "times", "transpose_times"))
    assert record["tiled_speedup_d300"] == row["speedup"] > 0


def test_exact_step_benchmark_reports_the_share_of_the_loop_per_size(tmp_path):
    """Two small sizes, one timing each: a row per size with both times, their ratio, the way the step
    solved its blocks (one padded batch at d = 30, the smallest), and the largest ratio as the last line."""
    out = tmp_path / "exact.json"
    stdout = run("exact_step_vs_loop.py", "--sizes", "30", "300", "--iterations", "2", "--repeats", "1",
                 "--out", str(out))
    record = json.loads(out.read_text())
    rows = record["results"]
    assert [row["d"] for row in rows] == [30, 300]
    assert all(row["ours_ms"] > 0 and row["loop_ms"] > 0 for row in rows)
    assert all(row["share"] == pytest.approx(row["ours_ms"] / row["loop_ms"]) for row in rows)
    assert rows[0]["blocks"] == "one padded batch" and rows[1]["blocks"].startswith("per row length")
    assert rows[0]["observations"] == 30 * 30 // 2  # at most half of the entries
    assert record["slowest_share"] == max(row["share"] for row in rows)
    assert stdout.strip().splitlines()[-1] == f"slowest_share: {record['slowest_share']:.2f}"
