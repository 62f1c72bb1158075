"""Published lin-RFM baseline: one step against its weighted least-squares form; recovery; input checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from recovery.core.observations import Observations
from recovery.core.problems import completion_problem
from recovery.rfm.published import published_step, run_published


def _small_instance(seed: int, d1: int = 6, d2: int = 5):
    """Random estimate, data and mask; row 0 unobserved, row 1 fully observed, the rest in between."""
    rng = np.random.default_rng(seed)
    Z, Y = rng.standard_normal((d1, d2)), rng.standard_normal((d1, d2))
    mask = rng.random((d1, d2)) < 0.5
    mask[0], mask[1] = False, True
    mask[np.arange(2, d1), rng.integers(0, d2, d1 - 2)] = True
    return Z, Y, mask


def _observed(Y: np.ndarray, mask: np.ndarray) -> Observations:
    return Observations.from_mask(torch.from_numpy(mask), torch.from_numpy(Y))


def _kernel_without_eigh(Z: np.ndarray, alpha: float) -> np.ndarray:
    """K = G^(2 alpha) for alpha in {1/4, 1/2, 1}: a matrix square root, G itself, or G G."""
    G = Z.T @ Z / Z.shape[0]
    return {0.25: np.real(scipy.linalg.sqrtm(G)), 0.5: G, 1.0: G @ G}[alpha]


def _weighted_least_squares_rows(K: np.ndarray, Y: np.ndarray, mask: np.ndarray, lam: float) -> np.ndarray:
    r"""Each row as the minimiser of :math:`\lambda z W z^\top + \|z_\Omega - y\|^2`, :math:`W = K^{-1}`.

    For ``lam = 0`` the constrained minimiser of :math:`z W z^\top` with :math:`z_\Omega = y`:
    :math:`z_U = -W_{UU}^{-1} W_{U\Omega}\, y` on the unobserved columns :math:`U`.
    """
    W = np.linalg.inv(K)
    Z = np.zeros_like(Y)
    for i in range(Y.shape[0]):
        seen, unseen = mask[i], ~mask[i]
        if lam > 0:
            data = np.where(seen, Y[i], 0.0)
            Z[i] = np.linalg.solve(lam * W + np.diag(seen.astype(float)), data)
        else:
            Z[i, seen] = Y[i, seen]
            if seen.any() and unseen.any():
                Z[i, unseen] = -np.linalg.solve(W[np.ix_(unseen, unseen)], W[np.ix_(unseen, seen)] @ Y[i, seen])
    return np.where(mask, Y, Z)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("alpha", [0.25, 0.5, 1.0])
@pytest.mark.parametrize("lam", [0.0, 5e-2])
def test_step_equals_weighted_least_squares(seed, alpha, lam):
    Z, Y, mask = _small_instance(seed)
    step = published_step(Z, _observed(Y, mask), alpha, lam)
    expected = _weighted_least_squares_rows(_kernel_without_eigh(Z, alpha), Y, mask, lam)
    np.testing.assert_allclose(step, expected, rtol=0, atol=1e-10)
    assert np.all(step[0] == 0) and np.all(step[mask] == Y[mask])


def test_run_equals_iterated_steps_with_the_oracle_schedule():
    Y, obs = completion_problem(20, 15, 2, 150, torch.Generator().manual_seed(3))
    Y, mask = Y.numpy(), obs.mask().numpy()
    hidden, lam, Z = ~mask, 5e-2, np.where(mask, Y, 0.0)  # iteration 1 (K = I): zero-filled data
    for _ in range(11):
        if np.mean((Z[hidden] - Y[hidden]) ** 2) < 0.1:
            lam = 1e-3
        Z = published_step(Z, obs, 1.0, lam)
    assert lam == 1e-3  # the schedule switched within these iterations
    result = run_published(Y, obs, 1.0, target_mse=1e-300, max_iter=12, record_every=5)
    np.testing.assert_allclose(result.solution, Z, rtol=0, atol=1e-12)
    assert result.iterations == 12 and not result.converged
    assert [entry["iteration"] for entry in result.history] == [5, 10, 12]
    test_mse = result.info["test_mse"]
    assert result.history[-1]["test_mse"] == test_mse == np.mean((result.solution[hidden] - Y[hidden]) ** 2)


def test_first_iterate_is_the_zero_filled_data():
    Y, obs = completion_problem(7, 9, 2, 30, torch.Generator().manual_seed(0))
    Y, mask = Y.numpy(), obs.mask().numpy()
    result = run_published(Y, obs, 0.5, max_iter=1)
    assert np.array_equal(result.solution, np.where(mask, Y, 0.0))
    assert result.iterations == 1 and len(result.history) == 1


@pytest.mark.parametrize(("d1", "d2", "num_obs", "seed"), [(40, 30, 600, 0), (40, 30, 600, 1), (30, 45, 700, 2)])
def test_alpha_half_recovers_a_low_rank_matrix(d1, d2, num_obs, seed):
    Y, obs = completion_problem(d1, d2, 2, num_obs, torch.Generator().manual_seed(seed))
    Y, mask = Y.numpy(), obs.mask().numpy()
    result = run_published(Y, obs, 0.5)
    hidden = ~mask
    test_mse = result.info["test_mse"]
    assert result.converged and test_mse < 1e-3 and result.iterations < 3000
    assert test_mse == np.mean((result.solution[hidden] - Y[hidden]) ** 2)
    assert np.all(result.solution[mask] == Y[mask])
    assert [entry["iteration"] for entry in result.history] == list(range(1, result.iterations + 1))
    assert result.info["seconds"] >= result.history[-1]["seconds"] >= 0


def test_bad_inputs_are_rejected():
    Z, Y, mask = _small_instance(0)
    obs = _observed(Y, mask)
    with pytest.raises(ValueError, match="observations:"):
        run_published(Y, mask, 0.5)
    with pytest.raises(ValueError, match="Y:"):
        run_published(Y[:, :4], obs, 0.5)
    with pytest.raises(ValueError, match="observations:"):
        run_published(Y, _observed(Y, np.ones_like(mask)), 0.5)
    for alpha in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="alpha:"):
            run_published(Y, obs, alpha)
    bad = Y.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="Y:"):
        run_published(bad, obs, 0.5)
    with pytest.raises(ValueError, match="Y:"):
        run_published(Y[0], obs, 0.5)
    with pytest.raises(ValueError, match="max_iter:"):
        run_published(Y, obs, 0.5, max_iter=0)
    with pytest.raises(ValueError, match="lam:"):
        run_published(Y, obs, 0.5, lam=-1e-3)
    with pytest.raises(ValueError, match="Z:"):
        published_step(Z[:, :4], obs, 0.5, 5e-2)
    with pytest.raises(ValueError, match="observations:"):
        published_step(Z, mask, 0.5, 5e-2)
    with pytest.raises(ValueError, match="alpha:"):
        published_step(Z, obs, 0, 5e-2)
