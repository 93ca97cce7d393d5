"""Time-dependent domains: `TimeInterval` and the space-time cylinder `SpaceTime`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .geometry import (
    _F64,
    AbstractGeometry,
    SamplerSpec,
    Tensor,
    _check_extent,
    _check_points,
    _float_scalar,
    _permutation,
)
from .sampling import AbstractSampler, make_sampler

__all__ = ["TimeInterval", "SpaceTime"]


@dataclass(frozen=True)
class TimeInterval:
    """The time span $[t_0, t_1]$ of a time-dependent problem.

    Raises:
        TypeError, ValueError: `t0` or `t1` is not a finite number, or `t0 >= t1`.
    """

    t0: float
    t1: float

    def __post_init__(self) -> None:
        t0, t1 = _float_scalar(self.t0, "t0"), _float_scalar(self.t1, "t1")
        if not t0 < t1:
            raise ValueError(f"TimeInterval needs t0 < t1, got t0={t0}, t1={t1}")
        _check_extent([t0], [t1], "time (t0, t1)", ("t",))
        object.__setattr__(self, "t0", t0)
        object.__setattr__(self, "t1", t1)

    @property
    def length(self) -> float:
        """$t_1 - t_0$."""
        return self.t1 - self.t0


class SpaceTime(AbstractGeometry):
    """The cylinder `space` x `[t0, t1]`; t is the last column, so `dim = space_dim + 1`.

    Its boundary (`on_boundary`, `sample_boundary`, normals with a zero t component) is the lateral one, space
    boundary x time, where boundary conditions hold; the initial slice comes from `sample_initial`. Interior
    points come from one sampler in `space_dim + 1` dimensions, rejected on the space part, with
    $t_0 < t < t_1$. Boundary times are an independent sample, randomly permuted before pairing. Side names and
    `distance` are those of `space` (`distance` does not vanish at $t = t_0$).

    Args:
        geometry: the spatial domain (not itself a `SpaceTime`).
        time: a `TimeInterval` or a pair `(t0, t1)`.

    Raises:
        TypeError: `geometry` is not a spatial geometry, or `time` is neither a `TimeInterval` nor a pair.
        ValueError: `time` is not a valid interval.
    """

    def __init__(self, geometry: AbstractGeometry, time: TimeInterval | tuple[float, float]) -> None:
        if not isinstance(geometry, AbstractGeometry) or isinstance(geometry, SpaceTime):
            raise TypeError(f"geometry must be a spatial AbstractGeometry, got {type(geometry).__name__}")
        if not isinstance(time, TimeInterval):
            if isinstance(time, (str, bytes)) or not isinstance(time, Sequence):
                raise TypeError(f"time must be a TimeInterval or a pair (t0, t1), got {type(time).__name__}")
            if len(time) != 2:
                raise ValueError(f"time must be a TimeInterval or a pair (t0, t1), got {time!r}")
            time = TimeInterval(*time)
        self.space, self.time = geometry, time

    def __repr__(self) -> str:
        return f"SpaceTime({self.space!r}, {self.time!r})"

    @property
    def dim(self) -> int:
        return self.space.dim + 1

    @property
    def space_dim(self) -> int:
        """Number of space coordinates (`dim - 1`)."""
        return self.space.dim

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lower, upper = self.space.bounds
        return (*lower, self.time.t0), (*upper, self.time.t1)

    @property
    def measure(self) -> float:
        return self.space.measure * self.time.length

    @property
    def boundary_measure(self) -> float:
        return self.space.boundary_measure * self.time.length

    def _in_time(self, x: Tensor, tol: float) -> Tensor:
        return (x[:, -1] >= self.time.t0 - tol) & (x[:, -1] <= self.time.t1 + tol)

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self.space._contains(x[:, :-1], tol) & self._in_time(x, tol)

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        return self.space._on_boundary(x[:, :-1], tol) & self._in_time(x, tol)

    def _interior_mask(self, x: Tensor) -> Tensor:
        return self.space._interior_mask(x[:, :-1]) & (x[:, -1] > self.time.t0) & (x[:, -1] < self.time.t1)

    def _normal(self, x: Tensor) -> Tensor:
        return torch.cat([self.space._normal(x[:, :-1]), torch.zeros_like(x[:, -1:])], dim=1)

    def _distance(self, x: Tensor) -> Tensor:
        return self.space._distance(x[:, :-1])

    def _with_times(
        self, points: Tensor, normals: Tensor, generator: torch.Generator, sampler: AbstractSampler
    ) -> tuple[Tensor, Tensor]:
        """Append sampled times (randomly paired with the space points) and zero time components of normals."""
        n = len(points)
        u = sampler.sample_unit(n, 1, generator=generator)[_permutation(n, generator)]
        times = self.time.t0 + self.time.length * u
        return torch.cat([points, times], dim=1), torch.cat([normals, torch.zeros(n, 1, dtype=_F64)], dim=1)

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        return self._with_times(*self.space._sample_boundary(n, generator, sampler), generator, sampler)

    def sample_interior(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """As `AbstractGeometry.sample_interior`; when the space fills less than 5 % of its bounding box (a ball in
        many dimensions) the space points come from `space.sample_interior` and the times from a 1-D sample,
        randomly paired, instead of rejection in the space-time bounding box."""
        lower, upper = self.space.bounds
        if self.space.measure >= 0.05 * math.prod(b - a for a, b in zip(lower, upper, strict=True)):
            return super().sample_interior(n_points, generator=generator, sampler=sampler, dtype=dtype, device=device)
        smp = make_sampler(sampler)
        space = self.space.sample_interior(n_points, generator=generator, sampler=smp, dtype=_F64)
        u = smp.sample_unit(len(space), 1, generator=generator)[_permutation(len(space), generator)]
        u = torch.where(u > 0, u, 0.5)  # t0 itself is not interior (a measure-zero redraw)
        points = torch.cat([space, self.time.t0 + self.time.length * u], dim=1)
        return points.to(dtype=dtype, device=device)

    def sample_initial(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Points of the initial slice $t = t_0$: `space.sample_interior` with a t column appended.

        Args: as in `sample_interior`.

        Returns:
            points: space interior points, with last column `t0`.

        Shapes:
            points: `(n_points, dim)`.
        """
        space = self.space.sample_interior(n_points, generator=generator, sampler=sampler, dtype=_F64)
        points = torch.cat([space, torch.full((len(space), 1), self.time.t0, dtype=_F64)], dim=1)
        return points.to(dtype=dtype, device=device)

    @property
    def side_names(self) -> tuple[str, ...]:
        return self.space.side_names

    def side_mask(self, name: str, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        x = _check_points(points, self.dim)
        return self.space.side_mask(name, x[:, :-1], tol=tol) & self._in_time(x.detach().to(_F64), tol).to(x.device)

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
        smp = make_sampler(sampler)
        points, normals = self.space.sample_side(name, n_points, generator=generator, sampler=smp, dtype=_F64)
        points, normals = self._with_times(points, normals, generator, smp)
        return points.to(dtype=dtype, device=device), normals.to(dtype=dtype, device=device)
