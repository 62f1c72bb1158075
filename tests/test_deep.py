"""Deep linear networks: gradients against autodiff, the default step against the exact Hessian,
recovery of sparse vectors and low-rank matrices from small initialisation, validation, divergence."""

from __future__ import annotations

import itertools

import pytest
import torch

from recovery.core import metrics, problems
from recovery.core.observations import Observations
from recovery.rfm import deep
from recovery.rfm.deep import deep_diagonal_regression, deep_matrix_completion


def sparse_instance(d: int, s: int, n: int, seed: int):
    """Gaussian ``X`` (n x d) and an ``s``-sparse ``beta`` with entries +-1 on a random support."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    beta = torch.zeros(d, dtype=torch.float64)
    support = torch.randperm(d, generator=g)[:s]
    beta[support] = 2.0 * torch.randint(0, 2, (s,), generator=g, dtype=torch.float64) - 1
    return X, X @ beta, beta


def relative_error(estimate, truth) -> float:
    return float(torch.linalg.vector_norm(estimate - truth) / torch.linalg.vector_norm(truth))


def diagonal_loss(X, y, u, v, depth):
    r = X @ (u**depth - v**depth) - y
    return r @ r / (2 * X.shape[0])


def factored_loss(factors, observations):
    W = factors[0]
    for factor in factors[1:]:
        W = factor @ W
    r = W[observations.rows, observations.cols] - observations.values
    return r @ r / (2 * observations.count)


def random_factors(shape, width, depth, seed):
    g = torch.Generator().manual_seed(seed)
    sizes = [shape[1]] + [width] * (depth - 1) + [shape[0]]
    return [torch.randn(o, i, generator=g, dtype=torch.float64) for i, o in itertools.pairwise(sizes)]


def small_observations(seed: int) -> tuple[torch.Tensor, Observations]:
    return problems.completion_problem(7, 5, 2, 20, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_diagonal_gradient_matches_autograd(depth, seed):
    X, y, _ = sparse_instance(9, 2, 6, seed)
    model = deep._Diagonal(X, y, depth, 1.0, None)
    g = torch.Generator().manual_seed(100 + seed)
    model.w = torch.rand(18, generator=g, dtype=torch.float64) + 0.1
    loss, _ = model.evaluate()
    _, grad = model.gradient()
    u, v = (half.clone().requires_grad_() for half in model.w.chunk(2))
    reference = diagonal_loss(X, y, u, v, depth)
    auto = torch.cat(torch.autograd.grad(reference, (u, v)))
    assert abs(loss - float(reference.detach())) < 1e-12 * float(reference.detach())
    assert float((grad - auto).abs().max()) < 1e-10
    assert torch.equal(model.estimate(), u.detach() ** depth - v.detach() ** depth)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("depth", "width"), [(2, 3), (3, 4), (4, 2)])
def test_factored_gradients_match_autograd(depth, width, seed):
    _, obs = small_observations(seed)
    factors = random_factors(obs.shape, width, depth, seed)
    model = deep._Factored(obs, [F.clone() for F in factors], None)
    loss, _ = model.evaluate()
    grads = model.gradients()
    leaves = [F.clone().requires_grad_() for F in factors]
    reference = factored_loss(leaves, obs)
    auto = torch.autograd.grad(reference, leaves)
    assert abs(loss - float(reference.detach())) < 1e-12 * float(reference.detach())
    assert [G.shape for G in grads] == [F.shape for F in factors]
    assert max(float((G - A).abs().max()) for G, A in zip(grads, auto, strict=True)) < 1e-10


def hessian_norm(loss, point: torch.Tensor) -> float:
    H = torch.autograd.functional.hessian(loss, point)
    return float(torch.linalg.eigvalsh(H).abs().max())


@pytest.mark.parametrize("scale", [1e-3, 0.3, 1.0])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_diagonal_default_step_is_stable_and_moves_weights_little(depth, scale):
    X, y, _ = sparse_instance(8, 2, 5, depth)
    model = deep._Diagonal(X, y, depth, 1.0, None)
    model.w = scale * (torch.rand(16, generator=torch.Generator().manual_seed(7), dtype=torch.float64) + 0.5)
    model.evaluate()
    g, grad = model.gradient()
    eta = float(model.step_size(g))
    norm = hessian_norm(lambda w: diagonal_loss(X, y, *w.chunk(2), depth), model.w)
    assert eta * norm <= 1 + 1e-12
    assert float((eta * grad / model.w).abs().max()) <= deep._RELATIVE_STEP + 1e-12


@pytest.mark.parametrize("scale", [1e-2, 0.5, 2.0])
@pytest.mark.parametrize("depth", [2, 3])
def test_factored_default_step_is_stable_and_moves_factors_little(depth, scale):
    _, obs = small_observations(depth)
    factors = [scale * F for F in random_factors(obs.shape, 3, depth, 5)]
    model = deep._Factored(obs, factors, None)
    model.evaluate()
    grads = model.gradients()
    eta = model.step_size(grads)
    sizes = [F.numel() for F in factors]

    def loss(theta):
        return factored_loss([t.reshape(F.shape) for t, F in zip(theta.split(sizes), factors, strict=True)], obs)

    assert eta * hessian_norm(loss, torch.cat([F.reshape(-1) for F in factors])) <= 1 + 1e-12
    for F, G in zip(factors, grads, strict=True):
        assert eta * float(torch.linalg.matrix_norm(G) / torch.linalg.matrix_norm(F)) <= deep._RELATIVE_STEP + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("depth", "scale"), [(2, 0.3), (3, 0.5), (4, 0.8)])
def test_tracked_spectral_bounds_stay_bounds_and_keep_the_step_stable(depth, scale, seed):
    """Between exact refreshes the spectral norms are carried by the triangle inequality: after every
    step they must still bound the factors' spectral norms (SVD), and the step they give must still
    satisfy eta ||Hessian|| <= 1 against the exact (autodiff) Hessian, mid-way between refreshes."""
    _, obs = small_observations(seed)
    factors = [scale * F for F in random_factors(obs.shape, 3, depth, 10 + seed)]
    model = deep._Factored(obs, factors, None)
    sizes = [F.numel() for F in factors]

    def loss(theta):
        return factored_loss([t.reshape(F.shape) for t, F in zip(theta.split(sizes), factors, strict=True)], obs)

    for step in range(1, 2 * deep._SPECTRAL_REFRESH + 8):
        model.evaluate()
        model.step()
        exact = [float(torch.linalg.matrix_norm(F, ord=2)) for F in model.factors]
        assert all(bound >= norm * (1 - 1e-12) for bound, norm in zip(model.spectral_bounds, exact, strict=True))
        if step % deep._SPECTRAL_REFRESH == 0:
            assert model.spectral_bounds == pytest.approx(exact, rel=1e-12)
    assert model.steps % deep._SPECTRAL_REFRESH != 0
    model.evaluate()
    eta = model.step_size(model.gradients())
    assert eta * hessian_norm(loss, torch.cat([F.reshape(-1) for F in model.factors])) <= 1 + 1e-12


def test_default_step_decreases_the_residual_at_every_iteration():
    X, y, _ = sparse_instance(40, 3, 35, 0)
    for depth, scale in [(2, 1e-6), (3, 1e-2)]:
        result = deep_diagonal_regression(X, y, depth, init_scale=scale, max_iter=1500, tol=1e-6, record_every=1)
        residuals = [record["residual"] for record in result.history]
        assert all(b <= a for a, b in itertools.pairwise(residuals))
    _, obs = problems.completion_problem(20, 20, 2, 200, torch.Generator().manual_seed(0))
    for depth in (2, 3):
        result = deep_matrix_completion(
            obs, depth, init_scale=1e-2, max_iter=1500, generator=torch.Generator().manual_seed(0), record_every=1
        )
        residuals = [record["residual"] for record in result.history]
        assert all(b <= a for a, b in itertools.pairwise(residuals))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("depth", "init_scale"), [(2, 1e-6), (3, 1e-2)])
def test_diagonal_network_recovers_sparse_vector_from_small_init(depth, init_scale, seed):
    X, y, beta = sparse_instance(40, 3, 35, seed)
    result = deep_diagonal_regression(X, y, depth, init_scale=init_scale, max_iter=10_000, tol=2e-4)
    assert result.converged and result.iterations < 10_000
    assert relative_error(result.solution, beta) < 1e-3
    assert result.solution.dtype == torch.float64 and result.solution.shape == (40,)


def test_diagonal_network_from_large_init_does_not_recover():
    """Contrast: at scale 1 (near the kernel regime) the interpolant found is not the sparse one."""
    X, y, beta = sparse_instance(40, 3, 35, 0)
    result = deep_diagonal_regression(X, y, 2, init_scale=1.0, max_iter=3000, tol=1e-3)
    assert result.converged
    assert relative_error(result.solution, beta) > 0.05


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("depth", "init_scale", "max_iter", "width"), [(2, 1e-4, 2000, None), (3, 1e-2, 6000, 12)])
def test_deep_factorisation_completes_low_rank_matrix(depth, init_scale, max_iter, width, seed):
    Y, obs = problems.completion_problem(30, 30, 2, 450, torch.Generator().manual_seed(seed))

    def track(iteration, W):
        return {"mse": metrics.unobserved_mse(W, Y, obs)}

    result = deep_matrix_completion(
        obs, depth, width=width, init_scale=init_scale, max_iter=max_iter, tol=1e-6,
        generator=torch.Generator().manual_seed(seed), callback=track, record_every=500,
    )  # fmt: skip
    mse = metrics.unobserved_mse(result.solution, Y, obs)
    assert mse < 1e-3
    history = result.history
    assert history[0]["iteration"] == 0 and history[0]["mse"] > 0.5
    assert history[-1]["iteration"] == result.iterations and history[-1]["mse"] == mse
    assert all(record["iteration"] % 500 == 0 for record in history[:-1])
    assert history[-1]["residual"] < history[0]["residual"] == pytest.approx(1.0, abs=1e-6)


def test_matrix_runs_are_reproducible_from_the_generator():
    _, obs = problems.completion_problem(10, 8, 2, 50, torch.Generator().manual_seed(0))

    def run(seed):
        return deep_matrix_completion(obs, 3, max_iter=50, generator=torch.Generator().manual_seed(seed)).solution

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_float32_runs_and_returns_float32():
    X, y, beta = sparse_instance(40, 3, 35, 1)
    result = deep_diagonal_regression(X, y, 2, init_scale=1e-4, dtype=torch.float32, max_iter=5000, tol=1e-3)
    assert result.solution.dtype == torch.float32 and result.converged
    assert relative_error(result.solution.double(), beta) < 1e-2
    Y, obs = problems.completion_problem(30, 30, 2, 450, torch.Generator().manual_seed(1))
    result = deep_matrix_completion(
        obs, 3, init_scale=1e-2, dtype=torch.float32, max_iter=5000, tol=1e-4, generator=torch.Generator().manual_seed(1)
    )
    assert result.solution.dtype == torch.float32 and result.converged
    assert metrics.unobserved_mse(result.solution.double(), Y, obs) < 1e-4


def test_callback_may_return_none_and_algorithm_keys_win():
    X, y, _ = sparse_instance(10, 2, 8, 0)
    seen = []

    def callback(iteration, estimate):
        seen.append((iteration, estimate.shape))
        return None if iteration == 0 else {"residual": -1.0, "extra": iteration}

    result = deep_diagonal_regression(X, y, 2, max_iter=25, tol=0, callback=callback, record_every=10)
    assert [record["iteration"] for record in result.history] == [0, 10, 20, 25]
    assert seen == [(i, (10,)) for i in (0, 10, 20, 25)]
    assert result.history[0].keys() == {"iteration", "residual"}
    assert all(record["residual"] >= 0 for record in result.history)
    assert result.history[1]["extra"] == 10
    assert result.iterations == 25 and not result.converged


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"X": torch.ones(4)}, "X"),
        ({"X": torch.full((4, 6), float("nan"))}, "X"),
        ({"y": torch.ones(5)}, "y"),
        ({"y": torch.zeros(4)}, "y"),
        ({"y": [1.0, 2.0, float("inf"), 0.0]}, "y"),
        ({"depth": 1}, "depth"),
        ({"depth": 2.0}, "depth"),
        ({"depth": True}, "depth"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"init_scale": -1e-3}, "init_scale"),
        ({"init_scale": float("nan")}, "init_scale"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 10.5}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"record_every": 0}, "record_every"),
        ({"dtype": torch.int64}, "dtype"),
        ({"callback": 3}, "callback"),
    ],
)
def test_diagonal_rejects_bad_inputs(kwargs, name):
    arguments = {"X": torch.ones(4, 6), "y": torch.ones(4), "depth": 2} | kwargs
    with pytest.raises(ValueError, match=f"^{name}: "):
        deep_diagonal_regression(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"observations": torch.ones(3, 3)}, "observations"),
        ({"observations": Observations([0, 1], [1, 0], [0.0, 0.0], (2, 2))}, "observations"),
        ({"generator": None}, "generator"),
        ({"depth": 1}, "depth"),
        ({"depth": 3.0}, "depth"),
        ({"width": 0}, "width"),
        ({"init_scale": 0}, "init_scale"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": float("inf")}, "tol"),
        ({"dtype": torch.float16}, "dtype"),
    ],
)
def test_matrix_completion_rejects_bad_inputs(kwargs, name):
    _, obs = small_observations(0)
    arguments = {"observations": obs, "depth": 2, "generator": torch.Generator().manual_seed(0)} | kwargs
    with pytest.raises(ValueError, match=f"^{name}: "):
        deep_matrix_completion(**arguments)


def test_depth_message_names_the_argument_and_value():
    with pytest.raises(ValueError, match=r"^depth: expected an integer >= 2, got 1$"):
        deep_diagonal_regression(torch.ones(2, 3), torch.ones(2), 1)


def test_huge_learning_rate_diverges_with_the_iteration_named():
    X, y, _ = sparse_instance(20, 2, 10, 0)
    with pytest.raises(FloatingPointError, match=r"deep_diagonal_regression: .*diverged at iteration \d+"):
        deep_diagonal_regression(X, y, 2, init_scale=0.5, learning_rate=1e3)
    _, obs = problems.completion_problem(10, 10, 2, 50, torch.Generator().manual_seed(0))
    with pytest.raises(FloatingPointError, match=r"deep_matrix_completion: .*diverged at iteration \d+"):
        deep_matrix_completion(obs, 3, init_scale=0.5, learning_rate=1e4, generator=torch.Generator().manual_seed(0))
