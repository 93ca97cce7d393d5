"""Stopping and going on: Ctrl-C keeps a resumable model and the result so far (``solver.result``) and re-raises;
save/load/continue equals an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import kanpde as kp

POINTS = torch.linspace(-1, 1, 41, dtype=torch.float64)[:, None]


class Interrupter:
    """A residual that raises KeyboardInterrupt at its next call once armed (a Ctrl-C inside an optimiser step)."""

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, u):
        if self.armed:
            raise KeyboardInterrupt
        return -u.xx - torch.pi**2 * torch.sin(torch.pi * u.coord("x"))


def _solver(residual, optimizer: str) -> kp.Solver:
    problem = kp.PDE(kp.Interval(-1, 1), residual, bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    return kp.Solver(problem, width=[1, 4, 1], seed=0, n_interior=200, optimizer=optimizer)


def _parameters(solver: kp.Solver) -> list[torch.Tensor]:
    return [p.detach().clone() for p in solver.model.parameters()]


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_ctrl_c_inside_a_step_keeps_the_last_completed_step(optimizer: str) -> None:
    interrupter = Interrupter()
    solver = _solver(interrupter, optimizer)

    def arm(_solver, record) -> None:
        if record.step == 2:  # the third update is done: the fourth is interrupted mid-way
            interrupter.armed = True

    with pytest.raises(KeyboardInterrupt):  # re-raised: the program stops
        solver.solve(grid_schedule=[5], steps=10, progress=False, callback=arm)
    result = solver.result  # the result so far
    assert result is not None and result.stopped is not None and "KeyboardInterrupt" in result.stopped
    assert solver._steps_done == 3 and [r.step for r in solver.history] == [0, 1, 2]
    assert len(result.stages) == 1 and result.stages[0].stopped == result.stopped and result.stages[0].steps == 2

    reference = _solver(Interrupter(), optimizer)
    reference.solve(grid_schedule=[5], steps=3, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(_parameters(solver), _parameters(reference)))

    interrupter.armed = False  # resumable: training goes on from there
    again = solver.solve(grid_schedule=[5, 8], steps=5, progress=False)
    assert again.stopped is None and solver.history[-1].loss < 0.5 * result.history[-1].loss
    assert [r.step for r in solver.history][:3] == [0, 1, 2] and solver._steps_done > 3


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_ctrl_c_keeps_the_completed_stages_and_the_one_cut_short(optimizer: str) -> None:
    solver = _solver(Interrupter(), optimizer)

    def stop(_solver, record) -> None:
        if record.stage == 1 and record.step >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        solver.solve(grid_schedule=[5, 8, 10], steps=4, progress=False, callback=stop)
    result = solver.result
    assert result is not None and "KeyboardInterrupt" in result.stopped
    first, cut = result.stages  # the completed stage and the one cut short; the third never started
    assert (first.grid, first.stopped) == (5, None) and first.rel_l2 is not None
    assert cut.grid == 8 and cut.stopped == result.stopped and solver.model.grid_size == 8
    assert result.history == solver.history and result.history[-1].stage == 1
    assert result.rel_l2 == solver.errors()[0]  # the errors are those of the model as it is now


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_save_load_continue_equals_an_uninterrupted_run(tmp_path: Path, optimizer: str) -> None:
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    settings = {"width": [1, 4, 1], "seed": 5, "optimizer": optimizer, "adaptive_sampling": True}
    uninterrupted = kp.Solver(problem, **settings)
    uninterrupted.solve(grid_schedule=[5, 8, 12], steps=6, progress=False)

    first = kp.Solver(problem, **settings)
    first.solve(grid_schedule=[5, 8], steps=6, progress=False)
    first.save(tmp_path / "run.kpt")
    del first
    resumed = kp.Solver.load(tmp_path / "run.kpt")
    resumed.solve(grid_schedule=[12], steps=6, progress=False)

    assert torch.equal(resumed.predict(POINTS), uninterrupted.predict(POINTS))
    assert [r.loss for r in resumed.history] == [r.loss for r in uninterrupted.history]
    assert resumed._steps_done == uninterrupted._steps_done


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_callbacks_see_the_model_of_the_current_step(optimizer: str) -> None:
    """A callback evaluating the model (errors, checkpoints) sees it as of the step just taken, not the stage start."""
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 4, 1], seed=0, n_interior=200, optimizer=optimizer)
    seen: list[torch.Tensor] = []
    solver.solve(grid_schedule=[5], steps=4, progress=False, callback=lambda s, r: seen.append(s.predict(POINTS)))
    assert len(seen) == 5 and all(not torch.equal(a, b) for a, b in zip(seen[:3], seen[1:4]))
    assert torch.equal(seen[-1], solver.predict(POINTS))
