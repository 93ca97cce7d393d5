"""Formulas in the place of fields: what a problem's residual and values are in sympy, for verification.

:class:`SymbolicFields` stands in for :class:`~kanpde.pde.fields.Fields` when a residual callable is written with
operators that sympy also understands (``u.t + u.value * u.x - 0.01 * u.xx``); :func:`sympy_value` gives a
problem value (an :class:`~kanpde.pde.expressions.Expression`) in given symbols. Problems use both in
:meth:`~kanpde.pde.problem.Problem.sympy_residual`, the one place each PDE says what it is in sympy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from .fields import is_space_name

__all__ = ["SymbolicFields", "sympy_value"]


class SymbolicFields:
    """A sympy stand-in for :class:`~kanpde.pde.fields.Fields`: ``u.value``, ``u.x``, ``u.xx``, ``u.laplacian``,
    ``u.grad`` (a 1-row Matrix), ``u.d(...)``, ``u.coord(...)`` are sympy expressions of the formula."""

    def __init__(self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], coords: Sequence[str]) -> None:
        self._expr, self._symbols, self.coords = expr, dict(zip(coords, symbols)), tuple(coords)
        self._space = [self._symbols[c] for c in self.coords if is_space_name(c)]

    def __getitem__(self, field: int) -> SymbolicFields:
        if field not in (0, -1):
            raise IndexError("a formula has one field")
        return self

    @property
    def value(self) -> sympy.Expr:
        return self._expr

    def coord(self, name: str) -> sympy.Symbol:
        return self._symbols[name]

    @property
    def grad(self) -> sympy.Matrix:
        return sympy.Matrix([[sympy.diff(self._expr, s) for s in self._space]])

    @property
    def laplacian(self) -> sympy.Expr:
        return sympy.Add(*[sympy.diff(self._expr, s, 2) for s in self._space])

    def d(self, *names: str) -> sympy.Expr:
        return sympy.diff(self._expr, *[self._symbols[n] for n in names]) if names else self._expr

    def __getattr__(self, name: str) -> sympy.Expr:
        from .fields import split_coordinates  # u.xy, and u.x1x2 beyond 3-D

        names = split_coordinates(name, self.__dict__.get("coords", ()))
        if names is not None:
            return self.d(*names)
        raise AttributeError(name)


def sympy_value(expression: Any, by_name: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
    """A problem value (an Expression) as sympy in our symbols, or None for a callable."""
    value = getattr(expression, "sympy_expr", None)
    if value is None:
        return None
    return value.xreplace({s: by_name[s.name] for s in value.free_symbols if s.name in by_name})
