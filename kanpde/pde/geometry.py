"""The geometry contract `AbstractGeometry`, and one import point for every geometry.

Coordinates are named x, y, z (x1, x2, ..., xn when there are more than three axes) and t for time, in that
column order. Every geometry answers point queries (`contains`, `on_boundary`, `boundary_normal`, `distance`)
and places points (`sample_interior`, `sample_boundary`) with an `AbstractSampler` on the unit cube,
deterministically given a `torch.Generator`. Tolerances are absolute. Sampled tensors are float64 on the CPU
unless `dtype`/`device` say otherwise; queries return results on the device of the points.

`distance` is an approximate distance function $\\phi$ for hard Dirichlet constraints $u = \\phi N + g$: positive
inside, zero on the boundary, negative outside, smooth except at corners, with $|\\nabla\\phi| \\le 1$ near smooth
boundary parts.

The concrete geometries live in their own modules and are re-exported here, so all of them can be imported from
`kanpde.pde.geometry`: `Box`, `Interval`, `Rectangle`, `Disk`, `Polygon` (`shapes.py`); `Union`, `Intersection`,
`Difference` (`csg.py`); `TimeInterval`, `SpaceTime` (`spacetime.py`); `MeshDomain` (`mesh_geometry.py`); `Ball`
(`ball.py`, any dimension).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._lazy import lazy_exports
from .sampling import AbstractSampler, make_sampler

if TYPE_CHECKING:
    import sympy

    from .csg import Difference, Intersection, Union

__all__ = [
    "AbstractGeometry",
    "Box",  # noqa: F822 (provided by __getattr__)
    "Interval",  # noqa: F822 (provided by __getattr__)
    "Rectangle",  # noqa: F822 (provided by __getattr__)
    "Disk",  # noqa: F822 (provided by __getattr__)
    "Polygon",  # noqa: F822 (provided by __getattr__)
    "Union",  # noqa: F822 (provided by __getattr__)
    "Intersection",  # noqa: F822 (provided by __getattr__)
    "Difference",  # noqa: F822 (provided by __getattr__)
    "TimeInterval",  # noqa: F822 (provided by __getattr__)
    "SpaceTime",  # noqa: F822 (provided by __getattr__)
    "MeshDomain",  # noqa: F822 (provided by __getattr__)
    "Ball",  # noqa: F822 (provided by __getattr__)
]

# Re-exported lazily (PEP 562): those modules import this one, so importing them here at load time would be circular.
_ELSEWHERE = {
    "Box": ".shapes",
    "Interval": ".shapes",
    "Rectangle": ".shapes",
    "Disk": ".shapes",
    "Polygon": ".shapes",
    "Union": ".csg",
    "Intersection": ".csg",
    "Difference": ".csg",
    "TimeInterval": ".spacetime",
    "SpaceTime": ".spacetime",
    "MeshDomain": ".mesh_geometry",
    "Ball": ".ball",
}


__getattr__, _ = lazy_exports(__name__, _ELSEWHERE, globals())


Tensor = torch.Tensor
SamplerSpec = AbstractSampler | str
_F64 = torch.float64
_MAX_BATCHES = 100  # rejection rounds before sampling gives up
_MAX_BATCH = 2**22  # largest candidate batch drawn at once


def axis_names(dim: int) -> tuple[str, ...]:
    """Names of `dim` space axes: x, y, z up to three axes, x1, x2, ..., xn beyond."""
    return tuple("xyz"[:dim]) if dim <= 3 else tuple(f"x{i + 1}" for i in range(dim))


def _axis_name(axis: int, dim: int = 3) -> str:
    return axis_names(max(dim, axis + 1))[axis]


def _float_scalar(value: object, name: str) -> float:
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _float_tuple(value: object, name: str, *, length: int | None = None) -> tuple[float, ...]:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(value).__name__} {value!r}")
    if len(value) == 0:
        raise ValueError(f"{name} must hold at least one coordinate, got {value!r}")
    out = tuple(_float_scalar(v, f"{name}[{i}]") for i, v in enumerate(value))
    if length is not None and len(out) != length:
        raise ValueError(f"{name} must have {length} coordinates, got {len(out)}: {value!r}")
    return out


MAX_COORDINATE = 1e15
"""Largest coordinate magnitude of a domain (or time interval); beyond it, squares and products overflow."""
MIN_RELATIVE_EXTENT = 1e-9
"""Smallest extent of a domain along an axis, relative to its coordinates' magnitude (below it, float64 points
collapse onto a few values)."""
MIN_EXTENT = 1e-15
"""Smallest extent of a domain along an axis (below it, squared extents underflow)."""


def _check_extent(lower: Sequence[float], upper: Sequence[float], what: str, axes: Sequence[str] = ()) -> None:
    """Refuse coordinates that float arithmetic cannot handle: ``|c| <= MAX_COORDINATE`` and an extent per axis of
    at least ``MIN_EXTENT`` and ``MIN_RELATIVE_EXTENT`` times the largest coordinate magnitude on that axis.

    Raises:
        ValueError: naming ``what`` (e.g. "lower/upper", "radius"), the axis and the limit; rescale the problem.
    """
    for axis, (a, b) in enumerate(zip(lower, upper)):
        name = axes[axis] if axis < len(axes) else _axis_name(axis, len(lower))
        magnitude = max(abs(a), abs(b))
        if magnitude > MAX_COORDINATE:
            raise ValueError(
                f"{what}: coordinates up to {magnitude:g} on axis {name} exceed {MAX_COORDINATE:g}; "
                "rescale the problem (e.g. to units where the domain is of order 1)"
            )
        if b - a < max(MIN_EXTENT, MIN_RELATIVE_EXTENT * magnitude):
            raise ValueError(
                f"{what}: the extent {b - a:g} on axis {name} is too small for coordinates of magnitude "
                f"{magnitude:g} (at least {max(MIN_EXTENT, MIN_RELATIVE_EXTENT * magnitude):g}); rescale the problem"
            )


def _check_points(points: object, dim: int) -> Tensor:
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"points must be a torch.Tensor of shape (n_points, {dim}), got {type(points).__name__}")
    if points.ndim != 2 or points.shape[1] != dim or not points.is_floating_point():
        raise ValueError(
            f"points must be a floating tensor of shape (n_points, {dim}), got {points.dtype} of shape "
            f"{tuple(points.shape)}"
        )
    return points


def _check_sampling(n_points: object, generator: object, dtype: object) -> int:
    if isinstance(n_points, bool) or not isinstance(n_points, numbers.Integral) or n_points < 0:
        raise ValueError(f"n_points must be a non-negative int, got {n_points!r}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch.dtype such as torch.float64, got {dtype!r}")
    return int(n_points)


def _split_counts(n: int, weights: Sequence[float]) -> list[int]:
    """Split `n` into integer counts proportional to `weights` (largest remainder, ties to the first)."""
    total = sum(weights)
    quotas = [n * w / total for w in weights]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _permutation(n: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator, device=generator.device).cpu()


class AbstractGeometry(ABC):
    """A closed domain in $\\mathbb{R}^{dim}$. Concrete geometries are final; combine them with `|`, `&`, `-`.

    Subclasses implement the private hooks (`_contains`, `_on_boundary`, `_normal`, `_distance`,
    `_sample_boundary`) on validated float64 tensors; the public methods below validate and convert.
    """

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of coordinates (space, plus one for time in `SpaceTime`)."""

    @property
    @abstractmethod
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The bounding box as `(lower, upper)`, each a tuple of `dim` floats."""

    @property
    @abstractmethod
    def measure(self) -> float:
        """Length, area or volume of the domain (a Monte-Carlo estimate for boolean combinations)."""

    @property
    @abstractmethod
    def boundary_measure(self) -> float:
        """Size of the boundary: number of end points in 1-D, perimeter in 2-D, surface area in 3-D."""

    @abstractmethod
    def _contains(self, x: Tensor, tol: float) -> Tensor:
        """`contains` on validated float64 points `(n_points, dim)`."""

    @abstractmethod
    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        """`on_boundary` on validated float64 points `(n_points, dim)`."""

    @abstractmethod
    def _normal(self, x: Tensor) -> Tensor:
        """`boundary_normal` on validated float64 points `(n_points, dim)`."""

    @abstractmethod
    def _distance(self, x: Tensor) -> Tensor:
        """`distance` on validated points `(n_points, dim)` of any floating dtype, differentiably."""

    @abstractmethod
    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        """Exactly `n` boundary points and outward unit normals, float64 on the CPU."""

    def _interior_mask(self, x: Tensor) -> Tensor:
        """Which float64 points are accepted by `sample_interior`: inside and off the boundary."""
        return self._contains(x, 1e-12) & ~self._on_boundary(x, 1e-9)

    def contains(self, points: Tensor, *, tol: float = 1e-12) -> Tensor:
        """Whether each point lies in the closed domain (the boundary counts as inside).

        Args:
            points: the points, any floating dtype (compared in float64).
            tol: absolute tolerance; points up to `tol` outside still count.

        Returns:
            inside: bool, on the device of `points`.

        Shapes:
            points: `(n_points, dim)`.
            inside: `(n_points,)`.

        Raises:
            TypeError, ValueError: `points` is not a floating tensor of shape `(n_points, dim)`.
        """
        x = _check_points(points, self.dim).detach().to(_F64)
        return self._contains(x, _float_scalar(tol, "tol"))

    def on_boundary(self, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        """Whether each point lies within `tol` of the boundary.

        For a `SpaceTime` this is the lateral boundary (space boundary x time). Sampled interior points never
        satisfy it; sampled boundary points always do.

        Args:
            points: the points, any floating dtype (compared in float64).
            tol: absolute tolerance.

        Returns:
            mask: bool, on the device of `points`.

        Shapes:
            points: `(n_points, dim)`.
            mask: `(n_points,)`.
        """
        x = _check_points(points, self.dim).detach().to(_F64)
        return self._on_boundary(x, _float_scalar(tol, "tol"))

    def boundary_normal(self, points: Tensor) -> Tensor:
        """Outward unit normal at boundary points.

        Meaningful on the boundary; elsewhere it is the normal of a nearby boundary part. At corners one of the
        adjacent faces' normals is returned.

        Args:
            points: points on the boundary.

        Returns:
            normals: unit vectors, in the dtype and on the device of `points` (no gradient).

        Shapes:
            points: `(n_points, dim)`.
            normals: `(n_points, dim)`.
        """
        x = _check_points(points, self.dim)
        return self._normal(x.detach().to(_F64)).to(x.dtype)

    def distance(self, points: Tensor) -> Tensor:
        """Approximate distance function $\\phi$ for hard constraints $u = \\phi N + g$ (see the module notes).

        $\\phi > 0$ inside, $\\phi = 0$ on the boundary (to rounding), $\\phi < 0$ outside; each class documents its
        formula. Computed in the dtype and on the device of `points` and differentiable with autograd (twice, for
        Laplacians), except at corners.

        Args:
            points: the points.

        Returns:
            phi: the distance function's values.

        Shapes:
            points: `(n_points, dim)`.
            phi: `(n_points,)`.
        """
        return self._distance(_check_points(points, self.dim))

    def distance_formula(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        """The formula of `distance` inside the domain, in the given coordinate symbols (one per axis), with exact
        rational bounds: the same code as `distance` (see :mod:`kanpde.pde.constraint_formula`).

        Raises:
            ValueError: the geometry's distance function has no closed form (only boxes and balls have one).
        """
        raise ValueError(
            f"{type(self).__name__} has no closed-form distance function: a formula with a hard constraint needs "
            "a box or ball domain"
        )

    def sample_interior(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Points strictly inside the domain, by rejection from the bounding box.

        The sampler fills the bounding box; points outside or on the boundary are rejected and further batches
        are drawn until `n_points` remain (the first `n_points` accepted are returned). For a box no point is
        rejected, so `sampler="uniform"` with `n_points = m**dim` gives the full cell-centred grid.

        Args:
            n_points: number of points.
            generator: the only source of randomness; equal generator states give equal points.
            sampler: an `AbstractSampler` or a name accepted by `make_sampler`.
            dtype: floating dtype of the result.
            device: device of the result.

        Returns:
            points: satisfy `contains` and not `on_boundary`.

        Shapes:
            points: `(n_points, dim)`.

        Raises:
            ValueError: bad `n_points`, `sampler` or `dtype`, or the domain is too thin to hit.
        """
        n = _check_sampling(n_points, generator, dtype)
        smp = make_sampler(sampler)
        lower, upper = (torch.tensor(b, dtype=_F64) for b in self.bounds)
        fraction = self.measure / float(torch.prod(upper - lower))
        fraction = 1.0 if fraction > 1 - 1e-9 else fraction  # a box: nothing is rejected
        chunks, have, drawn = [torch.empty(0, self.dim, dtype=_F64)], 0, 0
        while have < n:
            if drawn and len(chunks) > _MAX_BATCHES:
                raise ValueError(
                    f"could not find {n} interior points of {self!r} in {drawn} samples of its bounding box "
                    f"({have} found); the domain is empty or too thin"
                )
            # Exactly the points needed when nothing is rejected (a box), so that grids stay whole.
            batch = n - have if fraction >= 1.0 else math.ceil((n - have) / max(fraction, 1e-3) * 1.2) + 16
            batch = min(batch, _MAX_BATCH)
            x = lower + (upper - lower) * smp.sample_unit(batch, self.dim, generator=generator)
            chunks.append(x[self._interior_mask(x)])
            have, drawn = have + len(chunks[-1]), drawn + batch
            fraction = have / drawn
        return torch.cat(chunks)[:n].to(dtype=dtype, device=device)

    def sample_boundary(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        """Points on the boundary, uniform with respect to its measure, with outward unit normals.

        Args: as in `sample_interior`.

        Returns:
            points: satisfy `on_boundary`.
            normals: outward unit normals at `points`.

        Shapes:
            points: `(n_points, dim)`.
            normals: `(n_points, dim)`.
        """
        n = _check_sampling(n_points, generator, dtype)
        points, normals = self._sample_boundary(n, generator, make_sampler(sampler))
        return points.to(dtype=dtype, device=device), normals.to(dtype=dtype, device=device)

    @property
    def side_names(self) -> tuple[str, ...]:
        """Canonical names of the named sides (empty for geometries without named sides; see `Box`)."""
        return ()

    def side_mask(self, name: str, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        """Whether each point lies within `tol` of the named side.

        Args:
            name: one of `side_names` or an alias (see `Box`).
            points: the points.
            tol: absolute tolerance.

        Returns:
            mask: bool.

        Shapes:
            points: `(n_points, dim)`.
            mask: `(n_points,)`.

        Raises:
            ValueError: unknown `name` (the message lists the valid names) or no named sides at all.
        """
        raise ValueError(f"side {name!r} is not defined: {type(self).__name__} has no named sides; use a Box")

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
        """Like `sample_boundary`, on the named side only (uniform on it).

        Raises:
            ValueError: unknown `name` (the message lists the valid names) or no named sides at all.
        """
        raise ValueError(f"side {name!r} is not defined: {type(self).__name__} has no named sides; use a Box")

    def __or__(self, other: AbstractGeometry) -> Union:
        from .csg import Union

        return Union(self, other) if isinstance(other, AbstractGeometry) else NotImplemented

    def __and__(self, other: AbstractGeometry) -> Intersection:
        from .csg import Intersection

        return Intersection(self, other) if isinstance(other, AbstractGeometry) else NotImplemented

    def __sub__(self, other: AbstractGeometry) -> Difference:
        from .csg import Difference

        return Difference(self, other) if isinstance(other, AbstractGeometry) else NotImplemented
