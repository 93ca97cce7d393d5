"""The trained solution of a PDE solver as one sympy expression in the problem's coordinates, verified.

Two routes, tried in this order:

- ``"recover"``: the trained solution ``u`` is treated as a function to distil (sampled through
  ``solution.predict``), and :func:`~kanpde.symbolic.recover.recover_formula` finds its closed form through its
  separable structure (sums, products, sums of products of functions of one coordinate).
- ``"compose"``: the solver's trial function is ``u(x) = b(x) N(s (x - c)) + g(x)`` (``b = 1, g = 0`` without a
  hard constraint), ``N`` the KAN on scaled coordinates: every edge of ``N`` is replaced by its best library
  function (:func:`~kanpde.symbolic.extract.auto_symbolic`), the scaling substituted, and ``b`` and ``g`` composed
  from their own formulas (the box distance function and the Dirichlet/initial data), then simplified. With a
  hard constraint ``N = (u - g)/b`` is rarely elementary even when ``u`` is, so this seldom gives the exact
  formula; it is run only when the first route did not give a verified solution.

Each candidate is verified (:func:`~kanpde.symbolic.verify.verify_formula`: substituted into the PDE and the
conditions). The chosen formula is the first that satisfies the PDE and every condition exactly, else the one
closest to the network (the shorter of those within a factor 10). The returned :class:`SolutionFormula` says how
far the formula is from the network and from the exact solution, and what the verification showed, so a formula
that does not fit is reported as such.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import sympy
import torch
from torch import Tensor

from ..pde.constraint_formula import exact_number, lift_in_time, vanishing_in_time
from ..pde.solution import Solution, as_solution
from .extract import auto_symbolic
from .recover import RecoveryError, recover_formula
from .simplify import simplify_expression
from .verify import Verification, verify_formula

__all__ = ["Candidate", "SolutionFormula", "solution_formula", "field_formula"]

ROUTES = ("recover", "compose")
#: Snapping tolerances of the "recover" route (relative RMSE growth over the free fit), tightest first: the first
#: formula that satisfies the PDE and the conditions exactly is kept, so a loose tolerance cannot pass off a
#: wrong formula; the last one is kept otherwise (a trained network is rarely better than 1e-3).
SNAP_TOLS = (1e-6, 1e-5, 1e-4, 1e-3)


@dataclass(frozen=True)
class Candidate:
    """What one route gave.

    Attributes:
        route: ``"recover"`` or ``"compose"``.
        expr: the formula (None when the route failed).
        rel_error_network: relative L2 distance to the trained network at the sample points (None on failure).
        verification: the verification of ``expr`` (None on failure or when not verified).
        seconds: time taken by the route and its verification.
        note: why the route failed, or how the function was split.
    """

    route: str
    expr: sympy.Expr | None
    rel_error_network: float | None
    verification: Verification | None
    seconds: float
    note: str = ""

    @property
    def is_solution(self) -> bool:
        return self.verification is not None and self.verification.is_solution is True


@dataclass(frozen=True)
class SolutionFormula:
    """A closed form of a trained solution and how well it fits.

    Attributes:
        expr: sympy expression in the coordinate symbols (x, y, z, t).
        rel_error_network: relative L2 distance between the formula and the trained network on sample points.
        rel_error_exact: relative L2 distance to the exact solution (None without one).
        exact_fit: True when the formula reproduces the network to ``1e-3`` relative (the network is itself an
            approximation, so this is the most a formula of it can promise).
        verification: the formula substituted into the problem (None when ``verify=False``).
        route: the route that gave it (``"recover"`` or ``"compose"``).
        candidates: every route tried, in order.
    """

    expr: sympy.Expr
    rel_error_network: float
    rel_error_exact: float | None
    exact_fit: bool
    verification: Verification | None = None
    route: str = "compose"
    candidates: tuple[Candidate, ...] = ()

    @property
    def is_solution(self) -> bool:
        """True only when the formula satisfies the PDE and every condition exactly (see ``verification``)."""
        return self.verification is not None and self.verification.is_solution is True


_rational = exact_number


def _constraint_formulas(solution: Solution, symbols: list[sympy.Symbol]) -> tuple[sympy.Expr, sympy.Expr]:
    """``b`` and ``g`` of the hard constraint ``u = b N + g`` in sympy: the same formulas as the trial function's
    (:mod:`kanpde.pde.constraint_formula`), applied to the problem's data as sympy expressions."""
    from ..pde.conditions import Dirichlet, Initial, InitialVelocity

    problem = solution.problem
    distance = problem.space.distance_formula(symbols[: problem.space_dim])
    to_symbols = {sympy.Symbol(c): s for c, s in zip(problem.coords, symbols)}

    def formula(condition: type, what: str) -> sympy.Expr:
        value = next(c.value for c in problem.conditions if isinstance(c, condition))  # type: ignore[attr-defined]
        if value.sympy_expr is None:
            raise ValueError(f"the {what} is a callable: give it as a number, string or sympy to get a formula")
        return value.sympy_expr.subs(to_symbols)

    g = formula(Dirichlet, "Dirichlet value")
    if problem.time is None:
        return distance, g
    t, t0 = symbols[problem.space_dim], _rational(problem.time.t0)  # then the parameters, if any
    length = _rational(problem.time.length)
    u0 = formula(Initial, "initial value").subs(t, t0)
    if not any(isinstance(c, InitialVelocity) for c in problem.conditions):
        return vanishing_in_time(t - t0, length, distance, order=1), lift_in_time(u0, g, g.subs(t, t0))
    velocity = formula(InitialVelocity, "initial velocity").subs(t, t0)
    lift = lift_in_time(u0, g, g.subs(t, t0), t - t0, velocity, sympy.diff(g, t).subs(t, t0))
    return vanishing_in_time(t - t0, length, distance, order=2), lift


def _composed(solution: Solution, points: torch.Tensor, n_samples: int, max_simplify_ops: int, **options: Any) -> Any:
    """The formula of the trial function ``b N + g`` with every edge of ``N`` replaced by a library function."""
    problem, approx = solution.problem, solution.approximation
    scaled = approx.normalized(points[:n_samples].to(approx.center.device)).detach()
    # A PDE network has many edges: a lighter search than auto_symbolic's defaults keeps this to seconds.
    defaults: dict[str, Any] = {"retrain_steps": 20, "alternatives": 0, "fit_options": {"n_starts": 1, "lm_steps": 15}}
    options = defaults | options
    network = auto_symbolic(solution.model, scaled, **options)
    symbols = [sympy.Symbol(c) for c in problem.coords]
    inner = [sympy.Symbol(f"_s{i}") for i in range(len(symbols))]
    expr = network.formula(inner, simplify=sympy.count_ops(network.formula(inner, simplify=False)) <= max_simplify_ops)
    centre = approx.center.tolist()
    scale = approx.scale.tolist()
    expr = expr.subs({v: _rational(s) * (x - _rational(c)) for v, x, s, c in zip(inner, symbols, scale, centre)})
    if approx.constraint is not None:
        b, g = _constraint_formulas(solution, symbols)
        expr = b * expr + g
    if sympy.count_ops(expr) <= max_simplify_ops:  # sympy's simplification grows fast with the expression
        expr = simplify_expression(expr)
    return expr


def _recovered(solution: Solution, n_points: int, time_limit: float, options: dict[str, Any]) -> tuple[sympy.Expr, str]:
    problem = solution.problem
    if problem.n_fields != 1:
        raise RecoveryError(f"recovery handles one field; the problem has {problem.n_fields}")
    lower, upper = problem.domain.bounds

    def predict(points: torch.Tensor) -> torch.Tensor:
        return solution.predict(points.to(solution.dtype)).detach().cpu().to(torch.float64).reshape(-1)

    def accept(expr: sympy.Expr) -> bool | None:
        try:
            return verify_formula(expr, problem, n_points=200, time_limit=time_limit, seed=solution.seed).is_solution
        except ValueError:  # not finite somewhere in the domain: not a solution
            return False

    defaults: dict[str, Any] = {"snap_tols": SNAP_TOLS, "accept": accept, "seed": solution.seed}
    recovery = recover_formula(
        predict, lower, upper, coords=problem.coords, contains=problem.domain.contains, n_points=n_points,
        **(defaults | options),
    )  # fmt: skip
    note = f"{recovery.structure}; snapped with tolerance {recovery.snap_tol:g}"
    return recovery.expr, note


def solution_formula(
    solution: Solution,
    *,
    routes: tuple[str, ...] = ROUTES,
    n_samples: int = 512,
    n_points: int = 2000,
    max_simplify_ops: int = 80,
    verify: bool = True,
    time_limit: float = 5.0,
    recover_options: dict[str, Any] | None = None,
    **options: Any,
) -> SolutionFormula:
    """The trained solution (field 0) as a simplified sympy expression, with its fit errors and verification.

    Args:
        solution: a trained :class:`~kanpde.pde.solution.Solution` (or a solver: its solution).
        routes: the routes to try, in order (see the module docstring): ``("recover", "compose")`` by default;
            ``"compose"`` runs only when no earlier candidate is a verified solution.
        n_samples: interior points the edges are fitted on (``"compose"``) and the formula is checked at.
        n_points: points of the final fit of ``"recover"``.
        max_simplify_ops: simplify only composed expressions of at most this many operations (sympy's
            simplification time grows fast with size; a formula of a 2-10-1 network has hundreds).
        verify: substitute each candidate into the problem (:func:`~kanpde.symbolic.verify.verify_formula`).
        time_limit: seconds the symbolic simplification of one residual may take in the verification.
        recover_options: passed to :func:`~kanpde.symbolic.recover.recover_formula` by ``"recover"`` (library,
            max_terms, snap_tols, ...).
        options: passed to :func:`~kanpde.symbolic.extract.auto_symbolic` by ``"compose"`` (library, ...).

    Raises:
        ValueError: an unknown route, no route gave a formula (the message says why each failed), or the
            solution is piecewise in time (time windows: one network per window, no single formula).
    """
    solution = as_solution(solution)
    solution._one_network("a closed-form formula")  # a piecewise-in-time solution has one network per window
    unknown = [r for r in routes if r not in ROUTES]
    if unknown or not routes:
        raise ValueError(f"routes must be a non-empty tuple of {ROUTES}, got {routes!r}")
    problem = solution.problem
    generator = torch.Generator().manual_seed(solution.seed + 104729)
    points = problem.domain.sample_interior(n_samples, generator=generator, sampler="halton", dtype=solution.dtype)

    def network(x: torch.Tensor) -> torch.Tensor:
        out = solution.predict(x).detach().cpu()
        return out if out.ndim == 1 else out[:, 0]  # field 0

    network_values = network(points)
    candidates: list[Candidate] = []
    for route in routes:
        if route == "compose" and any(c.is_solution for c in candidates):
            continue
        start = time.perf_counter()
        try:
            if route == "recover":
                expr, note = _recovered(solution, n_points, time_limit, dict(recover_options or {}))
            else:
                expr, note = _composed(solution, points, n_samples, max_simplify_ops, **options), "edges composed"
            values = _evaluate(expr, [sympy.Symbol(c) for c in problem.coords], points)
        except (RecoveryError, ValueError, RuntimeError, ArithmeticError) as err:
            candidates.append(Candidate(route, None, None, None, time.perf_counter() - start, str(err)))
            continue
        rel_net = float((values - network_values).norm() / network_values.norm().clamp_min(1e-300))
        if not math.isfinite(rel_net):
            note = f"the formula {expr} is not finite at some points of the domain"
            candidates.append(Candidate(route, None, None, None, time.perf_counter() - start, note))
            continue
        verification = None
        if verify:
            try:
                verification = verify_formula(expr, problem, network=network, time_limit=time_limit, seed=solution.seed)
            except ValueError as err:  # e.g. not finite somewhere in the domain
                note += f"; not verified: {err}"
        candidates.append(Candidate(route, expr, rel_net, verification, time.perf_counter() - start, note))
    found = [c for c in candidates if c.expr is not None and c.rel_error_network is not None]
    if not found:
        raise ValueError("no formula: " + "; ".join(f"{c.route}: {c.note}" for c in candidates))
    best = _choose(found)
    assert best.expr is not None and best.rel_error_network is not None
    values = _evaluate(best.expr, [sympy.Symbol(c) for c in problem.coords], points)
    exact = problem.exact_values(points)
    rel_exact = None if exact is None else float((values - exact[:, 0]).norm() / exact[:, 0].norm().clamp_min(1e-300))
    return SolutionFormula(
        best.expr,
        best.rel_error_network,
        rel_exact,
        best.rel_error_network <= 1e-3,
        best.verification,
        best.route,
        tuple(candidates),
    )


def _choose(found: list[Candidate]) -> Candidate:
    """A verified solution first (it satisfies the PDE and every condition exactly; and resembles the network),
    else the closest to the network, where errors within a factor 10 of the smallest count as equal and the
    shorter formula wins (both are then approximations of the same network; the shorter reads better)."""
    verified = [c for c in found if c.is_solution and c.rel_error_network is not None and c.rel_error_network < 0.5]
    if verified:
        return verified[0]
    least = min(c.rel_error_network for c in found if c.rel_error_network is not None)
    close = [c for c in found if c.rel_error_network is not None and c.rel_error_network <= 10 * least]
    return min(close, key=lambda c: sympy.count_ops(c.expr))


def _evaluate(expr: sympy.Expr, symbols: list[sympy.Symbol], points: torch.Tensor) -> torch.Tensor:
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    values = fn(*[points[:, i].detach().cpu().numpy() for i in range(points.shape[1])])
    return torch.as_tensor(values, dtype=points.dtype).expand(points.shape[0]).clone()


def field_formula(solution: Solution, name: str, *, drop_tol: float = 1e-3, **options: Any) -> Any:
    """A sympy formula of the identified field ``name`` of ``solution`` in its coordinates, by the separable
    recovery of :func:`kanpde.symbolic.recover.recover_formula` (options are passed on; ``snap_tols`` default
    ``(1e-6, ..., 1e-3)``, so constants are snapped to simple values while the fit allows).

    An identified field carries small spurious variations along coordinates it does not depend on (where the data
    and the physics constrain it least), which the recovery would otherwise model. A coordinate is left out when
    replacing it by random values changes the field by less than ``drop_tol`` (relative RMS); the formula is then
    recovered in the other coordinates, with the left-out ones at the middle of the domain.
    """
    solution = as_solution(solution)
    field = solution.unknown_field(name)  # a clear error for a problem without unknowns, or another name
    own = list(solution.field_coords[name])
    lower, upper = (list(b[: len(own)]) for b in solution.problem.domain.bounds)
    generator = torch.Generator().manual_seed(solution.seed)
    lo, hi = torch.tensor(lower, dtype=torch.float64), torch.tensor(upper, dtype=torch.float64)
    sample = lo + (hi - lo) * torch.rand(2000, len(own), generator=generator, dtype=torch.float64)
    base = field(sample).cpu()
    scale = float(base.square().mean().sqrt()) or 1.0
    kept = []
    for i in range(len(own)):
        moved = sample.clone()
        moved[:, i] = lo[i] + (hi[i] - lo[i]) * torch.rand(len(sample), generator=generator, dtype=torch.float64)
        if float((field(moved).cpu() - base).square().mean().sqrt()) / scale >= drop_tol:
            kept.append(i)
    kept = kept or [0]
    middle = (lo + hi) / 2

    def fn(points: Tensor) -> Tensor:
        full = middle.repeat(len(points), 1)
        full[:, kept] = points.to(torch.float64)
        return field(full).detach().cpu().to(torch.float64)

    settings: dict[str, Any] = {"snap_tols": SNAP_TOLS, "seed": solution.seed} | options
    recovery = recover_formula(
        fn, [lower[i] for i in kept], [upper[i] for i in kept], coords=[own[i] for i in kept], **settings
    )
    return recovery.expr
