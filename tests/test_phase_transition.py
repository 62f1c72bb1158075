"""Phase-transition experiment: recovery above, failure below the degrees of freedom; errors and
regularity gaps against independent computations; the unobserved-row treatment of completion."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import torch

from recovery.book import figures
from recovery.core import operators, problems
from recovery.experiments import phase_transition as pt
from recovery.experiments.spec import trial_generator

SOLVER = {"tol": 1e-10, "max_iter": 3000, "success_tol": 1e-6}


def point(model, d, oversampling, seed, trials=3, **overrides):
    options = {"rank": 2, "trials": trials, "seed": seed, "index": (0, 0), **SOLVER, **overrides}
    return pt.grid_point(model, d, oversampling, **options)


@pytest.mark.parametrize("d1, d2, rank", [(5, 7, 1), (6, 6, 2), (8, 5, 3)])
def test_degrees_of_freedom_is_the_tangent_space_dimension(d1, d2, rank):
    g = torch.Generator().manual_seed(d1 + d2 + rank)
    U = torch.randn(d1, rank, generator=g, dtype=torch.float64)
    V = torch.randn(d2, rank, generator=g, dtype=torch.float64)
    # The tangent space at U V^T is spanned by U B^T + A V^T: count its independent directions.
    directions = [(U @ E.T).reshape(-1) for E in torch.eye(d2 * rank, dtype=torch.float64).reshape(-1, d2, rank)]
    directions += [(E @ V.T).reshape(-1) for E in torch.eye(d1 * rank, dtype=torch.float64).reshape(-1, d1, rank)]
    assert int(torch.linalg.matrix_rank(torch.stack(directions))) == problems.degrees_of_freedom(d1, d2, rank)


@pytest.mark.parametrize("model", pt.MODELS)
@pytest.mark.parametrize("seed", [0, 1])
def test_recovery_when_generous_and_failure_below_the_degrees_of_freedom(model, seed):
    d = 8
    generous = 0.95 * d * d / problems.degrees_of_freedom(d, d, 2)  # m close to d^2: A nearly invertible
    rows = point(model, d, generous, seed) + point(model, d, 0.6, seed)
    high = [row for row in rows if row["oversampling"] == generous]
    low = [row for row in rows if row["oversampling"] == 0.6]
    for row in high:
        assert row["unobserved"] == 0
        assert row["nuclear_success"] == row["flat_success"] == 1
        assert row["nuclear_error"] < 1e-6 and row["flat_error"] < 1e-6
    # Fewer measurements than degrees of freedom: M* is not the unique low-rank solution.
    for row in low:
        assert row["m"] < problems.degrees_of_freedom(d, d, 2)
        assert row["nuclear_success"] == row["flat_success"] == 0
        assert row["nuclear_error"] > 1e-3


def cvxpy_relaxation(op, b, D1, D2):
    """min ||D1 Y D2||_* s.t. A(Y) = b by cvxpy (SCS at tight tolerance), an independent solver."""
    A = operators.dense_stack(op).numpy()
    Y = cp.Variable(op.shape)
    constraints = [cp.sum(cp.multiply(A[i], Y)) == float(b[i]) for i in range(A.shape[0])]
    cp.Problem(cp.Minimize(cp.normNuc(D1.numpy() @ Y @ D2.numpy())), constraints).solve(
        solver=cp.SCS, eps=1e-10, max_iters=200_000)
    return torch.as_tensor(Y.value)


@pytest.mark.parametrize("model", ["sensing", "bilinear"])
@pytest.mark.parametrize("seed", [3, 4])
def test_errors_are_those_of_the_relaxations_solved_independently(model, seed):
    """Below the transition the two relaxations differ; both errors match cvxpy's solutions,
    so the flat error is measured on Y = D1^{-1} X D2^{-1} and not on X."""
    from recovery.flat import flatness

    d, oversampling = 5, 1.2
    rows = point(model, d, oversampling, seed, trials=2)
    for row in rows:
        op, M = pt.draw_instance(model, d, oversampling, 2, trial_generator(seed, 0, 0, row["trial"]))
        b = op.apply(M)
        D1, D2 = flatness.rescaling_matrices(op)
        identity = torch.eye(d, dtype=torch.float64)
        nuclear = float(torch.linalg.matrix_norm(cvxpy_relaxation(op, b, identity, identity) - M))
        flat = float(torch.linalg.matrix_norm(cvxpy_relaxation(op, b, D1, D2) - M))
        assert row["nuclear_error"] == pytest.approx(nuclear, rel=1e-4, abs=1e-6)
        assert row["flat_error"] == pytest.approx(flat, rel=1e-4, abs=1e-6)
        assert row["m"] == op.num_measurements == round(oversampling * problems.degrees_of_freedom(d, d, 2))


@pytest.mark.parametrize("model", pt.MODELS)
def test_regularity_gaps_at_recovery_match_the_svd_of_the_rescaled_truth(model):
    """Where both relaxations recover M*, the flat factors are D1^{-1} U S^{1/2}, D2^{-1} V S^{1/2}
    from the SVD of D1 M* D2 and X_nuc = M*: recompute both gaps from the truth alone."""
    from recovery.flat import flatness

    d, seed = 8, 5
    generous = 0.95 * d * d / problems.degrees_of_freedom(d, d, 2)
    for row in point(model, d, generous, seed):
        op, M = pt.draw_instance(model, d, generous, 2, trial_generator(seed, 0, 0, row["trial"]))
        D1, D2 = flatness.rescaling_matrices(op)
        U, s, Vh = torch.linalg.svd(D1 @ M @ D2)
        L = torch.linalg.inv(D1) @ U[:, :2] * s[:2].sqrt()
        R = torch.linalg.inv(D2) @ Vh[:2].T * s[:2].sqrt()
        balance = float(torch.linalg.matrix_norm(L.T @ L - R.T @ R))
        norm_gap = float(L.square().sum() + R.square().sum()) / 2 - float(torch.linalg.svdvals(M).sum())
        assert row["flat_success"] == 1
        assert row["balancedness_gap"] == pytest.approx(balance, rel=1e-5)
        assert row["norm_gap"] == pytest.approx(norm_gap, rel=1e-4, abs=1e-9)
        # Theorem 3.3: not zero (flat is not norm-minimal for A != I) yet below (kappa^2 - 1)||M*||_*.
        assert 1e-8 < row["norm_gap"] <= row["norm_gap_bound"]
        eigenvalues = torch.cat([torch.linalg.eigvalsh(D1), torch.linalg.eigvalsh(D2)])
        assert row["kappa"] == pytest.approx(float(eigenvalues.max() / eigenvalues.min()), rel=1e-12)
        assert row["flat_nuclear_error"] < 1e-6


def test_unobserved_rows_fail_for_flat_and_are_flagged():
    """At p = 0.25 on 10 x 10 many draws leave a row or column empty: the flat relaxation is then
    undefined (D singular) and counts as a failure with empty flat columns; nuclear is solved."""
    d, oversampling, seed = 10, 10 * 10 * 0.25 / problems.degrees_of_freedom(10, 10, 2), 6
    rows = point("completion", d, oversampling, seed, trials=6)
    flagged = 0
    for row in rows:
        op, _ = pt.draw_instance("completion", d, oversampling, 2, trial_generator(seed, 0, 0, row["trial"]))
        empty = int((op.row_counts() == 0).sum() + (op.col_counts() == 0).sum())
        assert row["unobserved"] == empty
        if empty:
            flagged += 1
            assert row["flat_success"] == 0 and row["nuclear_success"] == 0
            assert all(row[name] is None for name in pt.FLAT_COLUMNS if name != "flat_success")
            assert not pt.defined(row["kappa"])
            assert row["nuclear_error"] > 1e-3
        else:
            assert pt.defined(row["flat_error"]) and row["flat_error"] >= 0
    assert 0 < flagged < len(rows)
    # When every trial has an empty row (p = 0.05) no flat problem is solved at all.
    rows = point("completion", d, 5 / problems.degrees_of_freedom(10, 10, 2), seed, trials=3)
    assert all(row["unobserved"] > 0 and row["flat_iterations"] == 0 for row in rows)


@pytest.mark.parametrize("seed", [7, 8])
def test_a_capped_solve_succeeds_only_with_a_certificate_and_the_certificates_tell_the_truth(seed):
    """Stopped after 2 iterations nothing converges: a trial succeeds exactly when the dual
    certificate proves recovery, and it fails otherwise. Run to convergence (an independent
    judge), every certified recovery is recovered and every certified failure is not."""
    capped = point("sensing", 10, 1.5, seed, trials=6, max_iter=2)
    full = point("sensing", 10, 1.5, seed, trials=6, max_iter=20_000)
    assert all(row["nuclear_iterations"] == row["flat_iterations"] == 2 for row in capped)
    decided = recovered = 0
    for short, long in zip(capped, full, strict=True):
        for method in ("nuclear", "flat"):
            assert short[f"{method}_converged"] == 0 and long[f"{method}_converged"] == 1
            assert short[f"{method}_success"] == short[f"{method}_recovery_certified"]
            assert short[f"{method}_recovery_certified"] + short[f"{method}_failure_certified"] <= 1
            if short[f"{method}_recovery_certified"]:
                assert long[f"{method}_error"] < 1e-6
            if short[f"{method}_failure_certified"]:
                assert long[f"{method}_error"] > 1e-3
            decided += short[f"{method}_recovery_certified"] + short[f"{method}_failure_certified"]
            recovered += short[f"{method}_recovery_certified"]
    assert decided == 2 * len(capped)  # far from eta = 1 every trial is decided
    assert 0 < recovered < decided  # at 1.5 x the degrees of freedom: both outcomes


def test_rows_are_complete_and_deterministic():
    params = figures.parameters("flat-completion", "ci")
    first, second = pt.compute(params), pt.compute(params)
    assert first == second
    assert len(first) == len(params["dims"]) * len(params["oversampling"]) * params["trials"]
    assert {(row["d"], row["oversampling"], row["trial"]) for row in first} == {
        (d, rho, t) for d in params["dims"] for rho in params["oversampling"] for t in range(params["trials"])
    }
    assert all(list(row) == list(first[0]) for row in first)
    # Frequencies agree with a direct count; a different seed draws different instances.
    frequencies = pt.success_frequencies(first, "flat", params)
    for i, d in enumerate(params["dims"]):
        for j, rho in enumerate(params["oversampling"]):
            hits = [row["flat_success"] for row in first if row["d"] == d and row["oversampling"] == rho]
            assert frequencies[j, i] == np.mean(hits)
    other = pt.compute({**params, "seed": params["seed"] + 1})
    assert [row["m"] for row in other] != [row["m"] for row in first]


def test_bad_input_is_rejected():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="model:"):
        pt.draw_instance("phase-retrieval", 8, 1.0, 2, g)
    with pytest.raises(ValueError, match="oversampling:"):
        pt.draw_instance("sensing", 8, 3.0, 2, g)  # m = 84 > d^2 = 64
    with pytest.raises(ValueError, match="oversampling:"):
        pt.draw_instance("completion", 8, 3.0, 2, g)  # p > 1
    with pytest.raises(ValueError, match="oversampling:"):
        pt.draw_instance("bilinear", 8, -1.0, 2, g)
    with pytest.raises(ValueError, match="d:"):
        pt.draw_instance("sensing", 0, 1.0, 2, g)
    with pytest.raises(ValueError, match="trials:"):
        point("sensing", 8, 1.0, 0, trials=0)
    with pytest.raises(ValueError, match="method:"):
        pt.success_frequencies([], "rank", figures.parameters("flat-sensing", "ci"))
    op, _ = pt.draw_instance("completion", 8, 2.0, 2, g)
    with pytest.raises(ValueError, match="op:"):
        operators.dense_stack(op)


def test_summaries_count_what_the_rows_say():
    """Hand-made rows with known outcomes: tables, comparisons and regularity summaries."""
    params = {"dims": [4, 6], "oversampling": [1.0, 2.0], "trials": 2, "success_tol": 1e-6}
    outcomes = {(4, 1.0): [(0, 0), (0, 0)], (6, 1.0): [(1, 0), (0, 0)],
                (4, 2.0): [(1, 1), (1, 1)], (6, 2.0): [(1, 1), (0, 1)]}
    rows = []
    for (d, rho), trials in outcomes.items():
        for t, (nuclear, flat) in enumerate(trials):
            gap = 0.1 * (t + 1)
            rows.append({"model": "sensing", "d": d, "oversampling": rho, "trial": t, "unobserved": 0,
                         "nuclear_success": nuclear, "flat_success": flat, "nuclear_converged": 1,
                         "nuclear_error": 1e-9 if nuclear else 0.3, "flat_error": 1e-9 if flat else 0.3,
                         "flat_converged": 1, "flat_nuclear_error": 1e-9 if flat else 0.5,
                         "nuclear_failure_certified": 1 - nuclear, "flat_failure_certified": 1 - flat,
                         "nuclear_recovery_certified": 0, "flat_recovery_certified": 0,
                         "balancedness_gap": gap, "norm_gap": gap**2, "norm_gap_bound": 0.015,
                         "kappa": 1.5})
    rows[-1].update(unobserved=2, flat_converged=None, flat_nuclear_error=None,
                    balancedness_gap=None, norm_gap=None, norm_gap_bound=None, kappa=None)
    rows[-1].update(flat_success=0, flat_error=None)
    # An accurate solve that did not converge is no success, but counts when accuracy alone is asked.
    rows[0].update(flat_error=1e-8, flat_converged=0)
    rows[1].update(nuclear_converged=0, nuclear_failure_certified=0)  # capped, and not certified
    rows[2].update(nuclear_converged=0, nuclear_error=1e-4, nuclear_recovery_certified=1)  # capped, recovery proven
    summary = pt.compare_methods(rows, params)
    loose = pt.success_frequencies(rows, "flat", params, require_convergence=False)
    assert loose[0, 0] == 0.5 and pt.success_frequencies(rows, "flat", params)[0, 0] == 0
    assert summary == {"nuclear_accurate": 3, "flat_accurate": 4, "largest_difference_accurate": 0.5,
                       "cells": 4, "trials": 8, "nuclear_successes": 4, "flat_successes": 3,
                       "cells_differing": 1, "largest_difference": 0.5,
                       "nuclear_not_converged": 2, "flat_not_converged": 1,
                       "nuclear_not_converged_certified": 0, "flat_not_converged_certified": 1,
                       "nuclear_not_converged_recovered": 1, "flat_not_converged_recovered": 0,
                       "nuclear_undecided": 1, "flat_undecided": 0, "unobserved": 1}
    table = pt.success_table(rows, params).splitlines()
    assert table[1].split() == ["2.0", "2|2", "1|1"] and table[2].split() == ["1.0", "0|0", "1|0"]
    weak = pt.median_weak_error(rows, params)
    assert weak[0, 0] == 0.5 and weak[1, 0] == 1e-9 and weak[1, 1] == 1e-9
    regular = pt.regularity_summary(rows)
    assert [(s["d"], s["oversampling"], s["recovered"]) for s in regular] == [(4, 2.0, 2), (6, 2.0, 1)]
    assert regular[0]["balancedness_gap_min"] == 0.1 and regular[0]["norm_gap"] == pytest.approx(0.025)
    assert regular[0]["within_bound"] is False and regular[1]["within_bound"] is True
    # A certified recovery on a capped flat solve is a success but its iterate is not measured on.
    capped = {**rows[4], "flat_converged": 0, "flat_recovery_certified": 1}
    assert rows[4] in pt.recovered(rows) and pt.recovered([capped]) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_capped_solve_below_the_transition_still_certifies_the_failure(seed, weighted):
    """Below the degrees of freedom the relaxation cannot return M*: a solve stopped after 30
    iterations has not converged, yet its feasible iterate (checked against the map itself) has a
    smaller objective than M*'s (checked with torch's nuclear norm), which proves it. Above the
    transition the converged solution is M* and nothing undercuts it: no certificate."""
    from recovery.convex import programs
    from recovery.flat import flatness

    g = torch.Generator().manual_seed(seed)
    for oversampling, max_iter, expected in ((0.7, 30, 1), (3.0, 20_000, 0)):
        op, M = pt.draw_instance("sensing", 8, oversampling, 1, g)
        D1, D2 = flatness.rescaling_matrices(op) if weighted else (torch.eye(8, dtype=M.dtype),) * 2
        b = op.apply(M)
        result = programs.weighted_nuclear_minimization(op, b, D1, D2, max_iter=max_iter)
        feasible = result.info["feasible"]
        torch.testing.assert_close(op.apply(feasible), b, rtol=0, atol=1e-10)
        assert bool(result.converged) == (expected == 0)
        certified = pt.failure_certified(feasible, M, *((D1, D2) if weighted else ()))
        undercut = torch.linalg.matrix_norm(D1 @ feasible @ D2, "nuc") < torch.linalg.matrix_norm(D1 @ M @ D2, "nuc")
        assert certified == int(undercut) == expected
