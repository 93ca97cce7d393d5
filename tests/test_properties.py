"""Property-based tests (hypothesis): geometry sampling, B-spline identities, expression parsing, export round trips.

Every test runs a fixed, derandomized set of examples (``PROPERTY``), so runs are deterministic; the whole file takes
a few seconds.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kanpde as kp
from kanpde.kan import spline
from kanpde.kan.grid import gauss_legendre_samples, refined_layer
from kanpde.pde.expressions import as_expression
from kanpde.pde.geometry import AbstractGeometry

F64 = torch.float64
PROPERTY = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}
SAMPLERS = st.sampled_from(["uniform", "random", "lhs", "sobol", "halton"])
coordinate = st.floats(-10, 10)
length = st.floats(0.1, 10)


# ---------------------------------------------------------------- geometry: samples lie in their geometry


@st.composite
def boxes(draw: st.DrawFn) -> AbstractGeometry:
    dim = draw(st.integers(1, 3))
    lower = draw(st.lists(coordinate, min_size=dim, max_size=dim))
    upper = [a + draw(length) for a in lower]
    return {1: lambda: kp.Interval(lower[0], upper[0]), 2: lambda: kp.Rectangle(lower, upper)}.get(
        dim, lambda: kp.Box(lower, upper)
    )()


@st.composite
def disks(draw: st.DrawFn) -> kp.Disk:
    return kp.Disk((draw(coordinate), draw(coordinate)), draw(st.floats(0.05, 10)))


@st.composite
def convex_polygons(draw: st.DrawFn) -> kp.Polygon:
    """Vertices on an ellipse at increasing angles (at least 2*pi/40 apart), in either orientation."""
    gaps = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=3, max_size=8)))
    angles = draw(st.floats(0, 2 * math.pi)) + 2 * math.pi * np.cumsum(gaps) / gaps.sum()
    rx, ry = draw(st.floats(0.2, 5)), draw(st.floats(0.2, 5))
    centre = np.array([draw(coordinate), draw(coordinate)])
    vertices = centre + np.stack([rx * np.cos(angles), ry * np.sin(angles)], axis=1)
    return kp.Polygon(vertices[::-1] if draw(st.booleans()) else vertices)


@st.composite
def csg_domains(draw: st.DrawFn) -> AbstractGeometry:
    """A rectangle combined with a disk centred inside it (so that no combination is empty)."""
    lower = (draw(coordinate), draw(coordinate))
    sides = (draw(st.floats(0.5, 5)), draw(st.floats(0.5, 5)))
    rectangle = kp.Rectangle(lower, (lower[0] + sides[0], lower[1] + sides[1]))
    centre = [a + s * draw(st.floats(0.3, 0.7)) for a, s in zip(lower, sides)]
    disk = kp.Disk(centre, min(sides) * draw(st.floats(0.1, 0.6)))
    return draw(st.sampled_from([rectangle | disk, rectangle & disk, rectangle - disk]))


def check_samples(geometry: AbstractGeometry, sampler: str, seed: int, *, outward: bool) -> None:
    """Interior samples strictly inside; boundary samples on the boundary with outward unit normals."""
    generator = torch.Generator().manual_seed(seed)
    inside = geometry.sample_interior(64, generator=generator, sampler=sampler)
    assert inside.shape == (64, geometry.dim) and inside.dtype == F64
    assert bool(geometry.contains(inside).all()) and not bool(geometry.on_boundary(inside).any())
    points, normals = geometry.sample_boundary(64, generator=generator, sampler=sampler)
    assert points.shape == normals.shape == (64, geometry.dim)
    assert bool(geometry.on_boundary(points).all()) and bool(geometry.contains(points, tol=1e-9).all())
    torch.testing.assert_close(torch.linalg.vector_norm(normals, dim=1), torch.ones(64, dtype=F64))
    if outward:  # a step along the normal leaves the domain (true for convex shapes, corners included)
        lower, upper = (torch.tensor(b, dtype=F64) for b in geometry.bounds)
        step = 1e-6 * float(torch.linalg.vector_norm(upper - lower)) * normals
        assert not bool(geometry.contains(points + step).any())


@settings(max_examples=40, **PROPERTY)
@given(geometry=st.one_of(boxes(), disks(), convex_polygons()), sampler=SAMPLERS, seed=st.integers(0, 2**31))
def test_samples_of_primitive_shapes_lie_in_them(geometry: AbstractGeometry, sampler: str, seed: int) -> None:
    check_samples(geometry, sampler, seed, outward=True)


@settings(max_examples=15, **PROPERTY)
@given(geometry=csg_domains(), sampler=SAMPLERS, seed=st.integers(0, 2**31))
def test_samples_of_boolean_combinations_lie_in_them(geometry: AbstractGeometry, sampler: str, seed: int) -> None:
    check_samples(geometry, sampler, seed, outward=False)


# ---------------------------------------------------------------- B-splines on random knots


@st.composite
def knot_vectors(draw: st.DrawFn, *, max_grid: int = 10) -> tuple[torch.Tensor, int]:
    """Non-uniform knots (gaps within a factor 20 of each other) and a degree k."""
    k, grid_size = draw(st.integers(1, 4)), draw(st.integers(1, max_grid))
    gaps = draw(st.lists(st.floats(0.05, 1.0), min_size=grid_size + 2 * k, max_size=grid_size + 2 * k))
    knots = draw(coordinate) + torch.cumsum(torch.tensor([0.0, *gaps], dtype=F64), 0)
    return knots[None, :], k


def interior_points(knots: torch.Tensor, k: int, fractions: list[float]) -> torch.Tensor:
    lo, hi = knots[0, k], knots[0, -k - 1]
    return (lo + (hi - lo) * torch.tensor([0.0, 1.0, *fractions], dtype=F64))[:, None]


@settings(max_examples=60, **PROPERTY)
@given(
    knots_k=knot_vectors(),
    fractions=st.lists(st.floats(0, 1), min_size=1, max_size=20),
    coefficients=st.lists(st.floats(-100, 100), min_size=64, max_size=64),
)
def test_spline_partition_of_unity(
    knots_k: tuple[torch.Tensor, int], fractions: list[float], coefficients: list[float]
) -> None:
    knots, k = knots_k
    x = interior_points(knots, k, fractions)
    local = spline.local_basis(x, knots, k, derivatives=2, uniform=False)
    h = float(knots.diff().min())
    torch.testing.assert_close(local.values.sum(-1), torch.ones_like(x), atol=1e-12, rtol=0)
    torch.testing.assert_close(local.d1.sum(-1), torch.zeros_like(x), atol=1e-11 / h, rtol=0)
    torch.testing.assert_close(local.d2.sum(-1), torch.zeros_like(x), atol=1e-10 / h**2, rtol=0)
    assert bool((local.values >= -1e-15).all())
    # Random coefficients: the spline is a convex combination of the k+1 active ones.
    n_basis = knots.shape[1] - k - 1
    coef = torch.tensor(coefficients[:n_basis], dtype=F64).reshape(1, 1, n_basis)
    values = spline.evaluate_spline(local, coef, k)[:, 0, 0]
    active = spline.gather_coefficients(local.start, coef, k)[:, 0, :, 0]
    assert bool((values >= active.min(1).values - 1e-9).all() and (values <= active.max(1).values + 1e-9).all())
    torch.testing.assert_close(spline.dense_basis(x, knots, k), spline.dense_basis_cox_de_boor(x, knots, k))


@settings(max_examples=40, **PROPERTY)
@given(
    knots_k=knot_vectors(max_grid=6),
    inserted=st.lists(st.tuples(st.integers(0, 100), st.floats(0.2, 0.8)), min_size=1, max_size=8),
    seed=st.integers(0, 2**31),
)
def test_spline_refit_on_a_finer_grid_with_the_old_knots_reproduces_it(
    knots_k: tuple[torch.Tensor, int], inserted: list[tuple[int, float]], seed: int
) -> None:
    knots, k = knots_k
    interior = knots[:, k : knots.shape[1] - k]
    grid_size = interior.shape[1] - 1
    new_points = [interior[0, i % grid_size] + f * (interior[0, i % grid_size + 1] - interior[0, i % grid_size])
                  for i, f in inserted]  # fmt: skip
    fine_interior = torch.unique(torch.cat([interior[0], torch.stack(new_points)]))[None, :]
    fine_knots = spline.extend_knots(fine_interior, k)  # other end knots than the old ones: still exact inside
    coef = torch.randn(1, 2, knots.shape[1] - k - 1, generator=torch.Generator().manual_seed(seed), dtype=F64)
    samples, weights = gauss_legendre_samples(fine_interior, 2 * (k + 1))
    old_values = spline.evaluate_spline(spline.local_basis(samples, knots, k), coef, k)
    fine_coef = spline.fit_coefficients(samples, old_values, fine_knots, k, weights=weights[:, 0])
    assert fine_coef.shape == (1, 2, fine_knots.shape[1] - k - 1)
    x = interior_points(knots, k, torch.rand(50, generator=torch.Generator().manual_seed(seed + 1)).tolist())
    old = spline.evaluate_spline(spline.local_basis(x, knots, k), coef, k)
    new = spline.evaluate_spline(spline.local_basis(x, fine_knots, k), fine_coef, k)
    torch.testing.assert_close(new, old, atol=1e-9 * (1 + float(coef.abs().max())), rtol=1e-9)


@settings(max_examples=25, **PROPERTY)
@given(
    k=st.integers(1, 3),
    grid_size=st.integers(1, 6),
    factor=st.integers(2, 3),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**31),
)
def test_refined_layer_on_non_uniform_knots_is_the_same_function(
    k: int, grid_size: int, factor: int, shape: tuple[int, int], seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    layer = kp.KANLayer(*shape, grid_size=grid_size, spline_order=k, generator=generator, dtype=F64)
    gaps = 0.1 + torch.rand(shape[0], grid_size + 2 * k, generator=generator, dtype=F64)
    with torch.no_grad():
        layer.grid.copy_(torch.cat([torch.zeros(shape[0], 1, dtype=F64), gaps.cumsum(1)], 1) - 1.0)
        layer.coef.normal_(generator=generator)
    layer.grid_is_uniform = False
    fine, _ = refined_layer(layer, factor * grid_size)  # subdivides every interval: the old knots stay
    assert fine.grid_size == factor * grid_size
    lo, hi = layer.grid_range[:, 0], layer.grid_range[:, 1]
    x = lo + (hi - lo) * torch.rand(100, shape[0], generator=generator, dtype=F64)
    torch.testing.assert_close(fine(x), layer(x), atol=1e-10, rtol=1e-10)


# ---------------------------------------------------------------- expressions: str -> parse -> evaluate

X, Y, T = sympy.symbols("x y t")
_leaves = st.one_of(
    st.sampled_from([X, Y, T, sympy.pi, sympy.E]),
    st.integers(-3, 3).map(sympy.Integer),
    st.fractions(-3, 3, max_denominator=5).map(lambda q: sympy.Rational(q.numerator, q.denominator)),
)
# Functions that stay finite on any real argument, so every generated expression is defined everywhere.
_UNARY = [
    sympy.sin, sympy.cos, sympy.tanh, sympy.atan, lambda u: sympy.exp(sympy.tanh(u)), lambda u: sympy.sqrt(1 + u**2),
    lambda u: sympy.log(2 + sympy.sin(u)), lambda u: u**2, lambda u: -u,
]  # fmt: skip
_BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (2 + sympy.cos(b))]


def _grown(children: st.SearchStrategy[sympy.Expr]) -> st.SearchStrategy[sympy.Expr]:
    unary = st.tuples(st.sampled_from(_UNARY), children).map(lambda fu: fu[0](fu[1]))
    binary = st.tuples(st.sampled_from(_BINARY), children, children).map(lambda fab: fab[0](fab[1], fab[2]))
    return unary | binary


expressions = st.recursive(_leaves, _grown, max_leaves=8)


@settings(max_examples=80, **PROPERTY)
@given(expr=expressions, caret=st.booleans())
def test_expression_string_round_trip(expr: sympy.Expr, caret: bool) -> None:
    coords = ("x", "y", "t")
    text = str(expr).replace("**", "^") if caret else str(expr)  # "^" is a power too
    parsed = as_expression(text, coords=coords, name="g")
    # The same tree as sympy's own parser builds (which may regroup numbers: 2*(c + 2) -> 2*c + 4) ...
    assert parsed.sympy_expr == sympy.sympify(text), f"{text!r} parsed as {parsed.sympy_expr}"
    points = torch.rand(16, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    reference = np.broadcast_to(sympy.lambdify((X, Y, T), expr, modules="numpy")(*points.numpy().T), (16,))
    np.testing.assert_allclose(parsed(points).numpy(), reference, rtol=1e-12, atol=1e-12)  # ... and the same values


# ---------------------------------------------------------------- export -> read back equals predict


@st.composite
def small_solvers(draw: st.DrawFn) -> kp.Solver:
    """An untrained solver with a random network on a random interval or rectangle (or interval x time)."""
    dim = draw(st.integers(1, 2))
    lower = draw(st.lists(st.floats(-5, 5), min_size=dim, max_size=dim))
    upper = [a + draw(st.floats(0.5, 5)) for a in lower]
    domain = kp.Interval(lower[0], upper[0]) if dim == 1 else kp.Rectangle(lower, upper)
    bcs = [kp.Dirichlet("x")] if draw(st.booleans()) else [kp.Neumann(0)]  # with a hard constraint on the box, or none
    if dim == 1 and draw(st.booleans()):
        t0 = draw(st.floats(-1, 1))
        problem: kp.Problem = kp.Heat(domain, time=(t0, t0 + draw(st.floats(0.1, 2))), initial=0, bcs=bcs)
    else:
        problem = kp.Poisson(domain, f=1, bcs=bcs)
    width = [problem.n_coords, draw(st.integers(1, 4)), 1]
    return kp.Solver(problem, width=width, grid=draw(st.integers(1, 6)), k=draw(st.integers(1, 3)),
                     seed=draw(st.integers(0, 2**31)), n_test=16)  # fmt: skip


def with_time(points: np.ndarray, t: float | None) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(points))
    return x if t is None else torch.cat([x, torch.full((len(x), 1), t, dtype=F64)], 1)


@settings(max_examples=12, **PROPERTY)
@given(solver=small_solvers(), resolution=st.integers(2, 6))
def test_export_then_read_equals_predict(solver: kp.Solver, resolution: int) -> None:
    dim = solver.problem.space_dim
    with tempfile.TemporaryDirectory() as folder:
        times = None if solver.problem.time is None else 3
        h5_path, xdmf_path = solver.export_hdf5(Path(folder) / "u.h5", resolution=resolution, times=times)
        with h5py.File(h5_path, "r") as h5:
            points = h5["mesh/points"][:, :dim]
            assert points.shape == (resolution**dim, dim)
            if solver.problem.time is None:
                snapshots = [(None, h5["fields/u"][:])]
            else:
                group = h5["fields/u"]
                snapshots = [(float(group[key].attrs["time"]), group[key][:]) for key in sorted(group)]
                assert [t for t, _ in snapshots] == pytest.approx(h5["grid/t"][:].tolist())
        for t, values in snapshots:
            np.testing.assert_allclose(values, solver.predict(with_time(points, t)).numpy(), rtol=1e-12, atol=1e-12)
        if solver.problem.time is None:
            mesh = meshio.read(xdmf_path)
            np.testing.assert_array_equal(mesh.points[:, :dim], points)
            np.testing.assert_array_equal(mesh.point_data["u"], snapshots[0][1])
            vtu = meshio.read(solver.export_mesh(Path(folder) / "u.vtu", resolution=resolution))
            np.testing.assert_array_equal(vtu.point_data["u"], snapshots[0][1])
        else:
            with meshio.xdmf.TimeSeriesReader(xdmf_path) as reader:
                reader.read_points_cells()
                assert reader.num_steps == len(snapshots)
                for step, (t, values) in enumerate(snapshots):
                    time, point_data, _ = reader.read_data(step)
                    assert time == pytest.approx(t)
                    np.testing.assert_array_equal(point_data["u"], values)
