"""Point samplers on the unit cube, and residual-based adaptive resampling.

A sampler only knows the unit cube $[0, 1)^d$; geometries map its points onto their interior or boundary
(`kanpde.pde.geometry`). Every sampler is a deterministic function of the `torch.Generator` it is given: the
quasi-Monte-Carlo samplers (scipy.stats.qmc) are scrambled with a seed drawn from that generator, so the same
generator state always yields the same points, and nothing touches global random state.
"""

from __future__ import annotations

import math
import numbers
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
from scipy.stats import qmc

__all__ = [
    "AbstractSampler",
    "UniformGridSampler",
    "RandomSampler",
    "LatinHypercubeSampler",
    "SobolSampler",
    "HaltonSampler",
    "SAMPLER_NAMES",
    "make_sampler",
    "resample_by_residual",
]

# The largest tensor grid UniformGridSampler builds before it asks for another sampler.
_MAX_GRID_POINTS = 2**27


def _is_count(value: object, minimum: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= minimum


def _check_sample_args(n_points: object, dim: object, generator: object) -> tuple[int, int]:
    if not _is_count(n_points, 0):
        raise ValueError(f"n_points must be a non-negative int, got {n_points!r}")
    if not _is_count(dim, 1):
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return int(n_points), int(dim)  # type: ignore[call-overload]


def _draw_seed(generator: torch.Generator) -> int:
    """One integer seed drawn from `generator` (advances its state)."""
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


class AbstractSampler(ABC):
    """Places points in the unit cube $[0, 1)^d$.

    Concrete samplers are final; write a new `AbstractSampler` to change one.
    """

    @abstractmethod
    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        """Return `n_points` points in the half-open unit cube $[0, 1)^{dim}$.

        Args:
            n_points: number of points (0 gives an empty tensor).
            dim: number of coordinates per point.
            generator: the only source of randomness; the result is a deterministic function of its state,
                which this call advances.

        Returns:
            points: float64 tensor on the CPU.

        Shapes:
            points: `(n_points, dim)`.

        Raises:
            ValueError: `n_points` is negative or `dim` is not positive.
            TypeError: `generator` is not a `torch.Generator`.
        """


@dataclass(frozen=True)
class UniformGridSampler(AbstractSampler):
    """Cell-centred regular tensor grid.

    With $m$ the smallest integer such that $m^{dim} \\ge$ `n_points`, the $m^{dim}$ cell centres $(i + 1/2)/m$ are
    put in a random order (a permutation drawn from the generator) and the first `n_points` are returned, so the
    result always has exactly `n_points` rows and is the full grid when `n_points` is a perfect power.
    """

    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        n_points, dim = _check_sample_args(n_points, dim, generator)
        m = max(1, round(n_points ** (1.0 / dim)))
        while m**dim < n_points:
            m += 1
        while m > 1 and (m - 1) ** dim >= n_points:
            m -= 1
        if m**dim > _MAX_GRID_POINTS:
            raise ValueError(
                f"UniformGridSampler would build a grid of {m}**{dim} points for n_points={n_points}, dim={dim}; "
                f"use sampler='sobol' or 'random' in high dimensions"
            )
        index = torch.randperm(m**dim, generator=generator, device=generator.device)[:n_points].cpu()
        digits = [(index // m**axis) % m for axis in range(dim)]
        return (torch.stack(digits, dim=1).to(torch.float64) + 0.5) / m


@dataclass(frozen=True)
class RandomSampler(AbstractSampler):
    """Independent uniform points (`torch.rand`)."""

    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        n_points, dim = _check_sample_args(n_points, dim, generator)
        points = torch.rand(n_points, dim, generator=generator, dtype=torch.float64, device=generator.device)
        return points.cpu()


def _qmc_engine(engine_cls: type, dim: int, generator: torch.Generator) -> qmc.QMCEngine:
    """A scrambled scipy QMC engine whose scrambling is seeded from `generator`."""
    rng = np.random.default_rng(_draw_seed(generator))
    try:
        return engine_cls(d=dim, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 names the argument `seed`
        return engine_cls(d=dim, scramble=True, seed=rng)


def _to_tensor(points: np.ndarray, dim: int) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(points, dtype=np.float64)).reshape(-1, dim)


@dataclass(frozen=True)
class LatinHypercubeSampler(AbstractSampler):
    """Latin hypercube sample (`scipy.stats.qmc.LatinHypercube`, scrambled within cells)."""

    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        n_points, dim = _check_sample_args(n_points, dim, generator)
        engine = _qmc_engine(qmc.LatinHypercube, dim, generator)
        return _to_tensor(engine.random(n_points), dim)


@dataclass(frozen=True)
class SobolSampler(AbstractSampler):
    """Scrambled Sobol' sequence (`scipy.stats.qmc.Sobol`).

    Its balance properties hold when `n_points` is a power of two (then `random_base2` is used); other sizes take
    the first `n_points` of the sequence, without scipy's warning.
    """

    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        n_points, dim = _check_sample_args(n_points, dim, generator)
        engine = _qmc_engine(qmc.Sobol, dim, generator)
        if n_points > 0 and n_points & (n_points - 1) == 0:
            return _to_tensor(engine.random_base2(n_points.bit_length() - 1), dim)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            return _to_tensor(engine.random(n_points), dim)


@dataclass(frozen=True)
class HaltonSampler(AbstractSampler):
    """Scrambled Halton sequence (`scipy.stats.qmc.Halton`)."""

    def sample_unit(self, n_points: int, dim: int, *, generator: torch.Generator) -> torch.Tensor:
        n_points, dim = _check_sample_args(n_points, dim, generator)
        engine = _qmc_engine(qmc.Halton, dim, generator)
        return _to_tensor(engine.random(n_points), dim)


# Accepted names for `make_sampler` (lower case; matching ignores case and surrounding blanks).
SAMPLER_NAMES: MappingProxyType[str, type[AbstractSampler]] = MappingProxyType(
    {
        "uniform": UniformGridSampler,
        "grid": UniformGridSampler,
        "random": RandomSampler,
        "lhs": LatinHypercubeSampler,
        "latin": LatinHypercubeSampler,
        "sobol": SobolSampler,
        "halton": HaltonSampler,
    }
)


def make_sampler(sampler: AbstractSampler | str) -> AbstractSampler:
    """Return `sampler` if it is a sampler, else build the sampler it names.

    Args:
        sampler: an `AbstractSampler`, or one of "uniform"/"grid", "random", "lhs"/"latin", "sobol", "halton".

    Returns:
        The sampler.

    Raises:
        ValueError: `sampler` is an unknown name.
        TypeError: `sampler` is neither a string nor an `AbstractSampler`.

    Example:
        >>> make_sampler("lhs")
        LatinHypercubeSampler()
    """
    if isinstance(sampler, AbstractSampler):
        return sampler
    if not isinstance(sampler, str):
        raise TypeError(
            f"sampler must be an AbstractSampler or one of {sorted(SAMPLER_NAMES)}, got {type(sampler).__name__}"
        )
    key = sampler.strip().lower()
    if key not in SAMPLER_NAMES:
        raise ValueError(f"sampler must be an AbstractSampler or one of {sorted(SAMPLER_NAMES)}, got {sampler!r}")
    return SAMPLER_NAMES[key]()


def resample_by_residual(
    candidates: torch.Tensor,
    residual: torch.Tensor,
    n_points: int,
    *,
    k: float = 1.0,
    c: float = 1.0,
    generator: torch.Generator,
) -> torch.Tensor:
    """Residual-based adaptive sampling (RAD, Wu et al. 2023): draw points where the residual is large.

    Row $i$ of `candidates` is chosen, without replacement, with probability proportional to
    $p_i = |r_i|^k / \\mathrm{mean}_j |r_j|^k + c$. $k = 0$ or a large $c$ approach uniform sampling; $c = 0$ and a
    large $k$ concentrate the points on the largest residuals. An all-zero residual gives uniform sampling.
    The draw uses exponential races (keys $E_i / p_i$ with $E_i \\sim \\mathrm{Exp}(1)$, smallest `n_points`
    kept), which equals successive weighted sampling without replacement and has no size limit.

    Args:
        candidates: candidate points.
        residual: the PDE residual at the candidates; with several fields, $|r_i|$ is the Euclidean norm of row
            $i$. It is detached (no gradient flows through the choice).
        n_points: how many points to keep; at most `n_candidates`.
        k: exponent, >= 0.
        c: additive constant, >= 0.
        generator: the only source of randomness.

    Returns:
        points: the chosen rows of `candidates` (same dtype and device), in the order they were drawn.

    Shapes:
        candidates: `(n_candidates, dim)`.
        residual: `(n_candidates,)` or `(n_candidates, n_fields)`.
        points: `(n_points, dim)`.

    Raises:
        ValueError: inconsistent shapes, `n_points` out of `[0, n_candidates]`, negative or non-finite `k` or `c`,
            or a non-finite residual.
        TypeError: `generator` is not a `torch.Generator`.
    """
    if not isinstance(candidates, torch.Tensor) or candidates.ndim != 2:
        raise ValueError(f"candidates must be a tensor of shape (n_candidates, dim), got {_describe(candidates)}")
    n_candidates = candidates.shape[0]
    if not isinstance(residual, torch.Tensor) or residual.ndim not in (1, 2) or residual.shape[0] != n_candidates:
        raise ValueError(
            f"residual must be a tensor of shape ({n_candidates},) or ({n_candidates}, n_fields) to match "
            f"candidates, got {_describe(residual)}"
        )
    if not _is_count(n_points, 0) or n_points > n_candidates:
        raise ValueError(f"n_points must be an int in [0, n_candidates={n_candidates}], got {n_points!r}")
    n_points = int(n_points)
    for name, value in (("k", k), ("c", c)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")

    r = residual.detach().to(torch.float64)
    magnitude = r.abs() if r.ndim == 1 else torch.linalg.vector_norm(r, dim=1)
    if not bool(torch.isfinite(magnitude).all()):
        raise ValueError("residual must be finite; got NaN or inf values")
    weight = magnitude**k
    mean = weight.mean() if n_candidates > 0 else weight.new_zeros(())
    weight = (weight / mean if mean > 0 else torch.zeros_like(weight)) + c
    if not bool((weight > 0).any()):
        weight = torch.ones_like(weight)
    uniform = torch.rand(n_candidates, generator=generator, dtype=torch.float64, device=generator.device)
    keys = -torch.log1p(-uniform.to(weight.device)) / weight
    index = torch.topk(keys, n_points, largest=False, sorted=True).indices
    return candidates[index.to(candidates.device)]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
