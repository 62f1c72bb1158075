"""lin-RFM completion comparison: degrees of freedom against the rank of the parametrisation's
Jacobian, the split of the sweep into units, metrics against brute force, estimates that depend on
the observations only, the summary's bookkeeping and validation."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacrev

from recovery.book.figures import parameters
from recovery.core import problems
from recovery.experiments import completion_comparison as experiment
from recovery.experiments.spec import trial_generator
from recovery.rfm import deep, linrfm

F64 = torch.float64


def small_params(**changes):
    params = parameters(experiment.FIGURE_ID, "ci")
    params.update(changes)
    return params


@pytest.mark.parametrize(("d", "rank"), [(5, 1), (6, 2), (7, 3), (4, 4)])
def test_degrees_of_freedom_is_the_rank_of_the_factor_jacobian(d, rank):
    """(U, V) -> U V^T at a generic point has a Jacobian of rank r(2d - r): the manifold's dimension."""
    g = torch.Generator().manual_seed(d + rank)
    U, V = torch.randn(d, rank, generator=g, dtype=F64), torch.randn(d, rank, generator=g, dtype=F64)
    jacobian = jacrev(lambda u, v: u @ v.T, argnums=(0, 1))(U, V)
    stacked = torch.cat([j.reshape(d * d, -1) for j in jacobian], dim=1)
    assert int(torch.linalg.matrix_rank(stacked)) == problems.degrees_of_freedom(d, d, rank)


def test_observation_count_rounds_and_validates():
    assert experiment.observation_count(100, 3, 2.0) == 1182
    assert experiment.observation_count(100, 3, 1.5) == 886  # 886.5 rounds to even
    assert experiment.observation_count(500, 5, 2.0) == 9950
    with pytest.raises(ValueError, match="multiple:"):
        experiment.observation_count(10, 3, 2.0)  # 102 > 100 entries
    with pytest.raises(ValueError, match="multiple:"):
        experiment.observation_count(10, 1, -1.0)
    with pytest.raises(ValueError, match="rank:"):
        problems.degrees_of_freedom(4, 4, 5)


def without_timings(rows):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def test_split_units_concatenate_to_the_whole_sweep():
    params = small_params(linrfm_max_iter=60, irls_max_iter=60, gd_max_iter=200, nuclear_max_iter=500)
    units = experiment.split(params)
    assert len(units) == sum(len(panel["multiples"]) for panel in params["panels"])
    whole = experiment.compute(params)
    pieces = [row for unit in units for row in experiment.compute({**params, **unit})]
    assert without_timings(pieces) == without_timings(whole)
    assert all(row["seconds"] >= 0 for row in whole)
    other = experiment.compute({**params, "seed": params["seed"] + 1})
    assert [row["mse"] for row in other] != [row["mse"] for row in whole]


def test_rows_match_the_methods_run_alone_and_brute_force_metrics():
    """A row's errors are those of the library method run directly on the observations, and the
    metrics equal a masked brute-force computation."""
    params = small_params(panels=[{"d": 12, "rank": 1, "multiples": [2.5], "trials": 2,
                                   "methods": ["lin-rfm", "deep"]}], alphas=[0.5], depths=[2],
                          init_scales=[1e-2], linrfm_max_iter=80, gd_max_iter=300)
    rows = experiment.compute(params)
    assert [(row["method"], row["trial"]) for row in rows] == [("lin-rfm", 0), ("lin-rfm", 1), ("deep", 0), ("deep", 1)]
    for row in rows:
        Y, observations = experiment.instance(12, 1, 2.5, params["seed"], row["trial"])
        assert row["num_obs"] == observations.count == experiment.observation_count(12, 1, 2.5)
        if row["method"] == "lin-rfm":
            estimate = linrfm.lin_rfm_completion(observations, 0.5, momentum=params["linrfm_momentum"],
                                                 max_iter=80, tol=params["linrfm_tol"]).solution
        else:
            estimate = deep.deep_matrix_completion(
                observations, 2, init_scale=1e-2, max_iter=300, tol=params["gd_tol"],
                generator=trial_generator(params["seed"], 12, observations.count, row["trial"], 2)).solution
        hidden = torch.ones(12, 12, dtype=torch.bool)
        hidden[observations.rows, observations.cols] = False
        mse = float((estimate - Y)[hidden].square().mean())
        relative = float(torch.linalg.vector_norm((estimate - Y)[hidden]) / torch.linalg.vector_norm(Y[hidden]))
        assert row["mse"] == pytest.approx(mse, rel=1e-12)
        assert row["relative_error"] == pytest.approx(relative, rel=1e-12)
        seen = (estimate - Y)[~hidden]
        assert row["observed_residual"] == pytest.approx(
            float(torch.linalg.vector_norm(seen) / torch.linalg.vector_norm(Y[~hidden])), rel=1e-9, abs=1e-15)


def test_estimates_do_not_depend_on_the_unobserved_entries(monkeypatch):
    """Every method receives the observations only: changing the hidden entries of the truth
    changes no estimate (the rows' errors do change)."""
    Y, observations = experiment.instance(10, 1, 3.0, 7, 0)
    changed = Y + 5.0
    changed[observations.rows, observations.cols] = Y[observations.rows, observations.cols]
    params = small_params(panels=[{"d": 10, "rank": 1, "multiples": [3.0], "trials": 1,
                                   "methods": list(experiment.METHODS)}], linrfm_max_iter=30,
                          irls_max_iter=30, gd_max_iter=100, nuclear_max_iter=200)
    captured = {}
    row = experiment._row

    def capture(*args):
        captured.setdefault(truth_name, []).append(args[8].clone())  # the estimate
        return row(*args)

    monkeypatch.setattr(experiment, "_row", capture)
    errors = {}
    for truth_name, truth in (("original", Y), ("changed", changed)):
        monkeypatch.setattr(experiment, "instance", lambda *_, truth=truth: (truth, observations))
        errors[truth_name] = [r["mse"] for r in experiment.compute(params)]
    assert len(captured["original"]) == 1 + 3 + 1 + 2  # methods x settings
    for a, b in zip(captured["original"], captured["changed"], strict=True):
        assert torch.equal(a, b)
    assert all(x != y for x, y in zip(errors["original"], errors["changed"], strict=True))


def test_summary_separates_unfinished_runs_from_wrong_matrices():
    rows = []
    for trial, (error, converged) in enumerate([(1e-6, True), (0.3, True), (0.2, False), (1e-4, False)]):
        rows.append({"d": 10, "method": "deep", "setting": 2, "multiple": 2, "mse": error**2,
                     "relative_error": error, "converged": converged, "trial": trial})
    rows.append({"d": 10, "method": "deep", "setting": 2, "multiple": 3, "mse": 0.0, "relative_error": 0.0,
                 "converged": True, "trial": 0})
    stats = experiment.summary(rows, 10, "deep", 2.0, 1e-3)
    assert stats["multiple"].tolist() == [2, 3]
    assert stats["recovered"].tolist() == [0.5, 1.0]
    assert stats["unfinished"].tolist() == [0.5, 0.0]
    assert stats["converged_wrong"].tolist() == [0.25, 0.0]
    assert stats["median_mse"][0] == pytest.approx((1e-4**2 + 0.2**2) / 2)


def test_bad_input():
    with pytest.raises(ValueError, match="methods:"):
        experiment.compute(small_params(panels=[{"d": 8, "rank": 1, "multiples": [2.0], "trials": 1,
                                                 "methods": ["svd"]}]))
    with pytest.raises(ValueError, match="init_scales:"):
        experiment.compute(small_params(panels=[{"d": 8, "rank": 1, "multiples": [2.0], "trials": 1,
                                                 "methods": ["deep"]}], init_scales=[1e-2]))
    with pytest.raises(ValueError, match="trials:"):
        experiment.compute(small_params(panels=[{"d": 8, "rank": 1, "multiples": [2.0], "trials": 0,
                                                 "methods": ["deep"]}]))


def test_labels():
    assert experiment.label("lin-rfm", 0.5) == r"lin-RFM $\alpha = 1/2$"
    assert experiment.label("deep", 3.0) == "deep linear, depth 3"
    assert experiment.label("irls", 0.0) == "IRLS-$p$, $p = 0$"
