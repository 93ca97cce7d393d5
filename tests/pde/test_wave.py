"""Problems second order in time: kp.Wave, initial_velocity= on kp.PDE, and u.tt on the jet path."""

from __future__ import annotations

import time

import pytest
import sympy
import torch

import kanpde as kp
from kanpde.io.recipe import problem_from_recipe, problem_recipe
from kanpde.pde.approximation import exact_dirichlet
from kanpde.pde.conditions import InitialVelocity
from kanpde.pde.fields import Fields
from kanpde.pde.gauss_newton import ResidualSystem
from kanpde.pde.objective import LossObjective
from kanpde.pde.residuals import collocation_terms, pde_residual
from kanpde.symbolic.verify import verify_formula

F64 = torch.float64
AT_REST = "sin(pi*x)*cos(pi*t)"
MOVING = "sin(pi*x)*cos(pi*t) + sin(2*pi*x)*sin(2*pi*t)"


def _wave(moving: bool, **options) -> kp.Wave:
    velocity = "2*pi*sin(2*pi*x)" if moving else 0
    return kp.Wave(kp.Interval(0, 1), time=(0, 1), speed=1.0, initial="sin(pi*x)", initial_velocity=velocity,
                   bcs=[kp.Dirichlet(0)], exact=MOVING if moving else AT_REST, **options)  # fmt: skip


def _autograd_hessian(fn, points: torch.Tensor) -> torch.Tensor:
    x = points.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x)[:, 0].sum(), x, create_graph=True)
    return torch.stack([torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])], 1)


@pytest.mark.parametrize("residual, level", [(lambda u: u.tt, 2), (lambda u: u.tt - 4 * u.xx, 3)])
def test_u_tt_on_the_jet_path_equals_autograd(residual, level: int, generator: torch.Generator) -> None:
    problem = kp.PDE(kp.Interval(-1, 2), residual, time=(0.5, 2), initial="x", initial_velocity="x**2",
                     bcs=[kp.Dirichlet(0)])  # fmt: skip
    solver = kp.Solver(problem, width=[2, 4, 1], grid=5, seed=3, hard_constraint=False)
    with torch.no_grad():  # away from the initial (nearly linear) network
        for p in solver.approximation.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    assert solver.request.level == level and not solver.request.autograd  # forward jets, no nested autograd
    points = problem.domain.sample_interior(40, generator=generator)
    found = pde_residual(solver.approximation, problem, points, solver.request)[:, 0]
    hess = _autograd_hessian(solver.approximation, points)
    expected = hess[:, 1, 1] if level == 2 else hess[:, 1, 1] - 4 * hess[:, 0, 0]
    torch.testing.assert_close(found, expected, rtol=1e-10, atol=1e-10)
    # and against central finite differences in t (step 1e-4: error ~1e-8 relative)
    h = 1e-4
    shift = torch.tensor([0.0, h], dtype=F64)
    with torch.no_grad():
        u = solver.approximation
        fd = (u(points + shift) - 2 * u(points) + u(points - shift))[:, 0] / h**2
    torch.testing.assert_close(hess[:, 1, 1].detach(), fd, rtol=1e-5, atol=1e-5)


def test_initial_velocity_is_a_block_of_the_loss_and_of_the_jacobian(generator: torch.Generator) -> None:
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.tt - u.xx, time=(0, 1), initial="sin(pi*x)",
                     initial_velocity="pi*sin(pi*x)", bcs=[kp.Dirichlet(0)])  # fmt: skip
    assert [c.label for c in problem.conditions] == ["dirichlet", "initial", "initial_velocity"]
    solver = kp.Solver(problem, width=[2, 3, 1], grid=4, seed=1, n_interior=30, n_boundary=10, hard_constraint=False)
    terms = collocation_terms(problem, solver._sample_batch(), solver.request)
    assert [t.label for t in terms.terms] == ["pde", "dirichlet", "initial", "initial_velocity"]
    term = terms.terms[-1]
    points = term.rows["points"]
    assert bool((points[:, 1] == 0).all())
    x = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(solver.approximation(x)[:, 0].sum(), x)
    expected = grad[:, 1] - torch.pi * torch.sin(torch.pi * points[:, 0])
    objective = LossObjective(solver.approximation, terms, {"initial_velocity": 2.0})
    losses = objective.terms()
    assert float(losses["initial_velocity"]) == pytest.approx(float(expected.square().mean()), rel=1e-12)
    system = ResidualSystem(solver.approximation, terms, {"initial_velocity": 2.0}, chunk_size=8)
    params = system.parameters()
    jac = system.jacobian(params, term, system.scales[-1])
    assert jac.shape == (len(points), sum(p.numel() for p in params.values()))
    assert float(jac.abs().max()) > 0  # the block moves the parameters
    _, _, loss, _ = system.normal_equations(params)
    assert loss == pytest.approx(objective.loss(losses), rel=1e-12)


def test_exact_solutions_satisfy_the_velocity_condition(generator: torch.Generator) -> None:
    for moving in (False, True):
        problem = _wave(moving)
        velocity = next(c for c in problem.conditions if isinstance(c, InitialVelocity))
        where = velocity.sample(problem.domain, 32, generator=generator, sampler="sobol", dtype=F64, device="cpu")
        x = where.points.clone().requires_grad_(True)
        exact = problem.exact[0]
        (grad,) = torch.autograd.grad(exact(x).sum(), x)
        jet = kp.pde.fields.FieldJet(exact(where.points)[:, None], grad[:, None])
        assert velocity.residual(Fields(jet, where.points, problem.coords), where).abs().max() < 1e-12


def test_hard_constraint_holds_value_and_velocity_at_t0(generator: torch.Generator) -> None:
    problem = kp.Wave(kp.Interval(0, 2), time=(0.5, 1.5), speed=0.7, initial="sin(pi*x) + x",
                      initial_velocity="x + sin(pi*x)", bcs=[kp.Dirichlet("x*exp(t - 0.5)")])  # fmt: skip
    constraint = exact_dirichlet(problem)
    solver = kp.Solver(problem, seed=0)
    assert solver.approximation.constraint is not None  # "auto" on a box
    start = problem.domain.sample_initial(30, generator=generator)
    x = start.clone().requires_grad_(True)
    values = solver.approximation(x)[:, 0]
    (grad,) = torch.autograd.grad(values.sum(), x)
    torch.testing.assert_close(values.detach(), torch.sin(torch.pi * start[:, 0]) + start[:, 0], atol=1e-12, rtol=0)
    torch.testing.assert_close(grad[:, 1], start[:, 0] + torch.sin(torch.pi * start[:, 0]), atol=1e-12, rtol=0)
    side, _ = problem.domain.sample_boundary(30, generator=generator)
    torch.testing.assert_close(solver.predict(side), side[:, 0] * torch.exp(side[:, 1] - 0.5), atol=1e-12, rtol=0)
    assert constraint.vanishing(start).abs().max() == 0


@pytest.mark.parametrize("moving, steps, tol", [(False, 15, 1e-2), (True, 40, 1e-2)], ids=["at-rest", "moving"])
def test_wave_small_solve(moving: bool, steps: int, tol: float) -> None:
    solver = kp.Solver(_wave(moving), width=[2, 8, 1], k=3, seed=0, n_interior=300, n_boundary=75, n_test=2000)
    result = solver.solve(grid_schedule=[5], steps=steps, progress=False)
    assert result.rel_l2 <= tol, result.rel_l2


@pytest.mark.slow
@pytest.mark.parametrize("moving", [False, True], ids=["at-rest", "moving"])
def test_wave_reaches_1e_4(moving: bool) -> None:
    start = time.perf_counter()
    result = kp.Solver(_wave(moving), seed=0).solve(grid_schedule=[5, 10], steps=50, progress=False)
    print(f"wave moving={moving}: rel L2 {result.rel_l2:.2e} in {time.perf_counter() - start:.1f} s")
    assert result.rel_l2 <= 1e-4, result.rel_l2


def test_wave_recipe_round_trip_and_symbolic_verification() -> None:
    problem = _wave(True)
    recipe = problem_recipe(problem)
    assert recipe is not None and recipe["class"] == "Wave"
    assert "sin" in recipe["initial_velocity"] and recipe["speed"] == "1.0" or recipe["speed"] == "1"
    rebuilt = problem_from_recipe(recipe)
    assert isinstance(rebuilt, kp.Wave)
    assert problem_recipe(rebuilt) == recipe
    x, t = sympy.symbols("x t")
    first, pi = sympy.sin(sympy.pi * x) * sympy.cos(sympy.pi * t), sympy.pi
    assert verify_formula(first + sympy.sin(2 * pi * x) * sympy.sin(2 * pi * t), problem).is_solution is True
    wrong = first + sympy.sin(2 * pi * x) * sympy.cos(2 * pi * t)  # solves the PDE, not the initial data
    check = verify_formula(wrong, problem)
    assert check.is_solution is False
    verdicts = {c.name: c.exact_zero for c in check.conditions}
    assert verdicts == {"dirichlet": True, "initial": False, "initial_velocity": False}
    assert check.pde.exact_zero is True


def test_wave_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        kp.Wave(kp.Interval(0, 1), speed=-1, initial=0, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="initial value"):
        kp.Wave(kp.Interval(0, 1), bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="initial_velocity was given"):
        kp.PDE(kp.Interval(0, 1), lambda u: u.xx, initial_velocity=0, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="speed must be positive in the domain"):
        kp.Solver(kp.Wave(kp.Interval(0, 1), speed="x - 0.5", initial=0, bcs=[kp.Dirichlet(0)]))


def test_symbolic_constraint_formulas_match_the_trial_function(generator: torch.Generator) -> None:
    from kanpde.symbolic.solution import _constraint_formulas

    problem = kp.Wave(kp.Interval(0, 2), time=(0.5, 1.5), speed=0.7, initial="sin(pi*x) + x",
                      initial_velocity="x + sin(pi*x)", bcs=[kp.Dirichlet("x*exp(t - 0.5)")])  # fmt: skip
    solver = kp.Solver(problem, seed=0)
    symbols = list(sympy.symbols("x t"))
    b, g = _constraint_formulas(solver, symbols)
    points = problem.domain.sample_interior(20, generator=generator)
    constraint = solver.approximation.constraint
    for formula, fn in ((b, constraint.vanishing), (g, constraint.lift)):
        numeric = sympy.lambdify(symbols, formula, "math")
        expected = torch.tensor([float(numeric(float(x), float(t))) for x, t in points], dtype=F64)
        torch.testing.assert_close(fn(points), expected, rtol=1e-12, atol=1e-12)
