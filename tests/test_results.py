"""Every solver family returns a :class:`recovery.core.results.Result` saying why it stopped: a run
that meets its stopping rule reports CONVERGED (TARGET for the published oracle loop) with the
tolerance in its message, a run cut short by ``max_iter`` reports MAX_ITER and ``converged`` false."""

from __future__ import annotations

import pytest
import torch

from recovery import convex
from recovery.core import problems
from recovery.core.operators import gaussian_sensing
from recovery.core.results import Result, Status
from recovery.flat import descent, flatness
from recovery.rfm import deep, irls, linrfm
from recovery.rfm.published import run_published

F64 = torch.float64


def sparse_instance(seed: int = 0, n: int = 30, d: int = 60, s: int = 3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    beta = torch.zeros(d, dtype=F64)
    beta[torch.randperm(d, generator=g)[:s]] = torch.randn(s, generator=g, dtype=F64)
    return X, X @ beta


def sensing_instance(seed: int = 0, m: int = 20, d1: int = 6, d2: int = 5):
    g = torch.Generator().manual_seed(seed)
    op = gaussian_sensing(m, d1, d2, g)
    M = problems.low_rank_matrix(d1, d2, 1, g)
    return op, op.measure(M), g


def check_converged(result: Result, tol: float, status: Status = Status.CONVERGED) -> None:
    assert isinstance(result, Result)
    assert result.status is status
    assert bool(torch.as_tensor(result.converged).all())
    assert f"tol {tol:.2g}" in result.message or f"target_mse {tol:g}" in result.message
    assert f"after {result.iterations} iterations" in result.message


def check_budget(result: Result, max_iter: int) -> None:
    assert isinstance(result, Result)
    assert result.status is Status.MAX_ITER
    assert not bool(torch.as_tensor(result.converged).any())
    assert result.iterations == max_iter
    assert f"max_iter = {max_iter}" in result.message


def convex_run(max_iter: int):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(2, 14, 5, 4, generator=g, dtype=F64)
    M = torch.stack([problems.low_rank_matrix(5, 4, 1, g) for _ in range(2)])
    b = torch.einsum("tmij,tij->tm", A, M)
    return convex.weighted_nuclear_minimization(A, b, tol=1e-8, max_iter=max_iter)


def test_convex_program():
    result = convex_run(20_000)
    check_converged(result, 1e-8)
    assert result.converged.dtype == torch.bool and result.converged.shape == (2,)
    assert result.message.startswith("2 of 2 instances converged")
    assert result.info["primal_residual"].shape == result.info["dual_residual"].shape == (2,)
    short = convex_run(3)
    check_budget(short, 3)
    assert short.message.startswith("0 of 2 instances converged")
    assert bool((short.info["primal_residual"] > 0).all())


def test_convex_program_reports_a_partly_converged_batch():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(2, 10, 30, generator=g, dtype=F64)
    y = torch.randn(2, 10, generator=g, dtype=F64)
    # the budget at which one instance (solved alone) converges but not the other
    per_instance = [convex.weighted_lq_minimization(X[t], y[t], tol=1e-8).iterations for t in range(2)]
    budget = min(per_instance)
    if budget == max(per_instance):
        pytest.skip("both instances converge at the same iteration")
    partial = convex.weighted_lq_minimization(X, y, tol=1e-8, max_iter=budget)
    assert partial.status is Status.MAX_ITER and int(partial.converged.sum()) == 1
    assert partial.message.startswith("1 of 2 instances converged")


@pytest.mark.parametrize(
    "solve",
    [
        lambda X, y, **kw: linrfm.lin_rfm_regression(X, y, 0.5, **kw),
        lambda X, y, **kw: irls.irls_regression(X, y, 0.0, **kw),
    ],
    ids=["lin-rfm", "irls"],
)
def test_reweighted_regression(solve):
    X, y = sparse_instance()
    result = solve(X, y, tol=1e-10, max_iter=500)
    check_converged(result, 1e-10)
    assert result.history[-1]["change"] < 1e-10
    assert f"relative change {result.history[-1]['change']:.2g} of the iterate below" in result.message
    check_budget(solve(X, y, tol=1e-10, max_iter=2), 2)


def test_reweighted_completion_budget():
    # (completion stops through the same loop as regression above; a converging run is slower)
    _, obs = problems.completion_problem(12, 12, 1, 80, torch.Generator().manual_seed(0))
    for run in (linrfm.lin_rfm_completion, irls.irls_completion):
        check_budget(run(obs, tol=1e-8, max_iter=2), 2)


def test_deep_linear_network():
    X, y = sparse_instance()
    result = deep.deep_diagonal_regression(X, y, 2, init_scale=1.0, max_iter=3000, tol=1e-3)
    check_converged(result, 1e-3)
    assert result.history[-1]["residual"] < 1e-3
    assert f"relative residual {result.history[-1]['residual']:.2g} below" in result.message
    check_budget(deep.deep_diagonal_regression(X, y, 2, init_scale=1.0, max_iter=5, tol=1e-3), 5)
    _, obs = problems.completion_problem(15, 15, 1, 120, torch.Generator().manual_seed(0))
    short = deep.deep_matrix_completion(obs, 2, max_iter=5, generator=torch.Generator().manual_seed(0))
    check_budget(short, 5)


@pytest.mark.parametrize("run", [descent.gradient_descent, descent.trace_penalised_descent])
def test_factorised_descent(run):
    op, b, g = sensing_instance()
    L0 = torch.randn(6, 5, generator=g, dtype=F64)
    R0 = torch.randn(5, 5, generator=g, dtype=F64)
    result = run(op, b, L0, R0, tol=1e-8)
    check_converged(result, 1e-8)
    L, R = result.info["L"], result.info["R"]
    assert torch.equal(result.solution, L @ R.T)
    assert result.info["loss"] == float(flatness.loss(op, b, L, R))
    short = run(op, b, L0, R0, tol=1e-8, max_iter=3)
    check_budget(short, 3)
    assert short.info["loss"] > 0


def test_published_loop():
    Y, obs = problems.completion_problem(30, 30, 2, 500, torch.Generator().manual_seed(0))
    Y = Y.numpy()
    result = run_published(Y, obs, 0.5, target_mse=1e-3)
    check_converged(result, 1e-3, Status.TARGET)
    assert result.info["test_mse"] < 1e-3 and result.info["seconds"] > 0
    assert result.history[-1]["test_mse"] == result.info["test_mse"]
    short = run_published(Y, obs, 0.5, target_mse=1e-3, max_iter=2)
    check_budget(short, 2)
    assert short.info["test_mse"] >= 1e-3


def test_result_rejects_a_status_that_is_not_a_status():
    with pytest.raises(ValueError, match="status"):
        Result(torch.zeros(1), True, "converged", "", 1)
