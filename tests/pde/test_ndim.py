"""Problems in more than three space dimensions: n-D boxes, balls, coordinate names x1..xn, solving, export."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.pde.ball import Ball, unit_sphere_points
from kanpde.pde.fields import split_coordinates
from kanpde.pde.spacetime import SpaceTime

SAMPLERS = ["sobol", "halton", "random", "lhs"]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ names


def test_coordinates_and_sides_beyond_three_dimensions_are_numbered() -> None:
    box = kp.Box([0] * 5, [1] * 5)
    assert box.side_names[:2] == ("x1min", "x1max") and box.side_names[-1] == "x5max"
    problem = kp.Poisson(box, f=0, bcs=[kp.Dirichlet("x1 + x5")], exact="x1 + x5")
    assert problem.coords == ("x1", "x2", "x3", "x4", "x5")
    points = box.sample_interior(7, generator=gen())
    assert torch.allclose(problem.exact_values(points)[:, 0], points[:, 0] + points[:, 4])
    heat = kp.Heat(kp.Box([0] * 4, [1] * 4), time=(0, 1), initial="x4", bcs=[kp.Dirichlet("x4", on="x2max")])
    assert heat.coords == ("x1", "x2", "x3", "x4", "t")
    with pytest.raises(ValueError, match="unknown symbol.*'x'"):
        kp.Poisson(box, f="x", bcs=[kp.Dirichlet(0)])  # x, y, z are not names in 5-D
    with pytest.raises(ValueError, match="x1min"):
        kp.Poisson(box, f=0, bcs=[kp.Dirichlet(0, on="xmin")]).conditions[0].sample(
            box, 4, generator=gen(), sampler="sobol", dtype=torch.float64, device="cpu"
        )


def test_split_coordinates() -> None:
    coords = tuple(f"x{i}" for i in range(1, 11))
    assert split_coordinates("x1x10", coords) == ("x1", "x10")
    assert split_coordinates("x10x1", coords) == ("x10", "x1")
    assert split_coordinates("x11", coords) is None  # not a coordinate here; d2u/dx1^2 is written u.x1x1
    assert split_coordinates("x1t", (*coords[:4], "t")) == ("x1", "t")
    assert split_coordinates("xy", ("x", "y")) == ("x", "y")
    assert split_coordinates("q", coords) is None and split_coordinates("_x1", coords) is None


def test_residual_reads_numbered_derivatives() -> None:
    """u.x1x2 (mixed) and u.x3x3 on a 4-D box agree with the exact derivatives of a known function."""
    box = kp.Box([0] * 4, [1] * 4)
    problem = kp.PDE(box, lambda u: u.x1x2 + u.x3x3 + u.x4, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[4, 3, 1], seed=0)
    points = box.sample_interior(16, generator=gen())
    from kanpde.pde.residuals import pde_residual

    with torch.enable_grad():
        got = pde_residual(solver.approximation, problem, points, solver.request)[:, 0]
    x = points.clone().requires_grad_(True)
    value = solver.approximation(x)[:, 0]
    (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
    (row1,) = torch.autograd.grad(grad[:, 0].sum(), x, retain_graph=True)
    (row3,) = torch.autograd.grad(grad[:, 2].sum(), x)
    expected = row1[:, 1] + row3[:, 2] + grad[:, 3]
    torch.testing.assert_close(got, expected.detach(), rtol=1e-10, atol=1e-10)


def test_periodic_along_a_numbered_axis() -> None:
    box = kp.Box([0] * 4, [1, 1, 1, 2])
    condition = kp.Periodic("x4")
    where = condition.sample(box, 8, generator=gen(), sampler="sobol", dtype=torch.float64, device="cpu")
    assert torch.all(where.points[:, 3] == 0) and torch.all(where.partners[:, 3] == 2)
    with pytest.raises(ValueError, match="Periodic axis"):
        kp.Periodic("x0")


# ------------------------------------------------------------------ the ball


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 7, 10])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_ball_interior_is_uniform(dim: int, sampler: str) -> None:
    """Uniform in the ball: E|x - c|^2 = d/(d+2) r^2, half the points within r 2^(-1/d), mean at the centre."""
    center, radius = torch.linspace(-1, 1, dim, dtype=torch.float64), 1.5
    ball = Ball(center.tolist(), radius)
    points = ball.sample_interior(8192, generator=gen(1), sampler=sampler)
    assert points.shape == (8192, dim) and points.dtype == torch.float64
    assert bool(ball.contains(points).all()) and not bool(ball.on_boundary(points).any())
    rho = torch.linalg.vector_norm(points - center, dim=1) / radius
    assert abs(float((rho**2).mean()) - dim / (dim + 2)) < 0.02
    assert abs(float((rho < 2 ** (-1 / dim)).double().mean()) - 0.5) < 0.03
    assert float(torch.linalg.vector_norm((points - center).mean(0))) < 0.05 * radius * math.sqrt(dim)


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 7, 10])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_ball_boundary_is_uniform_on_the_sphere(dim: int, sampler: str) -> None:
    """Uniform on the sphere: E n_i^2 = 1/d, E n = 0, E n_i n_j = 0; points on the sphere, normals outward."""
    center = [0.5] * dim
    ball = Ball(center, 2.0)
    points, normals = ball.sample_boundary(8192, generator=gen(2), sampler=sampler)
    assert bool(ball.on_boundary(points).all())
    torch.testing.assert_close(normals, (points - torch.tensor(center)) / 2.0)
    torch.testing.assert_close(ball.boundary_normal(points), normals)
    second = normals.T @ normals / len(normals)
    assert float((second - torch.eye(dim) / dim).abs().max()) < 0.03
    assert float(normals.mean(0).abs().max()) < 0.03


def test_unit_sphere_map_handles_the_cube_faces() -> None:
    u = torch.tensor([[0.0] * 5, [0.5] * 5, [1 - 1e-17] * 5], dtype=torch.float64)
    directions = unit_sphere_points(u)
    assert torch.isfinite(directions).all()
    torch.testing.assert_close(torch.linalg.vector_norm(directions, dim=1), torch.ones(3, dtype=torch.float64))


def test_ball_grid_sampler_stays_inside() -> None:
    ball = Ball([0] * 6, 1)
    points = ball.sample_interior(500, generator=gen(), sampler="uniform")
    assert points.shape == (500, 6) and bool((torch.linalg.vector_norm(points, dim=1) < 1).all())


def test_ball_measures_and_queries() -> None:
    ball = Ball((0, 0, 0, 0), 2.0)
    assert math.isclose(ball.measure, math.pi**2 / 2 * 16)
    assert math.isclose(ball.boundary_measure, 2 * math.pi**2 * 8)
    assert math.isclose(Ball((1, 2, 3), 1).measure, 4 / 3 * math.pi)
    assert math.isclose(Ball((0, 0), 1).boundary_measure, 2 * math.pi)
    assert ball.bounds == ((-2.0,) * 4, (2.0,) * 4)
    x = torch.tensor([[0, 0, 0, 0], [2, 0, 0, 0], [0, 0, 3, 0], [1, 1, 1, 1.0]], dtype=torch.float64)
    assert ball.contains(x).tolist() == [True, True, False, True]
    assert ball.on_boundary(x).tolist() == [False, True, False, True]
    torch.testing.assert_close(ball.distance(x), torch.tensor([1.0, 0.0, -1.25, 0.0], dtype=torch.float64))
    points, _ = ball.sample_boundary(64, generator=gen())
    x = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(ball.distance(x).sum(), x)
    torch.testing.assert_close(torch.linalg.vector_norm(grad, dim=1), torch.ones(64, dtype=torch.float64))
    assert "x1min" not in ball.side_names and ball.side_names == ()


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [(((0, 0), 0.0), ValueError, "radius"), (((), 1.0), ValueError, "center"), (("ab", 1.0), TypeError, "center"),
     (((0, math.inf), 1.0), ValueError, "center"), (((0, 0), "1"), TypeError, "radius")],
)  # fmt: skip
def test_ball_refuses_bad_arguments(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Ball(*args)


def test_ball_in_csg_and_space_time() -> None:
    ball = Ball([0] * 5, 1.0)
    holed = ball - kp.Box([-0.3] * 5, [0.3] * 5)
    points = holed.sample_interior(500, generator=gen())
    assert bool(ball.contains(points).all()) and not bool((points.abs() < 0.3).all(dim=1).any())
    boundary, normals = holed.sample_boundary(400, generator=gen())
    assert bool(holed.on_boundary(boundary).all())
    on_sphere = ball.on_boundary(boundary)
    assert 0 < int(on_sphere.sum()) < 400  # both the sphere and the faces of the hole
    torch.testing.assert_close(normals[on_sphere], boundary[on_sphere])
    cylinder = SpaceTime(Ball([0] * 8, 1.0), (0.0, 2.0))  # the ball fills 1.6 % of its box: no rejection
    points = cylinder.sample_interior(1000, generator=gen())
    assert bool(cylinder.contains(points).all()) and bool(((points[:, -1] > 0) & (points[:, -1] < 2)).all())
    assert abs(float(points[:, -1].mean()) - 1.0) < 0.05


# ------------------------------------------------------------------ solving


def test_poisson_in_five_dimensions() -> None:
    """-Laplace(u) = pi^2 sum sin(pi x_i) on [0, 1]^5, u = sum sin(pi x_i) given on the boundary (learned)."""
    exact = " + ".join(f"sin(pi*x{i})" for i in range(1, 6))
    problem = kp.Poisson(kp.Box([0] * 5, [1] * 5), f=f"pi**2*({exact})", bcs=[kp.Dirichlet(exact)], exact=exact)
    solver = kp.Solver(problem, width=[5, 3, 1], grid=5, seed=0, hard_constraint=False, n_test=4000)
    result = solver.solve(grid_schedule=[5], steps=15, progress=False)
    assert result.rel_l2 < 1e-3


def test_poisson_in_a_four_dimensional_ball() -> None:
    """-Laplace(u) = 8 in the unit 4-ball with u = 0 on the sphere: u = 1 - |x|^2."""
    problem = kp.Poisson(Ball((0, 0, 0, 0), 1.0), f=8, bcs=[kp.Dirichlet(0)], exact="1 - x1**2 - x2**2 - x3**2 - x4**2")
    soft = kp.Solver(problem, width=[4, 3, 1], grid=3, seed=0, hard_constraint=False, n_test=4000)
    assert soft.solve(grid_schedule=[3], steps=30, progress=False).rel_l2 < 1e-3
    hard = kp.Solver(problem, width=[4, 3, 1], grid=3, seed=0, n_test=4000)  # the ball's distance: exact BC
    assert hard.approximation.constraint is not None
    sphere, _ = problem.space.sample_boundary(100, generator=gen())
    assert float(hard.predict(sphere).abs().max()) < 1e-12
    assert hard.solve(grid_schedule=[3], steps=10, progress=False).rel_l2 < 1e-4


def test_heat_in_a_four_dimensional_ball_samples_and_probes() -> None:
    problem = kp.Heat(Ball([0] * 4, 1.0), time=(0, 0.5), diffusivity=0.5, f=3,
                      initial="1 - x1**2 - x2**2 - x3**2 - x4**2", bcs=[kp.Dirichlet("-t")],
                      exact="1 - x1**2 - x2**2 - x3**2 - x4**2 - t")  # fmt: skip
    solver = kp.Solver(problem, width=[5, 3, 1], grid=3, seed=0, hard_constraint=False, n_test=2000)
    # With the default NTK balancing (boundary and initial terms weighed up ~6-8x): 1.2e-2 after 15 steps, 6.2e-5
    # after 25 (equal weights: 2.4e-3 and 9.4e-5).
    assert solver.solve(grid_schedule=[3], steps=25, progress=False).rel_l2 < 1e-3


# ------------------------------------------------------------------ export and checkpoints


def test_export_hdf5_writes_scattered_points_in_five_dimensions(tmp_path: Path) -> None:
    import h5py
    import meshio

    problem = kp.Poisson(kp.Box([0] * 5, [1] * 5), f=0, bcs=[kp.Dirichlet("x1 + x5")], exact="x1 + x5")
    solver = kp.Solver(problem, width=[5, 2, 1], seed=0)
    h5_path, xdmf_path = solver.export_hdf5(tmp_path / "u.h5", resolution=300)
    with h5py.File(h5_path) as h5:
        assert h5.attrs["layout"] == "points" and list(h5.attrs["coords"]) == list(problem.coords)
        points = h5["mesh/points"][()]
        assert points.shape == (300, 5) and h5["mesh/points_xyz"].shape == (300, 3)
        exact = h5["exact/u"][()]
        assert abs(exact - (points[:, 0] + points[:, 4])).max() < 1e-12
        assert h5["fields/u"].shape == (300,) and "grid" not in h5
    on_boundary = problem.space.on_boundary(torch.from_numpy(points))
    assert int(on_boundary.sum()) == 60  # a fifth of the nodes on the boundary
    mesh = meshio.read(xdmf_path)
    assert mesh.points.shape == (300, 3) and mesh.cells[0].type == "vertex"
    vtu = solver.export_mesh(tmp_path / "u.vtu", resolution=50)
    assert set(meshio.read(vtu).point_data) >= {"u", "x1", "x5"}
    with pytest.raises(ValueError, match="number of output nodes"):
        solver.export_hdf5(tmp_path / "v.h5", resolution=[3] * 5)


def test_checkpoint_recipes_for_ball_and_five_dimensional_box(tmp_path: Path) -> None:
    from kanpde.io.recipe import problem_from_recipe, problem_recipe

    for problem in (
        kp.Poisson(Ball((0, 0, 0, 0), 1.0), f=8, bcs=[kp.Dirichlet(0)], exact="1 - x1**2 - x2**2 - x3**2 - x4**2"),
        kp.Poisson(kp.Box([0] * 5, [1] * 5), f=0, bcs=[kp.Dirichlet("x1", on="x3max"), kp.Periodic("x5")]),
    ):
        recipe = problem_recipe(problem)
        assert recipe is not None
        rebuilt = problem_from_recipe(recipe)
        assert rebuilt.coords == problem.coords and repr(rebuilt.space) == repr(problem.space)
        solver = kp.Solver(problem, width=[problem.n_coords, 2, 1], seed=0)
        loaded = kp.Solver.load(solver.save(tmp_path / f"{problem.n_coords}.kpt"))
        points = problem.space.sample_interior(9, generator=gen())
        torch.testing.assert_close(loaded.predict(points), solver.predict(points), rtol=0, atol=0)
