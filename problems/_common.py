"""Helpers shared by the problem modules: parameter overrides and number formatting for expressions."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any


def resolve(defaults: Mapping[str, Any], overrides: Mapping[str, Any], problem: str) -> dict[str, Any]:
    """``defaults`` updated by ``overrides``; unknown names and non-finite numbers are errors.

    Raises:
        TypeError: an override names no parameter of the problem (the message lists the parameters).
        ValueError: a numeric parameter is given a non-finite or non-numeric value.
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise TypeError(f"{problem}: unknown parameter(s) {', '.join(unknown)}; its parameters are: {known}")
    params = {**defaults, **overrides}
    for name, value in params.items():
        default = defaults[name]
        if isinstance(default, numbers.Real) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise ValueError(f"{problem}: parameter {name} must be a finite number, got {value!r}")
            if isinstance(default, int) and not float(value).is_integer():
                raise ValueError(f"{problem}: parameter {name} must be an integer, got {value!r}")
            params[name] = int(value) if isinstance(default, int) else float(value)
    return params


def positive(params: Mapping[str, Any], *names: str, problem: str) -> None:
    """Raise ValueError unless every named parameter is > 0."""
    for name in names:
        if not params[name] > 0:
            raise ValueError(f"{problem}: parameter {name} must be > 0, got {params[name]!r}")


def num(value: float) -> str:
    """A number as a string that sympy parses back to the same double, in parentheses (safe inside formulas)."""
    return f"({float(value)!r})" if not float(value).is_integer() else f"({int(value)})"


def coordinate_names(dim: int) -> tuple[str, ...]:
    """The space coordinates' names in ``dim`` dimensions, as kanpde names them: x, y, z up to 3, else x1 ... xd."""
    return ("x", "y", "z")[:dim] if dim <= 3 else tuple(f"x{i}" for i in range(1, dim + 1))
