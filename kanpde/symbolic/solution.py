"""The trained solution of a PDE solver as one sympy expression in the problem's coordinates.

The solver's trial function is ``u(x) = b(x) N(s (x - c)) + g(x)`` (``b = 1, g = 0`` without a hard constraint):
``N`` is the KAN on scaled coordinates. :func:`solution_formula` replaces every edge of ``N`` by its best library
function (:func:`~kanpde.symbolic.extract.auto_symbolic`), substitutes the scaling, and composes ``b`` and ``g``
from their own formulas (the box distance function and the Dirichlet/initial data), then simplifies.
The returned :class:`SolutionFormula` says how far the formula is from the network and from the exact solution on
sample points, so a formula that does not fit is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
import torch

from .extract import auto_symbolic
from .simplify import simplify_expression

if TYPE_CHECKING:
    from ..pde.solver import Solver

__all__ = ["SolutionFormula", "solution_formula"]


@dataclass(frozen=True)
class SolutionFormula:
    """A closed form of a trained solution and how well it fits.

    Attributes:
        expr: sympy expression in the coordinate symbols (x, y, z, t).
        rel_error_network: relative L2 distance between the formula and the trained network on sample points.
        rel_error_exact: relative L2 distance to the exact solution (None without one).
        exact_fit: True when the formula reproduces the network to ``1e-3`` relative (the network is itself an
            approximation, so this is the most a formula of it can promise).
    """

    expr: sympy.Expr
    rel_error_network: float
    rel_error_exact: float | None
    exact_fit: bool


def _rational(value: float) -> sympy.Expr:
    return sympy.nsimplify(value, rational=True, tolerance=1e-12)


def _box_distance(lower: tuple[float, ...], upper: tuple[float, ...], symbols: list[sympy.Symbol]) -> sympy.Expr:
    """The formula of :meth:`kanpde.pde.shapes.Box.distance` (same normalisation)."""
    a = [_rational(v) for v in lower]
    b = [_rational(v) for v in upper]
    if len(symbols) == 1:
        return (symbols[0] - a[0]) * (b[0] - symbols[0]) / (b[0] - a[0])
    shortest = min(bi - ai for ai, bi in zip(a, b))
    product = sympy.Integer(1)
    for s, ai, bi in zip(symbols, a, b):
        product *= 4 * (s - ai) * (bi - s) / (bi - ai) ** 2
    return shortest / 4 * product


def _constraint_formulas(solver: Solver, symbols: list[sympy.Symbol]) -> tuple[sympy.Expr, sympy.Expr]:
    from ..pde.conditions import Dirichlet, Initial
    from ..pde.shapes import Box

    problem = solver.problem
    if not isinstance(problem.space, Box):
        raise ValueError("a formula with a hard constraint needs a box domain (its distance function is a formula)")
    value = next(c for c in problem.conditions if isinstance(c, Dirichlet)).value
    if value.sympy_expr is None:  # type: ignore[union-attr]
        raise ValueError("the Dirichlet value is a callable: give it as a number, string or sympy to get a formula")
    space_symbols = symbols[: problem.space_dim]
    distance = _box_distance(problem.space.lower, problem.space.upper, space_symbols)
    g = value.sympy_expr.subs({sympy.Symbol(c): s for c, s in zip(problem.coords, symbols)})  # type: ignore[union-attr]
    if problem.time is None:
        return distance, g
    initial = next(c for c in problem.conditions if isinstance(c, Initial)).value
    if initial.sympy_expr is None:  # type: ignore[union-attr]
        raise ValueError("the initial value is a callable: give it as a number, string or sympy to get a formula")
    t, t0 = symbols[-1], _rational(problem.time.t0)
    to_symbols = {sympy.Symbol(c): s for c, s in zip(problem.coords, symbols)}
    u0 = initial.sympy_expr.subs(to_symbols).subs(t, t0)  # type: ignore[union-attr]
    lift = u0 + g - g.subs(t, t0)
    return (t - t0) / _rational(problem.time.length) * distance, lift


def solution_formula(
    solver: Solver, *, n_samples: int = 512, max_simplify_ops: int = 80, **options: Any
) -> SolutionFormula:
    """The trained solution (field 0) as a simplified sympy expression, with its fit errors.

    Args:
        solver: a trained solver.
        n_samples: interior points the edges are fitted on and the formula is checked at.
        max_simplify_ops: simplify only expressions of at most this many operations (sympy's simplification time
            grows fast with size; a formula of a 2-10-1 network has hundreds).
        options: passed to :func:`~kanpde.symbolic.extract.auto_symbolic` (library, r2_threshold, ...).
    """
    problem, approx = solver.problem, solver.approximation
    generator = torch.Generator().manual_seed(solver.seed + 104729)
    points = problem.domain.sample_interior(n_samples, generator=generator, sampler="halton", dtype=solver.dtype)
    scaled = approx.normalized(points).detach()
    # A PDE network has many edges: a lighter search than auto_symbolic's defaults keeps this to seconds.
    options = {"retrain_steps": 20, "alternatives": 0, "fit_options": {"n_starts": 1, "lm_steps": 15}} | options
    network = auto_symbolic(solver.model, scaled, **options)
    symbols = [sympy.Symbol(c) for c in problem.coords]
    inner = [sympy.Symbol(f"_s{i}") for i in range(len(symbols))]
    expr = network.formula(inner, simplify=sympy.count_ops(network.formula(inner, simplify=False)) <= max_simplify_ops)
    centre = approx.center.tolist()
    scale = approx.scale.tolist()
    expr = expr.subs({v: _rational(s) * (x - _rational(c)) for v, x, s, c in zip(inner, symbols, scale, centre)})
    if approx.constraint is not None:
        b, g = _constraint_formulas(solver, symbols)
        expr = b * expr + g
    if sympy.count_ops(expr) <= max_simplify_ops:  # sympy's simplification grows fast with the expression
        expr = simplify_expression(expr)
    values = _evaluate(expr, symbols, points)
    with torch.no_grad():
        network_values = approx(points)[:, 0]
    rel_net = float((values - network_values).norm() / network_values.norm().clamp_min(1e-300))
    exact = problem.exact_values(points)
    rel_exact = None if exact is None else float((values - exact[:, 0]).norm() / exact[:, 0].norm().clamp_min(1e-300))
    return SolutionFormula(expr, rel_net, rel_exact, rel_net <= 1e-3)


def _evaluate(expr: sympy.Expr, symbols: list[sympy.Symbol], points: torch.Tensor) -> torch.Tensor:
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    values = fn(*[points[:, i].detach().cpu().numpy() for i in range(points.shape[1])])
    return torch.as_tensor(values, dtype=points.dtype).expand(points.shape[0]).clone()
