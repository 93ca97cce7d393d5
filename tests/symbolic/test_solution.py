"""solution_formula / Solver.symbolic(): a trained PDE solution back as its exact formula, verified; and the files
``kanpde solve`` writes beside the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
import torch

import kanpde as kp
from kanpde.cli import write_formula
from kanpde.symbolic.solution import solution_formula

X = sympy.Symbol("x")
PI = sympy.pi


def _solved(problem: kp.Problem, steps: int, grid_schedule: tuple[int, ...] = (5,)) -> kp.Solver:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    solver = kp.Solver(problem, width=[1, 5, 1], n_interior=500, seed=0)
    solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    torch.set_num_threads(previous)
    return solver


@pytest.fixture(scope="module")
def poisson() -> kp.Solver:
    """-u'' = pi^2 sin(pi x) on [-1, 1], u(+-1) = 0, trained to a relative error of about 1e-6."""
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    return _solved(problem, steps=30, grid_schedule=(5, 10))


def test_poisson_solution_is_recovered_exactly(poisson: kp.Solver) -> None:
    found = solution_formula(poisson)
    assert found.expr == sympy.sin(PI * X) and found.route == "recover"
    assert found.is_solution and found.verification is not None
    assert found.verification.equals_exact is True and found.verification.pde_exact_zero is True
    assert found.rel_error_network < 1e-4 and found.rel_error_exact is not None and found.rel_error_exact < 1e-12
    assert [c.route for c in found.candidates] == ["recover"]  # verified: no need to compose the edges
    assert poisson.symbolic() == sympy.sin(PI * X)  # the contract: a sympy expression


def test_mixed_neumann_problem_is_recovered_exactly() -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f=-2, bcs=[kp.Neumann(-2, on="left"), kp.Dirichlet(4, on="right")])
    found = solution_formula(_solved(problem, steps=30))
    assert sympy.simplify(found.expr - (X + 1) ** 2) == 0 and found.is_solution


@pytest.fixture(scope="module")
def untrained() -> kp.Solver:
    """Two optimiser steps: the network is far from any solution."""
    problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    return _solved(problem, steps=2)


SMALL_LIBRARY = ["x", "x^2", "sin", "exp"]


def test_recovery_that_does_not_fit_fails_with_the_reason(untrained: kp.Solver) -> None:
    with pytest.raises(ValueError, match="recover: the recovered structure .* misses the function"):
        solution_formula(untrained, routes=("recover",), recover_options={"library": SMALL_LIBRARY})


def test_a_formula_that_does_not_fit_is_not_reported_as_a_solution(untrained: kp.Solver) -> None:
    # the composed formula (the network's own) comes with its errors, never as a solution
    found = solution_formula(untrained, routes=("compose",), library=SMALL_LIBRARY)
    assert found.route == "compose"
    assert found.verification is not None and found.verification.is_solution is not True
    assert not found.is_solution and found.verification.equals_exact is False
    assert found.rel_error_exact is not None and found.rel_error_exact > 1e-3
    assert found.verification.summary.startswith("NOT verified")


def test_composing_the_edges_is_the_other_route(poisson: kp.Solver) -> None:
    found = solution_formula(poisson, routes=("compose",))
    assert found.route == "compose" and found.rel_error_network < 1e-2
    assert found.verification is not None and found.verification.max_residuals["dirichlet"] < 1e-12  # b N + g


def test_kanpde_solve_writes_the_formula_its_latex_and_the_verification(poisson: kp.Solver, tmp_path: Path) -> None:
    formula, files = write_formula(poisson, tmp_path)
    assert formula == sympy.sin(PI * X)
    assert sorted(p.name for p in files) == ["formula.tex", "formula.txt", "verification.json"]
    assert (tmp_path / "formula.tex").read_text().strip() == r"u = \sin{\left(\pi x \right)}"
    assert "exact solution" in (tmp_path / "formula.txt").read_text()
    record = json.loads((tmp_path / "verification.json").read_text())
    assert record["is_solution"] is True and record["verification"]["equals_exact"] is True
    assert record["verification"]["pde"]["exact_zero"] is True
