"""Boolean combinations of geometries: `Union` (`a | b`), `Intersection` (`a & b`) and `Difference` (`a - b`).

`distance` composes the parts' distance functions with Rvachev's R0 functions:
$\\phi_A \\vee \\phi_B = \\phi_A + \\phi_B + \\sqrt{\\phi_A^2 + \\phi_B^2}$ (union),
$\\phi_A \\wedge \\phi_B = \\phi_A + \\phi_B - \\sqrt{\\phi_A^2 + \\phi_B^2}$ (intersection) and
$\\phi_A \\wedge (-\\phi_B)$ (difference): zero on the boundary, positive inside, not differentiable where both
parts' functions vanish (the corners where the boundaries meet).
"""

from __future__ import annotations

import math
from abc import abstractmethod

import torch

from .geometry import _F64, _MAX_BATCH, _MAX_BATCHES, AbstractGeometry, Tensor, _permutation, _split_counts
from .sampling import AbstractSampler, SobolSampler
from .spacetime import SpaceTime

__all__ = ["Union", "Intersection", "Difference"]


def _strictly_inside(geometry: AbstractGeometry, x: Tensor) -> Tensor:
    return geometry._contains(x, 1e-12) & ~geometry._on_boundary(x, 1e-9)


class _Boolean(AbstractGeometry):
    """Shared machinery of `Union`, `Intersection` and `Difference` of two geometries `a` and `b`.

    The measures are Monte-Carlo estimates made once on construction with a private, fixed-seed generator
    (2**14 Sobol' points in the bounding box; 2**11 points on the parts' boundaries). Boundary sampling draws on
    both parts' boundaries in proportion to their measures, keeps the points on this boundary (`_keep_part`, plus a
    check that a step of 1e-7 times the bounding box diagonal along the normal leaves the domain and one against it
    enters), and trims the kept points, randomly permuted, to exactly `n_points`.

    `on_boundary` keeps the part boundaries selected by `_keep_part` (without the step check, so a face shared by
    two touching parts of a union still counts as boundary there). `boundary_normal` takes the normal of the part
    whose kept boundary holds the point, preferring `a`.

    Raises:
        TypeError: `a` or `b` is not an `AbstractGeometry`, or is a `SpaceTime`.
        ValueError: `a.dim != b.dim`, or the result is empty (found by the Monte-Carlo check).
    """

    _flip_b = False

    def __init__(self, a: AbstractGeometry, b: AbstractGeometry) -> None:
        for name, part in (("a", a), ("b", b)):
            if not isinstance(part, AbstractGeometry):
                raise TypeError(f"{name} must be an AbstractGeometry, got {type(part).__name__}")
            if isinstance(part, SpaceTime):
                raise TypeError(f"{name} is a SpaceTime; combine the spatial geometries, then build a SpaceTime")
        if a.dim != b.dim:
            raise ValueError(f"a and b must have the same dim to be combined, got a.dim={a.dim} and b.dim={b.dim}")
        self.a, self.b = a, b
        self._bounds = self._make_bounds()
        lower, upper = (torch.tensor(v, dtype=_F64) for v in self._bounds)
        self._step = 1e-7 * float(torch.linalg.vector_norm(upper - lower))
        generator, sobol = torch.Generator().manual_seed(0), SobolSampler()
        x = lower + (upper - lower) * sobol.sample_unit(2**14, self.dim, generator=generator)
        fraction = float(self._interior_mask(x).double().mean())
        if fraction == 0:
            raise ValueError(f"{self!r} is empty: none of 2**14 sample points of its bounding box lies inside")
        self._measure = fraction * float(torch.prod(upper - lower))
        self._boundary_measure = 0.0
        for i, part in enumerate(self._parts()):
            points, normals = self._part_boundary(i, 2**11, generator, sobol)
            self._boundary_measure += part.boundary_measure * float(self._keep(i, points, normals).double().mean())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"

    def _parts(self) -> tuple[AbstractGeometry, AbstractGeometry]:
        return self.a, self.b

    @abstractmethod
    def _make_bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]: ...

    @abstractmethod
    def _keep_part(self, i: int, x: Tensor) -> Tensor:
        """Which boundary points `x` of part `i` belong to this geometry's boundary."""

    @property
    def dim(self) -> int:
        return self.a.dim

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self._bounds

    @property
    def measure(self) -> float:
        return self._measure

    @property
    def boundary_measure(self) -> float:
        return self._boundary_measure

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        return (self.a._on_boundary(x, tol) & self._keep_part(0, x)) | (
            self.b._on_boundary(x, tol) & self._keep_part(1, x)
        )

    def _part_boundary(
        self, i: int, n: int, generator: torch.Generator, sampler: AbstractSampler
    ) -> tuple[Tensor, Tensor]:
        """`n` boundary points of part `i` with this geometry's outward normals (flipped for a hole)."""
        points, normals = self._parts()[i]._sample_boundary(n, generator, sampler)
        return points, (-normals if i == 1 and self._flip_b else normals)

    def _keep(self, i: int, x: Tensor, normals: Tensor) -> Tensor:
        step = self._step * normals
        return self._keep_part(i, x) & ~self._contains(x + step, 0.0) & self._contains(x - step, 0.0)

    def _normal(self, x: Tensor) -> Tensor:
        normal_b = -self.b._normal(x) if self._flip_b else self.b._normal(x)
        use_b = (self.b._on_boundary(x, 1e-9) & self._keep_part(1, x)) & ~(
            self.a._on_boundary(x, 1e-9) & self._keep_part(0, x)
        )
        return torch.where(use_b[:, None], normal_b, self.a._normal(x))

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        weights = [part.boundary_measure for part in self._parts()]
        expected = max(self._boundary_measure / sum(weights), 1e-3)  # fraction of candidates kept
        points, normals, have = [torch.empty(0, self.dim, dtype=_F64)], [torch.empty(0, self.dim, dtype=_F64)], 0
        for _ in range(_MAX_BATCHES):
            if have >= n:
                break
            batch = min(math.ceil((n - have) / expected * 1.2) + 16, _MAX_BATCH)
            for i, count in enumerate(_split_counts(batch, weights)):
                p, q = self._part_boundary(i, count, generator, sampler)
                keep = self._keep(i, p, q)
                points.append(p[keep])
                normals.append(q[keep])
                have += int(keep.sum())
        if have < n:
            raise ValueError(f"could not find {n} boundary points of {self!r} ({have} found); is it empty?")
        order = _permutation(have, generator)[:n]
        return torch.cat(points)[order], torch.cat(normals)[order]


def _r_and(u: Tensor, v: Tensor) -> Tensor:
    return u + v - torch.sqrt(u**2 + v**2)


class Union(_Boolean):
    """The union `a | b`: boundary points of each part that are not strictly inside the other.

    Example:
        >>> from kanpde.pde.geometry import Disk, Rectangle
        >>> domain = Rectangle((0, 0), (1, 1)) | Disk((1, 0.5), 0.4)
        >>> points, normals = domain.sample_boundary(64, generator=torch.Generator().manual_seed(0))
        >>> bool(domain.on_boundary(points).all()), round(domain.measure, 2)
        (True, 1.25)
    """

    def _make_bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        (la, ua), (lb, ub) = self.a.bounds, self.b.bounds
        return tuple(map(min, la, lb)), tuple(map(max, ua, ub))

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self.a._contains(x, tol) | self.b._contains(x, tol)

    def _keep_part(self, i: int, x: Tensor) -> Tensor:
        return ~_strictly_inside(self.b if i == 0 else self.a, x)

    def _distance(self, x: Tensor) -> Tensor:
        u, v = self.a._distance(x), self.b._distance(x)
        return u + v + torch.sqrt(u**2 + v**2)


class Intersection(_Boolean):
    """The intersection `a & b`: boundary points of each part that lie in the other."""

    def _make_bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        (la, ua), (lb, ub) = self.a.bounds, self.b.bounds
        lower, upper = tuple(map(max, la, lb)), tuple(map(min, ua, ub))
        if any(lo >= hi for lo, hi in zip(lower, upper, strict=True)):
            raise ValueError(f"{self!r} is empty: the bounding boxes of a and b do not overlap")
        return lower, upper

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self.a._contains(x, tol) & self.b._contains(x, tol)

    def _keep_part(self, i: int, x: Tensor) -> Tensor:
        return (self.b if i == 0 else self.a)._contains(x, 1e-12)

    def _distance(self, x: Tensor) -> Tensor:
        return _r_and(self.a._distance(x), self.b._distance(x))


class Difference(_Boolean):
    """The difference `a - b` (closed): the boundary of `a` outside `b`, and that of `b` inside `a`, flipped."""

    _flip_b = True

    def _make_bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.a.bounds

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self.a._contains(x, tol) & ~_strictly_inside(self.b, x)

    def _keep_part(self, i: int, x: Tensor) -> Tensor:
        return ~_strictly_inside(self.b, x) if i == 0 else self.a._contains(x, 1e-12)

    def _distance(self, x: Tensor) -> Tensor:
        return _r_and(self.a._distance(x), -self.b._distance(x))
