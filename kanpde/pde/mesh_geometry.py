"""`MeshDomain`: a geometry given by a triangle (2-D) or tetrahedron (3-D) mesh, e.g. read from a Gmsh file.

Interior points are uniform in the domain: a cell is drawn with probability proportional to its size, then a
uniform point in it. Boundary points lie on the boundary facets (the edges or faces that belong to one cell only),
uniform in arc length or area, with the outward normal of their facet. Boundary parts are named by the mesh's
physical tags (Gmsh ``$PhysicalNames`` of line elements in 2-D, triangle elements in 3-D), so
``kp.Dirichlet(0, on="inlet")`` selects the facets tagged "inlet". Point queries locate points in cells with a
k-d tree over cell centroids (exact: every cell that can hold a point is tested). `distance` is the distance to the
nearest boundary facet with the sign of `contains`, differentiable in the points away from facet corners.

meshio is imported only by :meth:`MeshDomain.from_file`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from .geometry import MAX_COORDINATE, AbstractGeometry, _check_extent, _check_sampling
from .sampling import AbstractSampler, make_sampler

__all__ = ["MeshDomain"]

Tensor = torch.Tensor
_F64 = torch.float64
_CELL_TYPES = {2: "triangle", 3: "tetra"}
_FACET_TYPES = {2: "line", 3: "triangle"}


def _simplex_measure(corners: np.ndarray) -> np.ndarray:
    """Length, area or volume of simplices ``(n, k + 1, dim)`` (k-simplices embedded in dim >= k)."""
    edges = corners[:, 1:] - corners[:, :1]  # (n, k, dim)
    gram = np.einsum("nid,njd->nij", edges, edges)
    k = edges.shape[1]
    return np.sqrt(np.clip(np.linalg.det(gram), 0.0, None)) / math.factorial(k)


def _boundary_facets(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Facets that belong to exactly one cell, and for each the vertex of that cell opposite to it."""
    n_vertices = cells.shape[1]
    faces = np.concatenate([np.delete(cells, i, axis=1) for i in range(n_vertices)])
    opposite = np.concatenate([cells[:, i] for i in range(n_vertices)])
    keys = np.sort(faces, axis=1)
    _, index, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    once = index[counts == 1]
    return faces[once], opposite[once]


def _outward_normals(points: np.ndarray, facets: np.ndarray, opposite: np.ndarray) -> np.ndarray:
    """Unit normals of boundary facets, pointing away from the opposite vertex of their cell."""
    a = points[facets[:, 0]]
    if points.shape[1] == 2:
        edge = points[facets[:, 1]] - a
        normal = np.stack([edge[:, 1], -edge[:, 0]], axis=1)
    else:
        normal = np.cross(points[facets[:, 1]] - a, points[facets[:, 2]] - a)
    inward = points[opposite] - a
    normal = np.where((np.einsum("nd,nd->n", normal, inward) > 0)[:, None], -normal, normal)
    return normal / np.linalg.norm(normal, axis=1, keepdims=True)


def _segment_distance(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Distance from points ``x`` to segments ``[a, b]``, row by row (any dimension); differentiable in ``x``."""
    edge = b - a
    t = (((x - a) * edge).sum(1) / (edge * edge).sum(1)).clamp(0.0, 1.0)
    return torch.linalg.vector_norm(x - a - t[:, None] * edge, dim=1)


def _triangle_distance(x: Tensor, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Distance from 3-D points ``x`` to triangles ``abc``, row by row; differentiable in ``x``."""
    normal = torch.linalg.cross(b - a, c - a)
    normal = normal / torch.linalg.vector_norm(normal, dim=1, keepdim=True)
    height = ((x - a) * normal).sum(1)
    foot = x - height[:, None] * normal
    inside = torch.ones(len(x), dtype=torch.bool, device=x.device)  # the foot is on the inner side of every edge
    for p, q in ((a, b), (b, c), (c, a)):
        inside &= (torch.linalg.cross(q - p, foot - p) * normal).sum(1) >= 0
    edges = torch.stack([_segment_distance(x, p, q) for p, q in ((a, b), (b, c), (c, a))], 1)
    return torch.where(inside, height.abs(), edges.min(dim=1).values)


def _distance_rows(x: Tensor, corners: Tensor) -> Tensor:
    """Distance from points ``x`` ``(n, dim)`` to facets ``corners`` ``(n, dim, dim)`` (segments in 2-D, triangles
    in 3-D), row by row."""
    corners = corners.to(dtype=x.dtype, device=x.device)
    if corners.shape[1] == 2:
        return _segment_distance(x, corners[:, 0], corners[:, 1])
    return _triangle_distance(x, corners[:, 0], corners[:, 1], corners[:, 2])


def _fold_to_simplex(u: Tensor) -> Tensor:
    """Uniform points of the unit cube ``(n, k)`` mapped to barycentric weights ``(n, k)`` of a uniform point in the
    standard k-simplex (k = 1, 2, 3), measure-preservingly (Rocchini & Cignoni 2000 for k = 3)."""
    if u.shape[1] == 1:
        return u
    s, t = u[:, 0].clone(), u[:, 1].clone()
    fold = s + t > 1
    s, t = torch.where(fold, 1 - s, s), torch.where(fold, 1 - t, t)
    if u.shape[1] == 2:
        return torch.stack([s, t], 1)
    w = u[:, 2].clone()
    first = t + w > 1
    s1, t1, w1 = s, 1 - w, 1 - s - t
    second = ~first & (s + t + w > 1)
    s2, w2 = 1 - t - w, s + t + w - 1  # t stays
    s = torch.where(first, s1, torch.where(second, s2, s))
    t = torch.where(first, t1, t)
    w = torch.where(first, w1, torch.where(second, w2, w))
    return torch.stack([s, t, w], 1)


class MeshDomain(AbstractGeometry):
    """A domain meshed by triangles (2-D) or tetrahedra (3-D).

    Args:
        points: mesh vertices ``(n_points, 2 or 3)`` (a 2-D mesh may come with a zero z column).
        cells: vertex indices of the triangles ``(n_cells, 3)`` or tetrahedra ``(n_cells, 4)``.
        facet_tags: named boundary parts: name -> vertex indices of tagged facets ``(n, 2)`` (2-D) or ``(n, 3)``
            (3-D); facets that are not on the boundary are ignored.
        source: where the mesh came from (for messages).

    Raises:
        ValueError: no cells, degenerate (zero-size) cells, indices out of range, non-finite coordinates.
    """

    def __init__(
        self,
        points: np.ndarray,
        cells: np.ndarray,
        *,
        facet_tags: Mapping[str, np.ndarray] | None = None,
        source: str | None = None,
    ) -> None:
        points = np.asarray(points, dtype=np.float64)
        cells = np.asarray(cells)
        if cells.ndim != 2 or cells.shape[1] not in (3, 4) or len(cells) == 0:
            raise ValueError(f"cells must be triangles (n, 3) or tetrahedra (n, 4), got shape {cells.shape}")
        dim = cells.shape[1] - 1
        if points.ndim != 2 or points.shape[1] < dim:
            raise ValueError(
                f"points must have shape (n_points, {dim}) for {_CELL_TYPES[dim]} cells, got {points.shape}"
            )
        if points.shape[1] > dim:
            if not np.allclose(points[:, dim:], points[:1, dim:]):
                raise ValueError(f"a {_CELL_TYPES[dim]} mesh must be flat: its extra coordinates vary")
            points = points[:, :dim]
        if not np.isfinite(points).all():
            raise ValueError("points must be finite")
        if not np.issubdtype(cells.dtype, np.integer):
            raise TypeError(f"cells must be integer vertex indices, got dtype {cells.dtype}")
        if cells.min() < 0 or cells.max() >= len(points):
            raise ValueError(f"cells must index the {len(points)} points (0 ... {len(points) - 1})")
        self.points, self.cells, self.source = points, cells.astype(np.int64), source
        self._dim = dim
        used = points[np.unique(self.cells)]
        if np.abs(used).max() > MAX_COORDINATE:  # before the cell sizes, which would overflow
            _check_extent(used.min(axis=0), used.max(axis=0), "points (the mesh's extent)")
        self._cell_size = _simplex_measure(points[self.cells])
        if not self._cell_size.max() > 0:
            raise ValueError(
                f"cells: every {_CELL_TYPES[dim]} of the mesh is degenerate (of zero size: its points are "
                f"{'collinear' if dim == 2 else 'coplanar'}); a {dim}-D mesh needs cells that span {dim} dimensions"
            )
        if not (self._cell_size > 1e-14 * self._cell_size.max()).all():
            raise ValueError(
                f"cells: the mesh has {(self._cell_size <= 1e-14 * self._cell_size.max()).sum()} degenerate "
                "(zero-size) cells"
            )
        _check_extent(used.min(axis=0), used.max(axis=0), "points (the mesh's extent)")
        self.facets, opposite = _boundary_facets(self.cells)
        self._facet_normal = _outward_normals(points, self.facets, opposite)
        self._facet_size = _simplex_measure(points[self.facets])
        centroids = points[self.cells].mean(axis=1)
        self._cell_tree = cKDTree(centroids)
        self._cell_radius = float(np.linalg.norm(points[self.cells] - centroids[:, None], axis=2).max())
        facet_centroids = points[self.facets].mean(axis=1)
        self._facet_tree = cKDTree(facet_centroids)
        self._facet_radius = float(np.linalg.norm(points[self.facets] - facet_centroids[:, None], axis=2).max())
        self._tags = self._tag_facets(facet_tags or {})

    def _tag_facets(self, facet_tags: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Name -> indices into ``self.facets`` of the tagged boundary facets."""
        position = {tuple(key): i for i, key in enumerate(np.sort(self.facets, axis=1).tolist())}
        tags = {}
        for name, facets in facet_tags.items():
            rows = np.sort(np.asarray(facets, dtype=np.int64).reshape(-1, self._dim), axis=1).tolist()
            found = np.array(sorted({position[tuple(r)] for r in rows if tuple(r) in position}), dtype=np.int64)
            if len(found):
                tags[str(name)] = found
        return tags

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MeshDomain:
        """Read a triangle or tetrahedron mesh with meshio (Gmsh .msh, .vtu, .xdmf, ... by suffix).

        Tetrahedra make a 3-D domain; otherwise triangles a 2-D one (other cell types are ignored). Physical tags
        of facet elements (Gmsh ``gmsh:physical`` with ``$PhysicalNames``) become side names.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: ``path`` is not a mesh meshio can read, or has no triangles/tetrahedra.
        """
        import meshio

        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"path: no mesh file at {str(path)!r}")
        try:
            mesh = meshio.read(file)
        except (Exception, SystemExit) as err:  # meshio raises many kinds, and some readers call sys.exit
            raise ValueError(
                f"path: {str(path)!r} is not a mesh meshio can read ({err}); expected a triangle or tetrahedron "
                "mesh in a format meshio knows by its suffix (.msh, .vtu, .xdmf, ...)"
            ) from None
        blocks: dict[str, list[np.ndarray]] = {}
        for block in mesh.cells:
            blocks.setdefault(block.type, []).append(block.data)
        dim = 3 if "tetra" in blocks else 2 if "triangle" in blocks else None
        if dim is None:
            found = ", ".join(sorted(blocks)) or "no cells"
            raise ValueError(f"path: {str(path)!r} has no triangles or tetrahedra (found: {found})")
        cells = np.concatenate(blocks[_CELL_TYPES[dim]])
        return cls(mesh.points, cells, facet_tags=_physical_facets(mesh, dim), source=str(path))

    def __repr__(self) -> str:
        where = f" from {self.source!r}" if self.source else ""
        return f"MeshDomain({len(self.cells)} {_CELL_TYPES[self._dim]}{where})"

    # -- the geometry contract ---------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        used = self.points[np.unique(self.cells)]
        return tuple(used.min(axis=0).tolist()), tuple(used.max(axis=0).tolist())

    @property
    def measure(self) -> float:
        return float(self._cell_size.sum())

    @property
    def boundary_measure(self) -> float:
        return float(self._facet_size.sum())

    @property
    def cell_type(self) -> str:
        """meshio's name of the cells: "triangle" or "tetra"."""
        return _CELL_TYPES[self._dim]

    def _hits(self, x: np.ndarray, rows: np.ndarray, cols: np.ndarray, tol: float) -> np.ndarray:
        """Rows (point indices) whose point lies in the paired cell ``cols`` (barycentric test, tolerance ``tol``)."""
        corners = self.points[self.cells[cols]]  # (m, dim + 1, dim)
        matrix = np.transpose(corners[:, 1:] - corners[:, :1], (0, 2, 1))
        weights = np.linalg.solve(matrix, (x[rows] - corners[:, 0])[..., None])[..., 0]
        bary = np.concatenate([1 - weights.sum(1, keepdims=True), weights], axis=1)
        scale = self._cell_size[cols] ** (1 / self._dim)
        return rows[(bary >= -tol / scale[:, None] - 1e-12).all(axis=1)]

    def _in_cells(self, x: np.ndarray, tol: float) -> np.ndarray:
        """Whether each point lies in some cell (barycentric coordinates >= -tol relative to the cell size).

        The cells of the 8 nearest centroids are tried first; the points not found in them get the exact search
        (every cell whose centroid lies within the largest cell radius), which is slow only on strongly graded
        meshes and for points outside the domain.
        """
        inside = np.zeros(len(x), dtype=bool)
        if not len(x):
            return inside
        k = min(8, len(self.cells))
        _, near = self._cell_tree.query(x, k=k)
        near = near.reshape(len(x), k)
        inside[self._hits(x, np.repeat(np.arange(len(x)), k), near.reshape(-1), tol)] = True
        rest = np.flatnonzero(~inside)
        for start in range(0, len(rest), 20_000):
            part = rest[start : start + 20_000]
            candidates = self._cell_tree.query_ball_point(x[part], self._cell_radius + tol)
            rows = np.repeat(part, [len(c) for c in candidates])
            if len(rows):
                cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in candidates])
                inside[self._hits(x, rows, cols, tol)] = True
        return inside

    def _nearest_facets(self, x: np.ndarray, tol: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest boundary facet of each point and its distance (inf beyond ``tol``, when given)."""
        corners = torch.from_numpy(self.points[self.facets])
        best = np.full(len(x), np.inf)
        index = np.zeros(len(x), dtype=np.int64)
        k = min(len(self.facets), 8)
        if math.isfinite(tol):
            lists = self._facet_tree.query_ball_point(x, self._facet_radius + tol)
            rows = np.repeat(np.arange(len(x)), [len(c) for c in lists])
            cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in lists]) if len(rows) else rows
        else:  # the nearest facet's centroid lies within (distance to the k nearest candidates + facet radius)
            _, near = self._facet_tree.query(x, k=k)
            near = near.reshape(len(x), k)
            rows, cols = np.repeat(np.arange(len(x)), k), near.reshape(-1)
            bound = _distance_rows(torch.from_numpy(x[rows]), corners[cols]).numpy().reshape(len(x), k).min(1)
            lists = self._facet_tree.query_ball_point(x, bound + self._facet_radius + 1e-12)
            rows = np.repeat(np.arange(len(x)), [len(c) for c in lists])
            cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in lists])
        if len(rows):
            d = _distance_rows(torch.from_numpy(x[rows]), corners[cols]).numpy()
            order = np.lexsort((d, rows))
            rows, cols, d = rows[order], cols[order], d[order]
            first = np.unique(rows, return_index=True)[1]
            best[rows[first]], index[rows[first]] = d[first], cols[first]
        return index, best

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        points = x.detach().cpu().numpy()
        inside = self._in_cells(points, 0.0)
        if tol > 0 and not inside.all():
            outside = np.flatnonzero(~inside)
            inside[outside] = self._nearest_facets(points[outside], tol)[1] <= tol
        return torch.from_numpy(inside).to(x.device)

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        distance = self._nearest_facets(x.detach().cpu().numpy(), tol)[1]
        return torch.from_numpy(distance <= tol).to(x.device)

    def _normal(self, x: Tensor) -> Tensor:
        index, _ = self._nearest_facets(x.detach().cpu().numpy())
        return torch.from_numpy(self._facet_normal[index]).to(dtype=x.dtype, device=x.device)

    def _distance(self, x: Tensor) -> Tensor:
        index, _ = self._nearest_facets(x.detach().to(_F64).cpu().numpy())
        corners = torch.from_numpy(self.points[self.facets[index]]).to(dtype=x.dtype, device=x.device)
        distance = _distance_rows(x, corners)
        inside = self._contains(x.detach().to(_F64), 0.0).to(x.device)
        return torch.where(inside, distance, -distance)

    def _interior_mask(self, x: Tensor) -> Tensor:
        return self._contains(x, 0.0) & ~self._on_boundary(x, 1e-9)

    def sample_interior(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: AbstractSampler | str = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Uniform points in the domain: a cell by its size, then a uniform point in the cell (see the class).

        Shapes:
            returns ``(n_points, dim)``.
        """
        n = _check_sampling(n_points, generator, dtype)
        unit = make_sampler(sampler).sample_unit(n, self._dim + 1, generator=generator)
        chosen, points = _on_simplices(self.points[self.cells], self._cell_size, unit)
        # Grid samplers can put points exactly on a cell's facet, hence possibly on the boundary: move every point
        # 1e-7 of the way to its cell's centroid (a negligible change of the distribution).
        centroids = torch.from_numpy(self.points[self.cells[chosen]].mean(axis=1))
        points = points + 1e-7 * (centroids - points)
        return points.to(dtype=dtype, device=device)

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        return self._sample_facets(np.arange(len(self.facets)), n, generator, sampler)

    def _sample_facets(
        self, facets: np.ndarray, n: int, generator: torch.Generator, sampler: AbstractSampler
    ) -> tuple[Tensor, Tensor]:
        unit = sampler.sample_unit(n, self._dim, generator=generator)
        chosen, points = _on_simplices(self.points[self.facets[facets]], self._facet_size[facets], unit)
        return points, torch.from_numpy(self._facet_normal[facets[chosen]])

    # -- named boundary parts (physical tags) -------------------------------------------------------------------
    @property
    def side_names(self) -> tuple[str, ...]:
        return tuple(self._tags)

    def _tagged(self, name: str) -> np.ndarray:
        if name not in self._tags:
            known = ", ".join(repr(t) for t in self._tags) or "none (the mesh has no tagged boundary facets)"
            raise ValueError(f"side {name!r} is not a tagged boundary part of {self!r}; tagged parts: {known}")
        return self._tags[name]

    def side_mask(self, name: str, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        facets = self._tagged(name)
        x = points.detach().to(_F64).cpu()
        index, distance = self._nearest_facets(x.numpy(), tol)
        on_part = np.zeros(len(x), dtype=bool)
        if len(x):  # a point near several facets counts when any tagged facet is within tol
            tagged_corners = torch.from_numpy(self.points[self.facets[facets]])
            lists = cKDTree(self.points[self.facets[facets]].mean(axis=1)).query_ball_point(
                x.numpy(), self._facet_radius + tol
            )
            rows = np.repeat(np.arange(len(x)), [len(c) for c in lists])
            if len(rows):
                cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in lists])
                d = _distance_rows(x[rows], tagged_corners[cols]).numpy()
                on_part[rows[d <= tol]] = True
        return torch.from_numpy(on_part & (distance <= tol)).to(points.device)

    def sample_side(
        self,
        name: str,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: AbstractSampler | str = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        facets = self._tagged(name)
        n = _check_sampling(n_points, generator, dtype)
        points, normals = self._sample_facets(facets, n, generator, make_sampler(sampler))
        return points.to(dtype=dtype, device=device), normals.to(dtype=dtype, device=device)


def _choose(sizes: np.ndarray, u: Tensor) -> np.ndarray:
    """Indices drawn with probability proportional to ``sizes`` from uniform numbers ``u`` (inverse CDF)."""
    cumulative = np.cumsum(sizes)
    return np.minimum(np.searchsorted(cumulative, u.numpy() * cumulative[-1], side="right"), len(sizes) - 1)


def _on_simplices(corners: np.ndarray, sizes: np.ndarray, unit: Tensor) -> tuple[np.ndarray, Tensor]:
    """Uniform points on simplices ``corners`` ``(m, k + 1, dim)`` weighted by ``sizes``, from unit-cube points
    ``(n, k + 1)``: the first column picks the simplex, the others the point in it. Returns (simplex index, point)."""
    chosen = _choose(sizes, unit[:, 0])
    weights = _fold_to_simplex(unit[:, 1:])
    corner = torch.from_numpy(corners[chosen])
    return chosen, corner[:, 0] + ((corner[:, 1:] - corner[:, :1]) * weights[..., None]).sum(1)


def _physical_facets(mesh: object, dim: int) -> dict[str, np.ndarray]:
    """Tagged facet elements of a meshio mesh: physical name (or ``"tag<number>"``) -> facet vertex rows."""
    facet_type = _FACET_TYPES[dim]
    physical = getattr(mesh, "cell_data", {}).get("gmsh:physical")
    if physical is None:
        return {}
    names = {int(value[0]): name for name, value in getattr(mesh, "field_data", {}).items() if int(value[1]) == dim - 1}
    tags: dict[str, list[np.ndarray]] = {}
    for block, values in zip(mesh.cells, physical):  # type: ignore[attr-defined]
        if block.type != facet_type:
            continue
        for tag in np.unique(values):
            name = names.get(int(tag), f"tag{int(tag)}")
            tags.setdefault(name, []).append(block.data[values == tag])
    return {name: np.concatenate(rows) for name, rows in tags.items()}
