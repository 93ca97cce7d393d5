"""`Ball`: the closed ball $|x - c| \\le r$ in any dimension.

Sampling does not reject from the bounding box, whose volume fraction taken by the ball falls like
$\\pi^{d/2} / (2^d \\Gamma(d/2 + 1))$ (0.25 % in 10-D). A point uniform on the unit sphere is the normalised
vector of $d$ independent standard normal numbers, which the inverse normal CDF makes from $d$ coordinates of the
sampler's unit cube; a point uniform in the ball is one on the sphere times $r\\,U^{1/d}$, $U$ one more coordinate.
Both maps carry the uniform measure of the cube onto the uniform measure of the ball or sphere, so every sampler
(quasi-random ones included) gives uniformly distributed points. In 2-D the sphere is parametrised by the angle and
in 3-D by height and angle (Archimedes' equal-area map), which keeps regular samplers regular; in 1-D to 3-D
interior points are rejected from the bounding box like other geometries (at least 52 % are kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy
import torch

from .constraint_formula import ball_distance, exact_number
from .geometry import (
    _F64,
    _MAX_BATCHES,
    AbstractGeometry,
    SamplerSpec,
    Tensor,
    _check_extent,
    _check_sampling,
    _float_scalar,
    _float_tuple,
)
from .sampling import AbstractSampler, make_sampler

__all__ = ["Ball", "unit_sphere_points"]

_EDGE = 1e-12  # keeps the inverse normal CDF finite at cube coordinates 0 (and 1)


def unit_sphere_points(u: Tensor) -> Tensor:
    """Map points of the unit cube onto the unit sphere $S^{d-1}$, uniformly.

    Args:
        u: points of $[0, 1)^d$ (float64), from any sampler.

    Returns:
        directions: unit vectors; uniform on the sphere when `u` is uniform in the cube.

    Shapes:
        u: `(n_points, d)`; directions: `(n_points, d)`.
    """
    n, d = u.shape
    if d == 1:
        return torch.where(u < 0.5, -1.0, 1.0).to(u)
    if d == 2:
        angle = 2 * math.pi * u[:, 0]
        return torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    if d == 3:
        height, angle = 2 * u[:, 0] - 1, 2 * math.pi * u[:, 1]
        ring = torch.sqrt((1 - height**2).clamp_min(0.0))
        return torch.stack([ring * torch.cos(angle), ring * torch.sin(angle), height], dim=1)
    gauss = math.sqrt(2.0) * torch.erfinv(2 * u.clamp(_EDGE, 1 - _EDGE) - 1)
    norm = torch.linalg.vector_norm(gauss, dim=1, keepdim=True)
    first_axis = torch.zeros(n, d, dtype=u.dtype)
    first_axis[:, 0] = 1.0  # the (measure-zero) origin of the normal vector: any unit vector will do
    return torch.where(norm > 0, gauss / norm.clamp_min(torch.finfo(u.dtype).tiny), first_axis)


class Ball(AbstractGeometry):
    """The closed ball $|x - c| \\le r$ in `len(center)` dimensions (1 or more).

    `distance` is $(r^2 - |x - c|^2) / (2r)$: smooth, slope 1 on the sphere, so the solver imposes a Dirichlet
    condition on the whole sphere exactly by default. Normals point away from the centre. There are no named sides.
    See the module notes for how points are placed.

    Args:
        center: the centre, `dim` finite numbers.
        radius: the radius, `> 0`.

    Raises:
        TypeError: `center` is not a sequence of numbers, or `radius` not a number.
        ValueError: non-finite numbers, `radius <= 0`, or coordinates beyond the geometry limits.

    Example:
        >>> ball = Ball((0, 0, 0, 0), 1.0)
        >>> points = ball.sample_interior(1000, generator=torch.Generator().manual_seed(0))
        >>> points.shape, bool((points.norm(dim=1) < 1).all())
        (torch.Size([1000, 4]), True)
    """

    def __init__(self, center: Sequence[float], radius: float) -> None:
        self.center = _float_tuple(center, "center")
        self.radius = _float_scalar(radius, "radius")
        if self.radius <= 0:
            raise ValueError(f"radius must be > 0, got {self.radius}")
        _check_extent(*self.bounds, "center/radius")

    def __repr__(self) -> str:
        return f"Ball(center={self.center}, radius={self.radius})"

    @property
    def dim(self) -> int:
        return len(self.center)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(c - self.radius for c in self.center), tuple(c + self.radius for c in self.center)

    @property
    def measure(self) -> float:
        d = self.dim
        return math.exp(d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1) + d * math.log(self.radius))

    @property
    def boundary_measure(self) -> float:
        return self.dim * self.measure / self.radius

    def _offset(self, x: Tensor) -> Tensor:
        return x - torch.tensor(self.center, dtype=x.dtype, device=x.device)

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return torch.linalg.vector_norm(self._offset(x), dim=1) <= self.radius + tol

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        return (torch.linalg.vector_norm(self._offset(x), dim=1) - self.radius).abs() <= tol

    def _normal(self, x: Tensor) -> Tensor:
        offset = self._offset(x)
        rho = torch.linalg.vector_norm(offset, dim=1, keepdim=True)
        first_axis = torch.zeros_like(offset)
        first_axis[:, 0] = 1.0  # at the centre any unit vector will do
        return torch.where(rho > 0, offset / rho.clamp_min(torch.finfo(x.dtype).tiny), first_axis)

    def _distance(self, x: Tensor) -> Tensor:
        return ball_distance(x.unbind(dim=1), self.center, self.radius)

    def distance_formula(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return ball_distance(symbols, [exact_number(c) for c in self.center], exact_number(self.radius))

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        normals = unit_sphere_points(sampler.sample_unit(n, self.dim, generator=generator))
        return torch.tensor(self.center, dtype=_F64) + self.radius * normals, normals

    def sample_interior(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Points strictly inside the ball, uniformly distributed (see the module notes); arguments, shapes and
        errors as in `AbstractGeometry.sample_interior`."""
        if self.dim <= 3:
            return super().sample_interior(n_points, generator=generator, sampler=sampler, dtype=dtype, device=device)
        n = _check_sampling(n_points, generator, dtype)
        return self._sample_radial(n, generator, make_sampler(sampler)).to(dtype=dtype, device=device)

    def _sample_radial(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> Tensor:
        """`n` interior points, float64 on the CPU: a direction times $r U^{1/d}$; the rare point within the
        boundary tolerance of the sphere is replaced by a further draw."""
        center = torch.tensor(self.center, dtype=_F64)
        chunks, have = [torch.empty(0, self.dim, dtype=_F64)], 0
        for _ in range(_MAX_BATCHES):
            if have >= n:
                break
            u = sampler.sample_unit(n - have, self.dim + 1, generator=generator)
            rho = self.radius * u[:, -1:] ** (1.0 / self.dim)
            x = center + rho * unit_sphere_points(u[:, :-1])
            chunks.append(x[self._interior_mask(x)])
            have += len(chunks[-1])
        if have < n:
            raise ValueError(f"could not place {n} interior points in {self!r} ({have} found)")
        return torch.cat(chunks)[:n]
