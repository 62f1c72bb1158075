"""`recovery.complete` on users' own data: every input kind, both float dtypes, square and
rectangular, every method, converged by default; and refusals at the boundary."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recovery import MatrixCompleter, complete
from recovery.core import problems
from recovery.core.observations import Observations
from recovery.core.results import ConvergenceWarning, Status


def instance(d1, d2, rank, count, seed):
    """A planted low-rank matrix, its observations and the NaN-marked array a user would have."""
    Y, observations = problems.completion_problem(d1, d2, rank, count, torch.Generator().manual_seed(seed))
    A = np.full((d1, d2), np.nan)
    A[observations.rows.numpy(), observations.cols.numpy()] = observations.values.numpy()
    return Y.numpy(), observations, A


def hidden_error(Z, Y, A):
    hidden = np.isnan(A)
    return np.linalg.norm((np.asarray(Z, dtype=float) - Y)[hidden]) / np.linalg.norm(Y[hidden])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(40, 40), (30, 50)])
def test_defaults_converge_and_recover_from_a_nan_marked_array(seed, shape):
    Y, _, A = instance(*shape, 2, int(0.5 * shape[0] * shape[1]), seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = complete(A)
    assert result.converged and result.status is Status.CONVERGED and "tol" in result.message
    assert isinstance(result.solution, np.ndarray) and result.solution.dtype == np.float64
    assert result.solution.shape == shape
    observed = ~np.isnan(A)
    np.testing.assert_array_equal(result.solution[observed], A[observed])  # the data are kept exactly
    assert hidden_error(result.solution, Y, A) < 1e-5


def test_float32_in_float32_out_and_converged():
    Y, _, A = instance(40, 60, 2, 1400, 3)
    result = complete(A.astype(np.float32))
    assert result.converged and result.solution.dtype == np.float32
    assert hidden_error(result.solution, Y, A) < 5e-2  # float32's smoothing floor limits the accuracy


def test_sparse_torch_and_observations_inputs_give_the_same_completion():
    _, observations, A = instance(30, 45, 2, 800, 4)
    reference = complete(A).solution
    stored = sp.csr_matrix((observations.values.numpy(), (observations.rows.numpy(), observations.cols.numpy())),
                           shape=A.shape)
    from_sparse = complete(stored)
    assert isinstance(from_sparse.solution, np.ndarray)
    mask = torch.from_numpy(~np.isnan(A))
    from_mask = complete(torch.from_numpy(np.nan_to_num(A)), mask)
    from_nan = complete(torch.from_numpy(A))
    from_observations = complete(observations)
    for other in (from_sparse.solution, from_mask.solution.numpy(), from_nan.solution.numpy(),
                  from_observations.solution.numpy()):
        np.testing.assert_allclose(other, reference, rtol=0, atol=1e-12)
    assert isinstance(from_mask.solution, torch.Tensor) and from_mask.solution.dtype == torch.float64


def test_a_stored_zero_in_a_sparse_matrix_is_an_observation():
    data = sp.coo_matrix((np.array([0.0, 1.0, 2.0]), (np.array([0, 1, 1]), np.array([0, 0, 1]))), shape=(2, 2))
    result = complete(data, max_iter=50)
    assert result.solution[0, 0] == 0.0 and result.solution[1, 1] == 2.0


@pytest.mark.parametrize("method", ["irls", "nuclear", "flat"])
def test_every_method_converges_by_default_and_recovers(method):
    Y, _, A = instance(25, 30, 2, 500, 5)
    result = complete(A, method=method)
    assert result.converged and result.status is Status.CONVERGED
    assert hidden_error(result.solution, Y, A) < 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_nuclear_method_matches_cvxpy(seed):
    """On an instance too undersampled to recover, the nuclear-norm minimiser of cvxpy (SCS) and ours agree."""
    _, observations, A = instance(8, 10, 2, 40, seed)
    X = cp.Variable(A.shape)
    rows, cols = observations.rows.numpy(), observations.cols.numpy()
    problem = cp.Problem(cp.Minimize(cp.normNuc(X)), [X[rows, cols] == observations.values.numpy()])
    problem.solve(solver=cp.SCS, eps=1e-9, max_iters=200_000)
    ours = complete(A, method="nuclear", tol=1e-9).solution
    assert abs(np.linalg.norm(ours, "nuc") - problem.value) < 1e-5 * problem.value
    assert np.linalg.norm(ours - X.value) < 1e-3 * np.linalg.norm(X.value)


def test_a_run_stopped_at_max_iter_says_so_and_warns():
    _, _, A = instance(30, 30, 2, 500, 6)
    with pytest.warns(ConvergenceWarning, match="max_iter = 3"):
        result = complete(A, max_iter=3)
    assert not result.converged and result.status is Status.MAX_ITER and result.iterations == 3


def test_the_estimator_is_the_function():
    _, _, A = instance(20, 25, 2, 300, 7)
    completer = MatrixCompleter(method="lin-rfm", tol=1e-9)
    filled = completer.fit_transform(A)
    np.testing.assert_array_equal(filled, complete(A, method="lin-rfm", tol=1e-9).solution)
    assert completer.converged_ and completer.n_iter_ == completer.result_.iterations
    assert completer.get_params() == {"method": "lin-rfm", "tol": 1e-9}
    assert completer.set_params(method="nuclear").get_params()["method"] == "nuclear"


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.array([[1 + 1j, np.nan], [1.0, 2.0]]), {}, "data: .*complex"),
        (np.array([[1, 2], [3, 4]]), {"mask": np.array([[True, False], [True, True]])}, "data: .*integer"),
        (np.ones((2, 2), dtype=bool), {}, "data: .*boolean"),
        (torch.tensor([[1.0, float("nan")]], dtype=torch.float16), {}, "data: .*float16"),
        (np.ones((2, 2, 2)), {}, "data: expected a matrix"),
        (np.full((3, 3), np.nan), {}, "data: no entry is observed"),
        (np.array([[np.inf, np.nan], [1.0, 2.0]]), {}, "data: an observed entry is infinite"),
        (np.ones((2, 2)), {"mask": np.ones((2, 3), dtype=bool)}, "mask: shape"),
        (np.ones((2, 2)), {"mask": np.ones((2, 2))}, "mask: expected a boolean"),
        (np.ones((2, 2)), {"method": "svd"}, "method: expected one of"),
        (np.ones((2, 2)), {"tol": 0.0}, "tol:"),
        (np.ones((2, 2)), {"max_iter": 2.5}, "max_iter:"),
        (sp.coo_matrix(([1.0], ([0], [0])), shape=(100_000, 100_000)), {},
         r"memory_budget: two-sided on a 100000 x 100000 .*GiB"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        complete(data, **kwargs)


def test_flat_relaxation_needs_every_row_observed():
    A = np.array([[1.0, 2.0], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="row 1 has no observed entry"):
        complete(A, method="flat")


@pytest.mark.parametrize("shape", [(2.7, 3), (2**33, 2**33), (3,)])
def test_observations_refuse_shapes_they_cannot_index(shape):
    with pytest.raises(ValueError, match="shape:"):
        Observations(torch.tensor([0]), torch.tensor([0]), torch.tensor([1.0]), shape)


def test_the_book_page_example_runs_converges_and_recovers_the_table():
    """The code of book/your_data.md, run as a reader would (from book/), does what the page says."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book"
    code = re.search(r"```python\n(.*?)```", (book / "your_data.md").read_text(), flags=re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=book, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "120 x 80 table, 70% of the entries missing"
    assert "below tol 1e-10" in lines[1] and "rank-3 truncation fits" in lines[1]
    assert float(lines[2].rsplit(" ", 1)[1]) < 1e-8  # the certificate: an error of the order of tol
