"""MeshDomain: a geometry from a triangle or tetrahedron mesh (written here with meshio, read back from file)."""

from __future__ import annotations

import math
from pathlib import Path

import meshio
import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay

import kanpde as kp


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def lshape_mesh(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """[-1, 1]^2 minus the quadrant [0, 1] x [-1, 0], squares of side 1/n split into two triangles each."""
    axis = np.linspace(-1, 1, 2 * n + 1)
    xx, yy = np.meshgrid(axis, axis, indexing="xy")
    points = np.stack([xx.ravel(), yy.ravel()], 1)
    index = np.arange(len(points)).reshape(len(axis), len(axis))
    cells = []
    for j in range(2 * n):
        for i in range(2 * n):
            if axis[i] >= 0 and axis[j + 1] <= 0:
                continue  # the removed quadrant
            a, b, c, d = index[j, i], index[j, i + 1], index[j + 1, i + 1], index[j + 1, i]
            cells += [[a, b, c], [a, c, d]]
    return points, np.array(cells)


def in_lshape(x: np.ndarray) -> np.ndarray:
    inside_square = (np.abs(x) <= 1 + 1e-12).all(1)
    return inside_square & ~((x[:, 0] > 1e-12) & (x[:, 1] < -1e-12))


def lshape_boundary_normal(x: np.ndarray) -> np.ndarray:
    """Outward normals of the L-shape at boundary points (away from corners)."""
    normals = np.zeros_like(x)
    tol = 1e-9
    normals[np.abs(x[:, 0] + 1) < tol] = [-1, 0]
    normals[np.abs(x[:, 1] - 1) < tol] = [0, 1]
    normals[(np.abs(x[:, 0] - 1) < tol) & (x[:, 1] > 0)] = [1, 0]
    normals[(np.abs(x[:, 1] + 1) < tol) & (x[:, 0] < 0)] = [0, -1]
    normals[(np.abs(x[:, 1]) < tol) & (x[:, 0] > 0)] = [0, -1]
    normals[(np.abs(x[:, 0]) < tol) & (x[:, 1] < 0)] = [1, 0]
    return normals


@pytest.fixture(scope="module")
def msh_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The L-shape as a Gmsh 2.2 file with physical names: "outer" (x = -1 and y = 1) and "walls" (the rest)."""
    points, cells = lshape_mesh()
    domain = kp.MeshDomain(points, cells)
    facets = domain.facets
    mid = points[facets].mean(1)
    outer = (np.abs(mid[:, 0] + 1) < 1e-12) | (np.abs(mid[:, 1] - 1) < 1e-12)
    lines = np.concatenate([facets[outer], facets[~outer]])
    tags = np.concatenate([np.full(outer.sum(), 1), np.full((~outer).sum(), 2)])
    mesh = meshio.Mesh(
        np.column_stack([points, np.zeros(len(points))]),
        [("line", lines), ("triangle", cells)],
        cell_data={"gmsh:physical": [tags, np.full(len(cells), 3)], "gmsh:geometrical": [tags, np.full(len(cells), 3)]},
        field_data={"outer": np.array([1, 1]), "walls": np.array([2, 1]), "surface": np.array([3, 2])},
    )
    path = tmp_path_factory.mktemp("mesh") / "lshape.msh"
    meshio.write(path, mesh, file_format="gmsh22", binary=False)
    return path


@pytest.fixture(scope="module")
def lshape(msh_file: Path) -> kp.MeshDomain:
    return kp.MeshDomain.from_file(msh_file)


def test_reads_gmsh_and_vtu_alike(lshape: kp.MeshDomain, tmp_path: Path) -> None:
    points, cells = lshape_mesh()
    meshio.write(tmp_path / "l.vtu", meshio.Mesh(points, [("triangle", cells)]))
    from_vtu = kp.MeshDomain.from_file(tmp_path / "l.vtu")
    assert lshape.dim == from_vtu.dim == 2 and lshape.cell_type == "triangle"
    assert lshape.measure == pytest.approx(3.0, rel=1e-12) and from_vtu.measure == pytest.approx(3.0, rel=1e-12)
    assert lshape.boundary_measure == pytest.approx(8.0, rel=1e-12)
    assert lshape.bounds == ((-1.0, -1.0), (1.0, 1.0))
    assert set(lshape.side_names) == {"outer", "walls"} and from_vtu.side_names == ()


def test_interior_samples_are_inside_and_uniform(lshape: kp.MeshDomain) -> None:
    x = lshape.sample_interior(6000, generator=gen(), sampler="random")
    assert x.shape == (6000, 2) and x.dtype == torch.float64
    assert in_lshape(x.numpy()).all() and bool(lshape.contains(x).all()) and not bool(lshape.on_boundary(x).any())
    # uniform: each of the three unit quadrants holds about a third
    quadrants = [((x[:, 0] < 0) & (x[:, 1] < 0)), ((x[:, 0] < 0) & (x[:, 1] > 0)), ((x[:, 0] > 0) & (x[:, 1] > 0))]
    assert all(abs(int(q.sum()) / 6000 - 1 / 3) < 0.03 for q in quadrants)


def test_uniform_density_on_a_graded_mesh() -> None:
    """Cells of very different sizes: the density per area stays the same (cells are drawn by their size)."""
    xs = np.concatenate([np.linspace(0, 0.5, 21), np.linspace(0.5, 1, 3)[1:]])  # fine left, coarse right
    tri = Delaunay(np.array([[x, y] for x in xs for y in np.linspace(0, 1, 5)]))
    domain = kp.MeshDomain(tri.points, tri.simplices)
    x = domain.sample_interior(8000, generator=gen(1), sampler="sobol")
    left = float((x[:, 0] < 0.5).double().mean())
    assert abs(left - 0.5) < 0.02


def test_boundary_samples_lie_on_facets_with_outward_normals(lshape: kp.MeshDomain) -> None:
    x, n = lshape.sample_boundary(2000, generator=gen(2), sampler="sobol")
    assert bool(lshape.on_boundary(x).all()) and bool(lshape.contains(x).all())
    assert torch.allclose(n.norm(dim=1), torch.ones(2000, dtype=torch.float64))
    expected = lshape_boundary_normal(x.numpy())
    known = np.abs(expected).sum(1) > 0
    assert known.mean() > 0.99 and np.allclose(n.numpy()[known], expected[known])
    assert torch.allclose(lshape.boundary_normal(x[known]), torch.from_numpy(expected[known]))


def test_contains_and_distance_against_the_analytic_shape(lshape: kp.MeshDomain) -> None:
    x = torch.rand(3000, 2, generator=gen(3), dtype=torch.float64) * 2.4 - 1.2
    assert np.array_equal(lshape.contains(x).numpy(), in_lshape(x.numpy()))
    phi = lshape.distance(x)
    inside = in_lshape(x.numpy())
    assert (phi.numpy()[inside] >= 0).all() and (phi.numpy()[~inside] <= 0).all()
    probe = torch.tensor([[-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]], dtype=torch.float64)
    assert torch.allclose(lshape.distance(probe), torch.tensor([0.5, 0.5, 0.5, -0.5], dtype=torch.float64))


def test_tags_select_their_facets(lshape: kp.MeshDomain) -> None:
    x, n = lshape.sample_side("outer", 400, generator=gen(4))
    on_outer = (np.abs(x[:, 0].numpy() + 1) < 1e-12) | (np.abs(x[:, 1].numpy() - 1) < 1e-12)
    assert on_outer.all() and bool(lshape.side_mask("outer", x).all())
    walls, _ = lshape.sample_side("walls", 400, generator=gen(5))
    assert not bool(lshape.side_mask("outer", walls[(walls.abs() < 0.9).any(1)]).any())
    with pytest.raises(ValueError, match="'inlet'.*tagged parts: 'outer', 'walls'"):
        lshape.sample_side("inlet", 4, generator=gen())
    with pytest.raises(ValueError, match="on='inlet'"):
        kp.Poisson(lshape, f=1, bcs=[kp.Dirichlet(0, on="inlet")])


def test_tetrahedra_make_a_3d_domain(tmp_path: Path) -> None:
    m = 3  # the unit cube in m^3 small cubes, each split into 6 tetrahedra along its diagonal (Kuhn)
    grid = np.linspace(0, 1, m + 1)
    points = np.array([[x, y, z] for x in grid for y in grid for z in grid])
    index = np.arange(len(points)).reshape(m + 1, m + 1, m + 1)
    steps = [np.eye(3, dtype=int)[list(p)] for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))]
    cells = []
    for corner in np.ndindex(m, m, m):
        for order in steps:
            path = [np.array(corner)]
            for step in order:
                path.append(path[-1] + step)
            cells.append([index[tuple(v)] for v in path])
    meshio.write(tmp_path / "cube.vtu", meshio.Mesh(points, [("tetra", np.array(cells))]))
    cube = kp.MeshDomain.from_file(tmp_path / "cube.vtu")
    assert cube.dim == 3 and cube.measure == pytest.approx(1.0) and cube.boundary_measure == pytest.approx(6.0)
    x = cube.sample_interior(500, generator=gen())
    assert bool(((x > 0) & (x < 1)).all()) and bool(cube.contains(x).all())
    b, n = cube.sample_boundary(500, generator=gen())
    axis = (np.minimum(b.numpy(), 1 - b.numpy()) < 1e-12).argmax(1)
    assert np.allclose(np.abs(n.numpy()[np.arange(500), axis]), 1.0)  # normals along the face's axis
    assert bool((((b * n).sum(1) - n.clamp(min=0).sum(1)).abs() < 1e-9).all())  # and pointing out of the cube


def test_bad_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="path"):
        kp.MeshDomain.from_file(tmp_path / "missing.msh")
    (tmp_path / "notes.msh").write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match="path.*not a mesh"):
        kp.MeshDomain.from_file(tmp_path / "notes.msh")
    quads = meshio.Mesh(np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]), [("quad", np.array([[0, 1, 2, 3]]))])
    meshio.write(tmp_path / "quads.vtu", quads)
    with pytest.raises(ValueError, match="no triangles or tetrahedra.*quad"):
        kp.MeshDomain.from_file(tmp_path / "quads.vtu")
    with pytest.raises(ValueError, match="degenerate"):
        kp.MeshDomain(np.array([[0, 0], [1, 0], [2, 0.0]]), np.array([[0, 1, 2]]))


def test_solve_on_a_mesh_and_export_on_its_nodes(msh_file: Path, tmp_path: Path) -> None:
    exact = "sin(pi*x)*sin(pi*y)"
    domain = kp.MeshDomain.from_file(msh_file)
    problem = kp.Poisson(domain, f=f"2*pi**2*{exact}", bcs=[kp.Dirichlet(exact)], exact=exact)
    solver = kp.Solver(problem, width=[2, 8, 1], seed=0, n_interior=1500, n_boundary=400)
    result = solver.solve(grid_schedule=[5, 8], steps=40, progress=False)
    assert result.rel_l2 < 1.5e-2  # measured 5.7e-3 (soft Dirichlet condition)

    h5, xdmf = solver.export_hdf5(tmp_path / "u.h5")
    mesh = meshio.read(xdmf)
    nodes = domain.points[np.unique(domain.cells)]
    assert mesh.points.shape[0] == len(nodes) and mesh.cells[0].type == "triangle"
    assert len(mesh.cells[0].data) == len(domain.cells)
    predicted = solver.predict(torch.from_numpy(np.ascontiguousarray(mesh.points[:, :2]))).numpy()
    np.testing.assert_allclose(np.asarray(mesh.point_data["u"]).reshape(-1), predicted, rtol=1e-12, atol=1e-14)
    assert math.isfinite(float(np.abs(predicted).max()))


def lshape_distance(x: np.ndarray) -> np.ndarray:
    """Exact unsigned distance to the L-shape's boundary (6 segments)."""
    corners = np.array([[-1, -1], [0, -1], [0, 0], [1, 0], [1, 1], [-1, 1], [-1, -1]], dtype=float)
    best = np.full(len(x), np.inf)
    for a, b in zip(corners[:-1], corners[1:]):
        t = np.clip(((x - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
        best = np.minimum(best, np.linalg.norm(x - a - t[:, None] * (b - a), axis=1))
    return best


def test_distance_is_the_exact_distance_to_the_boundary(lshape: kp.MeshDomain) -> None:
    x = torch.rand(4000, 2, generator=gen(7), dtype=torch.float64) * 3 - 1.5
    np.testing.assert_allclose(lshape.distance(x).abs().numpy(), lshape_distance(x.numpy()), atol=1e-12)


def test_grid_sampler_never_puts_interior_points_on_the_boundary(lshape: kp.MeshDomain) -> None:
    x = lshape.sample_interior(4096, generator=gen(), sampler="uniform")
    assert bool(lshape.contains(x).all()) and not bool(lshape.on_boundary(x).any())


def test_tags_given_to_the_constructor_and_3d_tags() -> None:
    points, cells = lshape_mesh(2)
    left = np.array([[i, j] for i, j in kp.MeshDomain(points, cells).facets if points[[i, j], 0].max() < -1 + 1e-12])
    domain = kp.MeshDomain(points, cells, facet_tags={"left": left, "inner": np.array([[0, 6]])})
    assert domain.side_names == ("left",)  # "inner" names no boundary facet
    x, n = domain.sample_side("left", 50, generator=gen())
    assert torch.allclose(x[:, 0], torch.full((50,), -1.0, dtype=torch.float64)) and bool((n[:, 0] == -1).all())
    with pytest.raises(TypeError, match="cells must be integer"):
        kp.MeshDomain(points, cells.astype(float))


def test_a_tagged_tetrahedral_mesh_from_gmsh(tmp_path: Path) -> None:
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    tags = np.array([1, 2, 2, 2])
    physical = [tags, np.array([3])]
    names = {"floor": np.array([1, 2]), "walls": np.array([2, 2]), "body": np.array([3, 3])}
    cells = [("triangle", faces), ("tetra", np.array([[0, 1, 2, 3]]))]
    data = {"gmsh:physical": physical, "gmsh:geometrical": physical}
    mesh = meshio.Mesh(points, cells, cell_data=data, field_data=names)
    meshio.write(tmp_path / "tet.msh", mesh, file_format="gmsh22", binary=False)
    tet = kp.MeshDomain.from_file(tmp_path / "tet.msh")
    assert set(tet.side_names) == {"floor", "walls"} and tet.measure == pytest.approx(1 / 6)
    x, n = tet.sample_side("floor", 20, generator=gen())
    assert torch.allclose(x[:, 2], torch.zeros(20, dtype=torch.float64)) and bool((n[:, 2] == -1).all())
    problem = kp.Poisson(tet, f=1, bcs=[kp.Dirichlet(0, on="floor"), kp.Neumann(0, on="walls")])
    assert kp.Solver(problem, width=[3, 2, 1], n_interior=64).predict(x).shape == (20,)
