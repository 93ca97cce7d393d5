"""Solver stages continue: grid extension keeps the trained function on the new stage's points."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp


@pytest.mark.parametrize("optimizer", ["lm", "lbfgs"])
def test_loss_is_kept_across_every_grid_switch(optimizer: str) -> None:
    problem = kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y)",
    )  # fmt: skip
    solver = kp.Solver(problem, width=[2, 5, 1], seed=0, n_interior=600, optimizer=optimizer)
    result = solver.solve(grid_schedule=[5, 10, 20], steps=15, progress=False)
    assert result.stages[0].switch_ratio is None
    ratios = [stage.switch_ratio for stage in result.stages[1:]]
    assert len(ratios) == 2
    # The same function on the same points: the loss right after a switch equals the loss right before.
    assert all(r is not None and abs(r - 1) <= 1e-6 for r in ratios), ratios
    # ... and every stage continues from where the last one stopped: the error keeps falling.
    errors = [stage.rel_l2 for stage in result.stages]
    assert errors[2] < errors[1] < errors[0], errors


def test_hidden_ranges_are_recorded_by_the_solver() -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 4, 1], seed=0, n_interior=200)
    solver.solve(grid_schedule=[5], steps=5, progress=False)
    with torch.no_grad():
        x = solver.approximation.normalized(torch.linspace(0, 1, 101, dtype=torch.float64).unsqueeze(1))
        hidden = solver.model.layers[0](x)
    seen = solver.model.layers[1].input_range
    assert bool((seen[:, 0] <= hidden.min(0).values + 1e-3).all() and (seen[:, 1] >= hidden.max(0).values - 1e-3).all())
