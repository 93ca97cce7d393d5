"""The time scales of a problem's initial state (kanpde.pde.time_scales) and the time windows the solver chooses
from them when none are given."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.pde.time_scales import (
    EFOLDS_PER_WINDOW,
    MAX_WINDOWS,
    PERIODS_PER_WINDOW,
    TimeScales,
    default_time_windows,
    initial_time_scales,
)
from kanpde.pde.time_windows import PiecewiseInTime


def _wave(t1: float, speed: float = 1.0, velocity: object = 0) -> kp.Wave:
    return kp.Wave(kp.Interval(0, 1), time=(0, t1), speed=speed, initial="sin(pi*x)", initial_velocity=velocity,
                   bcs=[kp.Dirichlet(0)])  # fmt: skip


def _convection(beta: float) -> kp.PDE:
    return kp.PDE(kp.Interval(0, 2 * math.pi), lambda u: u.t + beta * u.x, bcs=[kp.Periodic("x")], time=(0, 1),
                  initial="sin(x)")  # fmt: skip


def test_a_wave_oscillates_at_c_k_and_its_initial_velocity_counts() -> None:
    scales = initial_time_scales(_wave(2.0, speed=1.5))
    assert scales is not None and scales.order == 2
    assert scales.frequency == pytest.approx(1.5 * math.pi, rel=1e-6)  # sin(pi x) at speed 1.5
    assert scales.periods == pytest.approx(1.5 * math.pi * 2.0 / (2 * math.pi), rel=1e-6)
    # a faster mode in the initial velocity sets the frequency: sin(3 pi x) -> 3 pi c
    faster = initial_time_scales(_wave(2.0, speed=1.5, velocity="sin(3*pi*x)"))
    assert faster is not None and faster.frequency == pytest.approx(4.5 * math.pi, rel=1e-6)


def test_transport_is_motion_and_diffusion_is_decay() -> None:
    moving = initial_time_scales(_convection(30.0))
    assert moving is not None and moving.order == 1
    assert moving.growth == pytest.approx(0.0, abs=1e-6) and moving.frequency == pytest.approx(30.0, rel=1e-3)
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=10.0, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    decay = initial_time_scales(heat)  # u_t = -10 pi^2 u0: fast, but it only scales u0
    assert decay is not None and decay.growth == pytest.approx(0.0, abs=1e-9)
    assert decay.frequency == pytest.approx(0.0, abs=1e-6) and decay.windows() == 1


def test_growth_is_the_reaction_part_only() -> None:
    # u_t = u_xx + 3 u: the reaction 3 u grows; diffusion, boundary data and a source do not count
    reacting = kp.PDE(kp.Interval(0, 1), lambda u: u.t - u.xx - 3 * u.value, bcs=[kp.Dirichlet(0)], time=(0, 2),
                      initial="sin(pi*x)")  # fmt: skip
    scales = initial_time_scales(reacting)
    assert scales is not None and scales.growth == pytest.approx(3.0, rel=1e-9) and scales.efolds == pytest.approx(6)
    convex = kp.Heat(kp.Interval(-1, 1), time=(0, 5), diffusivity=1.0, f="10*exp(t)", initial="exp(x**2)",
                     bcs=[kp.Dirichlet("exp(x**2 + t)")])  # fmt: skip
    spreading = initial_time_scales(convex)  # u_t = u_xx > 0 on a convex u0: it rises, but diffusion is stable
    assert spreading is not None and spreading.growth == pytest.approx(0.0, abs=1e-9) and spreading.windows() == 1
    front = kp.PDE(kp.Interval(-1, 1), lambda u: u.t + u.value * u.x - 0.01 * u.xx, time=(0, 1),
                   initial="-tanh(5*x)", bcs=[kp.Dirichlet("-tanh(5*x)")])  # fmt: skip
    moving = initial_time_scales(front)  # <u0, -u0 u0_x> is a boundary flux (2/3 here), not a growth
    assert moving is not None and moving.growth == pytest.approx(0.0, abs=1e-9) and moving.windows() == 1


def test_growth_is_the_rayleigh_quotient_of_the_rate() -> None:
    # Allen-Cahn: u_t = 5 u - 5 u^3 + d u_xx; checked against numpy on the same formula
    d = 1e-4
    problem = kp.PDE(kp.Interval(-1, 1), lambda u: u.t - d * u.xx + 5 * u.value**3 - 5 * u.value,
                     bcs=[kp.Periodic("x")], time=(0, 1), initial="x**2*cos(pi*x)")  # fmt: skip
    scales = initial_time_scales(problem, n_points=4096)
    x = np.linspace(-1, 1, 200001)
    u0 = x**2 * np.cos(np.pi * x)
    u0_xx = 2 * np.cos(np.pi * x) - 4 * np.pi * x * np.sin(np.pi * x) - np.pi**2 * x**2 * np.cos(np.pi * x)
    rate = 5 * u0 - 5 * u0**3 + d * u0_xx
    growth = float(np.mean(u0 * rate) / np.mean(u0 * u0))
    assert scales is not None and scales.growth == pytest.approx(growth, rel=2e-2)
    assert scales.windows() == math.ceil(scales.efolds / EFOLDS_PER_WINDOW)


def test_windows_follow_periods_and_efolds_and_are_capped() -> None:
    assert TimeScales(2, 0.0, 2 * math.pi, 3.0).windows() == 1  # 3 periods
    assert TimeScales(2, 0.0, 2 * math.pi, 3.5).windows() == 2
    assert TimeScales(2, 0.0, 2 * math.pi, 15.0).windows() == math.ceil(15 / PERIODS_PER_WINDOW)
    assert TimeScales(1, 2.5, 0.0, 1.0).windows() == math.ceil(2.5 / EFOLDS_PER_WINDOW)  # 2.5 e-folds
    assert TimeScales(1, -50.0, 0.0, 1.0).windows() == 1  # decay
    assert TimeScales(2, 0.0, 1e6, 1.0).windows() == 20  # capped


def test_no_scales_where_they_cannot_be_read() -> None:
    steady = kp.Poisson(kp.Interval(0, 1), f="1", bcs=[kp.Dirichlet(0)])
    assert initial_time_scales(steady) is None
    resting = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial=0, f="1", bcs=[kp.Dirichlet(0)])
    assert initial_time_scales(resting) is None  # u0 = 0: no rate relative to it
    assert default_time_windows(resting) == (1, None)


def test_the_solver_marches_a_long_wave_in_windows_and_says_so() -> None:
    torch.set_num_threads(1)
    solver = kp.Solver(_wave(7.0), width=[2, 3, 1], seed=0, n_interior=100, n_test=500)  # 3.5 periods
    result = solver.solve(grid_schedule=[3], steps=2, progress=False)
    assert isinstance(solver.approximation, PiecewiseInTime) and len(solver.approximation.windows) == 2
    assert result.notes and "2 time windows" in result.notes[0] and "time_windows=1" in result.notes[0]
    assert "time windows" in result.summary()


def test_one_window_asked_keeps_one_network_and_short_problems_are_left_alone() -> None:
    torch.set_num_threads(1)
    kept = kp.Solver(_wave(7.0), width=[2, 3, 1], seed=0, n_interior=100, n_test=500)
    result = kept.solve(grid_schedule=[3], steps=2, progress=False, time_windows=1)
    assert not isinstance(kept.approximation, PiecewiseInTime) and not result.notes
    short = kp.Solver(_wave(2.0), width=[2, 3, 1], seed=0, n_interior=100, n_test=500)
    result = short.solve(grid_schedule=[3], steps=2, progress=False)
    assert not isinstance(short.approximation, PiecewiseInTime) and not result.notes


@pytest.mark.slow
@pytest.mark.parametrize(("name", "windows", "bound"), [("allen_cahn", 7, 4e-4), ("wave_1d_long", 5, 1e-3)])
def test_the_defaults_march_long_horizons_to_the_short_horizon_accuracy(name: str, windows: int, bound: float) -> None:
    """``kp.Solver(problem).solve()`` with every default: measured allen_cahn 2.0e-4 (7 windows, 428 s CPU; one
    space-time network 0.31) and wave_1d_long 5.2e-4 (5 windows, 275 s; one network 1.44), one thread."""
    import problems

    torch.set_num_threads(1)
    result = kp.Solver(problems.load(name).make_problem(), seed=0).solve(progress=False)
    assert result.notes and f"{windows} time windows" in result.notes[0]
    assert result.rel_l2 is not None and result.rel_l2 <= bound, result.rel_l2


def test_a_damped_wave_is_second_order() -> None:
    # u_tt + 0.5 u_t - u_xx = 0 depends on u_t too: it was read as first order (no motion, one window over 10 periods)
    damped = kp.PDE(kp.Interval(0, 1), lambda u: u.tt + 0.5 * u.t - u.xx, bcs=[kp.Dirichlet(0)], time=(0, 20),
                    initial="sin(pi*x)", initial_velocity=0)  # fmt: skip
    scales = initial_time_scales(damped)
    assert scales is not None and scales.order == 2 and scales.frequency == pytest.approx(math.pi, rel=1e-6)
    assert default_time_windows(damped)[0] == math.ceil(10 / PERIODS_PER_WINDOW)


def test_the_note_says_when_the_window_count_is_capped() -> None:
    n, note = default_time_windows(_wave(1e3))  # 500 periods: 167 windows wanted, 20 given
    assert n == MAX_WINDOWS and note is not None
    assert f"capped at {MAX_WINDOWS}" in note and "25 periods each" in note and "at most 3 periods" not in note
    n, note = default_time_windows(_wave(8.0))  # 4 periods: 2 windows, not capped
    assert n == 2 and note is not None and "capped" not in note and "at most 3 periods" in note


@pytest.mark.parametrize("time_windows", [None, 2])
def test_a_bad_start_is_refused_in_windows_too(time_windows: int | None) -> None:
    # windows pass start=None to every window: start="bogus" was accepted silently where windows were solved
    solver = kp.Solver(_wave(7.0), width=[2, 3, 1], seed=0, n_interior=64, n_test=64)
    with pytest.raises(ValueError, match="start must be None or one of"):
        solver.solve(grid_schedule=[3], steps=1, progress=False, start="bogus", time_windows=time_windows)
    assert solver._steps_done == 0


def test_a_wave_struck_from_rest_oscillates_at_its_velocity_s_frequency() -> None:
    # u0 = 0, v0 = sin(3 pi x) over t1 = 10: 15 periods; u0 = 0 made the forecast None (one window)
    struck = kp.Wave(kp.Interval(0, 1), time=(0, 10), initial=0, initial_velocity="sin(3*pi*x)",
                     bcs=[kp.Dirichlet(0)])  # fmt: skip
    scales = initial_time_scales(struck)
    assert scales is not None and scales.order == 2 and scales.frequency == pytest.approx(3 * math.pi, rel=1e-6)
    assert default_time_windows(struck)[0] == 5
    resting = kp.Wave(kp.Interval(0, 1), time=(0, 10), initial=0, initial_velocity=0, f="1", bcs=[kp.Dirichlet(0)])
    assert initial_time_scales(resting) is None  # nothing moves at t0: no rate to read


def test_diffusion_of_several_modes_is_not_motion() -> None:
    # sin(pi x) + sin(5 pi x) decays mode by mode: |u_t - g u0| / |u0| read it as 18.8 periods (7 windows); the
    # frequency is now that of u_tt = -omega^2 u (transport), which diffusion does not have
    modes = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=1.0, initial="sin(pi*x) + sin(5*pi*x)",
                    bcs=[kp.Dirichlet(0)])  # fmt: skip
    scales = initial_time_scales(modes)
    assert scales is not None and scales.frequency == 0.0 and default_time_windows(modes) == (1, None)
    # advection-diffusion u_t + 30 u_x = 0.01 u_xx on sin(x): omega^2 = 30^2 - 0.01^2
    drifting = kp.PDE(kp.Interval(0, 2 * math.pi), lambda u: u.t + 30 * u.x - 0.01 * u.xx, bcs=[kp.Periodic("x")],
                      time=(0, 1), initial="sin(x)")  # fmt: skip
    scales = initial_time_scales(drifting)
    assert scales is not None and scales.frequency == pytest.approx(math.sqrt(900 - 1e-4), rel=1e-6)
