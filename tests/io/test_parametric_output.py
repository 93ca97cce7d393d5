"""Parametric problems in the files: meshio exports of a member and of a sweep, checkpoints that rebuild the
problem (parameters are data in the recipe) and refuse a recipe with a bad parameter."""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.io.recipe import problem_from_recipe, problem_recipe

F64 = torch.float64


def poisson_family() -> kp.Poisson:
    mu = kp.Parameter("mu", (0.5, 2.0))
    return kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)), f="mu*2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
        exact="mu*sin(pi*x)*sin(pi*y)", parameters=[mu],
    )  # fmt: skip


def heat_family() -> kp.Heat:
    k = kp.Parameter("k", (0.05, 0.2))
    return kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity="k", initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        exact="exp(-pi**2*k*t)*sin(pi*x)", parameters=[k],
    )  # fmt: skip


@pytest.fixture(scope="module")
def family_solver() -> kp.Solver:
    solver = kp.Solver(poisson_family(), width=[3, 4, 1], grid=3, seed=0, n_interior=200, n_boundary=64, n_test=200)
    solver.solve(grid_schedule=[3], steps=5, progress=False)
    return solver


def test_export_mesh_of_one_member_holds_that_members_values(family_solver: kp.Solver, tmp_path: Path) -> None:
    path = family_solver.export_mesh(tmp_path / "member.vtu", mu=1.3, resolution=6)
    mesh = meshio.read(path)
    points = torch.as_tensor(mesh.points[:, :2], dtype=F64)
    expected = family_solver.predict(points, mu=1.3).numpy()
    np.testing.assert_allclose(mesh.point_data["u"], expected, rtol=0, atol=1e-12)
    exact = 1.3 * np.sin(np.pi * mesh.points[:, 0]) * np.sin(np.pi * mesh.points[:, 1])
    np.testing.assert_allclose(mesh.point_data["u_exact"], exact, atol=1e-12)


def test_export_mesh_of_a_sweep_writes_one_point_data_per_value(family_solver: kp.Solver, tmp_path: Path) -> None:
    values = [0.5, 1.0, 2.0]
    mesh = meshio.read(family_solver.export_mesh(tmp_path / "sweep.vtu", mu=values, resolution=5))
    assert {"u_mu0000", "u_mu0001", "u_mu0002"} <= set(mesh.point_data)
    points = torch.as_tensor(mesh.points[:, :2], dtype=F64)
    for index, mu in enumerate(values):
        expected = family_solver.predict(points, mu=mu).numpy()
        np.testing.assert_allclose(mesh.point_data[f"u_mu{index:04d}"], expected, atol=1e-12)


def test_export_mesh_needs_every_parameter_and_no_sweep_in_time(family_solver: kp.Solver, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="export_mesh: parameter 'mu' has no value"):
        family_solver.export_mesh(tmp_path / "u.vtu")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nu'"):
        family_solver.export_mesh(tmp_path / "u.vtu", mu=1.0, nu=2.0)
    heat = kp.Solver(heat_family(), width=[3, 3, 1], grid=3, seed=0, n_interior=100, n_test=100)
    with pytest.raises(ValueError, match="sweep of a time-dependent problem"):
        heat.export_mesh(tmp_path / "h.vtu", k=[0.1, 0.2])
    assert not list(tmp_path.iterdir())  # nothing written by a refused call


@pytest.mark.parametrize("make", [poisson_family, heat_family])
def test_parameters_are_data_in_the_recipe(make: object) -> None:
    problem = make()  # type: ignore[operator]
    recipe = problem_recipe(problem)
    assert recipe is not None
    names = [p.name for p in problem.parameters]
    assert [p["name"] for p in recipe["parameters"]] == names
    rebuilt = problem_from_recipe(recipe)
    assert [(p.name, p.range) for p in rebuilt.parameters] == [(p.name, p.range) for p in problem.parameters]
    points = torch.rand(20, problem.n_coords, dtype=F64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(rebuilt.exact_values(points), problem.exact_values(points))


def test_checkpoint_of_a_parametric_problem_loads_without_the_problem(family_solver: kp.Solver, tmp_path: Path) -> None:
    path = family_solver.save(tmp_path / "family.pt")
    loaded = kp.Solver.load(path)  # the recipe rebuilds the problem and its parameter
    assert [p.name for p in loaded.problem.parameters] == ["mu"]
    x = torch.tensor([[0.2, -0.4], [0.7, 0.1]], dtype=F64)
    assert torch.equal(loaded.predict(x, mu=0.8), family_solver.predict(x, mu=0.8))


@pytest.mark.parametrize(
    ("parameters", "match"),
    [
        ("mu", r"recipe\.parameters must be a list"),
        ([{"name": "mu"}], r"recipe\.parameters\[0\]"),
        ([{"name": "mu", "range": [2.0, 0.5]}], r"low < high"),
        ([{"name": "x", "range": [0.0, 1.0]}], "clashes with a coordinate"),
        ([{"name": "__import__('os')", "range": [0.0, 1.0]}], "identifier"),
        ([{"name": "mu", "range": [0.0, float("nan")]}], "finite"),
    ],
)
def test_a_recipe_with_bad_parameters_is_refused(parameters: object, match: str) -> None:
    recipe = problem_recipe(poisson_family())
    assert recipe is not None
    recipe["parameters"] = parameters
    with pytest.raises(ValueError, match=match):
        problem_from_recipe(recipe)
