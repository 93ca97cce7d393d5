"""The closed-form Jacobian of the tapped jet against vmap(jacrev), and the syrk Gram matrix against J^T J."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp
from kanpde.pde.gauss_newton import ResidualSystem
from kanpde.pde.gram import Gram
from kanpde.pde.jet_jacobian import supports
from kanpde.pde.residuals import collocation_terms

F64 = torch.float64


def _hard_poisson() -> kp.Problem:
    return kp.Poisson(kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)])


def _mixed_derivative() -> kp.Problem:  # u_xy and u_xx + u_yy: the full Hessian jet
    return kp.PDE(kp.Rectangle((0, 0), (1, 2)), lambda u: u.xx + 0.5 * u.xy + u.yy - u.value**2,
                  bcs=[kp.Dirichlet("x*y")])  # fmt: skip


def _burgers() -> kp.Problem:  # nonlinear, a Laplacian over x only, an initial condition
    return kp.PDE(kp.Interval(-1, 1), lambda u: u.t + u.value * u.x - 0.01 * u.xx, bcs=[kp.Dirichlet(0)],
                  time=(0, 1), initial="-sin(pi*x)")  # fmt: skip


def _system() -> kp.Problem:  # two fields, two equations per row, conditions per field
    return kp.PDE(kp.Interval(0, 1), lambda u: torch.stack([u[0].xx + u[1].value, u[1].x - u[0].value * u[1].value], 1),
                  n_fields=2, bcs=[kp.Dirichlet(0), kp.Neumann(1, field=1)])  # fmt: skip


CASES = {
    "poisson-hard": (_hard_poisson, [2, 4, 1], True),
    "poisson-soft": (_hard_poisson, [2, 3, 3, 1], False),
    "hessian": (_mixed_derivative, [2, 3, 1], False),
    "burgers-hard": (_burgers, [2, 4, 1], True),
    "burgers-soft": (_burgers, [2, 3, 1], False),
    "system": (_system, [1, 3, 2], False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_closed_form_jacobian_equals_vmap_jacrev(case: str) -> None:
    make, width, hard = CASES[case]
    problem = make()
    solver = kp.Solver(problem, width=width, grid=4, k=3, seed=1, n_interior=30, n_boundary=10, hard_constraint=hard)
    with torch.no_grad():  # away from the initial network; wide enough that some inputs leave the knot range
        for p in solver.approximation.parameters():
            p.add_(0.8 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    terms = collocation_terms(problem, solver._sample_batch(), solver.request)
    system = ResidualSystem(solver.approximation, terms, {})
    params = system.parameters()
    for term, scale in zip(terms.terms, system.scales):
        assert supports(solver.approximation, term, system.names), term.label
        expected = system.jacobian(params, term, scale, fast=False)
        found = system.jacobian(params, term, scale, fast=True)
        assert found.shape == expected.shape
        assert float(expected.abs().max()) > 0
        torch.testing.assert_close(found, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))


def test_third_order_residuals_are_not_served_by_the_closed_form() -> None:
    """Nested autograd on the points is not a jet: the closed form declines (the solver uses L-BFGS there)."""
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.d("x", "x", "x") - 1, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[1, 2, 1], grid=3, k=3, seed=0, n_interior=8, n_boundary=4)
    terms = collocation_terms(problem, solver._sample_batch(), solver.request)
    system = ResidualSystem(solver.approximation, terms, {})
    pde = next(t for t in terms.terms if t.label == "pde")
    assert not supports(solver.approximation, pde, system.names)
    assert all(supports(solver.approximation, t, system.names) for t in terms.terms if t.label != "pde")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gram_equals_a_sum_of_products(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    blocks = [torch.randn(rows, 7, generator=generator, dtype=F64).to(dtype) for rows in (5, 11, 1)]
    gram = Gram(7, blocks[0])
    for block in blocks:
        gram.add(block)
    expected = sum(b.T @ b for b in blocks)
    found = gram.result()
    assert found.dtype == dtype
    torch.testing.assert_close(found, expected, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-5)
    torch.testing.assert_close(found, found.T, rtol=0, atol=0)
