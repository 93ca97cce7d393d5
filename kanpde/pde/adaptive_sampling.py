"""Residual-based adaptive sampling of the interior points: where each stage's collocation points go.

Two methods of Wu et al. (2023, "A comprehensive study of non-adaptive and residual-based adaptive sampling for
physics-informed neural networks", CMAME 403), chosen with ``kp.Solver(problem, adaptive_sampling=...)``:

- :class:`RAD` *redraws* every stage's interior points (after the first) from candidates, with probability
  proportional to ``|r|^k / mean |r|^k + c``: the points follow the residual of the network trained so far, and
  as many points as without it are used.
- :class:`RAR` *adds and keeps*: every stage draws its fresh points as without adaptivity, and at every stage
  switch a share of points is added where the residual is largest (drawn as in RAD, or the largest ones with
  ``greedy=True``: RAR-G, Lu et al. 2021, "DeepXDE"); the added points stay for every later stage, so a shock or
  corner collects points stage after stage while the rest of the domain stays uniformly covered.

The first stage samples uniformly under both (there is no trained network to ask). A method is an object, so its
parameters travel with it (checkpoints save them; :func:`adaptive_sampling_data`).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .sampling import resample_by_residual

__all__ = [
    "AbstractAdaptiveSampling",
    "RAD",
    "RAR",
    "ADAPTIVE_SAMPLING_NAMES",
    "make_adaptive_sampling",
    "adaptive_sampling_data",
    "adaptive_sampling_from_data",
]

MAX_CANDIDATES = 1000  # candidates per point: far more than the literature's (Wu et al. use 100,000 for 2,000)


def _nonnegative(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _candidates(owner: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= MAX_CANDIDATES:
        raise ValueError(
            f"{owner}: candidates (candidate points per interior point) must be an integer from 1 to "
            f"{MAX_CANDIDATES}, got {value!r}"
        )
    return int(value)


class AbstractAdaptiveSampling(ABC):
    """Chooses a stage's interior points from the residual of the network trained so far.

    Concrete methods are final frozen dataclasses; write a new subclass to change one.
    """

    candidates: int  # candidate points per interior point of the stage

    @abstractmethod
    def stage_points(
        self,
        sample: Callable[[int], Tensor],
        residual: Callable[[Tensor], Tensor],
        n_interior: int,
        kept: Tensor | None,
        *,
        generator: torch.Generator,
    ) -> tuple[Tensor, Tensor | None]:
        """The interior points of a stage after the first, and the points to keep for later stages.

        Args:
            sample: draws that many points of the domain's interior (the solver's sampler; advances its generator).
            residual: the magnitude of the PDE residual of the current network at points.
            n_interior: the stage's number of interior points without adaptivity.
            kept: the points kept by earlier stages (None when there are none).
            generator: the random state of the choice.

        Returns:
            interior: the stage's interior points.
            kept: the points to keep for the next stages (None for none).

        Shapes:
            sample: ``n -> (n, n_coords)``; residual: ``(n, n_coords) -> (n,)``; kept: ``(n_kept, n_coords)``;
            interior: ``(n_stage, n_coords)``.
        """

    @abstractmethod
    def extra_points(self, n_interior: int) -> int:
        """How many points a stage of ``n_interior`` points adds to the kept ones (for the memory estimate)."""


@dataclass(frozen=True)
class RAD(AbstractAdaptiveSampling):
    """Residual-based adaptive distribution: every stage after the first redraws its ``n_interior`` points from
    ``candidates * n_interior`` candidates with probability ``|r|^k / mean |r|^k + c`` (``adaptive_sampling=True``).

    Args:
        k: exponent of the residual, >= 0.
        c: uniform share, >= 0 (``c = 1``: about half of the points drawn uniformly).
        candidates: candidate points per interior point.
    """

    k: float = 1.0
    c: float = 1.0
    candidates: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _nonnegative("RAD", "k", self.k))
        object.__setattr__(self, "c", _nonnegative("RAD", "c", self.c))
        object.__setattr__(self, "candidates", _candidates("RAD", self.candidates))

    def stage_points(
        self,
        sample: Callable[[int], Tensor],
        residual: Callable[[Tensor], Tensor],
        n_interior: int,
        kept: Tensor | None,
        *,
        generator: torch.Generator,
    ) -> tuple[Tensor, Tensor | None]:
        candidates = sample(self.candidates * n_interior)
        chosen = resample_by_residual(candidates, residual(candidates), n_interior, k=self.k, c=self.c,
                                      generator=generator)  # fmt: skip
        return chosen, kept

    def extra_points(self, n_interior: int) -> int:
        return 0


@dataclass(frozen=True)
class RAR(AbstractAdaptiveSampling):
    """Residual-based adaptive refinement: at every stage switch, ``fraction * n_interior`` points are added where
    the residual is large, and kept for all later stages; each stage trains on its fresh ``n_interior`` points plus
    every point kept so far (``adaptive_sampling="rar"``).

    The added points are drawn from ``candidates * n_interior`` fresh candidates with probability
    ``|r|^k / mean |r|^k + c`` (RAR-D, Wu et al. 2023; ``k = 2, c = 0`` concentrates them on the largest residuals
    without piling them all onto one spot), or, with ``greedy=True``, are the candidates of largest residual (RAR-G,
    Lu et al. 2021).

    Args:
        fraction: points added per stage switch, as a share of the stage's ``n_interior``; in (0, 10].
        k: exponent of the residual, >= 0.
        c: uniform share, >= 0.
        candidates: candidate points per interior point (at least ``fraction``).
        greedy: take the candidates of largest residual instead of drawing them.
    """

    fraction: float = 0.25
    k: float = 2.0
    c: float = 0.0
    candidates: int = 4
    greedy: bool = False

    def __post_init__(self) -> None:
        fraction = self.fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction <= 10:
            raise ValueError(f"RAR: fraction (points added per stage, a share of n_interior) must be in (0, 10], "
                             f"got {fraction!r}")  # fmt: skip
        object.__setattr__(self, "fraction", float(fraction))
        object.__setattr__(self, "k", _nonnegative("RAR", "k", self.k))
        object.__setattr__(self, "c", _nonnegative("RAR", "c", self.c))
        object.__setattr__(self, "candidates", _candidates("RAR", self.candidates))
        if self.candidates < self.fraction:
            raise ValueError(f"RAR: candidates ({self.candidates}) must be at least fraction ({self.fraction})")
        if not isinstance(self.greedy, bool):
            raise ValueError(f"RAR: greedy must be True or False, got {self.greedy!r}")

    def stage_points(
        self,
        sample: Callable[[int], Tensor],
        residual: Callable[[Tensor], Tensor],
        n_interior: int,
        kept: Tensor | None,
        *,
        generator: torch.Generator,
    ) -> tuple[Tensor, Tensor | None]:
        fresh = sample(n_interior)
        n_added = self.extra_points(n_interior)
        candidates = sample(self.candidates * n_interior)
        magnitude = residual(candidates)
        if self.greedy:
            added = candidates[torch.topk(magnitude, n_added).indices]
        else:
            added = resample_by_residual(candidates, magnitude, n_added, k=self.k, c=self.c, generator=generator)
        kept = added if kept is None else torch.cat([kept, added.to(kept)])
        return torch.cat([fresh, kept.to(fresh)]), kept

    def extra_points(self, n_interior: int) -> int:
        return max(1, round(self.fraction * n_interior))


ADAPTIVE_SAMPLING_NAMES: dict[str, type[AbstractAdaptiveSampling]] = {"rad": RAD, "rar": RAR}


def make_adaptive_sampling(value: object) -> AbstractAdaptiveSampling | None:
    """The method ``adaptive_sampling=value`` asks for: None for False/None, :class:`RAD` for True or "rad",
    :class:`RAR` for "rar", or ``value`` itself when it is a method.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else.
    """
    if value is None or value is False:
        return None
    if value is True:
        return RAD()
    if isinstance(value, AbstractAdaptiveSampling):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ADAPTIVE_SAMPLING_NAMES:
            return ADAPTIVE_SAMPLING_NAMES[key]()
        raise ValueError(
            f"adaptive_sampling must be False, True (= 'rad'), 'rad', 'rar', kp.RAD(...) or kp.RAR(...), got {value!r}"
        )
    raise TypeError(
        f"adaptive_sampling must be False, True (= 'rad'), 'rad', 'rar', kp.RAD(...) or kp.RAR(...), "
        f"got {type(value).__name__}"
    )


def adaptive_sampling_data(method: AbstractAdaptiveSampling | None) -> bool | dict[str, Any]:
    """``method`` as checkpoint data: False for none, else a dict of its name and parameters."""
    if method is None:
        return False
    names = [name for name, cls in ADAPTIVE_SAMPLING_NAMES.items() if type(method) is cls]
    if not names:
        raise TypeError(
            f"cannot save the checkpoint: the adaptive sampling {method!r} is not one of kanpde's own "
            f"({', '.join(sorted(ADAPTIVE_SAMPLING_NAMES))}); checkpoints store it by name"
        )
    data: dict[str, Any] = {"method": names[0]}
    data.update({name: getattr(method, name) for name in method.__dataclass_fields__})  # type: ignore[attr-defined]
    return data


def adaptive_sampling_from_data(data: object, where: str) -> AbstractAdaptiveSampling | None:
    """The method a checkpoint's ``data`` describes (a bool, as written before :class:`RAR`, or a dict);
    ``ValueError`` naming ``where`` for anything else."""
    if isinstance(data, bool):
        return make_adaptive_sampling(data)
    shown = repr(data) if len(repr(data)) <= 80 else repr(data)[:80] + "..."
    if not isinstance(data, dict) or data.get("method") not in ADAPTIVE_SAMPLING_NAMES:
        raise ValueError(f"{where} must be True, False or a dict with 'method' one of "
                         f"{sorted(ADAPTIVE_SAMPLING_NAMES)}, got {shown}")  # fmt: skip
    cls = ADAPTIVE_SAMPLING_NAMES[data["method"]]
    fields = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    if set(data) != fields | {"method"}:
        raise ValueError(f"{where} must have the keys {sorted(fields | {'method'})}, got {sorted(map(str, data))}")
    try:
        return cls(**{name: data[name] for name in fields})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None
