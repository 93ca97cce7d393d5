"""Defaults that do not get stuck: the default grid schedule is raised when its last grid cannot hold the initial
value (:mod:`kanpde.pde.data_resolution`), and ``start="auto"`` makes the Euler starting fit when the first steps
leave ``u`` at the imposed data (:mod:`kanpde.pde.euler_start`)."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp
import kanpde.pde.solver as solver_module
from kanpde.pde.data_resolution import DEFAULT_SCHEDULE, RESOLVED, data_grid, initial_misfit, resolved_schedule
from kanpde.pde.euler_start import PROBE_STEPS


def _heat(initial: str = "sin(pi*x)") -> kp.Heat:
    exact = "exp(-0.1*pi**2*t)*sin(pi*x)" if initial == "sin(pi*x)" else None
    return kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=0.1, initial=initial, bcs=[kp.Dirichlet(0)],
                   exact=exact)  # fmt: skip


def _solver(problem: kp.Problem, **options) -> kp.Solver:
    torch.set_num_threads(1)
    return kp.Solver(problem, width=[problem.n_coords, 3, 1], seed=0, n_interior=200, n_test=500, **options)


def test_the_misfit_falls_with_the_grid_and_matches_a_spline_of_that_grid() -> None:
    fine = _heat("sin(20*pi*x)")
    misfits = [initial_misfit(fine, g, 5)[0] for g in (20, 30, 40)]  # type: ignore[index]
    assert misfits[0] > 0.5 and RESOLVED < misfits[1] < 0.05 and misfits[2] < 2e-3  # measured 0.78, 1.5e-2, 1.3e-3
    # A cubic spline on grid 10 is itself resolved exactly (its knots are those of the fit)
    knots = [0.1 * j for j in range(11)]
    cubic = " + ".join(f"0.3*Max(x - {a:.1f}, 0)**3" for a in knots[1:-1])
    assert initial_misfit(_heat(f"x**3 - 2*x + {cubic}"), 10, 3)[0] < 1e-10  # type: ignore[index]


def test_the_data_grid_looks_only_above_a_given_grid() -> None:
    assert data_grid(_heat("sin(20*pi*x)"), 5, above=40)[0] == 60  # the next ladder grid, resolved there too
    assert data_grid(_heat("sin(20*pi*x)"), 5, above=80) == (None, None)  # nothing finer on the ladder


def test_the_data_grid_is_the_smallest_that_resolves_the_initial_value() -> None:
    assert data_grid(_heat("sin(20*pi*x)"), 5)[0] == 40
    assert data_grid(_heat("sin(20*pi*x)"), 3)[0] == 60  # cubic splines need more knots
    assert data_grid(_heat(), 5)[0] == 5
    assert data_grid(_heat("0"), 5) == (None, None)  # homogeneous: nothing to resolve
    assert data_grid(kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)]), 5) == (None, None)  # stationary


def test_each_axis_is_checked() -> None:
    problem = kp.Heat(kp.Rectangle((0, 0), (1, 1)), time=(0, 1), initial="sin(pi*x)*sin(20*pi*y)",
                      bcs=[kp.Dirichlet(0)])  # fmt: skip
    misfits = initial_misfit(problem, 30, 5)
    assert misfits is not None and misfits[0] < 1e-5 < RESOLVED < misfits[1]
    schedule, note = resolved_schedule(problem, DEFAULT_SCHEDULE, 5)
    assert schedule == [40] and note is not None and "along y" in note


def test_the_default_schedule_is_raised_only_where_its_last_grid_does_not_resolve_the_data() -> None:
    raised = _solver(_heat("sin(20*pi*x)")).solve(steps=2, progress=False)
    assert [s.grid for s in raised.stages] == [40]
    assert any("grid schedule [5, 10, 30] -> [40]" in n for n in raised.notes) and "note: grid" in raised.summary()
    smooth = _solver(_heat("sin(6*pi*x)")).solve(steps=2, progress=False)  # 6 periods: resolved on grid 30
    assert [s.grid for s in smooth.stages] == [5, 10, 30] and smooth.notes == []
    given = _solver(_heat("sin(20*pi*x)")).solve(grid_schedule=[5, 10, 30], steps=2, progress=False)
    assert [s.grid for s in given.stages] == [5, 10, 30]  # a schedule that is given is kept


def _losses(result: kp.Result) -> list[float]:
    return [h.loss for h in result.history]


def test_auto_start_leaves_a_solve_that_moves_unchanged() -> None:
    auto = _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False)
    plain = _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False, start=None)
    assert auto.notes == [] and _losses(auto) == _losses(plain) and auto.rel_l2 == plain.rel_l2


def test_auto_start_fits_the_euler_step_when_the_first_steps_stay_at_the_data(monkeypatch) -> None:
    monkeypatch.setattr(solver_module, "STUCK", -1.0)  # every solve counts as stuck
    auto = _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False)
    plain = _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False, start=None)
    assert len(auto.notes) == 1 and "Euler starting fit" in auto.notes[0] and "note: start" in auto.summary()
    euler = _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False, start="euler")
    # the first PROBE_STEPS steps are those of the plain solve; then the stage starts over as under start="euler"
    assert _losses(auto)[:PROBE_STEPS] == _losses(plain)[:PROBE_STEPS]
    assert _losses(auto)[PROBE_STEPS:] == _losses(euler) != _losses(plain)[PROBE_STEPS:]
    assert auto.rel_l2 == euler.rel_l2 is not None
    assert auto.stages[0].steps == 15 + PROBE_STEPS
    # not for a problem the Euler start does not apply to, nor with start=None
    assert _solver(_heat(), hard_constraint=False).solve(grid_schedule=[5], steps=15, progress=False).notes == []
    assert _solver(_heat()).solve(grid_schedule=[5], steps=15, progress=False, start=None).notes == []


def test_auto_start_passes_over_a_residual_without_u_t(monkeypatch) -> None:
    monkeypatch.setattr(solver_module, "STUCK", -1.0)
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.xx + 1, bcs=[kp.Dirichlet(0)], time=(0, 1), initial=0)
    result = _solver(problem).solve(grid_schedule=[5], steps=12, progress=False)
    assert result.notes == [] and result.stages[0].steps == 12


def test_auto_start_and_time_windows_combine() -> None:
    result = _solver(_heat()).solve(grid_schedule=[5], steps=12, progress=False, time_windows=2)
    assert len(result.stages) == 2 and result.notes == [] and result.rel_l2 is not None and result.rel_l2 < 1e-3


def test_bad_start_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"start must be None or one of \('auto', 'euler'\)"):
        _solver(_heat()).solve(grid_schedule=[5], steps=1, progress=False, start="taylor")


@pytest.mark.slow
def test_the_defaults_solve_the_multiscale_heat_problem() -> None:
    # measured 4.1e-3 in about 160 s CPU (docs/benchmarks.md); before these defaults 0.67 after 600 s
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `problems` lives beside `tests`
    from problems import heat_multiscale

    torch.set_num_threads(1)
    result = kp.Solver(heat_multiscale.make_problem()).solve(progress=False)
    assert [s.grid for s in result.stages] == [40] and len(result.notes) == 2, result.summary()
    assert result.rel_l2 is not None and result.rel_l2 < 1e-2, result.summary()


def test_a_resumed_solve_neither_probes_nor_raises_the_schedule(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(solver_module, "STUCK", -1.0)
    solver = _solver(_heat("sin(20*pi*x)"))
    solver.solve(grid_schedule=[5], steps=3, progress=False)  # 3 steps: before the probe
    solver.save(tmp_path / "run.kanpde")
    resumed = kp.Solver.load(tmp_path / "run.kanpde")
    result = resumed.solve(steps=12, progress=False)  # the default schedule on a trained network: kept
    assert result.notes == [] and [s.grid for s in result.stages] == list(DEFAULT_SCHEDULE)
