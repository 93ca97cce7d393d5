"""Output nodes and cells of a geometry, and the solution sampled on them (shared by every exporter and plot).

Boxes get a tensor grid (x fastest) with lines, quadrilaterals or hexahedra. Other shapes get a Delaunay
triangulation (tetrahedra in 3-D) of the bounding-box grid points inside the domain plus points on its boundary,
thinned so that no two nodes are closer than half the grid spacing; simplices whose centroid or an edge midpoint
lies outside are removed, so the cells follow holes and concave parts. Every node lies in the domain.

Beyond three space dimensions no tensor grid or triangulation is made (a grid of 33 nodes per axis has 4e7 nodes
in 5-D): the nodes are scattered points, 80 % inside the domain and 20 % on its boundary (a seeded Halton sample,
the same on every call), with one "vertex" cell per node.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..pde.geometry import AbstractGeometry
from ..pde.memory import check_memory
from ..pde.shapes import Box

if TYPE_CHECKING:
    from ..pde.solution import Solution

__all__ = [
    "OutputMesh",
    "Snapshot",
    "output_mesh",
    "output_times",
    "default_resolution",
    "field_names",
    "sample_solution",
    "check_output_size",
]

_CHUNK = 8192  # points per residual evaluation (the jet keeps a graph for the parameters)
_N_TIMES = 11
DEFAULT_SCATTERED_NODES = 20_000
"""Output nodes beyond three space dimensions when no ``resolution`` is given."""
MAX_GRID_DIM = 3
"""Most space dimensions that get a tensor grid or a triangulation; beyond, the nodes are scattered points."""


@dataclass(frozen=True)
class OutputMesh:
    """Nodes and cells of a spatial domain.

    Attributes:
        points: node coordinates (float64), x fastest on a box grid.
        cells: node indices of each cell (int64).
        cell_type: meshio's name of the cells: "line", "quad", "hexahedron", "triangle", "tetra", or "vertex"
            (scattered nodes beyond three dimensions, one cell per node).
        axes: for a box, the 1-D coordinates along each axis (``points`` is their tensor product); None otherwise.

    Shapes:
        points: ``(n_points, space_dim)``; cells: ``(n_cells, nodes_per_cell)``.
    """

    points: np.ndarray
    cells: np.ndarray
    cell_type: str
    axes: tuple[np.ndarray, ...] | None = None

    @property
    def space_dim(self) -> int:
        return self.points.shape[1]

    @property
    def grid_shape(self) -> tuple[int, ...] | None:
        """C-order shape of a grid field, ``(..., n_y, n_x)``: ``values.reshape(grid_shape)[j, i] = u(x_i, y_j)``."""
        return None if self.axes is None else tuple(len(a) for a in reversed(self.axes))


@dataclass
class Snapshot:
    """The solution at the nodes of an :class:`OutputMesh`, at one time (or for a steady problem).

    Attributes:
        time: the time, or None for a steady problem.
        fields: values by field name (``"u"``; ``"u0", "u1", ...`` for systems).
        exact: exact values by field name (empty without an exact solution).
        error: ``u - exact`` by field name (empty without an exact solution).
        residual: PDE residual by equation name (``"pde"``; ``"pde0", "pde1", ...`` for several equations).

    Shapes:
        every array: ``(n_points,)``, float64.
    """

    time: float | None
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    exact: dict[str, np.ndarray] = field(default_factory=dict)
    error: dict[str, np.ndarray] = field(default_factory=dict)
    residual: dict[str, np.ndarray] = field(default_factory=dict)

    def labelled(self) -> list[tuple[str, str, str, np.ndarray]]:
        """Every array as ``(group, name, label, values)``: group and name in the HDF5 file (``"fields", "u"``),
        label in XDMF and meshio files (``"u"``, ``"u_exact"``, ``"u_error"``, ``"residual_pde"``)."""
        out = [("fields", n, n, v) for n, v in self.fields.items()]
        out += [("exact", n, f"{n}_exact", v) for n, v in self.exact.items()]
        out += [("error", n, f"{n}_error", v) for n, v in self.error.items()]
        out += [("residual", n, f"residual_{n}", v) for n, v in self.residual.items()]
        return out


def default_resolution(space_dim: int) -> int:
    """Nodes per axis when none is asked for: 101 in 1-D and 2-D, 33 in 3-D."""
    return 33 if space_dim >= 3 else 101


def field_names(n_fields: int, prefix: str = "u") -> list[str]:
    """``["u"]`` for one field, ``["u0", "u1", ...]`` for a system."""
    return [prefix] if n_fields == 1 else [f"{prefix}{i}" for i in range(n_fields)]


def _resolution(resolution: int | Sequence[int] | None, dim: int) -> list[int]:
    if resolution is None:
        return [default_resolution(dim)] * dim
    if isinstance(resolution, (str, bytes)):
        raise TypeError(f"resolution must be an integer >= 2 or a list of {dim} integers, got {resolution!r}")
    values = [resolution] * dim if isinstance(resolution, (int, np.integer)) else list(resolution)
    if len(values) != dim or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2 for v in values):
        raise ValueError(
            f"resolution must be an integer >= 2 (nodes per axis) or a list of {dim} such integers, got {resolution!r}"
        )
    counts = [int(v) for v in values]
    # The node grid (coordinates, cells of 2**dim nodes, flags) alone; sampling adds more (check_output_size).
    check_memory(math.prod(counts) * (dim + 2**dim + 2) * 8, f"resolution={resolution!r}", hint="fewer nodes")
    return counts


_VALUES_PER_NODE = 4  # fields, exact solution, error and residual, per field and output time


def check_output_size(mesh: OutputMesh, n_times: int, n_fields: int) -> None:
    """Refuse an export whose sampled values (float64, every field, time and kind) cannot fit in memory.

    Raises:
        ValueError: naming the number of nodes and times, with the estimate.
    """
    n_values = len(mesh.points) * n_times * n_fields * _VALUES_PER_NODE
    what = f"{len(mesh.points)} output nodes x {n_times} times (resolution, times)"
    check_memory(n_values * 8, what, hint="ask for fewer nodes (resolution) or times")


def output_times(problem_time: tuple[float, float] | None, times: Sequence[float] | int | None) -> list[float | None]:
    """Output times: ``[None]`` for a steady problem; by default 11 equally spaced times in ``[t0, t1]``.

    Args:
        problem_time: ``(t0, t1)`` or None.
        times: the times, or their number (equally spaced), or None.
    """
    if problem_time is None:
        if times is not None:
            raise ValueError("times were given but the problem is steady (it has no time interval)")
        return [None]
    t0, t1 = problem_time
    if isinstance(times, (str, bytes)):
        raise TypeError(f"times must be a number of output times or a list of times in [{t0}, {t1}], got {times!r}")
    if times is None or (isinstance(times, (int, np.integer)) and not isinstance(times, bool)):
        count = _N_TIMES if times is None else int(times)
        if count < 1:
            raise ValueError(f"times must be a positive number of output times or a list of times, got {times!r}")
        check_memory(count * 8, f"times={count}", hint="ask for fewer output times")
        return [float(t) for t in np.linspace(t0, t1, count)] if count > 1 else [float(t0)]
    try:
        array = np.asarray(times, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"times must be a list of numbers in [{t0}, {t1}], got {times!r}") from None
    values: list[float | None] = [float(t) for t in array]
    if not values or any(t is None or not math.isfinite(t) for t in values):
        raise ValueError(f"times must be a non-empty list of finite times in [{t0}, {t1}], got {times!r}")
    slack = 1e-12 * max(1.0, abs(t0), abs(t1))  # rounding of times computed by the caller
    outside = [t for t in values if t is not None and not t0 - slack <= t <= t1 + slack]
    if outside:
        raise ValueError(
            f"times must lie in the time interval [{t0}, {t1}] (the solution is not defined beyond it); "
            f"got {outside[:5]}"
        )
    return values


# -- nodes and cells -------------------------------------------------------------------------------------------
def _box_mesh(box: Box, counts: list[int]) -> OutputMesh:
    axes = tuple(np.linspace(a, b, n) for a, b, n in zip(box.lower, box.upper, counts))
    dim = len(axes)
    grids = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # reversed so that x varies fastest
    points = np.stack([g.reshape(-1) for g in grids], axis=1)
    index = np.arange(len(points)).reshape([len(a) for a in reversed(axes)])
    if dim == 1:
        cells = np.stack([index[:-1], index[1:]], axis=1)
        return OutputMesh(points, cells.astype(np.int64), "line", axes)
    if dim == 2:
        quad = [index[:-1, :-1], index[:-1, 1:], index[1:, 1:], index[1:, :-1]]  # counter-clockwise
        cells = np.stack([c.reshape(-1) for c in quad], axis=1)
        return OutputMesh(points, cells.astype(np.int64), "quad", axes)
    if dim == 3:
        bottom = [index[:-1, :-1, :-1], index[:-1, :-1, 1:], index[:-1, 1:, 1:], index[:-1, 1:, :-1]]
        top = [index[1:, :-1, :-1], index[1:, :-1, 1:], index[1:, 1:, 1:], index[1:, 1:, :-1]]
        cells = np.stack([c.reshape(-1) for c in bottom + top], axis=1)
        return OutputMesh(points, cells.astype(np.int64), "hexahedron", axes)
    raise ValueError(f"output meshes exist for 1 to 3 space dimensions, got a {dim}-D box")


def _scattered_nodes(geometry: AbstractGeometry, resolution: int | Sequence[int] | None) -> OutputMesh:
    """Scattered nodes of a domain in more than three dimensions: ``resolution`` is their number."""
    count = DEFAULT_SCATTERED_NODES if resolution is None else resolution
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
        raise ValueError(
            f"resolution must be None or a number of output nodes >= 2 for a {geometry.dim}-D domain (beyond "
            f"{MAX_GRID_DIM} dimensions the nodes are scattered points, not a grid), got {resolution!r}"
        )
    generator = torch.Generator().manual_seed(0)
    n_boundary = int(count) // 5
    inside = geometry.sample_interior(int(count) - n_boundary, generator=generator, sampler="halton")
    boundary, _ = geometry.sample_boundary(n_boundary, generator=generator, sampler="halton")
    points = torch.cat([inside, boundary]).numpy()
    cells = np.arange(len(points), dtype=np.int64)[:, None]
    return OutputMesh(points, cells, "vertex")


def _thinned(points: np.ndarray, radius: float) -> np.ndarray:
    """Mask keeping points (in priority order: earlier wins) so that no two kept points are closer than ``radius``."""
    from scipy.spatial import cKDTree

    keep = np.ones(len(points), dtype=bool)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    if len(pairs):
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        for i, j in pairs:  # only close pairs: boundary samples and the grid points next to them
            if keep[i] and keep[j]:
                keep[j] = False
    return keep


def _candidate_nodes(geometry: AbstractGeometry, counts: list[int]) -> tuple[np.ndarray, float]:
    """Grid points of the bounding box inside ``geometry`` and sampled boundary points, thinned; and the spacing."""
    lower, upper = geometry.bounds
    grid = _box_mesh(Box(lower, upper), counts)
    spacing = min((b - a) / (n - 1) for a, b, n in zip(lower, upper, counts))
    dim = geometry.dim
    x = torch.from_numpy(grid.points)
    inside = geometry.contains(x).numpy()
    on_boundary = geometry.on_boundary(x).numpy() & inside
    # Oversample the boundary (4 points per spacing), then thin: a near-regular spacing even for random samples.
    n_boundary = max(8, math.ceil(4 * geometry.boundary_measure / spacing ** (dim - 1)))
    generator = torch.Generator().manual_seed(0)
    boundary, _ = geometry.sample_boundary(n_boundary, generator=generator, sampler="uniform")
    boundary_np = boundary.numpy()
    boundary_np = boundary_np[geometry.contains(boundary, tol=1e-9).numpy()]
    ordered = np.concatenate([grid.points[on_boundary], boundary_np, grid.points[inside & ~on_boundary]])
    return ordered[_thinned(ordered, 0.5 * spacing)], spacing


def _simplex_mesh(geometry: AbstractGeometry, counts: list[int]) -> OutputMesh:
    points, spacing = _candidate_nodes(geometry, counts)
    dim = geometry.dim
    if dim == 1:
        points = points[np.argsort(points[:, 0], kind="stable")]
        cells = np.stack([np.arange(len(points) - 1), np.arange(1, len(points))], axis=1)
        probes = [0.5 * (points[cells[:, 0]] + points[cells[:, 1]])]
        cell_type = "line"
    else:
        from scipy.spatial import Delaunay

        cells = Delaunay(points).simplices.astype(np.int64)
        corners = points[cells]  # (n_cells, dim + 1, dim)
        volume = np.abs(np.linalg.det(corners[:, 1:] - corners[:, :1])) / math.factorial(dim)
        cells, corners = cells[volume > 1e-10 * spacing**dim], corners[volume > 1e-10 * spacing**dim]
        centroid = corners.mean(axis=1)
        # An edge midpoint a little towards the centroid: a chord along a curved boundary bulges out of the
        # domain by far less than this step, while an edge across a hole or a notch stays outside.
        probes = [centroid] + [
            0.5 * (corners[:, a] + corners[:, b]) * 0.7 + 0.3 * centroid
            for a in range(dim + 1)
            for b in range(a + 1, dim + 1)
        ]
        cell_type = "triangle" if dim == 2 else "tetra"
    keep = np.ones(len(cells), dtype=bool)
    for probe in probes:
        keep &= geometry.contains(torch.from_numpy(np.ascontiguousarray(probe)), tol=1e-9).numpy()
    cells = cells[keep]
    used = np.unique(cells)
    renumber = np.full(len(points), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return OutputMesh(points[used], renumber[cells], cell_type)


def output_mesh(geometry: AbstractGeometry, resolution: int | Sequence[int] | None = None) -> OutputMesh:
    """Nodes and cells covering a spatial geometry (see the module notes).

    Args:
        geometry: a spatial geometry (not a ``SpaceTime``).
        resolution: nodes per axis of the (bounding) box grid, one number or one per axis; default
            :func:`default_resolution` (a :class:`~kanpde.pde.mesh_geometry.MeshDomain` gives its own nodes).
            Beyond three dimensions: the number of scattered nodes (default ``DEFAULT_SCATTERED_NODES``).

    Returns:
        The mesh; a tensor grid with ``axes`` for a :class:`~kanpde.pde.shapes.Box` in 1 to 3 dimensions.

    Raises:
        ValueError: bad ``resolution`` or dimension.
    """
    if not isinstance(geometry, AbstractGeometry):
        raise TypeError(f"geometry must be a kanpde geometry, got {type(geometry).__name__}")
    if geometry.dim > MAX_GRID_DIM:
        return _scattered_nodes(geometry, resolution)
    from ..pde.mesh_geometry import MeshDomain

    if isinstance(geometry, MeshDomain):  # results on the mesh's own nodes and cells (resolution does not apply)
        used = np.unique(geometry.cells)
        renumber = np.full(len(geometry.points), -1, dtype=np.int64)
        renumber[used] = np.arange(len(used))
        return OutputMesh(geometry.points[used], renumber[geometry.cells], geometry.cell_type)
    counts = _resolution(resolution, geometry.dim)
    if isinstance(geometry, Box):
        return _box_mesh(geometry, counts)
    return _simplex_mesh(geometry, counts)


def parameter_members(
    problem: Any, parameters: Mapping[str, Any], when: list[float | None], *, what: str
) -> tuple[list[dict[str, float]] | None, str | None]:
    """The parameter values of each output snapshot, and the name of the swept parameter.

    Args:
        problem: the problem (its ``parameters`` name the inputs that need a value).
        parameters: the values given to the export call (``what``), each a number, or for one parameter of a
            steady problem a list (a sweep: one snapshot per value).
        when: the output times (``[None]`` for a steady problem); a single member is repeated for each.
        what: the calling function's name, for error messages.

    Returns:
        ``(None, None)`` for a problem without parameters; else one dict of parameter values per snapshot and the
        swept parameter's name (None when every parameter has one value).

    Raises:
        ValueError: a parameter without a value, or a sweep of a time-dependent problem (time already makes the
            series: export one member per file).
        TypeError: an unknown parameter name or a value that is not a number or a list of numbers.
    """
    if not parameters and not problem.parameters:
        return None, None
    from ..pde.parameters import parameter_values

    members = parameter_values(problem, parameters, what=what)
    if len(members) == 1:
        return members * len(when), None
    if problem.time is not None:
        raise ValueError(
            f"{what}: a parameter sweep of a time-dependent problem is not supported (time already makes the "
            "series); export one parameter value per file"
        )
    sweep = next(p.name for p in problem.parameters if not isinstance(parameters[p.name], numbers.Real))
    return members, sweep


# -- the solution at the nodes ---------------------------------------------------------------------------------
def _residual(solution: Solution, points: torch.Tensor) -> np.ndarray:
    parts = [solution.residual(chunk).to(torch.float64).cpu() for chunk in points.split(_CHUNK)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 1))


def sample_solution(
    solution: Solution,
    mesh: OutputMesh,
    times: Sequence[float | None],
    *,
    residual: bool = True,
    parameters: Sequence[Mapping[str, float]] | None = None,
) -> list[Snapshot]:
    """The solution, exact solution, error and PDE residual at the nodes of ``mesh``, one snapshot per time.

    Values are ``solution.predict`` at the nodes (with a ``t`` column appended for time-dependent problems).

    Args:
        solution: the (trained) solution (:class:`~kanpde.pde.solution.Solution`).
        mesh: nodes of the spatial domain.
        times: ``[None]`` for a steady problem, else the output times.
        residual: also evaluate the PDE residual.
        parameters: for a parametric problem, the parameter values of each snapshot (one mapping per entry of
            ``times``; a steady problem's sweep labels its snapshots with the swept values in ``times``).
    """
    problem = solution.problem
    names = field_names(problem.n_fields)
    snapshots = []
    for index, t in enumerate(times):
        nodes = torch.from_numpy(mesh.points)
        if t is not None and problem.time is not None:
            nodes = torch.cat([nodes, torch.full((len(nodes), 1), float(t), dtype=torch.float64)], dim=1)
        if parameters is not None:
            from ..pde.parameters import with_parameters

            nodes = with_parameters(problem, nodes, parameters[index], what="export")
        points = nodes.to(dtype=solution.dtype, device=solution.device)
        values = torch.cat([solution.predict(c).reshape(len(c), -1) for c in points.split(_CHUNK)])
        values_np = values.detach().to(torch.float64).cpu().numpy()
        snap = Snapshot(t, {n: np.ascontiguousarray(values_np[:, i]) for i, n in enumerate(names)})
        with torch.no_grad():
            exact = problem.exact_values(points)
        if exact is not None:
            exact_np = exact.detach().to(torch.float64).cpu().numpy().reshape(len(points), -1)
            snap.exact = {n: np.ascontiguousarray(exact_np[:, i]) for i, n in enumerate(names)}
            snap.error = {n: snap.fields[n] - snap.exact[n] for n in names}
        if residual:
            res = _residual(solution, points)
            snap.residual = {n: np.ascontiguousarray(res[:, i]) for i, n in enumerate(field_names(res.shape[1], "pde"))}
        snapshots.append(snap)
    return snapshots
