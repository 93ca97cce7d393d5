"""Simplifying an extracted formula: try several sympy rewrites and keep the shortest.

No single sympy routine is best: ``cos(pi*(x - y))/2 - cos(pi*(x + y))/2`` needs ``expand_trig`` (or ``fu`` /
``trigsimp``) to become ``sin(pi*x)*sin(pi*y)``, while ``(x + y)**2/4 - (x - y)**2/4`` needs ``expand``. Every
rewrite is tried and the result with the fewest operations (:func:`sympy.count_ops`) wins; ties keep the earlier.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import sympy

from .._timeout import Timeout, time_limit

__all__ = ["simplify_expression", "rationalize_floats", "time_limit", "Timeout"]


def rationalize_floats(expr: sympy.Expr, *, rtol: float = 1e-10, max_denominator: int = 100) -> sympy.Expr:
    """Replace each float that is within ``rtol`` (relative) of a rational ``p/q`` (``q <= max_denominator``) or of
    such a multiple of pi by that exact number; other floats stay. Uses :func:`sympy.nsimplify`.
    """
    replacements = {}
    for number in expr.atoms(sympy.Float):
        value = float(number)
        if value == 0.0:
            replacements[number] = sympy.Integer(0)
            continue
        for constants in ([], [sympy.pi]):
            guess = sympy.nsimplify(value, constants, tolerance=rtol * abs(value), rational=False)
            ratio = guess / sympy.pi if constants else guess
            if (
                isinstance(ratio, sympy.Rational)
                and ratio.q <= max_denominator
                and math.isclose(float(guess), value, rel_tol=rtol)
            ):
                replacements[number] = guess
                break
    return expr.xreplace(replacements) if replacements else expr


def _rewrites() -> list[Callable[[sympy.Expr], sympy.Expr]]:
    return [
        sympy.simplify,
        sympy.expand,
        sympy.trigsimp,
        sympy.fu,
        lambda e: sympy.simplify(sympy.expand_trig(e)),
        lambda e: sympy.factor(sympy.expand(e)),
    ]


def simplify_expression(expr: sympy.Expr, *, seconds: float = 5.0) -> sympy.Expr:
    """The shortest of ``expr`` and its rewrites by ``simplify``, ``expand``, ``trigsimp``, ``fu``,
    ``expand_trig`` + ``simplify`` and ``expand`` + ``factor`` (by :func:`sympy.count_ops`).

    A rewrite that raises (sympy does on some float-heavy expressions), or takes longer than ``seconds``
    (:func:`time_limit`, in any thread; ``factor`` of a polynomial with large rational coefficients can take
    minutes), is skipped. Expressions that still hold floating-point constants (unsnapped ones) only get
    ``expand``: on them
    ``simplify`` and ``fu`` take seconds to minutes and gain nothing exact.

    Example:
        >>> import sympy
        >>> x, y = sympy.symbols("x y")
        >>> simplify_expression(sympy.cos(sympy.pi*x - sympy.pi*y)/2 - sympy.cos(sympy.pi*x + sympy.pi*y)/2)
        sin(pi*x)*sin(pi*y)
    """
    best, best_ops = expr, sympy.count_ops(expr)
    rewrites = [sympy.expand] if expr.atoms(sympy.Float) else _rewrites()
    for rewrite in rewrites:
        try:
            with time_limit(seconds):
                candidate = rewrite(expr)
        except Exception:  # noqa: BLE001 - sympy raises many types (and Timeout): a failed rewrite is no candidate
            continue
        ops = sympy.count_ops(candidate)
        if ops < best_ops:
            best, best_ops = candidate, ops
    return best
