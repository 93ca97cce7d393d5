"""Conservation form: kp.Heat(diffusivity=k) and kp.Poisson(coefficient=k) with k a number, an expression, a
callable or a matrix; -div(k grad u) against manufactured solutions (sympy), validation, verification, recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

import kanpde as kp
from kanpde.pde.coefficients import coefficient_at, make_diffusion
from kanpde.pde.expressions import Expression
from kanpde.pde.fields import FieldJet, Fields

x, y, t = sympy.symbols("x y t")
SPACE = {"x": x, "y": y}


def divergence(k: object, u: sympy.Expr, space: list[sympy.Symbol]) -> sympy.Expr:
    """div(k grad u) by sympy, k a sympy scalar or a list of rows."""
    if isinstance(k, list):
        return sum(sympy.diff(k[i][j] * sympy.diff(u, space[j]), space[i]) for i in range(len(space))
                   for j in range(len(space)))  # fmt: skip
    return sum(sympy.diff(k * sympy.diff(u, s), s) for s in space)


def exact_fields(u: sympy.Expr, coords: tuple[str, ...], points: torch.Tensor) -> Fields:
    """Fields of the formula ``u`` at ``points``: value, gradient and full Hessian from sympy."""
    symbols = [sympy.Symbol(c) for c in coords]
    u = u.xreplace({s: sympy.Symbol(s.name) for s in u.free_symbols})

    def values(expr: sympy.Expr) -> torch.Tensor:
        return Expression(expr, coords=coords, name="u")(points)

    grad = torch.stack([values(sympy.diff(u, s)) for s in symbols], dim=1)
    hess = torch.stack([torch.stack([values(sympy.diff(u, a, b)) for b in symbols], 1) for a in symbols], 1)
    return Fields(FieldJet(values(u)[:, None], grad[:, None], None, hess[:, None]), points, coords)


K_ANISO = [[2, sympy.Rational(1, 2)], [sympy.Rational(1, 2), 1]]
U2 = sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y) * sympy.exp(x * y / 2)
CASES = {
    "number": (3, 3),
    "expression": ("1 + x**2 + y/2", 1 + x**2 + y / 2),
    "callable": (lambda p: 1 + p[:, 0] ** 2 + p[:, 1] / 2, 1 + x**2 + y / 2),
    "matrix": (K_ANISO, K_ANISO),
    "numpy matrix": (np.array([[2.0, 0.5], [0.5, 1.0]]), K_ANISO),
    "diagonal matrix": ([[2, 0], [0, "1 + x"]], [[2, 0], [0, 1 + x]]),
    "expression matrix": ([["2 + x", "x*y/4"], ["x*y/4", "1 + y**2"]], [[2 + x, x * y / 4], [x * y / 4, 1 + y**2]]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_poisson_residual_vanishes_on_the_manufactured_solution(case: str) -> None:
    given, symbolic = CASES[case]
    f = -divergence(symbolic, U2, [x, y])
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=f, bcs=[kp.Dirichlet(0)], exact=U2, coefficient=given)
    points = problem.domain.sample_interior(200, generator=torch.Generator().manual_seed(0))
    fields = exact_fields(U2, problem.coords, points)
    residual = problem.residual(fields)
    assert float(residual.abs().max()) < 1e-10
    wrong = exact_fields(U2 + x * y * (1 - x), problem.coords, points)
    assert float(problem.residual(wrong).abs().max()) > 1e-2  # the check can fail


@pytest.mark.parametrize("case", ["expression", "matrix", "expression matrix"])
def test_heat_residual_is_the_conservation_law(case: str) -> None:
    given, symbolic = CASES[case]
    if case == "expression":  # a time-dependent diffusivity too
        given, symbolic = "1 + x**2 + y/2 + t", 1 + x**2 + y / 2 + t
    u = U2 * sympy.exp(-t)
    f = sympy.diff(u, t) - divergence(symbolic, u, [x, y])
    problem = kp.Heat(kp.Rectangle((0, 0), (1, 1)), time=(0, 1), diffusivity=given, f=f,
                      initial=u.subs(t, 0), bcs=[kp.Dirichlet(0)], exact=u)  # fmt: skip
    points = problem.domain.sample_interior(200, generator=torch.Generator().manual_seed(0))
    fields = exact_fields(u, problem.coords, points)
    assert float(problem.residual(fields).abs().max()) < 1e-10
    # The old non-conservative form u_t - k Laplace(u) is not what is built (unless k is constant).
    if case == "expression":
        wrong_f = sympy.diff(u, t) - symbolic * (sympy.diff(u, x, 2) + sympy.diff(u, y, 2))
        assert float(sympy.Abs((f - wrong_f).subs({x: 0.3, y: 0.6, t: 0.2}))) > 0.1


def test_mixed_derivatives_ask_for_the_full_hessian_only_when_needed() -> None:
    def request(coefficient: object) -> int:
        problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)], coefficient=coefficient)
        return kp.Solver(problem, width=[2, 2, 1], seed=0).request.level

    assert request(2.0) == 2 and request("1 + x") == 2  # Laplacian and gradient
    assert request(K_ANISO) == 3  # full Hessian (mixed second derivatives)


def test_heat_with_diffusivity_one_plus_x_solves() -> None:
    """u_t - d/dx((1 + x) u_x) = f on [0, 1] x [0, 1], u = exp(-t) sin(pi x) (manufactured)."""
    u = sympy.exp(-t) * sympy.sin(sympy.pi * x)
    f = sympy.diff(u, t) - sympy.diff((1 + x) * sympy.diff(u, x), x)
    problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity="1 + x", f=f, initial="sin(pi*x)",
                      bcs=[kp.Dirichlet(0)], exact=u)  # fmt: skip
    assert "div((x + 1) grad u)" in problem.description
    result = kp.Solver(problem, width=[2, 5, 1], seed=0, n_test=4000).solve(grid_schedule=[5], steps=20, progress=False)
    assert result.rel_l2 < 1e-3


def test_anisotropic_heat_solves() -> None:
    """u_t - div(K grad u) = f, K = [[2, 1/2], [1/2, 1]] (constant SPD), u = exp(-t) sin(pi x) sin(pi y)."""
    u = sympy.exp(-t) * sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y)
    f = sympy.diff(u, t) - divergence(K_ANISO, u, [x, y])
    problem = kp.Heat(kp.Rectangle((0, 0), (1, 1)), time=(0, 1), diffusivity=[[2, 0.5], [0.5, 1]], f=f,
                      initial=u.subs(t, 0), bcs=[kp.Dirichlet(0)], exact=u)  # fmt: skip
    result = kp.Solver(problem, width=[3, 5, 1], seed=0, n_test=4000).solve(grid_schedule=[5], steps=20, progress=False)
    assert result.rel_l2 < 1e-3


def test_poisson_with_a_varying_coefficient_in_three_dimensions_solves() -> None:
    z = sympy.Symbol("z")
    u = sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y) * sympy.sin(sympy.pi * z)
    k = 1 + x + y * z
    f = -sum(sympy.diff(k * sympy.diff(u, s), s) for s in (x, y, z))
    problem = kp.Poisson(kp.Box((0, 0, 0), (1, 1, 1)), f=f, bcs=[kp.Dirichlet(0)], exact=u, coefficient="1 + x + y*z")
    result = kp.Solver(problem, width=[3, 4, 1], seed=0, n_test=4000).solve(grid_schedule=[4], steps=20, progress=False)
    assert result.rel_l2 < 1e-2


@pytest.mark.parametrize(
    ("coefficient", "error", "match"),
    [
        ([[1, 0, 0], [0, 1, 0]], ValueError, r"2 x 2 matrix for a 2-D domain"),
        ([[1, 0], [0, 1, 2]], ValueError, "2 x 2 matrix"),
        ([[2, 1], [0.5, 1]], ValueError, "symmetric.*coefficient\\[0\\]\\[1\\]"),
        ([["1", "x"], ["y", "1"]], ValueError, "symmetric"),
        ([[1, 2], [2, 1]], ValueError, "positive definite.*eigenvalues"),
        ([[0, 0], [0, 1]], ValueError, "positive definite"),
        ([1, 2], ValueError, "flat sequence"),
        ([[True, 0], [0, 1]], TypeError, r"coefficient\[0\]\[0\]"),
        ([["1", "q"], ["q", "1"]], ValueError, "unknown symbol"),
        (-1.0, ValueError, "coefficient must be positive"),
        (0, ValueError, "coefficient must be positive"),
        (torch.eye(3), ValueError, "2 x 2"),
    ],
)
def test_bad_coefficients_are_refused_when_the_problem_is_built(coefficient: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)], coefficient=coefficient)


def test_varying_coefficients_are_checked_in_the_domain() -> None:
    square = kp.Rectangle((0, 0), (1, 1))
    problem = kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], coefficient=[["1", "2*x + 2"], ["2*x + 2", "1"]])
    with pytest.raises(ValueError, match="positive definite in the domain"):
        kp.Solver(problem, width=[2, 2, 1])
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity="x - 2", initial=0, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="diffusivity must be positive in the domain"):
        kp.Solver(heat, width=[2, 2, 1])
    with pytest.raises(ValueError, match="diffusivity must be a 1 x 1 matrix"):
        kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=[[1, 0], [0, 1]], initial=0, bcs=[kp.Dirichlet(0)])


def test_coefficient_hook_gives_value_and_gradient() -> None:
    """The one function an unknown coefficient field would replace: value and space gradient at the points."""
    coords = ("x", "y", "t")
    points = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k = Expression("x**2*y + t", coords=coords, name="k")
    symbolic = coefficient_at(k, [k.derivative("x"), k.derivative("y")], points, (0, 1))
    by_autograd = coefficient_at(Expression(lambda p: p[:, 0] ** 2 * p[:, 1] + p[:, 2], coords=coords, name="k"),
                                 None, points, (0, 1))  # fmt: skip
    expected = torch.stack([2 * points[:, 0] * points[:, 1], points[:, 0] ** 2], dim=1)
    torch.testing.assert_close(symbolic.gradient, expected)
    torch.testing.assert_close(by_autograd.gradient, expected)
    torch.testing.assert_close(by_autograd.value, symbolic.value)
    assert coefficient_at(Expression(2.0, coords=coords, name="k"), None, points, (0, 1)).gradient is None
    assert make_diffusion("2", coords=coords, name="k").is_constant


def test_verification_uses_the_conservation_form() -> None:
    from kanpde.symbolic.verify import verify_formula

    f = -divergence(1 + x, U2, [x, y])
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=f, bcs=[kp.Dirichlet(0)], coefficient="1 + x")
    assert verify_formula(U2, problem).pde.exact_zero is True
    assert verify_formula(U2 * (1 + x * y / 10), problem).pde.exact_zero is False
    u = U2 * sympy.exp(-t)
    f = sympy.diff(u, t) - divergence(K_ANISO, u, [x, y])
    heat = kp.Heat(kp.Rectangle((0, 0), (1, 1)), time=(0, 1), diffusivity=[[2, "1/2"], ["1/2", 1]], f=f,
                   initial=u.subs(t, 0), bcs=[kp.Dirichlet(0)])  # fmt: skip
    assert verify_formula(u, heat).pde.exact_zero is True


def test_recipes_and_checkpoints_keep_the_coefficients(tmp_path: Path) -> None:
    from kanpde.io.recipe import problem_from_recipe, problem_recipe

    square = kp.Rectangle((0, 0), (1, 1))
    problems = [
        kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], coefficient=[["2 + x", "x*y/4"], ["x*y/4", "1 + y**2"]]),
        kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], coefficient="1 + x"),
        kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)]),
        kp.Heat(square, time=(0, 1), diffusivity=[[2, 0.5], [0.5, 1]], initial="x*y", bcs=[kp.Dirichlet(0)]),
    ]
    points = square.sample_interior(30, generator=torch.Generator().manual_seed(0))
    for problem in problems:
        recipe = problem_recipe(problem)
        assert recipe is not None
        assert ("coefficient" in recipe) == (problem is problems[0] or problem is problems[1])
        rebuilt = problem_from_recipe(recipe)
        where = torch.cat([points, torch.full((30, 1), 0.5, dtype=torch.float64)], 1) if problem.time else points
        u = U2 * (1 + t) if problem.time else U2
        torch.testing.assert_close(rebuilt.residual(exact_fields(u, problem.coords, where)),
                                   problem.residual(exact_fields(u, problem.coords, where)))  # fmt: skip
    solver = kp.Solver(problems[0], width=[2, 2, 1], seed=0)
    loaded = kp.Solver.load(solver.save(tmp_path / "k.kpt"))
    assert loaded.problem.diffusion.matrix is not None
    callable_k = kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], coefficient=lambda p: 1 + p[:, 0])
    assert problem_recipe(callable_k) is None  # code is not data: the problem must be passed again


def test_callable_coefficient_solves_with_the_default_optimiser() -> None:
    """A callable k is differentiated at the points inside the Levenberg-Marquardt Jacobian (torch.func)."""
    u = sympy.sin(sympy.pi * x)
    f = -sympy.diff((1 + x) * sympy.diff(u, x), x)
    problem = kp.Poisson(kp.Interval(0, 1), f=f, bcs=[kp.Dirichlet(0)], exact=u, coefficient=lambda p: 1 + p[:, 0])
    result = kp.Solver(problem, width=[1, 4, 1], seed=0, n_test=2000).solve(grid_schedule=[5], steps=15, progress=False)
    assert result.rel_l2 < 1e-5  # measured 1.9e-7
