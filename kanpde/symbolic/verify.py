"""Checking a formula against a problem: substitute it into the PDE and the conditions, exactly where possible.

:func:`verify_formula` builds each residual as a sympy expression (the PDE: ``-div(k grad u) - f`` for Poisson,
``u_t - div(k grad u) - f`` for Heat, with ``k`` a scalar or a matrix, ``u_tt - c^2 Laplace(u) - f`` for Wave; the
user's residual function called on a sympy stand-in of :class:`~kanpde.pde.fields.Fields` for a general PDE; each
condition on each side of a box, by substituting the side's coordinate) and decides whether it is exactly zero:
first by cheap rewrites (``expand``, ``trigsimp``, ``expand_trig``), then :func:`sympy.simplify`, all under a time
limit; when they do not reach 0, the verdict comes from evaluating the residual at random points with 30
significant digits (zero means below 1e-20 of the size of its terms: a floating-point constant in the formula,
exact to 16 digits only, shows up as about 1e-16).
Every residual is also evaluated numerically in float64 at sample points through the same code as training (so
residuals written with torch functions, conditions on curved boundaries and masks are checked too, numerically
only). The formula is compared with ``problem.exact`` the same way.

Example:
    >>> import sympy, kanpde as kp
    >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    >>> x = sympy.Symbol("x")
    >>> verify_formula(sympy.sin(sympy.pi * x), problem).is_solution
    True
    >>> verify_formula(sympy.sin(sympy.pi * x) + x / 100, problem).is_solution
    False
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
import torch
from torch import Tensor

from ..pde.safe_expr import to_sympy
from ..pde.symbolic_fields import SymbolicFields, sympy_value
from .simplify import Timeout
from .simplify import time_limit as deadline

if TYPE_CHECKING:
    from ..pde.problem import Problem

__all__ = ["TermCheck", "Verification", "verify_formula", "is_zero", "simplifies_to_zero", "SymbolicFields"]

_DIGITS = 30
_ZERO_RTOL = 1e-20


@dataclass(frozen=True)
class TermCheck:
    """One residual of a formula: the PDE, one condition, or the difference to the exact solution.

    Attributes:
        name: ``"pde"``, the condition's label (``"dirichlet[xmin]"``, ``"initial"``, ...) or ``"exact"``.
        residuals: the residual as sympy expressions (one per box side, or value and derivative for a periodic
            pair), in their shortest form found; empty when the term has no symbolic form (a callable value, a
            residual written with torch functions, a curved boundary).
        exact_zero: True when every residual is exactly zero, False when one is not, None when not symbolic.
        method: how ``exact_zero`` was decided (the rewrite that reached 0, ``"30-digit evaluation"``, or why
            there is no verdict).
        max_abs: the largest ``|residual|`` at sample points, in float64 (NaN when it could not be evaluated).
    """

    name: str
    residuals: tuple[sympy.Expr, ...]
    exact_zero: bool | None
    method: str
    max_abs: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "residuals": [str(r) for r in self.residuals],
            "exact_zero": self.exact_zero,
            "method": self.method,
            "max_abs": None if math.isnan(self.max_abs) else self.max_abs,
        }


@dataclass(frozen=True)
class Verification:
    """What substituting a formula into a problem showed (see the module docstring).

    Attributes:
        formula: the formula checked.
        pde: the PDE residual.
        conditions: one entry per condition (boundary and initial).
        exact: the formula minus the exact solution (None when the problem has none).
        network_rel_l2: relative L2 distance between the formula and the trained network at the sample points
            (None without a network).
        seconds: time taken.
    """

    formula: sympy.Expr
    pde: TermCheck
    conditions: tuple[TermCheck, ...]
    exact: TermCheck | None
    network_rel_l2: float | None
    seconds: float

    @property
    def pde_residual(self) -> sympy.Expr | None:
        """The PDE residual as a sympy expression (None when it has no symbolic form)."""
        return self.pde.residuals[0] if self.pde.residuals else None

    @property
    def pde_exact_zero(self) -> bool | None:
        return self.pde.exact_zero

    @property
    def equals_exact(self) -> bool | None:
        """Whether the formula equals the exact solution symbolically (None without a symbolic exact solution)."""
        return None if self.exact is None else self.exact.exact_zero

    @property
    def is_solution(self) -> bool | None:
        """True when the PDE and every condition hold exactly, False when one provably does not, else None."""
        verdicts = [self.pde.exact_zero] + [c.exact_zero for c in self.conditions]
        if any(v is False for v in verdicts):
            return False
        return True if all(v is True for v in verdicts) else None

    @property
    def max_residuals(self) -> dict[str, float]:
        """The largest ``|residual|`` at sample points, by term (``"exact"``: the largest error)."""
        terms = [self.pde, *self.conditions] + ([self.exact] if self.exact is not None else [])
        return {t.name: t.max_abs for t in terms}

    @property
    def summary(self) -> str:
        """One line: is the formula a solution, does it equal the exact one, how far is it from the network."""
        n = len(self.conditions)
        if self.is_solution:
            head = f"exact solution: the PDE and {n} condition{'s' * (n != 1)} hold exactly"
        else:
            failed = [t for t in (self.pde, *self.conditions) if t.exact_zero is not True]
            parts = [
                f"{t.name} {'not exactly 0' if t.exact_zero is False else 'not checked exactly'}, max {t.max_abs:.1e}"
                for t in failed
            ]
            head = "NOT verified as an exact solution: " + "; ".join(parts)
        if self.exact is not None:
            verdict = {True: "equals", False: "differs from", None: "not compared symbolically with"}
            head += f"; {verdict[self.exact.exact_zero]} the exact solution (max error {self.exact.max_abs:.1e})"
        if self.network_rel_l2 is not None:
            head += f"; relative L2 distance to the network {self.network_rel_l2:.1e}"
        return head

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (expressions as strings)."""
        return {
            "formula": str(self.formula),
            "latex": sympy.latex(self.formula),
            "summary": self.summary,
            "is_solution": self.is_solution,
            "pde_exact_zero": self.pde_exact_zero,
            "equals_exact": self.equals_exact,
            "max_residuals": {k: (None if math.isnan(v) else v) for k, v in self.max_residuals.items()},
            "network_rel_l2": self.network_rel_l2,
            "pde": self.pde.to_dict(),
            "conditions": [c.to_dict() for c in self.conditions],
            "exact": None if self.exact is None else self.exact.to_dict(),
            "seconds": self.seconds,
        }


# -- exact zero --------------------------------------------------------------------------------------------------


def simplifies_to_zero(expr: sympy.Expr, *, seconds: float = 60.0) -> bool | None:
    """``sympy.simplify(expr) == 0``, or None when that takes longer than ``seconds`` (any thread).

    Example:
        >>> x = sympy.Symbol("x")
        >>> simplifies_to_zero(sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1)
        True
    """
    try:
        with deadline(seconds):
            return bool(sympy.simplify(expr) == 0)
    except Timeout:
        return None


def _rewrites() -> list[tuple[str, Callable[[sympy.Expr], sympy.Expr]]]:
    return [
        ("expand", sympy.expand),
        ("trigsimp", lambda e: sympy.trigsimp(sympy.expand(e))),
        ("expand_trig", lambda e: sympy.expand(sympy.expand_trig(e))),
        ("simplify", sympy.simplify),
    ]


def _high_precision(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], points: Tensor) -> bool | None:
    """Whether ``expr`` vanishes at ``points`` to 1e-20 of the size of its terms, with 30 digits (None: undefined)."""
    terms = sympy.Add.make_args(expr)
    worst = 0.0
    for row in points.tolist():
        subs = {s: sympy.Float(repr(v), _DIGITS) for s, v in zip(symbols, row)}
        value = complex(expr.evalf(_DIGITS, subs=subs))
        size = sum(abs(complex(t.evalf(_DIGITS, subs=subs))) for t in terms)
        if not (math.isfinite(abs(value)) and math.isfinite(size)):
            return None
        worst = max(worst, abs(value) / size if size > 0 else (0.0 if value == 0 else math.inf))
    return worst <= _ZERO_RTOL


def is_zero(
    expr: sympy.Expr, symbols: Sequence[sympy.Symbol], points: Tensor, *, time_limit: float = 10.0
) -> tuple[bool | None, str, sympy.Expr]:
    """Whether ``expr`` is identically zero; returns ``(verdict, method, shortest form found)``.

    Rewrites first (``expand``, ``trigsimp``, ``expand_trig``, ``simplify``, within ``time_limit`` seconds
    together; only ``expand`` when ``expr`` holds floating-point numbers); if none gives 0, the verdict is a
    30-digit evaluation at ``points`` (columns: ``symbols``).

    Shapes:
        points: ``(n_points, len(symbols))``.
    """
    expr = to_sympy(expr, names={s.name: s for s in symbols}, what="expr")
    if expr == 0:
        return True, "identically 0", expr
    shortest, size = expr, sympy.count_ops(expr)
    stopped = ""
    # with floating-point constants an exact cancellation needs equal floats, which expand finds; trigsimp and
    # simplify take seconds on such expressions and prove nothing more
    rewrites = _rewrites()[:1] if expr.atoms(sympy.Float) else _rewrites()
    try:
        with deadline(time_limit):
            for name, rewrite in rewrites:
                try:
                    candidate = rewrite(expr)
                except Timeout:
                    raise
                except Exception:  # noqa: BLE001 - sympy raises many types; a failed rewrite proves nothing
                    continue
                if candidate == 0:
                    return True, f"{name} gives 0", sympy.Integer(0)
                ops = sympy.count_ops(candidate)
                if ops < size:
                    shortest, size = candidate, ops
    except Timeout:
        stopped = f" (rewrites stopped after {time_limit:g} s)"
    try:
        verdict = _high_precision(shortest, symbols, points)
    except (TypeError, ValueError) as err:
        return None, f"not evaluated: {err}{stopped}", shortest
    if verdict is None:
        return None, f"undefined at a sample point{stopped}", shortest
    return verdict, f"{_DIGITS}-digit evaluation at {points.shape[0]} points{stopped}", shortest


# -- symbolic residuals ------------------------------------------------------------------------------------------


def _sides(problem: Problem, on: Any) -> list[tuple[int, bool]] | None:
    """``(axis, is_max)`` of the box sides a condition covers, or None when they are not box sides."""
    from ..pde.shapes import Box

    space = problem.space
    if not isinstance(space, Box):
        return None
    if on is None:
        return [(axis, end) for axis in range(space.dim) for end in (False, True)]
    if isinstance(on, str):
        face = space._side(on)
        return [(face // 2, bool(face % 2))]
    return None


def _condition_residuals(
    problem: Problem, condition: Any, u: sympy.Expr, by_name: dict[str, sympy.Symbol]
) -> tuple[list[sympy.Expr] | None, bool]:
    """The residuals of a condition, and whether only their vanishing is conclusive (``u - value`` of a Dirichlet
    condition on a curved boundary: zero everywhere implies zero there, non-zero proves nothing)."""
    from ..pde.conditions import Dirichlet, Initial, InitialVelocity, Neumann, Periodic, Robin
    from ..pde.shapes import Box

    if isinstance(condition, Initial):
        value = sympy_value(condition.value, by_name)
        if value is None or problem.time is None:
            return None, False
        t0 = sympy.nsimplify(problem.time.t0, rational=True)
        return [(u - value).subs(by_name["t"], t0)], False
    if isinstance(condition, InitialVelocity):
        value = sympy_value(condition.value, by_name)
        if value is None or problem.time is None:
            return None, False
        t0 = sympy.nsimplify(problem.time.t0, rational=True)
        return [(sympy.diff(u, by_name["t"]) - value).subs(by_name["t"], t0)], False
    if isinstance(condition, Periodic):
        assert isinstance(problem.space, Box)
        axis = problem.coords.index(condition.axis)
        s = by_name[condition.axis]
        lo, hi = (sympy.nsimplify(v, rational=True) for v in (problem.space.lower[axis], problem.space.upper[axis]))
        du = sympy.diff(u, s)
        return [u.subs(s, lo) - u.subs(s, hi), du.subs(s, lo) - du.subs(s, hi)], False
    sides = _sides(problem, condition.on)
    if sides is None:
        value = sympy_value(condition.value, by_name) if isinstance(condition, Dirichlet) else None
        return (None, False) if value is None else ([u - value], True)
    space = problem.space
    assert isinstance(space, Box)
    out = []
    for axis, is_max in sides:
        s = by_name[problem.coords[axis]]
        at = sympy.nsimplify(space.upper[axis] if is_max else space.lower[axis], rational=True)
        normal_derivative = (1 if is_max else -1) * sympy.diff(u, s)
        if isinstance(condition, Dirichlet):
            value = sympy_value(condition.value, by_name)
            residual = None if value is None else u - value
        elif isinstance(condition, Neumann):
            flux = sympy_value(condition.flux, by_name)
            residual = None if flux is None else normal_derivative - flux
        elif isinstance(condition, Robin):
            a, b, v = (sympy_value(e, by_name) for e in (condition.alpha, condition.beta, condition.value))
            residual = None if a is None or b is None or v is None else a * u + b * normal_derivative - v
        else:
            return None, False
        if residual is None:
            return None, False
        out.append(residual.subs(s, at))
    return out, False


# -- numerical residuals -----------------------------------------------------------------------------------------


def _fields(fn: Callable[[Tensor], Tensor], points: Tensor, coords: Sequence[str], request: Any) -> Any:
    from ..pde.approximation import function_jet
    from ..pde.fields import Fields

    jet = function_jet(fn, points, request)
    evaluate = (lambda p: fn(p)[:, None]) if request.autograd else None
    return Fields(jet, points, coords, evaluate=evaluate)


def _max_abs(values: Tensor) -> float:
    values = values.detach()
    return float(values.abs().max()) if values.numel() and bool(torch.isfinite(values).all()) else math.nan


def _numerical_condition(problem: Problem, condition: Any, fn: Callable[[Tensor], Tensor], n: int, seed: int) -> float:
    from ..pde.conditions import Periodic
    from ..pde.fields import JetRequest

    generator = torch.Generator().manual_seed(seed)
    where = condition.sample(problem.domain, n, generator=generator, sampler="halton", dtype=torch.float64)
    request = JetRequest(level=1)
    fields = _fields(fn, where.points, problem.coords, request)
    if isinstance(condition, Periodic):
        partner = _fields(fn, where.partners, problem.coords, request)
        return _max_abs(condition.periodic_residual(fields, partner))
    return _max_abs(condition.residual(fields, where))


def _condition_points(problem: Problem, condition: Any, n: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return condition.sample(problem.domain, n, generator=generator, sampler="random", dtype=torch.float64).points


def verify_formula(
    expr: sympy.Expr,
    problem: Problem,
    *,
    network: Callable[[Tensor], Tensor] | None = None,
    n_points: int = 1000,
    n_exact_points: int = 8,
    time_limit: float = 10.0,
    seed: int = 0,
) -> Verification:
    """Substitute a formula of the solution into ``problem``'s PDE and conditions (see the module docstring).

    Args:
        expr: the formula, a sympy expression whose symbols are named like the problem's coordinates.
        problem: the problem (one field).
        network: the trained solution ``points -> values (n_points,)`` (e.g. ``solver.predict``), to report how
            far the formula is from it.
        n_points: sample points of the float64 checks (interior, and per condition).
        n_exact_points: points of the 30-digit evaluations.
        time_limit: seconds the symbolic rewrites of one residual may take.
        seed: seeds the sample points.

    Returns:
        The :class:`Verification`.

    Raises:
        ValueError: the formula has a symbol that is not a coordinate, or the problem has several fields.
    """
    from ..pde.expressions import as_expression
    from ..pde.fields import probe

    start = time.perf_counter()
    if problem.n_fields != 1:
        raise ValueError(f"verify_formula checks one field; the problem has {problem.n_fields}")
    by_name = {c: sympy.Symbol(c) for c in problem.coords}
    expr = to_sympy(expr, names=by_name, what="formula", unknown_names=True)
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if unknown:
        raise ValueError(f"the formula has symbols {unknown} that are not coordinates of the problem {problem.coords}")
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})
    symbols = [by_name[c] for c in problem.coords]
    fn = as_expression(expr, coords=problem.coords, name="formula")
    generator = torch.Generator().manual_seed(seed)
    interior = problem.domain.sample_interior(n_points, generator=generator, sampler="halton", dtype=torch.float64)
    exact_points = problem.domain.sample_interior(
        n_exact_points, generator=torch.Generator().manual_seed(seed + 1), sampler="random", dtype=torch.float64
    )

    def check(
        name: str, residuals: list[sympy.Expr] | None, points: Tensor, max_abs: float, only_zero: bool = False
    ) -> TermCheck:
        if residuals is None:
            return TermCheck(name, (), None, "no symbolic form: checked numerically only", max_abs)
        verdicts, methods, forms = [], [], []
        for residual in residuals:
            verdict, method, form = is_zero(residual, symbols, points, time_limit=time_limit)
            if only_zero and verdict is not True:
                verdict, method = None, "u - value is not identically 0: on this boundary checked numerically only"
            elif only_zero:
                method += " (u - value vanishes everywhere, so on the boundary)"
            verdicts.append(verdict)
            methods.append(method)
            forms.append(form)
        exact = False if False in verdicts else (True if all(v is True for v in verdicts) else None)
        return TermCheck(name, tuple(forms), exact, "; ".join(dict.fromkeys(methods)), max_abs)

    request = probe(problem.residual, problem.coords, 1, torch.float64)
    try:
        pde_max = _max_abs(problem.residual(_fields(fn, interior, problem.coords, request)))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"the formula cannot be evaluated in the domain: {err}") from None
    pde = check("pde", _pde_wrapped(problem.sympy_residual(expr, by_name)), exact_points, pde_max)
    conditions = []
    for k, condition in enumerate(problem.conditions):
        max_abs = _numerical_condition(problem, condition, fn, n_points, seed + 2 + k)
        points = _condition_points(problem, condition, n_exact_points, seed + 2 + k)
        residuals, only_zero = _condition_residuals(problem, condition, expr, by_name)
        conditions.append(check(condition.label, residuals, points, max_abs, only_zero))
    exact = None
    if problem.exact is not None:
        with torch.no_grad():
            exact_values = problem.exact_values(interior)
        assert exact_values is not None
        error = _max_abs(fn(interior) - exact_values[:, 0])
        exact_expr = sympy_value(problem.exact[0], by_name)
        exact = check("exact", None if exact_expr is None else [expr - exact_expr], exact_points, error)
    network_rel = None
    if network is not None:
        with torch.no_grad():
            reference = network(interior).reshape(-1).to(torch.float64)
        network_rel = float((fn(interior) - reference).norm() / reference.norm().clamp_min(1e-300))
    return Verification(expr, pde, tuple(conditions), exact, network_rel, time.perf_counter() - start)


def _pde_wrapped(residual: sympy.Expr | None) -> list[sympy.Expr] | None:
    return None if residual is None else [residual]
