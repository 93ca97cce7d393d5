"""A starting guess for a problem first order in time: one explicit Euler step from the initial value
(``solve(start="euler")``, or by ``start="auto"``, the default, when the first steps leave ``u`` at ``u0``).

Under a hard constraint ``u = g + b N`` (``g`` carries the initial value ``u0``, ``b`` vanishes at ``t0`` and on
the boundary) the network starts near ``N = 0``. Before the first stage, ``start="euler"`` fits the network, by
Levenberg-Marquardt on the first stage's interior points, to

    u(x, t) = g(x, t) + (t - t0) v(x, t),    v = -R(g) / a,

the first-order Taylor step in time: ``R(g)`` is the PDE residual of ``g`` alone and ``a = dR/du_t`` the coefficient
of ``u_t`` in the residual (1 for ``kp.Heat``; found by evaluating the residual with ``u_t`` raised by 1, so any PDE
``a u_t + F(u, grad u, ...) = 0`` with ``a != 0`` qualifies). The target is no solution (it is linear in time), but
it is a product of the spatial structure of ``u0`` (and of ``R(g)``) with a simple time factor: the network then
holds that structure, and the PDE training only corrects the time profile.

Why: on the multi-scale heat problem (``problems/heat_multiscale.py``: ``sin(20 pi x) sin(pi y)`` decaying like
``e^-t``; ``[3, 10, 1]``, grid 40, 8000 points, one thread) the PDE training from the network's random start did not
leave ``u = u0``: over ``t`` in ``[0, 1]`` the error stayed at 0.625 for 24 steps (that of ``u = u0``: 0.624) while
the loss fell from 0.27 to 0.14. Started from a fit of the exact solution, the same training stays near it (2.1e-4
before, 2.6e-4 after 14 steps): the solution is a minimum it can hold but does not reach. After this start it
reaches 1.7e-2 in 100 steps over ``t`` in ``[0, 5]``, and 3.2e-3 in 60 steps with ``[3, 20, 1]``
(docs/benchmarks.md, "Harder problems"). Smaller versions learn from a random start (five periods at grid 20: 1.8e-2
in 40 steps), which suggests (not verified) that the fine grid is what hurts: the PDE residual weighs each direction
of the network by its ``d/dt``, largest for wiggles in ``t`` on a grid of 40, while a value fit has no such bias.

``start="auto"`` (the default of ``solve``) makes the fit where it is needed: after :data:`PROBE_STEPS` steps of a
fresh network's first stage, :func:`data_ratio` (the RMS PDE residual over that of ``u = g``) above :data:`STUCK`
sends the network back to its initial parameters, fits it, and starts the stage over (``Solver._auto_start``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .conditions import InitialVelocity
from .fields import FieldJet, JetRequest
from .gauss_newton import LMState, ResidualSystem, levenberg_marquardt_step
from .residuals import InteriorTerm, ObservationTerm, ResidualTerms, collocation_terms, residual_rows

if TYPE_CHECKING:
    from .residuals import CollocationBatch
    from .solver import Solver

__all__ = [
    "START_STEPS", "START_OPTIONS", "PROBE_STEPS", "STUCK", "check_start_name", "check_start", "data_ratio",
    "euler_target", "euler_start",
]  # fmt: skip

START_OPTIONS = ("auto", "euler")
# start="auto" (the default): after PROBE_STEPS Levenberg-Marquardt steps of a fresh network's first stage, the
# starting fit is made when the PDE residual is still above STUCK times that of the imposed data alone (u = g, the
# network at N = 0), and the stage starts over. Measured after 10 steps (defaults, one thread): heat_multiscale 0.92
# (grid 40, seeds 0 and 1); at grid 5 burgers_raissi 0.45-0.48 (seeds 0-3), heat_1d 1.8e-2-5.0e-2, heat_1d_modes
# 2.9e-2, heat_2d 8.0e-4, heat_1d_source 3.6e-4: 0.75 lies between the stuck solve and the slowest that learns.
PROBE_STEPS = 10
STUCK = 0.75
# Levenberg-Marquardt steps of the fit (fewer only when no step lowers its loss). Stopping it at 1e-4 of its initial
# loss (about 15 steps) left heat_multiscale at 3.5e-2 after 100 PDE steps ([3, 10, 1]), all 20 steps at 1.7e-2.
START_STEPS = 20


def check_start_name(start: object) -> None:
    """Raise ``ValueError`` unless ``start`` is None or one of :data:`START_OPTIONS` (what a solve in time windows
    checks too, though its windows make no starting fit)."""
    if start is not None and start not in START_OPTIONS:
        raise ValueError(f"start must be None or one of {START_OPTIONS}, got {start!r}")


def check_start(start: object, solver: Solver) -> str | None:
    """``start`` as a name (None: no starting fit), checked against the solver's problem.

    ``"auto"`` is returned where ``"euler"`` would apply and None elsewhere (no error: it is the default).

    Raises:
        ValueError: an unknown name, or a problem the Euler start does not apply to (not first order in time,
            no hard constraint, unknowns or observations, several fields, derivatives beyond the jets).
    """
    if start is None:
        return None
    check_start_name(start)
    if start == "auto":
        try:
            check_start("euler", solver)
        except ValueError:
            return None
        return "auto"
    problem = solver.problem
    if problem.time is None or any(isinstance(c, InitialVelocity) for c in problem.conditions):
        raise ValueError("start='euler' needs a problem first order in time (time=(t0, t1), no initial velocity)")
    if solver.approximation.constraint is None:
        raise ValueError(
            "start='euler' needs the initial value imposed exactly (hard_constraint, as on a box with one "
            "Dirichlet condition on the whole boundary)"
        )
    if problem.n_fields != 1 or problem.unknowns or problem.data:
        raise ValueError("start='euler' applies to one field without unknowns or observations (data=...)")
    if solver.request.autograd:
        raise ValueError("start='euler' needs a residual of derivatives up to second order (the jet path)")
    return str(start)


class _Lift:
    """``u = g`` (the imposed data, ``N = 0``) as a field source, its ``u_t`` optionally raised by ``shift``."""

    def __init__(self, time_index: int, shift: float) -> None:
        self.time_index, self.shift = time_index, shift

    def jet(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        assert constraint is not None
        g = constraint[1]
        grad = g.grad
        if request.level >= 1 and grad is not None and self.shift:
            grad = grad.clone()
            grad[:, :, self.time_index] += self.shift
        level = request.level
        return FieldJet(g.value, grad if level >= 1 else None, g.lap if level >= 2 else None,
                        g.hess if level >= 3 else None, request.laplacian_dims)  # fmt: skip

    def values(self, points: Tensor) -> Tensor:  # pragma: no cover - the jet path only (check_start)
        raise RuntimeError("start='euler' evaluates the residual on the jet path only")

    def unknown_evaluator(self) -> None:
        return None


def euler_target(solver: Solver, batch: CollocationBatch) -> Tensor:
    """``g + (t - t0) v`` with ``v = -R(g) / a`` at the batch's interior points, shape ``(n_points,)``.

    Raises:
        ValueError: the residual does not depend on ``u_t`` at some point (``a = 0``: no evolution equation).
    """
    problem = solver.problem
    assert problem.time is not None and batch.interior_constraint is not None
    term = collocation_terms(problem, batch, solver.request).terms[0]
    assert isinstance(term, InteriorTerm)
    t_index = problem.space_dim
    with torch.no_grad():
        lift = residual_rows(term, _Lift(t_index, 0.0))[:, 0]
        raised = residual_rows(term, _Lift(t_index, 1.0))[:, 0]
    slope = raised - lift  # a = dR/du_t (exact for a residual linear in u_t)
    if not bool((slope.abs() > 1e-12 * (1 + lift.abs())).all()) or not bool(torch.isfinite(slope).all()):
        raise ValueError("start='euler' needs a residual with a u_t term (dR/du_t is zero or not finite somewhere)")
    g = batch.interior_constraint[1].value[:, 0]
    elapsed = batch.interior[:, t_index] - problem.time.t0
    return g - elapsed * lift / slope


def euler_start(
    solver: Solver, batch: CollocationBatch, steps: int = START_STEPS, target: Tensor | None = None
) -> dict[str, float]:
    """Fit the network to :func:`euler_target` on ``batch`` (Levenberg-Marquardt, at most ``steps`` steps);
    ``target``: that target when already computed (it does not depend on the network).

    Returns:
        ``{"steps": ..., "loss_start": ..., "loss": ...}``: steps taken and the fit's mean square before and after.
    """
    target = euler_target(solver, batch) if target is None else target
    rows = {"points": batch.interior, "values": target}
    terms = ResidualTerms((ObservationTerm("start", rows, coords=solver.problem.coords),))
    counts = terms.counts()
    system = ResidualSystem(
        solver.approximation, terms.shard(solver.comm), {}, counts=counts, chunk_size=solver.chunk_size,
        comm=solver.comm,
    )  # fmt: skip
    params, state = system.parameters(), LMState()
    first = system.loss(params)[0]
    taken = 0
    try:
        for _ in range(steps):
            params, _, _, accepted = levenberg_marquardt_step(system, params, state)
            taken += 1
            if not accepted:
                break
    finally:
        system.load(params)
    return {"steps": float(taken), "loss_start": first, "loss": system.loss(params)[0]}


def data_ratio(solver: Solver, terms: ResidualTerms) -> float | None:
    """RMS of the PDE residual of the network now over that of the imposed data alone (``u = g``, ``N = 0``), on
    ``terms`` (a stage's residual blocks); None without a PDE term or when the data's residual vanishes."""
    from .diagnostics import term_balance
    from .residuals import approximation_source

    balances = term_balance(terms, approximation_source(solver.approximation), solver.problem.n_fields,
                            solver.chunk_size)  # fmt: skip
    pde = [b.relative for b in balances if b.label == "pde"]
    return pde[0] if pde and pde[0] is not None else None
