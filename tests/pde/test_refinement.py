"""Grid extension as adaptive refinement: the AutoSchedule policy and solve(grid_schedule="auto")."""

from __future__ import annotations

import pytest

import kanpde as kp
from kanpde.pde.result import StageRecord


def stage(grid: int, loss: float, rel: float | None = None) -> StageRecord:
    return StageRecord(grid=grid, steps=10, loss=loss, rel_l2=rel, max_abs=None, seconds=1.0, n_parameters=100)


def test_grids_double_up_to_the_largest() -> None:
    assert kp.AutoSchedule().grids() == [5, 10, 20, 40]
    assert kp.AutoSchedule(start=3, factor=1.5, max_grid=10).grids() == [3, 5, 8]


def test_each_stopping_rule() -> None:
    policy = kp.AutoSchedule(target=1e-4, budget_seconds=60)
    assert policy.next_grid([], 0.0)[0] == 5
    assert policy.next_grid([stage(5, 1e-2, 1e-3)], 1.0) == (10, "extend: grid 5 -> 10")
    grid, reason = policy.next_grid([stage(5, 1e-2, 1e-3), stage(10, 1e-4, 9e-5)], 2.0)
    assert grid is None and reason.startswith("target reached: relative L2 error")
    grid, reason = kp.AutoSchedule(patience=1).next_grid([stage(5, 1e-2, 1e-3), stage(10, 0.8e-2, 5e-4)], 2.0)
    assert grid is None and "stopped helping" in reason and "1.25x" in reason
    grid, reason = policy.next_grid([stage(5, 1e-2, 1e-3)], 61.0)
    assert grid is None and reason.startswith("time budget spent")
    grid, reason = kp.AutoSchedule(max_grid=10).next_grid([stage(5, 1.0), stage(10, 1e-3)], 1.0)
    assert grid is None and reason.startswith("largest grid reached")
    grid, reason = kp.AutoSchedule(target=1e-3).next_grid([stage(5, 1e-4)], 1.0)  # no exact: the loss decides
    assert grid is None and "loss" in reason


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"start": 0}, "start"), ({"factor": 1}, "factor"), ({"max_grid": 3}, "max_grid"), ({"target": -1}, "target"),
     ({"budget_seconds": 0}, "budget_seconds"), ({"min_gain": 0.5}, "min_gain")],
)  # fmt: skip
def test_bad_settings_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        kp.AutoSchedule(**kwargs)


def test_unknown_schedule_name_is_an_error() -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(TypeError, match="grid_schedule.*'auto'"):
        kp.Solver(problem, width=[1, 3, 1]).solve(grid_schedule="fast", progress=False)


def test_auto_schedule_refines_until_the_target() -> None:
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 5, 1], k=3, seed=0, n_interior=400)  # cubic: grid 3 alone misses 1e-5
    result = solver.solve(grid_schedule=kp.AutoSchedule(start=3, target=1e-5), steps=40, progress=False)
    grids = [s.grid for s in result.stages]
    assert grids == [3, 6, 12, 24, 48][: len(grids)] and len(grids) >= 2
    assert result.refinement.startswith("target reached") and result.rel_l2 <= 1e-5
    assert "grid schedule: target reached" in result.summary()


def test_auto_is_the_default_policy() -> None:
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    result = kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=200).solve("auto", steps=5, progress=False)
    assert [s.grid for s in result.stages] == [5, 10, 20, 40][: len(result.stages)]
    assert result.refinement is not None and result.stopped is None


def test_one_weak_extension_does_not_stop_the_schedule() -> None:
    policy = kp.AutoSchedule()  # patience 2: two weak extensions in a row
    weak_then_strong = [stage(5, 1e-2), stage(10, 0.8e-2), stage(20, 1e-4)]
    assert policy.next_grid(weak_then_strong[:2], 1.0) == (10 * 2, "extend: grid 10 -> 20")
    assert policy.next_grid(weak_then_strong, 1.0)[0] == 40
    grid, reason = policy.next_grid([stage(5, 1e-2), stage(10, 0.8e-2), stage(20, 0.7e-2)], 1.0)
    assert grid is None and "1.25x, 1.14x" in reason and "2 in a row" in reason
    with pytest.raises(ValueError, match="patience"):
        kp.AutoSchedule(patience=0)
