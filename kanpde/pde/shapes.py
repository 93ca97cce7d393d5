"""Primitive domains: `Box` (with the factories `Interval` and `Rectangle`), `Disk` and `Polygon`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy
import torch

from .ball import Ball
from .constraint_formula import box_distance, exact_number
from .geometry import (
    _F64,
    AbstractGeometry,
    SamplerSpec,
    Tensor,
    _axis_name,
    _check_extent,
    _check_points,
    _check_sampling,
    _float_scalar,
    _float_tuple,
    _split_counts,
)
from .sampling import AbstractSampler, make_sampler

__all__ = ["Box", "Interval", "Rectangle", "Disk", "Polygon"]


class Box(AbstractGeometry):
    """Axis-aligned box $\\prod_i [a_i, b_i]$ in any dimension.

    Sides are named `"xmin", "xmax", "ymin", "ymax", "zmin", "zmax"` in up to three dimensions and
    `"x1min", "x1max", ..., "xnmin", "xnmax"` beyond (the coordinates are then x1, ..., xn), with the aliases
    `"left"/"right"` (x) in 1-D and 2-D and `"bottom"/"top"` (y) in 2-D.
    `distance` is $\\frac{h}{4}\\prod_i \\frac{4 (x_i - a_i)(b_i - x_i)}{(b_i - a_i)^2}$ inside ($h$ the shortest
    side; in 1-D $(x-a)(b-x)/(b-a)$, slope 1 at the ends) and minus its absolute value outside. Boundary points
    are split over the faces in proportion to their areas (largest remainder), grouped by face in `side_names`
    order; in 1-D that is half the points at each end.

    Args:
        lower: the corner with the smallest coordinates, `dim` finite numbers.
        upper: the opposite corner; `lower[i] < upper[i]` on every axis.

    Raises:
        TypeError: `lower` or `upper` is not a sequence of numbers.
        ValueError: different lengths, non-finite numbers, or `lower[i] >= upper[i]` (the axis is named).

    Example:
        >>> box = Box((0, 0, 0), (1, 1, 2))
        >>> points, normals = box.sample_side("zmax", 4, generator=torch.Generator().manual_seed(0))
        >>> points[:, 2].tolist(), normals[0].tolist()
        ([2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 1.0])
    """

    def __init__(self, lower: Sequence[float], upper: Sequence[float]) -> None:
        self.lower, self.upper = _float_tuple(lower, "lower"), _float_tuple(upper, "upper")
        if len(self.lower) != len(self.upper):
            raise ValueError(f"lower and upper must have the same length, got {len(self.lower)} and {len(self.upper)}")
        for axis, (a, b) in enumerate(zip(self.lower, self.upper, strict=True)):
            if not a < b:
                raise ValueError(
                    f"lower must be < upper on every axis, got lower[{axis}]={a} >= upper[{axis}]={b} "
                    f"(axis {_axis_name(axis, len(self.lower))})"
                )
        _check_extent(self.lower, self.upper, "lower/upper")

    def __repr__(self) -> str:
        return f"Box(lower={self.lower}, upper={self.upper})"

    @property
    def dim(self) -> int:
        return len(self.lower)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.lower, self.upper

    @property
    def measure(self) -> float:
        return math.prod(b - a for a, b in zip(self.lower, self.upper, strict=True))

    @property
    def boundary_measure(self) -> float:
        return sum(self._face_areas())

    def _face_areas(self) -> list[float]:
        sides = [b - a for a, b in zip(self.lower, self.upper, strict=True)]
        return [math.prod(sides[:axis] + sides[axis + 1 :]) for axis in range(self.dim) for _ in range(2)]

    def _tensors(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return (
            torch.tensor(self.lower, dtype=x.dtype, device=x.device),
            torch.tensor(self.upper, dtype=x.dtype, device=x.device),
        )

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        lo, hi = self._tensors(x)
        return ((x >= lo - tol) & (x <= hi + tol)).all(dim=1)

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        lo, hi = self._tensors(x)
        return self._contains(x, tol) & (((x - lo).abs() <= tol) | ((hi - x).abs() <= tol)).any(dim=1)

    def _normal(self, x: Tensor) -> Tensor:
        lo, hi = self._tensors(x)
        face = torch.stack([(x - lo).abs(), (hi - x).abs()], dim=2).flatten(1).argmin(dim=1)  # 2*axis + is_max
        normal = torch.zeros_like(x)
        normal[torch.arange(len(x), device=x.device), face // 2] = torch.where(face % 2 == 1, 1.0, -1.0).to(x)
        return normal

    def _distance(self, x: Tensor) -> Tensor:
        lo, hi = self._tensors(x)
        value = box_distance(x.unbind(dim=1), self.lower, self.upper)
        inside = ((x >= lo) & (x <= hi)).all(dim=1)
        return torch.where(inside, value, -value.abs())

    def distance_formula(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return box_distance(symbols, [exact_number(v) for v in self.lower], [exact_number(v) for v in self.upper])

    def _sample_face(
        self, face: int, n: int, generator: torch.Generator, sampler: AbstractSampler
    ) -> tuple[Tensor, Tensor]:
        axis, is_max = divmod(face, 2)
        lo, hi = self._tensors(torch.empty(0, dtype=_F64))
        if self.dim == 1:
            points = torch.full((n, 1), self.upper[0] if is_max else self.lower[0], dtype=_F64)
        else:
            other = [i for i in range(self.dim) if i != axis]
            u = sampler.sample_unit(n, self.dim - 1, generator=generator)
            points = torch.empty(n, self.dim, dtype=_F64)
            points[:, other] = lo[other] + (hi[other] - lo[other]) * u
            points[:, axis] = self.upper[axis] if is_max else self.lower[axis]
        normals = torch.zeros(n, self.dim, dtype=_F64)
        normals[:, axis] = 1.0 if is_max else -1.0
        return points, normals

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        parts = [
            self._sample_face(face, count, generator, sampler)
            for face, count in enumerate(_split_counts(n, self._face_areas()))
            if count > 0
        ]
        if not parts:
            return torch.empty(0, self.dim, dtype=_F64), torch.empty(0, self.dim, dtype=_F64)
        return torch.cat([p for p, _ in parts]), torch.cat([q for _, q in parts])

    @property
    def side_names(self) -> tuple[str, ...]:
        return tuple(f"{_axis_name(axis, self.dim)}{end}" for axis in range(self.dim) for end in ("min", "max"))

    def _side(self, name: object) -> int:
        aliases = {"left": "xmin", "right": "xmax", "bottom": "ymin", "top": "ymax"}
        aliases = {k: v for k, v in aliases.items() if self.dim <= 2 and v in self.side_names}
        key = aliases.get(name, name) if isinstance(name, str) else name
        if key not in self.side_names:
            raise ValueError(
                f"unknown side {name!r} of a {self.dim}-D box; expected one of {self.side_names + tuple(aliases)}"
            )
        return self.side_names.index(key)

    def side_mask(self, name: str, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        axis, is_max = divmod(self._side(name), 2)
        x, tol = _check_points(points, self.dim).detach().to(_F64), _float_scalar(tol, "tol")
        end = self.upper[axis] if is_max else self.lower[axis]
        return self._contains(x, tol) & ((x[:, axis] - end).abs() <= tol)

    def sample_side(
        self,
        name: str,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        face = self._side(name)
        n = _check_sampling(n_points, generator, dtype)
        points, normals = self._sample_face(face, n, generator, make_sampler(sampler))
        return points.to(dtype=dtype, device=device), normals.to(dtype=dtype, device=device)


def Interval(a: float, b: float) -> Box:
    """The interval $[a, b]$: a 1-D `Box` with sides "xmin"/"left" at `a` and "xmax"/"right" at `b`.

    Raises:
        TypeError, ValueError: `a` or `b` is not a finite number, or `a >= b`.

    Example:
        >>> Interval(0, 1).sample_boundary(3, generator=torch.Generator().manual_seed(0))[0].tolist()
        [[0.0], [0.0], [1.0]]
    """
    a, b = _float_scalar(a, "a"), _float_scalar(b, "b")
    if not a < b:
        raise ValueError(f"Interval needs a < b, got a={a}, b={b}")
    return Box((a,), (b,))


def Rectangle(lower: Sequence[float], upper: Sequence[float]) -> Box:
    """The rectangle with corners `lower = (x0, y0)` and `upper = (x1, y1)`: a 2-D `Box`.

    Example:
        >>> rectangle = Rectangle((0, 0), (1, 2))
        >>> rectangle.measure, rectangle.side_names
        (2.0, ('xmin', 'xmax', 'ymin', 'ymax'))
    """
    return Box(_float_tuple(lower, "lower", length=2), _float_tuple(upper, "upper", length=2))


class Disk(Ball):
    """The closed disk $|x - c| \\le r$: a :class:`~kanpde.pde.ball.Ball` in 2-D. `distance` is
    $(r^2 - |x - c|^2) / (2r)$ (smooth, slope 1 on the circle, so a Dirichlet condition on the whole circle is
    imposed exactly by default, as on any ball). Boundary points are uniform in angle.

    Raises:
        ValueError: `center` does not have 2 finite coordinates, or `radius <= 0`.

    Example:
        >>> disk = Disk((0, 0), 1)
        >>> points = disk.sample_interior(100, generator=torch.Generator().manual_seed(0))
        >>> bool(disk.contains(points).all())
        True
    """

    def __init__(self, center: Sequence[float], radius: float) -> None:
        super().__init__(_float_tuple(center, "center", length=2), radius)

    def __repr__(self) -> str:
        return f"Disk(center={self.center}, radius={self.radius})"

    @property
    def measure(self) -> float:
        return math.pi * self.radius**2

    @property
    def boundary_measure(self) -> float:
        return 2 * math.pi * self.radius

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        angle = 2 * math.pi * sampler.sample_unit(n, 1, generator=generator)[:, 0]
        normals = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
        return torch.tensor(self.center, dtype=_F64) + self.radius * normals, normals


class Polygon(AbstractGeometry):
    """A simple polygon given by its vertices in order (either orientation; a repeated first vertex is dropped).

    Containment uses the crossing number; normals point outward whatever the orientation. Boundary points are
    uniform in arc length along the perimeter. `distance` is the R-equivalence $\\phi = (\\sum_i 1/\\phi_i)^{-1}$ of
    the trimmed segment functions $\\phi_i$ of Sukumar & Srivastava (2022), with the sign of `contains`; it is
    zero on the edges, about the distance near an edge and not differentiable at the vertices. Queries cost
    `n_points * n_edges` memory.

    Raises:
        ValueError: fewer than 3 distinct vertices, a repeated consecutive vertex, crossing or overlapping edges,
            zero area, or non-finite coordinates.
    """

    def __init__(self, vertices: Sequence[Sequence[float]]) -> None:
        if isinstance(vertices, (torch.Tensor, np.ndarray)):
            vertices = vertices.tolist()
        if isinstance(vertices, (str, bytes)) or not isinstance(vertices, Sequence):
            raise TypeError(f"vertices must be a sequence of (x, y) pairs, got {type(vertices).__name__}")
        verts = [_float_tuple(v, f"vertices[{i}]", length=2) for i, v in enumerate(vertices)]
        if len(verts) > 1 and verts[0] == verts[-1]:
            verts.pop()
        if len(verts) < 3:
            raise ValueError(f"vertices must hold at least 3 distinct points, got {len(verts)}")
        _check_extent([min(c) for c in zip(*verts)], [max(c) for c in zip(*verts)], "vertices")
        v = torch.tensor(verts, dtype=_F64)
        edge = torch.roll(v, -1, dims=0) - v
        if bool((torch.linalg.vector_norm(edge, dim=1) == 0).any()):
            raise ValueError("vertices must not repeat consecutively (an edge of zero length)")
        if _self_intersects(verts):
            raise ValueError(f"vertices must describe a simple polygon, but its edges intersect: {verts}")
        signed_area = 0.5 * float((v[:, 0] * edge[:, 1] - v[:, 1] * edge[:, 0]).sum())  # shoelace
        if signed_area == 0:
            raise ValueError(f"vertices must enclose a non-zero area, got {verts}")
        self.vertices = tuple(verts)
        self._area = abs(signed_area)
        self._start = v if signed_area > 0 else v.flip(0)  # counter-clockwise from here on
        self._edge = torch.roll(self._start, -1, dims=0) - self._start
        self._length = torch.linalg.vector_norm(self._edge, dim=1)
        self._outward = torch.stack([self._edge[:, 1], -self._edge[:, 0]], dim=1) / self._length[:, None]

    def __repr__(self) -> str:
        return f"Polygon(vertices={self.vertices})"

    @property
    def dim(self) -> int:
        return 2

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(map(min, zip(*self.vertices, strict=True))), tuple(map(max, zip(*self.vertices, strict=True)))

    @property
    def measure(self) -> float:
        return self._area

    @property
    def boundary_measure(self) -> float:
        return float(self._length.sum())

    def _edges(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Edge start points `(n_edges, 2)`, vectors `(n_edges, 2)` and lengths `(n_edges,)` like `x`."""
        start, edge, length = (t.to(dtype=x.dtype, device=x.device) for t in (self._start, self._edge, self._length))
        return start, edge, length

    def _segment_distance(self, x: Tensor) -> Tensor:
        """Distance from each point to each edge, `(n_points, n_edges)`."""
        start, edge, length = self._edges(x)
        dx, dy = x[:, 0:1] - start[:, 0], x[:, 1:2] - start[:, 1]
        t = ((dx * edge[:, 0] + dy * edge[:, 1]) / length**2).clamp(0.0, 1.0)
        return torch.hypot(dx - t * edge[:, 0], dy - t * edge[:, 1])

    def _crossing_inside(self, x: Tensor) -> Tensor:
        start, edge, _ = self._edges(x)
        y0, y1 = start[:, 1], start[:, 1] + edge[:, 1]
        straddles = (y0 > x[:, 1:2]) != (y1 > x[:, 1:2])
        slope = edge[:, 0] / torch.where(edge[:, 1] == 0, 1.0, edge[:, 1])
        x_cross = start[:, 0] + (x[:, 1:2] - y0) * slope
        return (straddles & (x[:, 0:1] < x_cross)).sum(dim=1) % 2 == 1

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self._crossing_inside(x) | self._on_boundary(x, tol)

    def _interior_mask(self, x: Tensor) -> Tensor:
        return self._crossing_inside(x) & ~self._on_boundary(x, 1e-9)  # same as the default, with less work

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        return self._segment_distance(x).min(dim=1).values <= tol

    def _normal(self, x: Tensor) -> Tensor:
        nearest = self._segment_distance(x).argmin(dim=1)
        return self._outward.to(dtype=x.dtype, device=x.device)[nearest]

    def _distance(self, x: Tensor) -> Tensor:
        start, edge, length = self._edges(x)
        tiny = torch.finfo(x.dtype).tiny  # keeps sqrt and 1/phi finite (and their gradients) on the boundary
        rel = x[:, None, :] - start
        f = (rel[..., 0] * edge[:, 1] - rel[..., 1] * edge[:, 0]) / length  # signed distance to the edge's line
        t = (length**2 / 4 - ((rel - edge / 2) ** 2).sum(dim=2)) / length  # >= 0 in the disk over the segment
        varphi = torch.sqrt((t**2 + f**4).clamp_min(tiny))
        phi = torch.sqrt((f**2 + ((varphi - t) / 2) ** 2).clamp_min(tiny))
        value = 1.0 / (1.0 / phi).sum(dim=1)
        return torch.where(self._crossing_inside(x.detach()), value, -value)

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        arc = sampler.sample_unit(n, 1, generator=generator)[:, 0] * self.boundary_measure
        cumulative = torch.cumsum(self._length, dim=0)
        index = torch.searchsorted(cumulative, arc, right=True).clamp(max=len(self._length) - 1)
        t = ((arc - (cumulative[index] - self._length[index])) / self._length[index]).clamp(0.0, 1.0)
        return self._start[index] + t[:, None] * self._edge[index], self._outward[index]


def _self_intersects(verts: list[tuple[float, ...]]) -> bool:
    """Whether any two edges of the closed polygon `verts` meet other than adjacent edges at their shared vertex."""

    def orient(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on_segment(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> bool:  # r collinear with pq
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    def meet(p1: Sequence[float], p2: Sequence[float], q1: Sequence[float], q2: Sequence[float]) -> bool:
        d1, d2, d3, d4 = orient(q1, q2, p1), orient(q1, q2, p2), orient(p1, p2, q1), orient(p1, p2, q2)
        if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
            return True
        return (
            (d1 == 0 and on_segment(q1, q2, p1))
            or (d2 == 0 and on_segment(q1, q2, p2))
            or (d3 == 0 and on_segment(p1, p2, q1))
            or (d4 == 0 and on_segment(p1, p2, q2))
        )

    m = len(verts)
    edges = [(verts[i], verts[(i + 1) % m]) for i in range(m)]
    for i in range(m):
        (a, b), (_, c) = edges[i], edges[(i + 1) % m]
        if orient(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0:
            return True  # the next edge folds back onto this one
        for j in range(i + 2, m):
            if i == 0 and j == m - 1:
                continue  # adjacent through the closing vertex
            if meet(*edges[i], *edges[j]):
                return True
    return False
