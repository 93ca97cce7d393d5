"""The checks after a solve: unmet conditions, collapse toward a constant, an unresolved PDE residual."""

from __future__ import annotations

import math

import pytest
import torch

import kanpde as kp
from kanpde.pde.diagnostics import TermBalance, hints, term_balance
from kanpde.pde.residuals import approximation_source, collocation_terms


def test_hints_name_the_unmet_condition_and_the_remedy() -> None:
    balances = [TermBalance("pde", 1e-6, 1.0), TermBalance("inlet", 0.2, 1.0, value_spread=0.5)]
    found = hints(balances, solution_spread=0.4)
    assert len(found) == 1
    assert "'inlet' is not met" in found[0] and "20%" in found[0] and "favours the PDE" in found[0]
    assert "weights={'inlet': 100}" in found[0]


def test_hints_report_a_collapse_toward_a_constant() -> None:
    balances = [TermBalance("pde", 1e-8, 0.0), TermBalance("dirichlet", 0.5, 0.6, value_spread=0.5)]
    found = hints(balances, solution_spread=1e-3)
    assert any("almost constant" in h for h in found)


def test_hints_report_an_unresolved_pde_when_conditions_hold() -> None:
    balances = [TermBalance("pde", 0.5, 2.0), TermBalance("dirichlet", 1e-6, 1.0, value_spread=0.5)]
    (found,) = hints(balances, solution_spread=0.5)
    assert "PDE residual is 25%" in found and "grid_schedule" in found


def test_no_hints_when_every_term_is_met() -> None:
    balances = [TermBalance("pde", 1e-5, 2.0), TermBalance("dirichlet", 1e-7, 0.0), TermBalance("initial", 1e-5, 1.0)]
    assert hints(balances, solution_spread=0.5) == []


def _problem() -> kp.Poisson:
    # u = sin(pi x) + 2 x: the boundary data (0 and 2) carry part of the solution.
    return kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet("2*x")], exact="sin(pi*x) + 2*x")


def test_term_balance_measures_data_by_the_residual_of_zero() -> None:
    solver = kp.Solver(_problem(), width=[1, 4, 1], grid=5, seed=0, n_interior=200, hard_constraint=False)
    batch = solver._sample_batch(5)
    terms = collocation_terms(solver.problem, batch, solver.request)
    pde, dirichlet = term_balance(terms, approximation_source(solver.approximation), n_fields=1)
    x = batch.interior[:, 0]
    expected_source = float((math.pi**2 * torch.sin(math.pi * x)).pow(2).mean().sqrt())
    assert pde.data_rms == pytest.approx(expected_source, rel=1e-12)
    ends = batch.conditions[0][1].points[:, 0]
    assert dirichlet.data_rms == pytest.approx(float((2 * ends).pow(2).mean().sqrt()), rel=1e-12)
    assert dirichlet.value_spread == pytest.approx(float((2 * ends).std(correction=0)), rel=1e-9)
    assert pde.value_spread is None


def test_a_solve_that_ignores_its_boundary_says_so() -> None:
    ignored = kp.Solver(_problem(), width=[1, 4, 1], seed=0, n_interior=200, hard_constraint=False,
                        weights={"dirichlet": 1e-10})  # fmt: skip
    result = ignored.solve(grid_schedule=[5], steps=30, progress=False)
    assert any("'dirichlet' is not met" in h for h in result.hints), result.hints
    assert "hint: condition 'dirichlet'" in result.summary()
    balanced = kp.Solver(_problem(), width=[1, 4, 1], seed=0, n_interior=200, hard_constraint=False)
    result = balanced.solve(grid_schedule=[5], steps=30, progress=False)
    assert result.rel_l2 is not None and result.rel_l2 < 1e-3
    assert result.hints == [] and "hint" not in result.summary()
