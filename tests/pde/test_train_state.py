"""The TrainState (kanpde.pde.train_state): what the training loop advances, held apart from the configuration."""

from __future__ import annotations

import torch

import kanpde as kp


def _solver(optimizer: str) -> kp.Solver:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    return kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=100, n_test=200, optimizer=optimizer)


def test_the_loop_advances_the_state() -> None:
    solver = _solver("lm")
    state = solver.state
    assert isinstance(state, kp.TrainState)
    assert (state.step, state.stage, state.grid, state.batch, state.history) == (0, 0, None, None, [])
    solver.solve(grid_schedule=[3, 5], steps=4, progress=False)
    assert solver.state is state and state.step == solver._steps_done > 0
    assert (state.stage, state.grid) == (1, 5) and solver.model.grid_size == 5
    assert state.history is solver.history and state.history[-1].stage == 1
    assert state.batch is not None and len(state.batch.interior) == 100  # the points of the last stage
    shard, counts = state.terms
    assert counts == {"pde": 100}  # the Dirichlet condition is imposed exactly (hard constraint on a box)
    assert state.approximation is solver.approximation and state.generator is solver.generator
    assert state.lm_damping is not None and state.lm_damping > 0


def test_gradient_stages_keep_their_optimizer_and_the_rng_state_drives_sampling() -> None:
    solver = _solver("lbfgs")
    solver.solve(grid_schedule=[3], steps=2, progress=False)
    assert isinstance(solver.state.optimizer, torch.optim.LBFGS) and solver.state.lm_damping is None
    # Two solvers whose sampling generators are in the same state draw the same points.
    other = _solver("lbfgs")
    other.state.generator.set_state(solver.state.generator.get_state())
    assert torch.equal(other._sample_batch(3).interior, solver._sample_batch(3).interior)
