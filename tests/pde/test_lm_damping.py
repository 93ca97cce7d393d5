"""Levenberg-Marquardt damping carried across grid stages and through checkpoints."""

from __future__ import annotations

from pathlib import Path

import kanpde as kp
from kanpde.pde.gauss_newton import LMState, stage_damping


def test_a_stage_starts_from_the_damping_the_last_one_ended_with() -> None:
    assert stage_damping(None) == LMState()
    assert stage_damping(LMState(mu=3e-9)).mu == 3e-9


def _problem() -> kp.Problem:
    return kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")


def test_the_solver_carries_the_damping_and_a_checkpoint_keeps_it(tmp_path: Path) -> None:
    solver = kp.Solver(_problem(), width=[1, 4, 1], seed=0, optimizer="lm")
    solver.solve(grid_schedule=[4], steps=12, progress=False)
    first = solver.state.lm_damping
    assert first < LMState().mu  # accepted steps shrank it
    solver.solve(grid_schedule=[8], steps=1, progress=False)
    assert solver.state.lm_damping in (first / 3, first * 2 / 3, max(first / 3, LMState().min_mu))  # one step on
    loaded = kp.Solver.load(solver.save(tmp_path / "run.kpt"))
    assert loaded.state.lm_damping == solver.state.lm_damping
