"""Tests for the geometries (kanpde.pde.geometry and the modules it re-exports: shapes, csg, spacetime)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kanpde.pde.geometry import (
    AbstractGeometry,
    Box,
    Difference,
    Disk,
    Intersection,
    Interval,
    Polygon,
    Rectangle,
    SpaceTime,
    TimeInterval,
    Union,
)
from kanpde.pde.sampling import UniformGridSampler


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


L_SHAPE = [(0, 0), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0)]  # clockwise on purpose
GEOMETRIES: dict[str, Callable[[], AbstractGeometry]] = {
    "interval": lambda: Interval(-1, 2),
    "rectangle": lambda: Rectangle((0, 0), (1, 2)),
    "box3": lambda: Box((0, 0, 0), (1, 2, 0.5)),
    "disk": lambda: Disk((0.5, -0.5), 0.75),
    "triangle": lambda: Polygon([(0, 0), (1, 0), (0, 1)]),
    "l_shape": lambda: Polygon(L_SHAPE),
    "union": lambda: Rectangle((0, 0), (1, 1)) | Disk((1, 0.5), 0.4),
    "intersection": lambda: Rectangle((0, 0), (1, 1)) & Disk((1, 0.5), 0.6),
    "difference": lambda: Rectangle((0, 0), (1, 1)) - Disk((0.5, 0.5), 0.25),
    "nested": lambda: (Rectangle((0, 0), (2, 1)) - Disk((0.5, 0.5), 0.2)) | Polygon([(1, 0.5), (3, 0.5), (2, 2)]),
    "interval_union": lambda: Interval(0, 1) | Interval(2, 3),
    "spacetime_2d": lambda: SpaceTime(Rectangle((0, 0), (1, 1)), TimeInterval(0, 0.5)),
    "spacetime_1d": lambda: SpaceTime(Interval(0, 1), (1, 2)),
}
SAMPLERS = ["uniform", "random", "lhs", "sobol", "halton"]


@pytest.fixture(scope="module", params=list(GEOMETRIES))
def geometry(request: pytest.FixtureRequest) -> AbstractGeometry:
    return GEOMETRIES[request.param]()


def near_corner(geometry: AbstractGeometry, x: torch.Tensor, radius: float = 1e-3) -> torch.Tensor:
    """Points within `radius` of a non-smooth part of the boundary (where the outward probe is ambiguous)."""
    if isinstance(geometry, SpaceTime):
        return near_corner(geometry.space, x[:, :-1], radius)
    if isinstance(geometry, Box):
        faces = sum(geometry.side_mask(name, x, tol=radius).long() for name in geometry.side_names)
        return faces >= 2
    if isinstance(geometry, Polygon):
        vertices = torch.tensor(geometry.vertices, dtype=x.dtype)
        return torch.cdist(x, vertices).min(dim=1).values < radius
    if isinstance(geometry, (Union, Intersection, Difference)):
        a, b = geometry.a, geometry.b
        both = a.on_boundary(x, tol=radius) & b.on_boundary(x, tol=radius)
        return both | near_corner(a, x, radius) | near_corner(b, x, radius)
    return torch.zeros(len(x), dtype=torch.bool)


# ---------------------------------------------------------------- contract, parametrized over geometries x samplers


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_interior_samples_are_strictly_inside(geometry: AbstractGeometry, sampler: str) -> None:
    points = geometry.sample_interior(150, generator=gen(), sampler=sampler)
    assert points.shape == (150, geometry.dim)
    assert points.dtype == torch.float64
    assert bool(geometry.contains(points).all())
    assert not bool(geometry.on_boundary(points).any())
    assert bool((geometry.distance(points) > 0).all())


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_boundary_samples_lie_on_the_boundary_with_unit_normals(geometry: AbstractGeometry, sampler: str) -> None:
    points, normals = geometry.sample_boundary(151, generator=gen(), sampler=sampler)
    assert points.shape == normals.shape == (151, geometry.dim)
    assert points.dtype == normals.dtype == torch.float64
    assert bool(geometry.on_boundary(points).all())
    assert bool(geometry.contains(points).all())
    torch.testing.assert_close(torch.linalg.vector_norm(normals, dim=1), torch.ones(151, dtype=torch.float64))
    torch.testing.assert_close(geometry.distance(points), torch.zeros(151, dtype=torch.float64), atol=1e-12, rtol=0)


def test_normals_point_outward_away_from_corners(geometry: AbstractGeometry) -> None:
    points, normals = geometry.sample_boundary(400, generator=gen(1), sampler="random")
    smooth = ~near_corner(geometry, points)
    assert float(smooth.double().mean()) > 0.95
    points, normals = points[smooth], normals[smooth]
    eps = 1e-6
    assert not bool(geometry.contains(points + eps * normals).any())
    assert bool(geometry.contains(points - eps * normals).all())
    assert not bool(geometry.on_boundary(points - eps * normals).any())
    torch.testing.assert_close(geometry.boundary_normal(points), normals)


def test_sampling_is_deterministic_in_the_generator(geometry: AbstractGeometry) -> None:
    interior = geometry.sample_interior(64, generator=gen(7))
    boundary, normals = geometry.sample_boundary(64, generator=gen(7))
    torch.testing.assert_close(interior, geometry.sample_interior(64, generator=gen(7)), rtol=0, atol=0)
    again, again_normals = geometry.sample_boundary(64, generator=gen(7))
    torch.testing.assert_close(boundary, again, rtol=0, atol=0)
    torch.testing.assert_close(normals, again_normals, rtol=0, atol=0)
    assert not torch.equal(interior, geometry.sample_interior(64, generator=gen(8)))


def test_dtype_and_empty_requests(geometry: AbstractGeometry) -> None:
    points = geometry.sample_interior(10, generator=gen(), dtype=torch.float32)
    boundary, normals = geometry.sample_boundary(10, generator=gen(), dtype=torch.float32, device="cpu")
    assert points.dtype == boundary.dtype == normals.dtype == torch.float32
    assert bool(geometry.contains(points, tol=1e-6).all())
    assert geometry.sample_interior(0, generator=gen()).shape == (0, geometry.dim)
    assert geometry.sample_boundary(0, generator=gen())[0].shape == (0, geometry.dim)


def test_bounds_enclose_samples(geometry: AbstractGeometry) -> None:
    lower, upper = (torch.tensor(b, dtype=torch.float64) for b in geometry.bounds)
    assert len(geometry.bounds[0]) == len(geometry.bounds[1]) == geometry.dim
    points = torch.cat(
        [geometry.sample_interior(100, generator=gen()), geometry.sample_boundary(100, generator=gen())[0]]
    )
    assert bool((points >= lower - 1e-12).all()) and bool((points <= upper + 1e-12).all())


def test_points_outside_have_negative_distance(geometry: AbstractGeometry) -> None:
    lower, upper = (torch.tensor(b, dtype=torch.float64) for b in geometry.bounds)
    width = upper - lower
    x = lower - 0.5 * width + 2 * width * torch.rand(2000, geometry.dim, generator=gen(), dtype=torch.float64)
    if isinstance(geometry, SpaceTime):  # its distance function vanishes on the lateral boundary only
        x[:, -1] = x[:, -1].clamp(*geometry.bounds[0][-1:], *geometry.bounds[1][-1:])
    outside = ~geometry.contains(x)
    inside = geometry.contains(x) & ~geometry.on_boundary(x)
    assert bool(outside.any()) and bool(inside.any())
    phi = geometry.distance(x)
    assert bool((phi[outside] < 0).all())
    assert bool((phi[inside] > 0).all())


def test_distance_is_differentiable_inside(geometry: AbstractGeometry) -> None:
    x = geometry.sample_interior(50, generator=gen()).requires_grad_(True)
    (grad,) = torch.autograd.grad(geometry.distance(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    assert bool(torch.isfinite(grad).all()) and bool(torch.isfinite(second).all())


# ---------------------------------------------------------------- measures and uniformity


@pytest.mark.parametrize(
    ("name", "measure", "boundary_measure", "rel"),
    [
        ("interval", 3.0, 2.0, 1e-12),
        ("rectangle", 2.0, 6.0, 1e-12),
        ("box3", 1.0, 2 * (2 + 0.5 + 1), 1e-12),
        ("disk", math.pi * 0.75**2, 2 * math.pi * 0.75, 1e-12),
        ("triangle", 0.5, 2 + math.sqrt(2), 1e-12),
        ("l_shape", 3.0, 8.0, 1e-12),
        ("difference", 1 - math.pi / 16, 4 + math.pi / 2, 1e-2),
        ("interval_union", 2.0, 4.0, 1e-2),
        ("spacetime_2d", 0.5, 2.0, 1e-12),
    ],
)
def test_measures(name: str, measure: float, boundary_measure: float, rel: float) -> None:
    geometry = GEOMETRIES[name]()
    assert geometry.measure == pytest.approx(measure, rel=rel)
    assert geometry.boundary_measure == pytest.approx(boundary_measure, rel=rel)


def test_union_boundary_measure() -> None:
    # The disk (centre (1, 0.5), radius 0.4) covers y in (0.1, 0.9) of the right edge and adds a half circle.
    geometry = GEOMETRIES["union"]()
    assert geometry.boundary_measure == pytest.approx(4 - 0.8 + math.pi * 0.4, rel=1e-2)
    assert geometry.measure == pytest.approx(1 + math.pi * 0.4**2 / 2, rel=1e-2)


def test_box_boundary_is_split_by_face_area() -> None:
    points, normals = Rectangle((0, 0), (1, 2)).sample_boundary(600, generator=gen())
    counts = {
        name: int(Rectangle((0, 0), (1, 2)).side_mask(name, points).sum()) for name in ("xmin", "xmax", "ymin", "ymax")
    }
    assert counts == {"xmin": 200, "xmax": 200, "ymin": 100, "ymax": 100}


def test_difference_boundary_is_uniform_by_length() -> None:
    geometry = GEOMETRIES["difference"]()
    points, normals = geometry.sample_boundary(4000, generator=gen())
    on_hole = Disk((0.5, 0.5), 0.25).on_boundary(points)
    expected = (math.pi / 2) / (4 + math.pi / 2)
    assert float(on_hole.double().mean()) == pytest.approx(expected, abs=0.03)
    # Hole normals point into the hole, towards its centre.
    inward = (torch.tensor([0.5, 0.5], dtype=torch.float64) - points[on_hole]) / 0.25
    torch.testing.assert_close(normals[on_hole], inward)


def test_disk_boundary_angles_are_uniform() -> None:
    points, _ = Disk((0, 0), 1).sample_boundary(1024, generator=gen())
    angles = torch.atan2(points[:, 1], points[:, 0])
    counts = torch.histc(angles, bins=8, min=-math.pi, max=math.pi)
    assert bool(((counts - 128).abs() <= 3).all())


def test_uniform_sampler_gives_a_regular_grid_on_a_box() -> None:
    points = Rectangle((0, 0), (1, 2)).sample_interior(16, generator=gen(), sampler=UniformGridSampler())
    xs, ys = sorted(set(points[:, 0].tolist())), sorted(set(points[:, 1].tolist()))
    assert xs == pytest.approx([0.125, 0.375, 0.625, 0.875]) and ys == pytest.approx([0.25, 0.75, 1.25, 1.75])


# ---------------------------------------------------------------- intervals, boxes and named sides


def test_interval_boundary_splits_between_the_ends() -> None:
    points, normals = Interval(0, 1).sample_boundary(5, generator=gen())
    assert points[:, 0].tolist() == [0, 0, 0, 1, 1]
    assert normals[:, 0].tolist() == [-1, -1, -1, 1, 1]
    assert Interval(0, 1).side_names == ("xmin", "xmax")


def test_side_names() -> None:
    assert Rectangle((0, 0), (1, 1)).side_names == ("xmin", "xmax", "ymin", "ymax")
    assert Box((0, 0, 0), (1, 1, 1)).side_names[-2:] == ("zmin", "zmax")
    assert Box((0,) * 5, (1,) * 5).side_names[6:] == ("x4min", "x4max", "x5min", "x5max")
    assert Disk((0, 0), 1).side_names == ()


@pytest.mark.parametrize(("alias", "name"), [("left", "xmin"), ("right", "xmax"), ("bottom", "ymin"), ("top", "ymax")])
def test_two_dimensional_aliases(alias: str, name: str) -> None:
    box = Rectangle((0, 0), (1, 2))
    points, normals = box.sample_side(alias, 20, generator=gen())
    assert bool(box.side_mask(name, points).all()) and bool(box.side_mask(alias, points).all())
    torch.testing.assert_close(normals, box.boundary_normal(points))


def test_interval_aliases() -> None:
    points = torch.tensor([[0.0], [0.5], [1.0]], dtype=torch.float64)
    assert Interval(0, 1).side_mask("left", points).tolist() == [True, False, False]
    assert Interval(0, 1).side_mask("right", points).tolist() == [False, False, True]


@pytest.mark.parametrize("name", ["xmin", "xmax", "ymin", "ymax", "zmin", "zmax"])
def test_box_sides_select_their_face(name: str) -> None:
    box = Box((0, 0, 0), (1, 2, 0.5))
    points, normals = box.sample_side(name, 50, generator=gen(), sampler="random")
    assert points.shape == normals.shape == (50, 3)
    assert bool(box.side_mask(name, points).all())
    for other in box.side_names:
        if other != name:
            assert not bool(box.side_mask(other, points).any())
    axis, sign = "xyz".index(name[0]), 1.0 if name.endswith("max") else -1.0
    expected = torch.zeros(50, 3, dtype=torch.float64)
    expected[:, axis] = sign
    torch.testing.assert_close(normals, expected)


def test_unknown_sides_list_the_valid_names() -> None:
    with pytest.raises(ValueError, match="xmin") as info:
        Box((0, 0, 0), (1, 1, 1)).side_mask("top", torch.zeros(1, 3))
    assert "zmax" in str(info.value) and "'top'" in str(info.value)
    with pytest.raises(ValueError, match="left"):
        Rectangle((0, 0), (1, 1)).sample_side("front", 3, generator=gen())
    with pytest.raises(ValueError, match="side"):
        Disk((0, 0), 1).side_mask("xmin", torch.zeros(1, 2))


def test_spacetime_sides_follow_the_space_box() -> None:
    geometry = GEOMETRIES["spacetime_2d"]()
    points, normals = geometry.sample_side("top", 30, generator=gen())
    assert bool(geometry.side_mask("top", points).all()) and not bool(geometry.side_mask("bottom", points).any())
    assert bool((points[:, 1] == 1).all()) and bool((points[:, 2] >= 0).all()) and bool((points[:, 2] <= 0.5).all())
    torch.testing.assert_close(normals, torch.tensor([[0.0, 1.0, 0.0]] * 30, dtype=torch.float64))


# ---------------------------------------------------------------- space-time


def test_spacetime_sampling() -> None:
    geometry = SpaceTime(Disk((0, 0), 1), TimeInterval(0.0, 2.0))
    assert geometry.dim == 3 and geometry.space_dim == 2
    assert geometry.bounds == ((-1.0, -1.0, 0.0), (1.0, 1.0, 2.0))
    interior = geometry.sample_interior(200, generator=gen())
    assert bool((interior[:, 2] > 0).all()) and bool((interior[:, 2] < 2).all())
    initial = geometry.sample_initial(50, generator=gen(), sampler="halton")
    assert initial.shape == (50, 3) and bool((initial[:, 2] == 0).all())
    assert bool(Disk((0, 0), 1).contains(initial[:, :2]).all())
    _, normals = geometry.sample_boundary(100, generator=gen())
    assert bool((normals[:, 2] == 0).all())
    # Boundary times spread over the whole interval.
    times = geometry.sample_boundary(400, generator=gen())[0][:, 2]
    assert float(times.min()) < 0.1 and float(times.max()) > 1.9


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("build", "error", "names"),
    [
        (lambda: Box((0, 0), (1,)), ValueError, ["lower", "upper"]),
        (lambda: Box((0, 1), (1, 1)), ValueError, ["lower[1]", "axis y"]),
        (lambda: Box((0, float("nan")), (1, 1)), ValueError, ["lower[1]"]),
        (lambda: Box((0, 0), (1, float("inf"))), ValueError, ["upper[1]"]),
        (lambda: Box(1.0, 2.0), TypeError, ["lower"]),
        (lambda: Box([], []), ValueError, ["lower"]),
        (lambda: Rectangle((0, 0, 0), (1, 1, 1)), ValueError, ["lower"]),
        (lambda: Interval(1, 0), ValueError, ["a", "b"]),
        (lambda: Interval(0, "1"), TypeError, ["b"]),
        (lambda: Disk((0, 0), 0), ValueError, ["radius"]),
        (lambda: Disk((0, 0), -1), ValueError, ["radius"]),
        (lambda: Disk((0, 0, 0), 1), ValueError, ["center"]),
        (lambda: Disk((0, float("nan")), 1), ValueError, ["center[1]"]),
        (lambda: Polygon([(0, 0), (1, 0)]), ValueError, ["vertices"]),
        (lambda: Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), ValueError, ["vertices", "intersect"]),
        (lambda: Polygon([(0, 0), (1, 0), (2, 0)]), ValueError, ["vertices"]),
        (lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), ValueError, ["vertices"]),
        (lambda: Polygon([(0, 0), (1, 0, 3), (0, 1)]), ValueError, ["vertices[1]"]),
        (lambda: Polygon(5), TypeError, ["vertices"]),
        (lambda: TimeInterval(1, 1), ValueError, ["t0", "t1"]),
        (lambda: TimeInterval(0, float("nan")), ValueError, ["t1"]),
        (lambda: SpaceTime(Interval(0, 1), (0, 1, 2)), ValueError, ["time"]),
        (lambda: SpaceTime(Interval(0, 1), 3.0), TypeError, ["time"]),
        (lambda: SpaceTime(SpaceTime(Interval(0, 1), (0, 1)), (0, 1)), TypeError, ["geometry"]),
        (lambda: Rectangle((0, 0), (1, 1)) | Interval(0, 1), ValueError, ["dim"]),
        (lambda: Union(Interval(0, 1), 3), TypeError, ["b"]),
        (lambda: Union(SpaceTime(Interval(0, 1), (0, 1)), Rectangle((0, 0), (1, 1))), TypeError, ["a"]),
        (lambda: Rectangle((0, 0), (1, 1)) & Rectangle((2, 2), (3, 3)), ValueError, ["empty"]),
        (lambda: Rectangle((0, 0), (1, 1)) & Disk((2, 2), 1.2), ValueError, ["empty"]),
        (lambda: Rectangle((0, 0), (1, 1)) - Disk((0.5, 0.5), 1), ValueError, ["empty"]),
    ],
)
def test_invalid_construction(build: Callable[[], object], error: type[Exception], names: list[str]) -> None:
    with pytest.raises(error) as info:
        build()
    for name in names:
        assert name in str(info.value)


def test_invalid_queries_and_sampling_arguments() -> None:
    box = Rectangle((0, 0), (1, 1))
    with pytest.raises(ValueError, match="points"):
        box.contains(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="points"):
        box.on_boundary(torch.zeros(4))
    with pytest.raises(ValueError, match="points"):
        box.distance(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="points"):
        box.boundary_normal([[0.0, 0.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_points"):
        box.sample_interior(-1, generator=gen())
    with pytest.raises(ValueError, match="n_points"):
        box.sample_boundary(3.0, generator=gen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="generator"):
        box.sample_interior(3, generator=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sampler"):
        box.sample_boundary(3, generator=gen(), sampler="best")
    with pytest.raises(ValueError, match="dtype"):
        box.sample_interior(3, generator=gen(), dtype=torch.int64)
    with pytest.raises(TypeError, match="tol"):
        box.contains(torch.zeros(1, 2), tol="small")  # type: ignore[arg-type]


# ---------------------------------------------------------------- particular shapes


def test_polygon_orientation_does_not_matter() -> None:
    clockwise, counter = Polygon(L_SHAPE), Polygon(L_SHAPE[::-1])
    x = torch.rand(500, 2, generator=gen(), dtype=torch.float64) * 2.2 - 0.1
    assert torch.equal(clockwise.contains(x), counter.contains(x))
    torch.testing.assert_close(clockwise.distance(x), counter.distance(x))
    inside = torch.tensor([[0.5, 1.5], [1.5, 0.5]], dtype=torch.float64)
    notch = torch.tensor([[1.5, 1.5]], dtype=torch.float64)
    assert bool(clockwise.contains(inside).all()) and not bool(clockwise.contains(notch).any())


def test_polygon_accepts_a_closing_vertex() -> None:
    assert Polygon([(0, 0), (1, 0), (0, 1), (0, 0)]).vertices == ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))


def test_closed_set_semantics() -> None:
    box = Rectangle((0, 0), (1, 1))
    x = torch.tensor([[0.0, 0.5], [1.0, 1.0], [0.5, 0.5], [1.0 + 1e-6, 0.5]], dtype=torch.float64)
    assert box.contains(x).tolist() == [True, True, True, False]
    assert box.on_boundary(x).tolist() == [True, True, False, False]
    assert box.contains(x, tol=1e-5).tolist() == [True, True, True, True]


def test_known_distance_functions() -> None:
    x = torch.tensor([[0.25], [0.5]], dtype=torch.float64)
    torch.testing.assert_close(Interval(0, 1).distance(x), torch.tensor([0.1875, 0.25], dtype=torch.float64))
    y = torch.tensor([[0.0, 0.0], [0.5, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(Disk((0, 0), 1).distance(y), torch.tensor([0.5, 0.375], dtype=torch.float64))
    # Unit slope at a smooth boundary.
    z = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(Disk((0, 0), 1).distance(z).sum(), z)
    torch.testing.assert_close(grad, torch.tensor([[-1.0, 0.0]], dtype=torch.float64))


def test_distance_keeps_dtype() -> None:
    x = torch.rand(5, 2, generator=gen()).float()
    for geometry in (Rectangle((0, 0), (1, 1)), Disk((0, 0), 1), Polygon(L_SHAPE), GEOMETRIES["difference"]()):
        assert geometry.distance(x).dtype == torch.float32


# ---------------------------------------------------------------- property test


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    dim=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_random_boxes_and_disks_contain_their_samples(data: st.DataObject, dim: int, seed: int) -> None:
    coordinate = st.floats(min_value=-100, max_value=100, allow_nan=False)
    width = st.floats(min_value=1e-2, max_value=50, allow_nan=False)
    lower = data.draw(st.lists(coordinate, min_size=dim, max_size=dim))
    upper = [a + data.draw(width) for a in lower]
    sampler = data.draw(st.sampled_from(SAMPLERS))
    geometries: list[AbstractGeometry] = [Box(lower, upper)]
    if dim == 2:
        geometries.append(Disk(lower, data.draw(width)))
    for geometry in geometries:
        points = geometry.sample_interior(32, generator=gen(seed), sampler=sampler)
        assert bool(geometry.contains(points).all()) and not bool(geometry.on_boundary(points).any())
        boundary, normals = geometry.sample_boundary(32, generator=gen(seed), sampler=sampler)
        assert bool(geometry.on_boundary(boundary).all())
        torch.testing.assert_close(torch.linalg.vector_norm(normals, dim=1), torch.ones(32, dtype=torch.float64))
