"""The low-rank scale experiment: rows read from a benchmark record, its claims, and a live run that
recovers with both methods."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from recovery.experiments import lowrank_scale

BENCHMARK_RECORDS = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def result(d, exact=True, low_target=5.0, low_finer=6.0, exact_finer=20.0, low_error=1e-12, loop_ms=300.0):
    """One row of a ``benchmarks/linrfm_scale.py`` record (times in seconds, None: not reached)."""
    row = {"d": d, "rank": 10, "observed": 5 * 10 * (2 * d - 10), "test_entries": 100, "build_seconds": 0.1,
           "low_rank_iterations": 12, "low_rank_seconds": 7.0, "low_rank_ms_per_iteration": 500.0,
           "low_rank_step_vs_matmul": None, "low_rank_seconds_to_target": low_target,
           "low_rank_iterations_to_target": None if low_target is None else 10, "low_rank_seconds_to_finer": low_finer,
           "low_rank_final_relative_error": low_error, "low_rank_rank": 10, "peak_resident_memory_gib": 1.5}
    if exact:
        row |= {"matmul_seconds": 0.01, "exact_iterations": 200, "exact_seconds": 30.0,
                "exact_ms_per_iteration": 150.0, "exact_step_vs_matmul": 15.0, "exact_seconds_to_target": 10.0,
                "exact_iterations_to_target": 100, "exact_seconds_to_finer": exact_finer,
                "exact_final_relative_error": 1e-11}
        if loop_ms is not None:
            row |= {"loop_ms_per_iteration": loop_ms, "exact_vs_loop": 150.0 / loop_ms}
        row["low_rank_step_vs_matmul"] = 50.0
    return row


def record(*results, device="cpu"):
    parameters = {"dtype": "float64", "target": 1e-6, "finer": 1e-10, "rank": 10, "oversampling": 5.0, "seed": 0,
                  "test_entries": 100}
    return {"benchmark": "linrfm_scale", "results": list(results), "parameters": parameters,
            "device": {"torch_device": device, "processor": "AMD EPYC", "torch_threads": 2}}


def test_record_rows_have_one_row_per_size_and_method():
    rows = lowrank_scale.record_rows(record(result(500), result(100_000, exact=False, low_finer=None)), "rec.json")
    assert [(row["d"], row["method"]) for row in rows] == [(500, "exact"), (500, "low_rank"), (100_000, "low_rank")]
    large = rows[-1]
    assert large["reached"] and not large["reached_finer"] and math.isnan(large["seconds_to_finer"])
    assert math.isnan(large["matmul_ms"]) and large["rank_found"] == 10 and large["source"] == "rec.json"
    assert rows[0]["matmul_ms"] == pytest.approx(10.0) and rows[0]["step_vs_matmul"] == 15.0
    assert rows[0]["loop_ms"] == 300.0 and math.isnan(rows[1]["loop_ms"]) and math.isnan(large["loop_ms"])
    older = lowrank_scale.record_rows(record(result(500, loop_ms=None)), "rec.json")
    assert math.isnan(older[0]["loop_ms"])


def evidence(check, *results):
    return check(lowrank_scale.record_rows(record(*results), "rec.json"), {"target": 1e-6})


def test_agreement_claim_fails_when_the_low_rank_method_misses_what_the_exact_one_reaches():
    assert evidence(lowrank_scale._low_rank_agrees, result(500), result(1000)).holds
    missed = evidence(lowrank_scale._low_rank_agrees, result(500), result(1000, low_finer=None))
    assert not missed.holds and "1 of 2 sizes" in missed.key
    assert not evidence(lowrank_scale._low_rank_agrees, result(500, low_target=None, low_finer=None)).holds


def test_loop_claim_needs_the_exact_step_below_the_loop_at_every_timed_size():
    check = lowrank_scale._faster_than_loop
    faster = evidence(check, result(500, loop_ms=200.0), result(1000, loop_ms=151.0), result(10_000, exact=False))
    assert faster.holds and "0.75 at d = 500" in faster.key and "0.99 at d = 1,000" in faster.key
    slower = evidence(check, result(500, loop_ms=200.0), result(1000, loop_ms=149.0))
    assert not slower.holds and "1.01 at d = 1,000" in slower.key
    assert not evidence(check, result(500, loop_ms=None)).decided
    live = lowrank_scale.record_rows(record(result(500)), "live")
    assert not check(live, {}).decided


def test_ten_minute_claim_needs_a_large_size_within_ten_minutes():
    within = evidence(lowrank_scale._ten_minutes, result(500), result(100_000, exact=False, low_target=590.0))
    assert within.holds and "100,000" in within.key
    late = evidence(lowrank_scale._ten_minutes, result(500), result(100_000, exact=False, low_target=610.0))
    assert not late.holds and "500" in late.key
    live = lowrank_scale.record_rows(record(result(100_000, exact=False)), "live")
    assert not lowrank_scale._ten_minutes(live, {}).decided


@pytest.mark.parametrize(("first", "second", "same"), [
    (1e-11, 1e-14, True),  # both at most the finer target: the digits below it say nothing
    (2.9e-9, 3e-10, True),  # within a factor of 10
    (3e-9, 2e-10, False),
    (1e-3, 1e-12, False),
    (0.0, 1e-8, False),
])
def test_errors_of_the_same_order(first, second, same):
    assert lowrank_scale.same_order(first, second, 1e-10) is same
    assert lowrank_scale.same_order(second, first, 1e-10) is same


def test_twins_agree_on_the_same_story_and_differ_where_the_errors_or_a_verdict_differ():
    cpu = record(result(500, loop_ms=200.0), result(1000, loop_ms=400.0), result(100_000, exact=False, low_target=300.0))
    twin = lowrank_scale.twin_comparison
    same = twin(cpu, cpu)
    assert same["agree"] and same["sizes"] == [500, 1000, 100_000] and len(same["runs"]) == 5
    assert [claim["same"] for claim in same["claims"]] == [True, True, True]
    # another machine: other timings, other digits below the finer target, the same story
    other = record(result(500, loop_ms=900.0, low_error=3e-13), result(1000, loop_ms=1000.0),
                   result(100_000, exact=False, low_target=500.0, low_error=1e-11))
    assert twin(cpu, other)["agree"]
    worse = record(result(500, loop_ms=200.0), result(1000, loop_ms=400.0, low_error=5e-6, low_finer=None),
                   result(100_000, exact=False, low_target=300.0))
    compared = twin(cpu, worse)
    assert not compared["agree"]
    assert [(run["d"], run["method"]) for run in compared["runs"] if not run["same"]] == [(1000, "low_rank")]
    assert compared["claims"][0]["same"] is False  # low rank no longer reaches 1e-10 at d = 1000
    # errors of the same order on either side of the target: not the same accuracy reached
    near = [record(result(500, low_finer=None, low_error=9e-7)),
            record(result(500, low_target=None, low_finer=None, low_error=1.1e-6))]
    assert not twin(*near)["agree"] and not twin(*near)["runs"][1]["same"]
    # a verdict alone: the exact step slower than the loop on the second machine
    slower = record(result(500, loop_ms=100.0), result(1000, loop_ms=400.0), result(100_000, exact=False, low_target=300.0))
    verdicts = twin(cpu, slower)
    assert all(run["same"] for run in verdicts["runs"]) and not verdicts["agree"]
    assert [claim["same"] for claim in verdicts["claims"]] == [True, False, True]


def test_a_gpu_twin_is_compared_on_shared_sizes_and_claims_it_decides():
    cpu = record(result(500), result(1000), result(100_000, exact=False, low_target=300.0))
    gpu = record(result(500, loop_ms=None), result(100_000, exact=False, low_target=30.0),
                 result(1_000_000, exact=False, low_target=500.0), device="cuda")
    compared = lowrank_scale.twin_comparison(cpu, gpu)
    assert compared["agree"] and compared["sizes"] == [500, 100_000]
    assert [claim["same"] for claim in compared["claims"]] == [True, None, None]  # loop and 10 minutes: CPU claims
    assert not lowrank_scale.twin_comparison(cpu, record(result(2000)))["agree"]  # no shared size


def test_twins_must_solve_the_same_instances_to_the_same_accuracies():
    cpu = record(result(500))
    for name, value in [("seed", 1), ("dtype", "float32"), ("finer", 1e-8), ("rank", 3)]:
        other = record(result(500))
        other["parameters"][name] = value
        with pytest.raises(ValueError, match=f"other instances or ask other accuracies: {name} "):
            lowrank_scale.twin_comparison(cpu, other)
    older = {"benchmark": "linrfm_scale", "results": [], "parameters": {"rank": 3, "seed": 0, "target": 1e-3}}
    with pytest.raises(ValueError, match=r"record 2: not a record of the current .*\(lacks oversampling"):
        lowrank_scale.twin_comparison(cpu, older)


def test_the_committed_cpu_records_tell_the_same_story_on_two_cpus_and_with_the_faster_step():
    """The Xeon record and its twin on an AMD EPYC ran the same dense step on two CPUs; the current
    record ran the threaded step on an EPYC: both pairs reach the same accuracies, with errors of the
    same order, and give the claims the same verdicts."""
    xeon, twin, current = (json.loads((BENCHMARK_RECORDS / f"linrfm_scale_cpu{suffix}.json").read_text())
                           for suffix in ("_xeon", "_twin", ""))
    assert xeon["device"]["cpu_model"] != twin["device"]["cpu_model"]
    for first, second in ((xeon, twin), (current, twin)):
        compared = lowrank_scale.twin_comparison(first, second)
        assert compared["agree"] and compared["sizes"] == [500, 1000, 2000, 10_000, 100_000]
        assert [claim["same"] for claim in compared["claims"]] == [True, True, True]


def test_live_run_recovers_with_both_methods_and_refuses_a_missing_record():
    params = {"sizes": [40], "rank": 2, "oversampling": 5.0, "target": 1e-6, "finer": 1e-10, "test_entries": 500,
              "max_iter": 3000, "seed": 1, "records": []}
    rows = lowrank_scale.compute(params)
    assert {row["method"] for row in rows} == {"exact", "low_rank"}
    assert all(row["reached"] and row["reached_finer"] and row["final_error"] < 1e-10 for row in rows)
    assert next(row["rank_found"] for row in rows if row["method"] == "low_rank") == 2
    assert next(row["loop_ms"] for row in rows if row["method"] == "exact") > 0
    with pytest.raises(FileNotFoundError, match=r"records: nowhere\.json"):
        lowrank_scale.compute(params | {"sizes": [], "records": ["nowhere.json"]})
