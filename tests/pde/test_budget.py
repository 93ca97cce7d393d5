"""Time limits of a solve (budget_seconds, stage_seconds: checked after every optimiser step) and the stage loss
with adaptive weights."""

from __future__ import annotations

import pytest

import kanpde as kp


def _poisson() -> kp.Poisson:
    return kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")


def _solver(**options) -> kp.Solver:
    return kp.Solver(_poisson(), width=[1, 4, 1], k=3, seed=0, n_interior=200, n_test=200, **options)


@pytest.mark.parametrize("optimizer", ["lm", "adam"])
def test_budget_is_respected_to_within_one_step(optimizer: str) -> None:
    budget = 0.8
    solver = _solver(optimizer=optimizer, hard_constraint=False)
    result = solver.solve(grid_schedule=[5, 10], steps=100_000, progress=False, budget_seconds=budget, rtol=0.0)
    assert result.stopped is not None and result.stopped.startswith("time budget spent"), result.stopped
    assert len(result.stages) == 1 and result.stages[0].stopped == result.stopped  # the cut stage is recorded
    assert 1 <= result.stages[0].steps < 100_000
    times = [h.seconds for h in result.history]
    # Only the step that crossed the budget and the stage's closing evaluation come after it.
    assert sum(t >= budget for t in times) <= 2, times[-5:]
    assert "(cut short)" in result.summary()


def test_stage_limit_cuts_each_stage_and_moves_on() -> None:
    solver = _solver(optimizer="adam")
    result = solver.solve(grid_schedule=[3, 5], steps=100_000, progress=False, stage_seconds=0.5)
    assert result.stopped is None
    assert [s.grid for s in result.stages] == [3, 5]
    for stage in result.stages:
        assert stage.stopped is not None and stage.stopped.startswith("stage time limit reached")
        assert 1 <= stage.steps < 100_000
    by_stage = [[h.seconds for h in result.history if h.stage == i] for i in range(2)]
    assert all(sum(t - times[0] >= 0.5 for t in times) <= 2 for times in by_stage)


def test_auto_schedule_budget_is_checked_at_every_step() -> None:
    solver = _solver(optimizer="adam")
    result = solver.solve(grid_schedule=kp.AutoSchedule(start=3, budget_seconds=0.6), steps=100_000, progress=False)
    assert result.stopped is not None and result.stopped.startswith("time budget spent")
    assert result.refinement == result.stopped and result.stages[-1].stopped == result.stopped


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "10", True])
def test_bad_time_limits_are_named(bad) -> None:
    solver = _solver()
    with pytest.raises(ValueError, match="budget_seconds must be a positive number"):
        solver.solve(grid_schedule=[3], steps=1, progress=False, budget_seconds=bad)
    with pytest.raises(ValueError, match="stage_seconds must be a positive number"):
        solver.solve(grid_schedule=[3], steps=1, progress=False, stage_seconds=bad)


def test_adaptive_weights_record_the_unweighted_stage_loss() -> None:
    solver = _solver(weights="adaptive", hard_constraint=False)
    result = solver.solve(grid_schedule=[3, 5], steps=5, progress=False)
    for stage in result.stages:
        last = [h for h in result.history if h.stage == result.stages.index(stage)][-1]
        assert stage.weighted_loss == pytest.approx(last.loss, rel=1e-12)
        assert stage.loss == pytest.approx(sum(last.terms.values()), rel=1e-12)
    assert any(s.weighted_loss != pytest.approx(s.loss) for s in result.stages)  # the weights were not all 1
    assert "unweighted sum of the terms" in result.summary()
    plain = _solver(hard_constraint=False, weights={}).solve(grid_schedule=[3], steps=3, progress=False)  # fixed
    assert plain.stages[0].weighted_loss is None and "unweighted" not in plain.summary()
