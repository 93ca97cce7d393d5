"""Time windows hand on their end state without differentiating through every earlier window: the hard constraint
of window j gets exact values and space derivatives of ``u`` and ``u_t`` at ``t_j``, at a cost that grows linearly
with j (it grew about 3x per window, and 10 windows of a wave ran out of memory)."""

from __future__ import annotations

import time

import pytest
import torch

import kanpde as kp
from kanpde.pde.time_windows import BoundaryOnly, window_problem

F64 = torch.float64


def _problem(t1: float) -> kp.Wave:
    return kp.Wave(kp.Interval(0, 1), time=(0, t1), speed=1.0, initial="sin(pi*x)", initial_velocity="x*(1 - x)",
                   bcs=[kp.Dirichlet("x*sin(t)")])  # fmt: skip


def _chain(problem: kp.Wave, n: int) -> list[kp.Solver]:
    """``n`` windows of length 1, each network perturbed away from its near-linear start and frozen."""
    solvers, previous = [], None
    for j in range(n):
        solver = kp.Solver(window_problem(problem, (float(j), float(j + 1)), previous), width=[2, 4, 1], grid=5,
                           seed=j)  # fmt: skip
        with torch.no_grad():
            for p in solver.approximation.parameters():
                noise = torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel() + j), dtype=F64)
                p.add_(0.3 * noise).requires_grad_(False)
        solvers.append(solver)
        previous = solver.approximation
    return solvers


def test_constraint_jets_of_a_later_window_match_finite_differences_of_its_values() -> None:
    torch.set_num_threads(1)
    last = _chain(_problem(3.0), 3)[-1]
    points = last.problem.domain.sample_interior(50, generator=torch.Generator().manual_seed(0), dtype=F64)
    _, lift = last.approximation.constraint.jets(points, last.request)
    assert last.request.level == 3 and lift.hess is not None

    def g(p: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return last.approximation.constraint.lift(p)

    h = 1e-4
    for i in range(2):
        e = torch.zeros(2, dtype=F64)
        e[i] = h
        first = (g(points + e) - g(points - e)) / (2 * h)
        torch.testing.assert_close(lift.grad[:, 0, i], first, rtol=1e-6, atol=1e-6)
        for k in range(2):
            f = torch.zeros(2, dtype=F64)
            f[k] = h
            second = (g(points + e + f) - g(points + e - f) - g(points - e + f) + g(points - e - f)) / (4 * h * h)
            torch.testing.assert_close(lift.hess[:, 0, i, k], second, rtol=1e-4, atol=1e-4)
    assert float(lift.hess.abs().max()) > 1.0  # non-trivial second derivatives were checked


def test_the_cost_of_a_window_grows_linearly_with_the_windows_before_it() -> None:
    torch.set_num_threads(1)
    solvers = _chain(_problem(9.0), 9)
    points = solvers[0].problem.space.sample_interior(300, generator=torch.Generator().manual_seed(1), dtype=F64)

    def seconds(j: int) -> float:
        at = torch.cat([points, torch.full_like(points, j + 0.5)], dim=1)
        start = time.process_time()
        solvers[j].approximation.constraint.jets(at, solvers[j].request)
        return time.process_time() - start

    seconds(2)  # warm up
    early, late = min(seconds(2) for _ in range(3)), min(seconds(8) for _ in range(3))
    # linear: about 3x for 8 windows against 2 before; differentiating through the chain took 3^6 = 729x
    assert late < 15 * early, (early, late)


def _standing_wave(t1: float) -> kp.Wave:
    return kp.Wave(kp.Interval(0, 1), time=(0, t1), speed=1.0, initial="sin(pi*x)", initial_velocity=0,
                   bcs=[kp.Dirichlet(0)], exact="sin(pi*x)*cos(pi*t)")  # fmt: skip


def test_later_windows_of_a_wave_impose_the_boundary_exactly_and_fit_the_handed_over_initial_data() -> None:
    torch.set_num_threads(1)
    solver = kp.Solver(_standing_wave(1.0), width=[2, 6, 1], seed=0, n_interior=200, n_test=1000)
    result = solver.solve(grid_schedule=[6], steps=30, progress=False, time_windows=2)
    first, second = solver.approximation.windows
    assert not isinstance(first.constraint, BoundaryOnly)  # the problem's own initial data: exact
    assert isinstance(second.constraint, BoundaryOnly)
    terms = {name for h in result.history if h.stage == 1 for name in h.terms}
    assert {"initial", "initial_velocity"} <= terms  # the handed-over data are terms of the loss
    assert not {"initial", "initial_velocity"} & {name for h in result.history if h.stage == 0 for name in h.terms}
    x = torch.linspace(0.0, 1.0, 11, dtype=F64)
    boundary = torch.stack([torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=F64), torch.tensor([0.6, 0.7, 0.9, 1.0])], 1)
    with torch.no_grad():
        assert float(second(boundary).abs().max()) < 1e-14  # Dirichlet still exact
        edge = torch.stack([x, torch.full_like(x, 0.5)], dim=1)
        gap = (second(edge) - first(edge)).abs().max()
    assert 0 < float(gap) < 1e-3  # met by the loss, to about the error of the windows (measured 6e-5)
    assert result.rel_l2 < 1e-3  # measured 3.4e-5


def test_first_order_problems_keep_the_exact_handover() -> None:
    torch.set_num_threads(1)
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=0.1, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                   exact="exp(-0.1*pi**2*t)*sin(pi*x)")  # fmt: skip
    solver = kp.Solver(heat, width=[2, 3, 1], seed=0, n_interior=100, n_test=1000)
    solver.solve(grid_schedule=[3], steps=3, progress=False, time_windows=2)
    first, second = solver.approximation.windows
    assert second.constraint is not None and not isinstance(second.constraint, BoundaryOnly)
    x = torch.linspace(0.05, 0.95, 7, dtype=F64)
    edge = torch.stack([x, torch.full_like(x, 0.5)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(second(edge), first(edge), rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_five_periods_of_a_wave_reach_the_accuracy_of_one() -> None:
    """``wave_1d`` over t1 = 10 in ten windows against t1 = 2 in two, with the same settings (measured 5.9e-4
    against 4.9e-4; about 110 s and 20 s CPU, one thread)."""
    import problems

    torch.set_num_threads(1)
    errors = {}
    for name in ("wave_1d", "wave_1d_long"):
        module = problems.load(name)
        settings = dict(module.SETTINGS)
        solve = {key: settings.pop(key) for key in ("grid_schedule", "steps", "time_windows")}
        result = kp.Solver(module.make_problem(), seed=0, **settings).solve(progress=False, **solve)
        assert result.stopped is None, result.stopped
        errors[name] = result.rel_l2
    print(errors)
    assert errors["wave_1d_long"] <= 2e-3 and errors["wave_1d_long"] <= 2 * errors["wave_1d"], errors


def _window_weights(**options: object) -> dict[float, tuple[str | None, dict[str, float]]]:
    """The balancing scheme and loss weights each window of a two-window standing wave trained with (by start)."""
    seen: dict[float, tuple[str | None, dict[str, float]]] = {}

    def record(piece: kp.Solver, _: object) -> None:
        seen[piece.problem.time.t0] = (piece.balancing, dict(piece.weights))

    solver = kp.Solver(_standing_wave(1.0), width=[2, 4, 1], seed=0, n_interior=100, n_test=500, **options)
    solver.solve(grid_schedule=[4], steps=2, progress=False, time_windows=2, callback=record)
    return seen


def test_later_windows_of_a_wave_balance_their_initial_data_by_default() -> None:
    """A solver built without weights balances the loss terms of each window as a solver of that window would: the
    first imposes all its data (no condition term, nothing to balance), a later one fits the handed-over initial
    data by the loss and weighs them by NTK traces. They had weight 1 against a PDE term whose Jacobian rows are
    over 1e4x larger, and the later windows of PINNacle's Wave1d-C (problems/wave_1d_c.py, 4 windows, grid 10) ended
    at 3.8e-1 instead of 3.0e-4."""
    torch.set_num_threads(1)
    seen = _window_weights()
    assert seen[0.0][0] is None and set(seen[0.0][1]) <= {"pde"}
    scheme, weights = seen[0.5]
    assert scheme == "ntk"
    assert weights["initial"] > 10 and weights["initial_velocity"] > 1  # balanced, not left at 1
    assert _window_weights(weights={})[0.5] == (None, {})  # weights={} keeps every weight 1
    assert _window_weights(weights={"initial": 10})[0.5] == (None, {"initial": 10.0})  # given weights are kept
    assert _window_weights(weights="adaptive")[0.5][0] == "adaptive"
