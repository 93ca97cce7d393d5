"""Simple closed-form values near a number: the candidates that :meth:`SymbolicNetwork.snap_constants` tries.

A candidate is an exact sympy number with its float value: 0 and +-1 (always offered, because a network's
internal scales are arbitrary and retraining absorbs them), then integers, rationals ``p/q`` with small ``q``,
rational multiples of pi, pi^2 (the decay rates of heat modes, ``exp(-k pi^2 t)``), e, sqrt(2) and sqrt(3),
ordered by their distance to the number.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import sympy

__all__ = ["SimpleValue", "simple_values", "nearest_distance"]

_DENOMINATORS = (1, 2, 3, 4, 5, 6, 8, 10, 12)
_PI_DENOMINATORS = (1, 2, 3, 4, 6)
_E_DENOMINATORS = (1, 2)
_ROOT_DENOMINATORS = (1, 2, 3, 4)


class SimpleValue(NamedTuple):
    """A candidate: its float ``value`` and the exact sympy number ``expr``."""

    value: float
    expr: sympy.Expr


def _multiples(v: float, unit: float, symbol: sympy.Expr, denominators: tuple[int, ...]) -> list[SimpleValue]:
    out = []
    for q in denominators:
        p = round(v / unit * q)
        if p != 0 and abs(p) <= 1000 * q:
            ratio = Fraction(p, q)
            out.append(SimpleValue(float(ratio) * unit, sympy.Rational(ratio.numerator, ratio.denominator) * symbol))
    return out


def _nearby(v: float) -> list[SimpleValue]:
    if not math.isfinite(v):
        return []
    return (
        _multiples(v, 1.0, sympy.Integer(1), _DENOMINATORS)
        + _multiples(v, math.pi, sympy.pi, _PI_DENOMINATORS)
        + _multiples(v, math.pi**2, sympy.pi**2, _DENOMINATORS)
        + _multiples(v, math.e, sympy.E, _E_DENOMINATORS)
        + _multiples(v, math.sqrt(2), sympy.sqrt(2), _ROOT_DENOMINATORS)
        + _multiples(v, math.sqrt(3), sympy.sqrt(3), _ROOT_DENOMINATORS)
    )


def nearest_distance(v: float) -> float:
    """Relative distance from ``v`` to its nearest simple value (0 for ``v = 0``); used to order the snaps."""
    if v == 0.0:
        return 0.0
    scale = max(abs(v), 1e-3)
    candidates = [abs(c.value - v) / scale for c in _nearby(v)] + [abs(v) / scale]
    return min(candidates)


def simple_values(v: float, *, window: float = 0.05, max_candidates: int = 4) -> list[SimpleValue]:
    """Candidates for ``v``: 0 and ``sign(v)*1`` first, then up to ``max_candidates`` others within a relative
    ``window`` of ``v``, nearest first (duplicates removed; a candidate equal to ``v`` in floating point stays: it
    makes the constant exact).

    Example:
        >>> [str(c.expr) for c in simple_values(3.14159)][:3]
        ['0', '1', 'pi']
        >>> [str(c.expr) for c in simple_values(-0.70711)][:3]
        ['0', '-1', '-sqrt(2)/2']
    """
    first = [SimpleValue(0.0, sympy.Integer(0)), SimpleValue(math.copysign(1.0, v), sympy.Integer(1 if v >= 0 else -1))]
    scale = max(abs(v), 1e-3)
    near = sorted(
        (c for c in _nearby(v) if abs(c.value - v) <= window * scale),
        key=lambda c: (abs(c.value - v), len(str(c.expr))),
    )
    seen = {c.value for c in first}
    out = list(first)
    for c in near:
        if c.value not in seen and len(out) < 2 + max_candidates:
            seen.add(c.value)
            out.append(c)
    return out
