"""Checks of the Solver's arguments (and of ``solve``'s): each names the argument and what to write instead."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .problem import Problem

__all__ = [
    "validate_grid_schedule",
    "positive_int",
    "positive_seconds",
    "checked_device",
    "check_weights",
    "weights_by_term",
]


def validate_grid_schedule(grid_schedule: object) -> list[int]:
    """A non-empty, strictly increasing list of positive integers."""
    if isinstance(grid_schedule, (str, bytes)) or not isinstance(grid_schedule, Sequence):
        raise TypeError(
            f"grid_schedule must be a list of grid sizes such as [5, 10, 20], 'auto' or a kp.AutoSchedule, "
            f"got {grid_schedule!r}"
        )
    values = list(grid_schedule)
    if not values:
        raise ValueError("grid_schedule must name at least one grid size, e.g. [5, 10, 20]; got []")
    if any(isinstance(g, bool) or not isinstance(g, numbers.Integral) or g < 1 for g in values):
        raise ValueError(f"grid_schedule must contain positive integers, got {values}")
    values = [int(g) for g in values]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"grid_schedule must be strictly increasing, got {values}")
    return values


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and float(value) > 0)
    ):
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return float(value)


def checked_device(device: object) -> torch.device:
    """A torch device that exists here (a clear error for unknown names and for CUDA without a CUDA device)."""
    try:
        parsed = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', ..., got {device!r} ({err})") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} asks for CUDA, but torch finds no CUDA device here; use 'cpu'")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(device)!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
    return parsed


def _condition_terms(problem: Problem) -> list[tuple[str, str]]:
    """``(label, kind)`` of each condition's loss term: labels primed when repeated (as the loss names them), kinds
    from the condition's type (``"dirichlet"``), also for a condition with a ``name``."""
    terms: list[tuple[str, str]] = []
    for condition in problem.conditions:
        label = condition.label
        while label in ["pde"] + [t[0] for t in terms]:
            label += "'"
        terms.append((label, condition.default_label().split("[")[0]))
    return terms


def check_weights(weights: Mapping[Any, Any], problem: Problem) -> None:
    """Weights by term name or kind: known names only (the message lists them), finite numbers >= 0."""
    names = ["pde"]
    candidates = [n for term in _condition_terms(problem) for n in term]
    candidates += [n for obs in problem.data for n in (obs.label, "data")]  # observations
    for name in candidates:
        if name not in names:
            names.append(name)
    for key, value in weights.items():
        if key not in names:
            raise ValueError(f"weights: unknown term {key!r}; the loss terms of this problem are {names}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"weights[{key!r}] must be a number >= 0, got {value!r}")
        if not (math.isfinite(value) and float(value) >= 0):
            raise ValueError(f"weights[{key!r}] must be a finite number >= 0, got {value!r}")


def weights_by_term(weights: Mapping[str, float], problem: Problem) -> dict[str, float]:
    """``weights`` (checked) with each condition's term given its kind's weight where only the kind was named, so
    ``{"dirichlet": 10}`` also weighs a Dirichlet condition with ``name="wall"``; a term's own name wins."""
    resolved = {key: float(value) for key, value in weights.items()}
    for label, kind in _condition_terms(problem):
        if label not in resolved and kind in weights:
            resolved[label] = float(weights[kind])
    return resolved
