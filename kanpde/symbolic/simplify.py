"""Simplifying an extracted formula: try several sympy rewrites and keep the shortest.

No single sympy routine is best: ``cos(pi*(x - y))/2 - cos(pi*(x + y))/2`` needs ``expand_trig`` (or ``fu`` /
``trigsimp``) to become ``sin(pi*x)*sin(pi*y)``, while ``(x + y)**2/4 - (x - y)**2/4`` needs ``expand``. Every
rewrite is tried and the result with the fewest operations (:func:`sympy.count_ops`) wins; ties keep the earlier.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable
from typing import Any, Literal

import sympy

__all__ = ["simplify_expression", "rationalize_floats", "time_limit", "Timeout"]


class Timeout(Exception):
    """Raised by :func:`time_limit` when the time is up."""


_SET_ASYNC_EXC = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)


class time_limit:  # noqa: N801 - used like a function: `with time_limit(5):`
    """Raise :class:`Timeout` in the calling thread when its ``with`` block runs longer than ``seconds``.

    A watchdog thread interrupts the block between two Python bytecodes (``PyThreadState_SetAsyncExc``), so the
    limit works in any thread, on any OS, beside other users of signals and alarms; a long call into C code is
    interrupted when it returns. A block that catches the :class:`Timeout` (sympy catches broadly in places)
    runs on and raises one when it ends. Limits nest, each with its own watchdog. ``seconds <= 0``, or a Python
    without ``ctypes.pythonapi`` (not CPython), sets no limit.

    Example:
        >>> with time_limit(5):
        ...     total = sum(range(10))
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._lock = threading.Lock()
        self._active = self._fired = False
        self._watchdog: threading.Timer | None = None
        self._thread = ctypes.c_ulong(0)

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self._fired = True
                _SET_ASYNC_EXC(self._thread, ctypes.py_object(Timeout))  # type: ignore[misc]

    def _stop(self) -> None:
        with self._lock:
            self._active = False
        if self._fired:  # raised already, or still pending: a pending one must not escape the block
            _SET_ASYNC_EXC(self._thread, None)  # type: ignore[misc]

    def __enter__(self) -> time_limit:
        if self.seconds > 0 and _SET_ASYNC_EXC is not None:
            self._thread = ctypes.c_ulong(threading.get_ident())
            self._active = True
            self._watchdog = threading.Timer(self.seconds, self._fire)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> Literal[False]:
        if self._watchdog is None:
            return False
        try:
            self._stop()
        except Timeout:  # the pending one landed during the first stop: it is consumed now
            self._stop()
        self._watchdog.cancel()
        if kind is None and self._fired:  # the block caught our Timeout and ran on
            raise Timeout
        return False


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
