"""Causal training (kanpde.pde.causal): slice weights, their update from residuals, the weighted residual rows."""

from __future__ import annotations

import math

import pytest
import torch

import kanpde as kp
from kanpde.pde.causal import CausalWeights, _weighted_problem, slice_weights, solve_causal
from kanpde.pde.residuals import pde_residual

F64 = torch.float64


def _heat() -> kp.Heat:
    return kp.Heat(kp.Interval(0, 1), time=(0, 2), diffusivity=0.1, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                   exact="exp(-0.1*pi**2*t)*sin(pi*x)")  # fmt: skip


def test_slice_weights_are_in_0_1_non_increasing_and_follow_the_formula() -> None:
    losses = torch.tensor([0.5, 0.0, 2.0, 1e-3, 7.0], dtype=F64)
    for epsilon in (0.0, 0.1, 1.0, 100.0):
        w = slice_weights(losses, epsilon)
        assert w[0] == 1 and bool(((w >= 0) & (w <= 1)).all())
        assert bool((w[1:] <= w[:-1]).all())
    w = slice_weights(losses, 2.0)
    expected = [1.0, math.exp(-1.0), math.exp(-1.0), math.exp(-5.0), math.exp(-5.002)]
    torch.testing.assert_close(w, torch.tensor(expected, dtype=F64))
    assert bool((slice_weights(losses, 0.0) == 1).all())  # eps = 0: plain training
    with pytest.raises(ValueError, match="epsilon"):
        slice_weights(losses, -1.0)


def test_weights_update_from_the_residual_per_slice() -> None:
    weights = CausalWeights(0.0, 2.0, 4)
    t = torch.tensor([0.1, 0.2, 0.7, 1.2, 1.9, 1.999], dtype=F64)
    assert weights.slice_of(t).tolist() == [0, 0, 1, 2, 3, 3]
    assert bool((weights(t) == 1).all())  # before any update
    losses = weights.update(torch.tensor([1.0, 3.0, 0.5, 0.0, 4.0, 4.0], dtype=F64), t, epsilon=1.0)
    torch.testing.assert_close(losses, torch.tensor([2.0, 0.5, 0.0, 4.0], dtype=F64))
    torch.testing.assert_close(weights(t), torch.exp(-torch.tensor([0, 0, 2, 2.5, 2.5, 2.5], dtype=F64)))


def test_the_weighted_problem_scales_pde_rows_by_the_root_of_the_weight() -> None:
    problem = _heat()
    weights = CausalWeights(0.0, 2.0, 2)
    weights.weights = torch.tensor([1.0, 0.25], dtype=F64)
    solver = kp.Solver(problem, width=[2, 3, 1], seed=0)
    points = torch.tensor([[0.3, 0.5], [0.6, 1.5]], dtype=F64)
    plain = pde_residual(solver.approximation, problem, points, solver.request)
    weighted = pde_residual(solver.approximation, _weighted_problem(problem, weights), points, solver.request)
    torch.testing.assert_close(weighted, plain * torch.tensor([[1.0], [0.5]], dtype=F64))
    assert problem.residual is not None and problem._residual is not _weighted_problem(problem, weights)._residual


def test_causal_training_runs_rounds_and_restores_the_problem() -> None:
    torch.set_num_threads(1)
    problem = _heat()
    solver = kp.Solver(problem, width=[2, 3, 1], seed=0, n_interior=100, n_test=500)
    result = solve_causal(solver, grid_schedule=[3], steps=3, epsilons=(0.1, 1.0), rounds=2, n_points=200)
    assert solver.problem is problem
    assert 2 <= len(result.stages) <= 4 and result.stopped is None
    assert result.rel_l2 is not None and result.rel_l2 < 0.05
    with pytest.raises(ValueError, match="n_slices"):
        solve_causal(solver, grid_schedule=[3], steps=1, n_slices=0)
    steady = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="time-dependent"):
        solve_causal(kp.Solver(steady, width=[1, 3, 1]), grid_schedule=[3], steps=1)
