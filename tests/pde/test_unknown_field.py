"""Unknown coefficient fields: a second KAN identified with the solution (``-div(a grad u) = f``)."""

from __future__ import annotations

import math

import pytest
import torch

import kanpde as kp
from kanpde.pde.fields import FieldJet

PI = math.pi


def _conductivity_problem(a: kp.UnknownField, n_obs: int = 300) -> kp.PDE:
    """``-div(a grad u) = f`` on the unit square, true ``a = 1 + x^2``, ``u = sin(pi x) sin(pi y)`` observed."""

    def source(u: kp.pde.fields.Fields) -> torch.Tensor:  # type: ignore[name-defined]
        x, y = u.coord("x"), u.coord("y")
        return (1 + x**2) * 2 * PI**2 * torch.sin(PI * x) * torch.sin(PI * y) - 2 * x * PI * torch.cos(
            PI * x
        ) * torch.sin(PI * y)

    def residual(u: kp.pde.fields.Fields) -> torch.Tensor:  # type: ignore[name-defined]
        au = a(u)
        return -(au.value * u.laplacian + (au.grad * u.grad).sum(1)) - source(u)

    g = torch.Generator().manual_seed(0)
    points = torch.rand(n_obs, 2, generator=g, dtype=torch.float64)
    values = torch.sin(PI * points[:, 0]) * torch.sin(PI * points[:, 1])
    return kp.PDE(kp.Rectangle((0, 0), (1, 1)), residual, bcs=[kp.Dirichlet(0)],
                  data=[kp.Observations(points, values)], unknowns=[a], exact="sin(pi*x)*sin(pi*y)")  # fmt: skip


def _field_error(solver: kp.Solver) -> float:
    test = torch.rand(4000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    values, true = solver.unknown_field("a")(test), 1 + test[:, 0] ** 2
    return float((values - true).norm() / true.norm())


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("composable", [False, True])
def test_field_jet_matches_autograd(positive: bool, composable: bool) -> None:
    a = kp.UnknownField("a", width=[2, 3, 1], positive=positive, time=True)
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.t - a(u).value * u.xx - a(u).x * u.x, time=(0, 2),
                     initial="sin(pi*x)", bcs=[kp.Dirichlet(0)], unknowns=[a])  # fmt: skip
    inverse = kp.Solver(problem, seed=0).approximation.inverse
    points = torch.rand(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * torch.tensor([1, 2])
    like = FieldJet(points[:, :1], points[:, None, :], points[:, :1], points[:, None, :, None].expand(7, 1, 2, 2))
    jet = inverse("a", points, like, composable)
    x = points.clone().requires_grad_(True)
    value = inverse("a", x, None).value[:, 0]
    (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
    hess = torch.stack([torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True)[0] for i in range(2)], dim=1)
    torch.testing.assert_close(jet.value[:, 0], value)
    torch.testing.assert_close(jet.grad[:, 0], grad)
    torch.testing.assert_close(jet.hess[:, 0], hess)
    if positive:
        assert bool((jet.value > 0).all())


def test_conductivity_field_small_budget() -> None:
    """A small budget already finds the field to about a percent; grid extension refines it with u."""
    a = kp.UnknownField("a", width=[2, 3, 1])
    solver = kp.Solver(_conductivity_problem(a), width=[2, 5, 1], seed=0, n_interior=300)
    result = solver.solve(grid_schedule=[3, 6], steps=25, progress=False)
    assert _field_error(solver) < 3e-2
    assert solver.approximation.inverse.fields["a"].grid_size >= 6
    assert result.stages[1].switch_ratio == pytest.approx(1.0, abs=1e-6)


def test_unknown_field_outside_solve_and_names() -> None:
    a = kp.UnknownField("a", width=[2, 3, 1])
    problem = _conductivity_problem(a, n_obs=10)
    solver = kp.Solver(problem, width=[2, 3, 1], seed=0)
    assert solver.unknown_field("a")(torch.zeros(3, 2, dtype=torch.float64)).shape == (3,)
    with pytest.raises(ValueError, match="no UnknownField named 'b'"):
        solver.unknown_field("b")
    with pytest.raises(RuntimeError, match="evaluated inside a solve only"):
        problem.residual(kp.pde.fields.Fields(FieldJet(torch.zeros(2, 1)), torch.zeros(2, 2), ("x", "y")))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"width\[0\] must be 2"):
        kp.Solver(_conductivity_problem(kp.UnknownField("a", width=[3, 3, 1]), n_obs=10), seed=0)


@pytest.mark.slow
def test_conductivity_field_recovered_with_formula() -> None:
    import sympy

    a = kp.UnknownField("a", width=[2, 3, 1])
    solver = kp.Solver(_conductivity_problem(a, n_obs=400), seed=0)
    solver.solve(grid_schedule=[5, 10], steps=100, progress=False)
    assert _field_error(solver) <= 1e-3
    x = sympy.Symbol("x")
    assert sympy.simplify(solver.symbolic(field="a") - (1 + x**2)) == 0


def test_field_formula_through_the_symbolic_pipeline() -> None:
    """``solver.symbolic(field="a")`` gives the field's formula (here a field fitted to 1 + x^2 directly)."""
    import sympy

    a = kp.UnknownField("a", width=[2, 3, 1], grid=8)
    solver = kp.Solver(_conductivity_problem(a, n_obs=10), width=[2, 3, 1], seed=0)
    inverse = solver.approximation.inverse
    points = torch.rand(400, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    inverse.fields["a"].fit(inverse.field_inputs("a", points), (1 + points[:, :1] ** 2), steps=200, optimizer="lm")
    test = torch.rand(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert float((solver.unknown_field("a")(test) - (1 + test[:, 0] ** 2)).abs().max()) < 1e-4
    assert sympy.simplify(solver.symbolic(field="a") - (1 + sympy.Symbol("x") ** 2)) == 0


def test_unknown_field_as_heat_diffusivity() -> None:
    """``kp.Heat(diffusivity=a)`` reads the field's value (``u_t - a Laplace(u)``, the form kp.Heat writes)."""
    a = kp.UnknownField("a", width=[1, 2, 1], positive=True)
    x = torch.rand(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=a, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                      data=[kp.Observations(x, torch.zeros(30))])  # fmt: skip
    assert problem.unknowns == (a,)
    solver = kp.Solver(problem, width=[2, 3, 1], seed=0, n_interior=60)
    before = {n: p.detach().clone() for n, p in solver.approximation.inverse.fields["a"].named_parameters()}
    solver.solve(grid_schedule=[3], steps=2, progress=False)
    after = dict(solver.approximation.inverse.fields["a"].named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)  # the field is trained
