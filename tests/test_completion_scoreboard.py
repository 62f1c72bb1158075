"""The sample-complexity scoreboard's bookkeeping: thresholds, sampling protocol, determined instances, claims."""

from __future__ import annotations

import pytest
import torch

from recovery.core import problems
from recovery.experiments import completion_scoreboard as scoreboard


def row(rho, error, *, kappa=10.0, fewest=9, converged=True, d=1000, rank=5, instance=0, min_per_line=6,
        iterations=300, method="default", max_iter=300):
    return {"method": method, "d": d, "rank": rank, "kappa": kappa, "rho": rho, "instance": instance,
            "min_per_line": min_per_line, "min_line_observations": fewest, "relative_error": error,
            "converged": converged, "iterations": iterations, "max_iter": max_iter, "seconds": 1.0}


def test_threshold_is_where_the_median_stays_below_the_success_level():
    rows = [row(1.2, 1e-1), row(1.4, 1e-12), row(1.6, 1e-2), row(2.0, 1e-12), row(3.0, 1e-13)]
    assert scoreboard.threshold(rows, "default", 10.0) == 2.0  # 1.4 succeeds, but 1.6 does not
    assert scoreboard.threshold([row(2.0, 1e-3)], "default", 10.0) is None


def test_the_summary_counts_determined_instances_and_masks_that_meet_their_condition():
    rows = [row(1.5, 1e-12, fewest=6), row(1.5, 1e-12, fewest=5, instance=1), row(1.5, 1e-2, fewest=4, instance=2),
            row(1.5, 1e-2, fewest=4, instance=3, min_per_line=0)]
    (point,) = scoreboard.summarise(rows)
    assert (point["instances"], point["determined"], point["qualifying"], point["success_rate"]) == (4, 2, 2, 0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_instances_follow_the_published_protocol_where_a_draw_allows_it(seed):
    """d = 30, rank 2: rho 3 leaves room for 3 entries per line, rho 0.6 (35 entries) does not."""
    for rho, qualifies in ((0.6, False), (3.0, True)):
        conditioned = scoreboard.run_instance("default", 30, 2, 10.0, rho, seed, 1)
        assert conditioned["min_per_line"] == 3 and (conditioned["min_line_observations"] >= 3) is qualifies
    plain = scoreboard.run_instance("default", 30, 2, 10.0, 3.0, seed, 1, conditioned=False)
    assert plain["min_per_line"] == 0 and plain["seed"] == conditioned["seed"]


def test_a_row_is_determined_when_every_line_has_rank_observations():
    _, observations = problems.conditioned_completion_problem(30, 20, 3, 100, 10.0, torch.Generator().manual_seed(0))
    fewest = observations.fewest_per_line()
    dense = observations.mask()
    assert fewest == int(min(dense.sum(0).min(), dense.sum(1).min()))
    assert scoreboard.determined({"min_line_observations": fewest, "rank": fewest})
    assert not scoreboard.determined({"min_line_observations": fewest, "rank": fewest + 1})


def test_kappa_keys_match_the_published_table():
    assert scoreboard.kappa_key(10.0) == "kappa10" and scoreboard.kappa_key(1e5) == "kappa1e5"
    assert set(scoreboard.PUBLISHED["MatrixIRLS"]) == {"kappa10", "kappa1e5"}


CLAIMS = {claim.id: claim for claim in scoreboard.CLAIMS}


@pytest.mark.parametrize(("holds", "error"), [(True, 1e-12), (False, 1e-2)])
def test_the_threshold_claim_compares_with_matrixirls_and_needs_the_published_setting(holds, error):
    rows = [row(rho, 1e-12 if rho >= 1.9 else error, kappa=kappa, instance=i)
            for kappa in (10.0, 1e5) for rho in (1.5, 1.9, 3.0) for i in range(5)]
    claim = CLAIMS["scoreboard-threshold"]
    assert claim.check(rows, {}).holds is holds
    assert not claim.check([dict(r, method="oracle") for r in rows], {}).decided  # another method's rows
    small = [dict(r, d=40, rank=2) for r in rows]
    assert not claim.check(small, {}).decided
    uniform = [dict(r, min_per_line=0) for r in rows]  # not the published sampling protocol
    assert not claim.check(uniform, {}).decided


def test_the_rank_claim_pairs_the_same_problems_and_budgets():
    claim = CLAIMS["scoreboard-rank-given"]
    default = [row(1.5, 1e-12, instance=0), row(1.5, 1e-12, instance=1), row(1.5, 1e-2, instance=2)]
    oracle = [row(1.5, 1e-12, instance=0, method="oracle"), row(1.5, 1e-2, instance=1, method="oracle"),
              row(1.5, 1e-12, instance=2, method="oracle")]
    assert not claim.check(default + oracle, {}).holds  # 2 against 2
    evidence = claim.check(default + oracle[:2], {})
    assert evidence.holds and evidence.key == "recovered: 2 adaptive, 1 rank given, of 2 problems"
    assert not claim.check(default + [dict(r, max_iter=3000) for r in oracle], {}).decided  # other budget
    assert not claim.check(default + [dict(r, instance=r["instance"] + 3) for r in oracle], {}).decided
    assert not claim.check([dict(r, d=40) for r in default + oracle], {}).decided


def test_the_certificate_claim_fails_on_any_converged_miss_and_counts_the_refused_fits():
    claim = CLAIMS["scoreboard-certificate"]
    truthful = [row(2.0, 1e-12), row(1.5, 1e-1, converged=False), row(1.5, 1e-2, converged=False, iterations=40)]
    evidence = claim.check(truthful, {"max_iter": 300})
    assert evidence.holds and "1 of 1 converged" in evidence.key and "1 settled fits refused" in evidence.key
    assert not claim.check([*truthful, row(2.0, 1e-3)], {"max_iter": 300}).holds
    assert not claim.check([*truthful, row(2.0, 1e-2, fewest=2)], {"max_iter": 300}).holds  # undetermined too
    assert not claim.check(truthful[1:], {"max_iter": 300}).decided


def test_an_instance_is_the_same_problem_for_every_method():
    a = scoreboard.run_instance("default", 30, 2, 10.0, 3.0, 1, 50)
    b = scoreboard.run_instance("oracle", 30, 2, 10.0, 3.0, 1, 50)
    assert a["seed"] == b["seed"] and a["observations"] == b["observations"] == round(3.0 * 2 * 58)
    assert a["relative_error"] < 1e-8 and b["relative_error"] < 1e-8
    with pytest.raises(ValueError, match="method: expected one of"):
        scoreboard.solve("svd", None, 2, 10)


def test_the_nuclear_norm_scores_the_same_problem_with_the_low_rank_admm():
    default = scoreboard.run_instance("default", 30, 2, 10.0, 4.0, 0, 50)
    nuclear = scoreboard.run_instance("nuclear", 30, 2, 10.0, 4.0, 0, 5000)
    assert nuclear["seed"] == default["seed"] and nuclear["converged"]
    assert nuclear["relative_error"] < 1e-6 and nuclear["iterations"] < 5000
