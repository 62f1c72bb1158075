"""The dual certificate of exact recovery (recovery.convex.certificate) against independent
references: cvxpy's semidefinite program for eta, cvxpy's nuclear-norm minimiser, and closed-form
cases (a full observation, too few measurements)."""

import cvxpy as cp
import numpy as np
import pytest
import torch

from recovery.convex import certificate
from recovery.core import operators, problems
from recovery.experiments import phase_transition as pt
from recovery.flat import flatness


def dense_stack(op):
    """The map's matrices A_i = A*(e_i), ``(m, d1, d2)``."""
    return torch.stack([op.adjoint(e) for e in torch.eye(op.num_measurements, dtype=torch.float64)])


def reference_eta(op, M, D1, D2, rank):
    """eta = min ||P_T-perp A~*(lambda)||_op over P_T A~*(lambda) = UV^T, as an SDP in cvxpy (SCS),
    written from the definition with the map's dense stack."""
    d1, d2 = op.shape
    Z = (D1 @ M @ D2).numpy()
    U, _, Vh = np.linalg.svd(Z)
    U, U_perp, V, V_perp = U[:, :rank], U[:, rank:], Vh[:rank].T, Vh[rank:].T
    composed = (torch.linalg.inv(D1) @ dense_stack(op) @ torch.linalg.inv(D2)).numpy()  # A~*(e_i)
    lam = cp.Variable(op.num_measurements)
    dual = cp.reshape(composed.reshape(op.num_measurements, -1).T @ lam, (d1, d2), order="C")
    # P_T(dual) = UV^T in independent equations: U^T dual = V^T and U_perp^T dual V = 0.
    constraints = [U.T @ dual == V.T, U_perp.T @ dual @ V == 0]
    problem = cp.Problem(cp.Minimize(cp.sigma_max(U_perp.T @ dual @ V_perp)), constraints)
    problem.solve(solver="SCS", eps_abs=1e-9, eps_rel=1e-9, max_iters=200_000)
    return problem.value


def reference_minimiser(op, M, D1, D2):
    """argmin ||D1 Y D2||_* subject to A(Y) = A(M), by cvxpy (SCS, tight)."""
    d1, d2 = op.shape
    A = dense_stack(op).reshape(op.num_measurements, -1).numpy()
    Y = cp.Variable((d1, d2))
    problem = cp.Problem(cp.Minimize(cp.normNuc(D1.numpy() @ Y @ D2.numpy())),
                         [A @ cp.vec(Y, order="C") == A @ M.numpy().reshape(-1)])
    problem.solve(solver="SCS", eps_abs=1e-8, eps_rel=1e-8, max_iters=200_000)
    return torch.from_numpy(Y.value)


@pytest.mark.parametrize("model", ["sensing", "bilinear", "completion"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_bracket_contains_the_reference_eta_and_its_verdicts_hold(model, seed, weighted):
    g = torch.Generator().manual_seed(100 + seed)
    oversampling = {"sensing": 1.6, "bilinear": 1.8, "completion": 2.2}[model]
    op, M = pt.draw_instance(model, 8, oversampling, 1, g)
    if model == "completion" and (op.unobserved_rows().numel() or op.unobserved_cols().numel()):
        pytest.skip("an unobserved line: the flat weights are singular")
    D1, D2 = flatness.rescaling_matrices(op) if weighted else (torch.eye(8, dtype=M.dtype),) * 2
    bracket = certificate.exact_recovery(op, M, *((D1, D2) if weighted else ()), rank=1)
    eta = reference_eta(op, M, D1, D2, 1)
    assert bracket.upper >= eta - 1e-6
    if bracket.lower > 0:  # computed: the upper bound did not certify
        assert bracket.lower <= eta + 1e-6
    if not bracket.recovers:  # the optimiser came within 1e-3 of eta (it is a bracket, not a guess)
        assert bracket.upper <= eta + 1e-3 and bracket.lower >= eta - 1e-3
    assert not (bracket.recovers and bracket.fails)
    error = float(torch.linalg.matrix_norm(reference_minimiser(op, M, D1, D2) - M))
    if bracket.recovers:
        assert error < 1e-5
    if bracket.fails:
        assert error > 1e-4


def test_over_the_seeds_both_verdicts_occur():
    """The reference comparisons above are not vacuous: at these sizes some trials recover, some fail."""
    verdicts = set()
    for seed in range(6):
        op, M = pt.draw_instance("sensing", 8, 1.6, 1, torch.Generator().manual_seed(100 + seed))
        bracket = certificate.exact_recovery(op, M, rank=1)
        verdicts.add((bracket.recovers, bracket.fails))
    assert {(True, False), (False, True)} <= verdicts


def test_a_full_observation_certifies_with_the_least_norm_multiplier():
    """Observing every entry, lambda = vec(UV^T) and its part off T is zero."""
    M = problems.low_rank_matrix(6, 5, 2, torch.Generator().manual_seed(3))
    op = operators.IdentityMeasurements(6, 5)
    bracket = certificate.exact_recovery(op, M)
    assert bracket.recovers and bracket.upper < 1e-12 and bracket.injectivity == pytest.approx(1)


def test_fewer_measurements_than_the_tangent_space_certify_nothing():
    op, M = pt.draw_instance("sensing", 8, 0.9, 2, torch.Generator().manual_seed(4))
    bracket = certificate.exact_recovery(op, M, rank=2)
    assert bracket.injectivity == 0 and not bracket.recovers and not bracket.fails


def test_the_rank_is_read_from_the_matrix_and_bad_input_is_refused():
    op, M = pt.draw_instance("sensing", 8, 2.0, 2, torch.Generator().manual_seed(5))
    assert certificate.exact_recovery(op, M) == certificate.exact_recovery(op, M, rank=2)
    with pytest.raises(ValueError, match="M: expected shape"):
        certificate.exact_recovery(op, M[:, :7])
    with pytest.raises(ValueError, match="rank"):
        certificate.exact_recovery(op, M, rank=8)
