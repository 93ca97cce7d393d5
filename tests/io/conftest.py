"""Small solvers shared by the io tests (built once per session: a few steps on few points)."""

from __future__ import annotations

import pytest

import kanpde as kp

FAST = {"n_interior": 100, "n_boundary": 32, "n_test": 200}


@pytest.fixture(scope="session")
def poisson_1d() -> tuple[kp.Solver, kp.Result]:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0, **FAST)
    return solver, solver.solve(grid_schedule=[3, 5], steps=3, progress=False)


@pytest.fixture(scope="session")
def poisson_2d() -> kp.Solver:
    problem = kp.Poisson(
        kp.Rectangle((0, 0), (1, 2)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y)",
    )  # fmt: skip
    return kp.Solver(problem, width=[2, 3, 1], seed=0, **FAST)


@pytest.fixture(scope="session")
def poisson_hole() -> kp.Solver:
    problem = kp.Poisson(kp.Rectangle((-1, -1), (1, 1)) - kp.Disk((0, 0), 0.4), f=1, bcs=[kp.Dirichlet(0)])
    return kp.Solver(problem, width=[2, 3, 1], seed=0, **FAST)


@pytest.fixture(scope="session")
def heat_1d() -> kp.Solver:
    problem = kp.Heat(
        kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="exp(-pi**2*t)*sin(pi*x)"
    )
    return kp.Solver(problem, width=[2, 3, 1], seed=0, **FAST)
