"""verify_formula: a formula substituted into the PDE and the conditions, exactly where possible."""

from __future__ import annotations

import json
import math

import pytest
import sympy
import torch

import kanpde as kp
from kanpde.symbolic.verify import is_zero, simplifies_to_zero, verify_formula

X, Y, T = sympy.symbols("x y t")
PI = sympy.pi


def _poisson_1d() -> kp.Problem:
    return kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")


def test_the_exact_solution_verifies_exactly() -> None:
    check = verify_formula(sympy.sin(PI * X), _poisson_1d())
    assert check.pde_exact_zero is True and check.pde_residual == 0
    assert check.is_solution is True and check.equals_exact is True
    assert all(value < 1e-12 for value in check.max_residuals.values())
    assert check.summary.startswith("exact solution")


def test_a_wrong_formula_is_not_a_solution() -> None:
    check = verify_formula(sympy.sin(PI * X) + X / 100, _poisson_1d())
    assert check.pde_exact_zero is True  # x/100 is harmonic in 1-D ...
    assert check.conditions[0].exact_zero is False  # ... but not zero at x = +-1
    assert check.is_solution is False and check.equals_exact is False
    assert check.conditions[0].max_abs == pytest.approx(0.01, rel=1e-6)
    assert check.summary.startswith("NOT verified")


def test_a_wrong_pde_residual_is_symbolic_and_non_zero() -> None:
    check = verify_formula(sympy.sin(PI * X) * (1 + X**2 / 100), _poisson_1d())
    assert check.pde_exact_zero is False and check.is_solution is False
    assert check.pde_residual is not None and check.pde_residual.free_symbols == {X}
    assert check.max_residuals["pde"] > 1e-3


def test_a_rounded_constant_is_not_exact() -> None:
    problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                      exact="exp(-pi**2*t)*sin(pi*x)")  # fmt: skip
    rounded = sympy.exp(-sympy.Float(math.pi**2) * T) * sympy.sin(PI * X)  # pi^2 to 16 digits
    check = verify_formula(rounded, problem)
    assert check.pde_exact_zero is False and "30-digit" in check.pde.method
    assert check.max_residuals["pde"] < 1e-12  # numerically it is as good as the exact one
    assert verify_formula(sympy.exp(-(PI**2) * T) * sympy.sin(PI * X), problem).is_solution is True


def test_neumann_robin_and_side_conditions() -> None:
    neumann = kp.Poisson(kp.Interval(0, 1), f=-2, bcs=[kp.Neumann(-2, on="left"), kp.Dirichlet(4, on="right")])
    robin = kp.Poisson(kp.Interval(0, 1), f=-2, bcs=[kp.Dirichlet(1, on="left"), kp.Robin(1, 1, 8, on="right")])
    for problem in (neumann, robin):
        assert verify_formula((X + 1) ** 2, problem).is_solution is True
        check = verify_formula((X + 1) ** 2 + X * (1 - X) / 10, problem)  # -u'' = -2 + 1/5: PDE fails
        assert check.pde_exact_zero is False and check.is_solution is False


def test_a_general_pde_residual_is_evaluated_symbolically() -> None:
    heat = kp.PDE(kp.Interval(0, 1), lambda u: u.t - u.xx, time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    check = verify_formula(sympy.exp(-(PI**2) * T) * sympy.sin(PI * X), heat)
    assert check.pde.residuals and check.is_solution is True


def test_a_residual_written_with_torch_is_checked_numerically() -> None:
    def residual(u: object) -> torch.Tensor:
        x = u.coord("x")  # type: ignore[attr-defined]
        return -u.xx - math.pi**2 * torch.sin(math.pi * x)  # type: ignore[attr-defined]

    problem = kp.PDE(kp.Interval(-1, 1), residual, bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    check = verify_formula(sympy.sin(PI * X), problem)
    assert check.pde_exact_zero is None and check.pde.residuals == ()
    assert check.max_residuals["pde"] < 1e-10
    assert check.is_solution is None and check.equals_exact is True
    assert "not checked exactly" in check.summary


def test_dirichlet_data_on_a_curved_boundary() -> None:
    domain = kp.Rectangle((-1, -1), (1, 1)) - kp.Disk((0.2, 0.1), 0.4)
    problem = kp.Poisson(domain, f=0, bcs=[kp.Dirichlet("exp(x)*sin(y)")], exact="exp(x)*sin(y)")
    assert verify_formula(sympy.exp(X) * sympy.sin(Y), problem).is_solution is True  # u - g vanishes everywhere
    check = verify_formula(sympy.exp(X) * sympy.sin(Y) + X * Y, problem)  # harmonic, wrong on the boundary
    assert check.conditions[0].exact_zero is None and check.conditions[0].max_abs > 0.1
    assert check.is_solution is None and check.equals_exact is False


def test_the_record_is_json_ready() -> None:
    record = verify_formula(sympy.sin(PI * X), _poisson_1d(), network=lambda p: torch.sin(math.pi * p[:, 0])).to_dict()
    assert json.loads(json.dumps(record))["is_solution"] is True
    assert record["latex"] == r"\sin{\left(\pi x \right)}" and record["network_rel_l2"] < 1e-12


def test_is_zero_needs_a_rewrite_or_thirty_digits() -> None:
    points = torch.rand(4, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert is_zero(sympy.sin(X) ** 2 + sympy.cos(X) ** 2 - 1, [X], points)[0] is True
    assert is_zero(sympy.sin(2 * X) - 2 * sympy.sin(X) * sympy.cos(X), [X], points)[0] is True
    assert is_zero(sympy.sin(X) - sympy.sin(X * sympy.Float(1 + 1e-15)), [X], points)[0] is False
    assert simplifies_to_zero(sympy.exp(X) * sympy.exp(-X) - 1) is True


def test_each_problem_says_its_residual_in_sympy() -> None:
    x, y, t = sympy.symbols("x y t")
    symbols = {"x": x, "y": y, "t": t}
    square = kp.Rectangle((0, 0), (1, 1))
    poisson = kp.Poisson(square, f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)])
    assert sympy.simplify(poisson.sympy_residual(sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y), symbols)) == 0
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity="1 + x", initial="x", bcs=[kp.Dirichlet("x")])
    assert sympy.simplify(heat.sympy_residual(x * t, symbols) - (x - 1 * t)) == 0  # u_t - d/dx((1 + x) u_x) = x - t
    wave = kp.Wave(kp.Interval(0, 1), time=(0, 1), speed=2, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    standing = sympy.sin(sympy.pi * x) * sympy.cos(2 * sympy.pi * t)
    assert sympy.simplify(wave.sympy_residual(standing, symbols)) == 0
    burgers = kp.PDE(kp.Interval(-1, 1), lambda u: u.t + u.value * u.x - u.xx, time=(0, 1), initial="0",
                     bcs=[kp.Dirichlet(0)])  # fmt: skip
    assert sympy.simplify(burgers.sympy_residual(x * t, symbols) - (x + x * t**2)) == 0
    with_torch = kp.PDE(kp.Interval(-1, 1), lambda u: torch.sin(u.value) - u.xx, bcs=[kp.Dirichlet(0)])
    assert with_torch.sympy_residual(x, symbols) is None  # a torch function: no sympy form, checked numerically
