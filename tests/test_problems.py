"""The reference problem suite (``problems/``): every problem builds, its exact solution solves its PDE and
satisfies every condition, and small solves reach their accuracy (the long ones are marked slow)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor

import kanpde as kp
from kanpde.pde.conditions import AbstractCondition, Periodic
from kanpde.pde.fields import FieldJet, Fields
from kanpde.pde.solver import validate_grid_schedule
from kanpde.pde.unknowns import bound

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `problems` lives beside `tests`, not in the wheel
import problems  # noqa: E402

NAMES = sorted(problems.PROBLEMS)

# One non-default setting of every parameter of every problem (a new problem must add its line here).
VARIANTS: dict[str, dict[str, Any]] = {
    "poisson_1d": {"frequency": 2},
    "poisson_1d_neumann": {},
    "poisson_1d_robin": {"alpha": 2.0, "beta": 0.5},
    "poisson_1d_periodic": {"screening": 0.0},
    "poisson_2d_sin": {"frequency": 2},
    "poisson_2d_sin_y2": {},
    "laplace_2d_sinh": {"frequency": 2},
    "poisson_2d_csg": {"radius": 0.3},
    "poisson_3d": {},
    "poisson_lshape": {},
    "poisson_gaussian_bump": {"width": 0.3, "x0": -0.1, "y0": 0.2},
    "heat_1d": {"diffusivity": 0.5, "t1": 0.5},
    "heat_1d_modes": {"diffusivity": 0.2, "amplitude": -1.0, "t1": 2.0},
    "heat_1d_source": {"diffusivity": 0.3, "t1": 2.0},
    "heat_2d": {"diffusivity": 1.0, "t1": 0.2},
    "heat_neumann": {"diffusivity": 0.5, "t1": 0.5},
    "heat_kernel": {"diffusivity": 0.5, "shift": 0.05, "half_width": 1.5, "t1": 2.0},
    "helmholtz_2d": {"wavenumber": 3.0, "a": 2, "b": 3},
    "burgers_1d": {"viscosity": 0.02, "u_left": 0.5, "u_right": -1.0, "x0": 0.1, "t1": 0.5},
    "allen_cahn_kink": {"epsilon": 0.05, "t1": 0.5, "steady": True},
    "poisson_holes": {"radius": 0.3},
    "heat_multiscale": {"periods": 3, "t1": 2.0},
    "burgers_raissi": {"viscosity": 0.02, "t1": 0.5},
    "poisson_5d": {"frequency": 2},
    "poisson_10d": {"scale": -0.5},
    "wave_1d": {"speed": 0.5, "amplitude": -0.3, "t1": 3.0},
    "wave_1d_long": {"speed": 0.5, "amplitude": -0.3, "t1": 6.0},
    "wave_1d_c": {"speed": 1.5, "amplitude": -0.3, "t1": 0.5},
    "allen_cahn": {"diffusion": 2e-4, "t1": 0.5},
    "poisson_nd_pinnacle": {"dim": 3},
    "heat_nd_pinnacle": {"dim": 3, "t1": 0.5},
    "convection": {"beta": 10.0, "t1": 0.5},
    "poisson_2d_c_pinnacle": {"radius": 0.05},
    "heat_inverse_pinnacle": {"noise": 0.0, "n_data": 500},
}
CASES = [pytest.param(n, {}, id=f"{n}-default") for n in NAMES] + [
    pytest.param(n, VARIANTS[n], id=f"{n}-variant") for n in NAMES if VARIANTS.get(n)
]
TOL = 1e-8  # relative to the size of u and its derivatives at the points


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _exact_fields(
    module: ModuleType, problem: kp.Problem, points: Tensor, overrides: dict[str, Any]
) -> tuple[Fields, float]:
    """Fields of the exact solution at ``points`` (value, gradient and full Hessian by autograd), and the size of
    u and its derivatives there, which a residual is compared with."""

    def u(p: Tensor) -> Tensor:
        return module.exact_solution(p, **overrides)

    x = points.detach().clone().requires_grad_(True)
    value = u(x)
    (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
    rows = [torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])]
    hess = torch.stack(rows, dim=1).detach()
    value, grad = value.detach(), grad.detach()
    jet = FieldJet(value[:, None], grad[:, None], None, hess[:, None])
    # The L-shape solution has an unbounded gradient at its corner, which boundary points may hit.
    finite = torch.cat([t[torch.isfinite(t)].abs() for t in (value, grad, hess)])
    scale = 1.0 + float(finite.max())
    return Fields(jet, points, problem.coords, evaluate=lambda p: u(p)[:, None]), scale


def _exact_unknowns(module: ModuleType) -> Any:
    """What ``bound`` binds for a problem with unknown fields (``EXACT_UNKNOWNS``: name -> true values on points):
    the true field's value and derivatives by autograd; None for a problem without unknowns."""
    exact = getattr(module, "EXACT_UNKNOWNS", None)
    if exact is None:
        return None

    def evaluate(name: str, points: Tensor | None = None, like: FieldJet | None = None) -> FieldJet:
        assert points is not None, f"{name}: only unknown fields are bound here"
        x = points.detach().clone().requires_grad_(True)
        value = exact[name](x)
        (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
        hess = torch.stack(
            [torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])], 1
        )
        return FieldJet(value.detach()[:, None], grad.detach()[:, None], None, hess.detach()[:, None])

    return evaluate


def _sample(condition: AbstractCondition, problem: kp.Problem) -> Any:
    return condition.sample(
        problem.domain, 64, generator=_generator(), sampler="sobol", dtype=torch.float64, device="cpu"
    )


# -- the modules and what they declare ---------------------------------------------------------------------
def test_registry_lists_every_module() -> None:
    on_disk = {p.stem for p in Path(problems.__file__).parent.glob("*.py") if not p.stem.startswith("_")}
    assert on_disk == set(problems.PROBLEMS.values())
    assert set(VARIANTS) == set(problems.PROBLEMS)
    with pytest.raises(KeyError, match="known problems"):
        problems.load("no_such_problem")


@pytest.mark.parametrize("name", NAMES)
def test_module_declares_its_interface(name: str) -> None:
    module = problems.load(name)
    doc = module.__doc__ or ""
    for heading in ("PDE:", "Domain:", "Exact:", "Source:"):
        assert heading in doc, f"{name}: the docstring must state {heading}"
    assert isinstance(module.SMOOTH, bool)
    assert module.BASELINE is None or ("source" in module.BASELINE and "rel_l2" in module.BASELINE)
    assert set(VARIANTS[name]) == set(module.PARAMETERS), "VARIANTS must exercise every parameter"
    settings = module.SETTINGS
    assert {"width", "grid_schedule", "steps"} <= set(settings)  # no n_interior: the solver's default
    problem = module.make_problem()
    assert isinstance(problem, kp.Problem)
    assert problem.exact is not None
    assert settings["width"][0] == problem.n_coords and settings["width"][-1] == problem.n_fields == 1
    validate_grid_schedule(settings["grid_schedule"])
    assert settings["steps"] >= 1 and settings.get("n_interior", 1) >= 1


@pytest.mark.parametrize("name", NAMES)
def test_unknown_override_is_an_error(name: str) -> None:
    module = problems.load(name)
    with pytest.raises(TypeError, match="unknown parameter"):
        module.make_problem(no_such_parameter=1.0)
    with pytest.raises(TypeError, match="unknown parameter"):
        module.exact_solution(torch.zeros(1, module.SETTINGS["width"][0], dtype=torch.float64), bogus=1)


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("poisson_1d", {"frequency": 1.5}, "integer"),
        ("poisson_1d_robin", {"alpha": 0.0, "beta": 0.0}, "both be zero"),
        ("poisson_1d_periodic", {"screening": -1.0}, ">= 0"),
        ("heat_1d", {"diffusivity": 0.0}, "> 0"),
        ("heat_kernel", {"shift": float("nan")}, "finite"),
        ("helmholtz_2d", {"wavenumber": math.pi * math.sqrt(2) / 2}, "eigenvalue"),
        ("burgers_1d", {"u_left": 0.0, "u_right": 1.0}, "u_left must be > u_right"),
        ("poisson_2d_csg", {"radius": 0.9}, "inside the square"),
    ],
)
def test_invalid_parameters_are_rejected(name: str, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        problems.load(name).make_problem(**overrides)


# -- the exact solution solves the problem -----------------------------------------------------------------
@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_exact_solution_satisfies_the_pde(name: str, overrides: dict[str, Any]) -> None:
    module = problems.load(name)
    problem = module.make_problem(**overrides)
    points = problem.domain.sample_interior(256, generator=_generator(), sampler="sobol", dtype=torch.float64)
    fields, scale = _exact_fields(module, problem, points, overrides)
    with bound(_exact_unknowns(module)):  # an inverse problem's unknown fields: their true values
        residual = problem.residual(fields)
    assert residual.shape[0] == len(points)
    tol = getattr(module, "RESIDUAL_TOL", TOL)  # a numerical reference meets the PDE to its discretisation error
    assert float(residual.abs().max()) <= tol * scale, f"{name}: max |residual| {residual.abs().max():.2e}"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_exact_solution_satisfies_every_condition(name: str, overrides: dict[str, Any]) -> None:
    module = problems.load(name)
    problem = module.make_problem(**overrides)
    assert problem.conditions, f"{name} has no boundary or initial condition"
    for condition in problem.conditions:
        where = _sample(condition, problem)
        assert len(where.points) == 64
        fields, scale = _exact_fields(module, problem, where.points, overrides)
        if isinstance(condition, Periodic):
            partner, partner_scale = _exact_fields(module, problem, where.partners, overrides)
            residual = condition.periodic_residual(fields, partner)
            scale = max(scale, partner_scale)
        else:
            residual = condition.residual(fields, where)
        worst = float(residual.abs().max())
        assert worst <= getattr(module, "RESIDUAL_TOL", TOL) * scale, f"{name}: {condition.label} residual {worst:.2e}"


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_exact_solution_matches_the_problem_exact(name: str, overrides: dict[str, Any]) -> None:
    module = problems.load(name)
    problem = module.make_problem(**overrides)
    kwargs = {"generator": _generator(), "sampler": "halton", "dtype": torch.float64}
    points = torch.cat([problem.domain.sample_interior(200, **kwargs), problem.domain.sample_boundary(50, **kwargs)[0]])
    expected = problem.exact_values(points)
    assert expected is not None and expected.shape == (len(points), 1)
    got = module.exact_solution(points, **overrides)
    assert got.shape == (len(points),) and got.dtype == torch.float64
    torch.testing.assert_close(got, expected[:, 0], rtol=1e-12, atol=1e-12)
    got32 = module.exact_solution(points.float(), **overrides)
    assert got32.dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_hard_constraint_does_not_receive_the_solution(name: str) -> None:
    # With a hard constraint u = b N + g, g is the Dirichlet value's own formula: it must not be u itself,
    # or the solver is handed the answer (the problems give traces on sides, or zero, instead).
    module = problems.load(name)
    problem = module.make_problem()
    solver = kp.Solver(problem, width=module.SETTINGS["width"], seed=0, n_interior=64)
    constraint = solver.approximation.constraint
    if constraint is None:
        return
    points = problem.domain.sample_interior(256, generator=_generator(), dtype=torch.float64)
    exact = module.exact_solution(points)
    assert float((constraint.lift(points) - exact).abs().max()) > 1e-6 * float(exact.abs().max())


# -- solves --------------------------------------------------------------------------------------------------
@pytest.fixture
def one_thread() -> Any:
    """Solve on one thread, as the benchmarks do: on a shared 2-core machine, two threads ran 6x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _solve(name: str, **changes: Any) -> kp.Result:
    module = problems.load(name)
    settings = {**module.SETTINGS, **changes}
    n_interior = settings.get("n_interior")  # None: the solver's default
    solver = kp.Solver(module.make_problem(), width=settings["width"], seed=0, n_interior=n_interior)
    windows = settings.get("time_windows")  # time marching (long horizons)
    return solver.solve(
        grid_schedule=settings["grid_schedule"],
        steps=settings["steps"],
        progress=False,
        time_windows=windows,
        start=settings.get("start"),
    )


@pytest.mark.usefixtures("one_thread")
def test_poisson_1d_solves_quickly() -> None:
    """Quickly in optimiser steps (wall time is a benchmark's business: `kanpde bench`)."""
    result = _solve("poisson_1d")
    assert result.rel_l2 is not None and result.rel_l2 < 1e-3
    first = result.stages[0]
    assert first.steps <= 30 and first.rel_l2 is not None and first.rel_l2 < 1e-4  # measured: 1.9e-5 at grid 5


@pytest.mark.usefixtures("one_thread")
def test_poisson_1d_neumann_solves_quickly() -> None:
    result = _solve("poisson_1d_neumann")
    assert result.rel_l2 is not None and result.rel_l2 < 1e-3


# Bounds on the relative L2 error each problem reaches with its SETTINGS (seed 0, one thread): the measured
# error (kanpde 0.1.0 working tree when the suite was written) with a margin of about 3, and at most the 1e-4 target of
# the smooth problems where kanpde met it. The L-shape's corner singularity misses 1e-4 with these settings.
EXPECTED_REL_L2: dict[str, float] = {
    "poisson_1d": 1e-5,
    "poisson_1d_neumann": 1e-5,
    "poisson_1d_robin": 1e-5,
    "poisson_1d_periodic": 3e-5,
    "poisson_2d_sin": 1e-5,
    "poisson_2d_sin_y2": 3e-5,
    "laplace_2d_sinh": 3e-5,
    "poisson_2d_csg": 1e-4,
    "poisson_3d": 1e-5,
    "poisson_lshape": 3e-2,
    "poisson_gaussian_bump": 1e-4,
    "heat_1d": 1e-4,
    "heat_1d_modes": 1e-4,
    "heat_1d_source": 1e-4,
    "heat_2d": 1e-4,
    "heat_neumann": 3e-5,
    "heat_kernel": 1e-4,
    "helmholtz_2d": 1e-4,
    "burgers_1d": 1e-4,
    "allen_cahn_kink": 3e-5,
    "poisson_holes": 5e-4,  # measured 3.6e-6 with the NTK weights (default), 1.5e-4 with equal weights
    "heat_multiscale": 1e-2,  # measured 3.2e-3 (start="euler", [3, 20, 1], grid 40, 60 steps; 463 s CPU)
    "burgers_raissi": 1e-2,  # measured 4.2e-3 (grids 5, 10, 20; 301 s); Raissi et al. 2019: 6.7e-4
    "poisson_5d": 3e-6,
    "poisson_10d": 1.5e-4,
    "wave_1d": 2e-3,  # measured 3.7e-4 as _solve runs it (no weights: balanced), 4.9e-4 with its SETTINGS' weights
    "wave_1d_long": 2e-3,  # measured 4.3e-4 as _solve runs it, 5.9e-4 with its SETTINGS' weights; one network: 45.8
    "wave_1d_c": 3e-4,  # measured 7.1e-5 (4 time windows); PINNacle's best PINN (PINN-NTK): 9.79e-2
    "allen_cahn": 7e-2,  # measured 2.4e-2 with 5 time windows (budget 700 s); one space-time network: 0.48
    "poisson_nd_pinnacle": 1e-6,  # measured 3.4e-8 (16 s CPU); PINNacle's best for PNd (L-BFGS): 4.67e-4
    "heat_nd_pinnacle": 5e-5,  # measured 4.6e-6 (13 s CPU); PINNacle's best for HNd (L-BFGS): 1.19e-4
    "convection": 3e-4,  # measured 4.5e-5 (2 time windows, 131 s CPU); one network 3.6e-4; plain PINNs about 1
    "poisson_2d_c_pinnacle": 1e-3,  # measured 3.2e-4 (36 s CPU); PINNacle's best for Poisson2d-C (PINN-NTK): 1.23e-2
    "heat_inverse_pinnacle": 7e-2,  # measured 2.2e-2 (80 s CPU; noise 0.1 in the data); PINNacle's figure not found
}


def test_expected_errors_cover_every_problem() -> None:
    assert set(EXPECTED_REL_L2) == set(problems.PROBLEMS)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", NAMES)
def test_recommended_settings_reach_the_expected_error(name: str) -> None:
    result = _solve(name)
    assert result.stopped is None, result.stopped
    assert result.rel_l2 is not None and result.rel_l2 < EXPECTED_REL_L2[name], result.summary()
    errors = [s.rel_l2 for s in result.stages]
    if problems.load(name).SETTINGS.get("time_windows"):  # stages are windows, each with its own error
        return
    assert errors[-1] <= errors[0] * 1.01, f"grid extension did not lower the error:\n{result.summary()}"
