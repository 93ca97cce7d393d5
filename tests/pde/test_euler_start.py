"""The Euler start (``solve(start="euler")``): its target is ``u0 + (t - t0) u_t(t0)`` with ``u_t`` from the PDE,
the fit brings the network to it before the first stage, and problems it does not apply to are refused."""

from __future__ import annotations

import math

import pytest
import torch

import kanpde as kp
from kanpde.pde.euler_start import euler_start, euler_target

K = 0.1


def _heat(**options) -> kp.Heat:
    return kp.Heat(kp.Interval(0, 1), time=(0, 2), diffusivity=K, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                   exact=f"exp(-{K}*pi**2*t)*sin(pi*x)", **options)  # fmt: skip


def _solver(problem: kp.Problem, **options) -> kp.Solver:
    torch.set_num_threads(1)
    return kp.Solver(problem, width=[problem.n_coords, 5, 1], grid=5, seed=0, n_interior=300, n_test=1000, **options)


def test_the_target_is_one_euler_step_of_the_heat_equation() -> None:
    solver = _solver(_heat())
    batch = solver._sample_batch(5)
    x, t = batch.interior.unbind(1)
    expected = torch.sin(math.pi * x) * (1 - K * math.pi**2 * t)  # u0 + t k u0''
    torch.testing.assert_close(euler_target(solver, batch), expected, rtol=0, atol=1e-10)


def test_the_target_divides_by_the_coefficient_of_u_t() -> None:
    # 2 u_t - u_xx + u = 0: u_t = (u0'' - u0) / 2 = -(pi^2 + 1) u0 / 2; the target is u0 + (t - 0.5) u_t
    problem = kp.PDE(kp.Interval(0, 1), lambda u: 2 * u.t - u.xx + u.value, bcs=[kp.Dirichlet(0)], time=(0.5, 1.5),
                     initial="sin(pi*x)")  # fmt: skip
    solver = _solver(problem)
    batch = solver._sample_batch(5)
    x, t = batch.interior.unbind(1)
    expected = torch.sin(math.pi * x) * (1 - (t - 0.5) * (math.pi**2 + 1) / 2)
    torch.testing.assert_close(euler_target(solver, batch), expected, rtol=0, atol=1e-10)


def test_the_fit_brings_the_network_to_the_target() -> None:
    solver = _solver(_heat())
    batch = solver._sample_batch(5)
    target = euler_target(solver, batch)
    before = float(((solver.predict(batch.interior) - target) ** 2).mean())
    fit = euler_start(solver, batch)
    after = float(((solver.predict(batch.interior) - target) ** 2).mean())
    assert after < 1e-4 * before, (before, after, fit)
    assert fit["loss"] == pytest.approx(after, rel=1e-6) and 1 <= fit["steps"] <= 20


def test_solve_with_the_start_trains_and_records_only_the_pde_steps() -> None:
    started = _solver(_heat()).solve(grid_schedule=[5], steps=5, progress=False, start="euler")
    plain = _solver(_heat()).solve(grid_schedule=[5], steps=5, progress=False)
    assert started.rel_l2 is not None and plain.rel_l2 is not None
    assert started.stages[0].steps == plain.stages[0].steps == 5
    assert started.history[0].loss != plain.history[0].loss  # the first PDE step starts from the fitted network


@pytest.mark.parametrize(
    ("problem", "options", "match"),
    [
        (kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)]), {}, "first order in time"),
        (
            kp.Wave(kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", initial_velocity=0, bcs=[kp.Dirichlet(0)]),
            {},
            "first order in time",
        ),
        (_heat(), {"hard_constraint": False}, "imposed exactly"),
    ],  # fmt: skip
)
def test_problems_it_does_not_apply_to_are_refused(problem: kp.Problem, options: dict, match: str) -> None:
    solver = _solver(problem, **options)
    with pytest.raises(ValueError, match=match):
        solver.solve(grid_schedule=[5], steps=1, progress=False, start="euler")
    assert solver.history == []  # refused before any training


def test_bad_start_names_the_argument() -> None:
    solver = _solver(_heat())
    with pytest.raises(ValueError, match="start must be None or one of"):
        solver.solve(grid_schedule=[5], steps=1, progress=False, start="taylor")
    with pytest.raises(ValueError, match="does not combine with time_windows"):
        solver.solve(grid_schedule=[5], steps=1, progress=False, start="euler", time_windows=2)


def test_a_residual_without_u_t_is_refused() -> None:
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.xx + 1, bcs=[kp.Dirichlet(0)], time=(0, 1), initial=0)
    solver = _solver(problem)
    with pytest.raises(ValueError, match="u_t term"):
        solver.solve(grid_schedule=[5], steps=1, progress=False, start="euler")
