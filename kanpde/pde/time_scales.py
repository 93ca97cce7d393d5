"""How many time windows a time-dependent problem needs: the time scales of its initial state.

A space-time network trained on a long interval can fit a wrong solution that meets the PDE almost everywhere
(:mod:`kanpde.pde.time_windows`); time marching avoids it. Whether an interval is *long* depends on the dynamics,
which the PDE states at ``t0``: :func:`initial_time_scales` evaluates the PDE residual on the initial data and reads
off what ``u`` does next, from rates (no training):

- first order in time (``a u_t + F(u) = 0``): the rate ``u_t(x, t0) = -(F(u0) - F(0)) / a`` (``a = dR/du_t``,
  found by raising ``u_t`` by 1, as :mod:`kanpde.pde.euler_start` does; ``F(0)`` removes a source term). Its motion
  (transport, rotation) has the angular frequency ``omega^2 = -<u0, u_tt> / <u0, u0>``, ``u_tt = -F'(u0)[u_t] / a``
  the PDE's change along ``u_t`` (``u_t`` differentiated in space by autograd): ``beta^2`` for ``u_t + beta u_x``
  on ``sin(x)``, none for diffusion, whose ``u_tt`` points along ``+u`` (it smooths a ``u0`` of several modes, each
  decaying at its own rate: ``sin(pi x) + sin(5 pi x)`` read as 18.8 periods by ``|u_t - g u0| / |u0|``, which
  bounds ``omega`` for a linear normal operator and is used where it gives at most 3 periods: cheaper). The
  growth rate is the Rayleigh quotient ``g = <u0, r> / <u0, u0>`` of the reaction ``r = -(F(u0 with no derivatives) -
  F(0)) / a``, the terms in the value of ``u`` alone (``5 u - 5 u^3`` for Allen-Cahn): diffusion is stable even where
  its Rayleigh quotient is positive (a convex ``u0`` with boundary data: PINNacle's HNd), transport ``u u_x`` moves
  rather than grows (its Rayleigh quotient is a boundary flux), and a source does not make the dynamics unstable;
- second order in time (``a u_tt + F(u, u_t) = 0``: any residual with ``u_tt``, a damped wave's too): the angular
  frequency ``omega^2 = -<u0, u_tt> / <u0, u0>`` of the initial value, and that of the initial velocity ``v0``
  through the PDE's change from ``u = 0`` to ``u = v0`` (a Rayleigh quotient of the spatial operator).

Over the interval ``T`` that makes ``g T`` e-folds of growth and ``omega T / (2 pi)`` periods.
:func:`default_time_windows` cuts the interval into windows of at most :data:`PERIODS_PER_WINDOW` periods and
:data:`EFOLDS_PER_WINDOW` e-folds; ``Solver.solve`` uses it when no ``time_windows`` is given (``result.notes`` says
so; ``time_windows=1`` keeps one space-time network).

Measured with the defaults (``kp.Solver(problem).solve()``: grids 5, 10, 30, 100 steps; later windows continue on
grid 30; seed 0, one thread, CPU seconds), one space-time network against the windows chosen here:

- ``wave_1d`` (3.0 periods): 2.3e-4 in one network; over ``t1 = 4`` (6 periods) 2.2e-3; ``wave_1d_long`` (15
  periods) 1.44, in 5 windows 5.2e-4 (275 s);
- ``convection`` (``u_t + 30 u_x = 0``, 4.8 periods): one network 3.6e-4 (69 s), 2 windows 4.5e-5 (131 s);
- ``allen_cahn`` (1.98 e-folds of growth where ``|u0| < 1``): one network 0.31 (71 s), 3 windows 2.6e-3 (197 s),
  5 windows 3.7e-4 (289 s), 7 windows 2.0e-4 (428 s): hence 0.3 e-folds per window;
- the heat problems (decay: the rate only scales ``u0``), ``burgers_raissi``, the multi-scale heat problem and
  PINNacle's HNd keep one network.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .conditions import Initial, InitialVelocity
from .expressions import Expression
from .fields import FieldJet, Fields
from .problem import Problem
from .time_windows import MAX_TIME_WINDOWS

__all__ = [
    "PERIODS_PER_WINDOW", "EFOLDS_PER_WINDOW", "MAX_WINDOWS", "TimeScales", "initial_time_scales",
    "default_time_windows",
]  # fmt: skip

PERIODS_PER_WINDOW = 3.0
"""At most this many periods of the initial state's motion per time window (measured: see the module docstring)."""
EFOLDS_PER_WINDOW = 0.3
"""At most this many e-folds of the initial state's growth per time window (allen_cahn: 7 windows)."""
MAX_WINDOWS = 20
"""The most windows :func:`default_time_windows` chooses."""
_POINTS = 512
_EXACT_POINTS = 128  # of them for the frequency of a first-order problem (fourth derivatives of u0: costlier)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeScales:
    """Rates of the initial state (per unit of time) and the interval they act over.

    Attributes:
        order: 1 or 2, the order in time of the PDE.
        growth: ``<u0, r> / <u0, u0>`` of the reaction ``r`` (first order; 0 for second order), 1/time.
        frequency: angular rate of the initial state's motion (rad/time): ``sqrt(-<u0, u_tt> / <u0, u0>)`` for
            first order, the largest of the initial value's and initial velocity's ``omega`` for second order.
        horizon: ``t1 - t0``.
    """

    order: int
    growth: float
    frequency: float
    horizon: float

    @property
    def periods(self) -> float:
        """Periods of the motion over the interval."""
        return self.frequency * self.horizon / (2 * math.pi)

    @property
    def efolds(self) -> float:
        """E-folds of growth over the interval (0 for decay)."""
        return max(self.growth, 0.0) * self.horizon

    def windows_wanted(self) -> int | float:
        """Windows of at most :data:`PERIODS_PER_WINDOW` periods and :data:`EFOLDS_PER_WINDOW` e-folds, uncapped
        (``inf`` for an infinite rate)."""
        wanted = max(self.periods / PERIODS_PER_WINDOW, self.efolds / EFOLDS_PER_WINDOW, 1.0)
        return math.ceil(wanted - 1e-9) if math.isfinite(wanted) else math.inf

    def windows(self) -> int:
        """:meth:`windows_wanted`, at most :data:`MAX_WINDOWS`."""
        return int(min(MAX_WINDOWS, self.windows_wanted()))


def _condition(problem: Problem, kind: type[Initial] | type[InitialVelocity]) -> Expression | None:
    """The value of the problem's first-field condition of ``kind``, or None."""
    found = [c for c in problem.conditions if isinstance(c, kind) and c.field == 0]
    if not found:
        return None
    value = found[0].value
    assert isinstance(value, Expression), "a problem's conditions are bound"
    return value


def _derivatives(
    function: Callable[[Tensor], Tensor], points: Tensor, t_index: int, *, graph: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Value, space gradient and space Hessian of ``function`` at ``points`` (its ``t`` entries zero), by
    autograd. Shapes: ``(n,)``, ``(n, n_coords)``, ``(n, n_coords, n_coords)``. ``graph``: differentiable in
    ``points`` (which then require grad), else detached."""
    x = points if graph else points.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        value = function(x).reshape(-1).to(x)
        if not value.requires_grad:  # a constant
            zero = torch.zeros(len(x), x.shape[1], x.shape[1], dtype=x.dtype, device=x.device)
            return value.detach(), zero[:, 0].clone(), zero
        (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True, allow_unused=True, materialize_grads=True)
        rows = [
            torch.autograd.grad(grad[:, i].sum(), x, create_graph=graph, retain_graph=True, allow_unused=True,
                                materialize_grads=True)[0]
            if grad.requires_grad and i != t_index else torch.zeros_like(grad)
            for i in range(x.shape[1])
        ]  # fmt: skip
    space = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    space[t_index] = 0.0
    hess = torch.stack(rows, dim=1) * space[:, None] * space[None, :]
    grad = grad * space
    if graph:
        return value, grad, hess
    return value.detach(), grad.detach(), hess.detach()


def _residual(
    problem: Problem,
    points: Tensor,
    value: Tensor,
    grad: Tensor,
    hess: Tensor,
    *,
    rate: Tensor | None = None,
    rate_grad: Tensor | None = None,
    acceleration: Tensor | None = None,
) -> Tensor:
    """The PDE residual (first equation) of a field with the given value and space derivatives, ``u_t = rate``
    (with space gradient ``rate_grad``) and ``u_tt = acceleration``. Shape ``(n,)``."""
    t = problem.space_dim
    grad, hess = grad.clone(), hess.clone()
    if rate is not None:
        grad[:, t] = rate
    if rate_grad is not None:
        hess[:, t, :t] = rate_grad[:, :t]
        hess[:, :t, t] = rate_grad[:, :t]
    if acceleration is not None:
        hess[:, t, t] = acceleration
    jet = FieldJet(value[:, None], grad[:, None], None, hess[:, None])
    residual = problem.residual(Fields(jet, points, problem.coords))
    return residual.reshape(len(points), -1)[:, 0]


def _responses(
    problem: Problem, points: Tensor, u0: Tensor, grad: Tensor, hess: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The residual at ``u0`` (``u_t = u_tt = 0``), its slopes in ``u_t`` and in ``u_tt`` there, and the residual
    at ``u = 0`` (a source term). Shapes ``(n,)``."""
    zero = torch.zeros_like(u0)
    base = _residual(problem, points, u0, grad, hess, rate=zero, acceleration=zero)
    first = _residual(problem, points, u0, grad, hess, rate=zero + 1, acceleration=zero) - base
    second = _residual(problem, points, u0, grad, hess, rate=zero, acceleration=zero + 1) - base
    flat = torch.zeros_like(grad), torch.zeros_like(hess)
    source = _residual(problem, points, zero, *flat, rate=zero, acceleration=zero)
    return base, first, second, source


def _mean(a: Tensor, b: Tensor) -> float:
    return float((a * b).mean())


def initial_time_scales(problem: Problem, *, n_points: int = _POINTS, seed: int = 0) -> TimeScales | None:
    """The rates of the initial state (see the module docstring), from the PDE at ``n_points`` points of the
    initial slice.

    None when they cannot be read: a stationary problem, several fields, parameters, no initial value or one that
    vanishes (second order in time: with the initial velocity; a string struck at rest has the rate of ``v0``), a
    residual that needs derivatives of order three or more, or one that depends neither on ``u_t`` nor
    on ``u_tt``.
    """
    if problem.time is None or problem.n_fields != 1 or problem.parameters:
        return None
    initial = _condition(problem, Initial)
    if initial is None:
        return None
    domain = problem.domain
    generator = torch.Generator().manual_seed(seed + 104729)
    points = domain.sample_initial(n_points, generator=generator, sampler="halton")  # type: ignore[attr-defined]
    points = points.to(torch.float64)
    t = problem.space_dim
    try:
        u0, grad, hess = _derivatives(initial, points, t)
        base, first, second, source = _responses(problem, points, u0, grad, hess)
        zero, flat = torch.zeros_like(u0), (torch.zeros_like(grad), torch.zeros_like(hess))
        reacting = _residual(problem, points, u0, *flat, rate=zero, acceleration=zero)  # u0's values alone
        return _scales(problem, points, (u0, grad, hess), (base, source, reacting), first, second)
    except Exception as err:  # noqa: BLE001 - a forecast only: training evaluates the residual again and reports
        logger.debug("time scales not read (%s: %s)", type(err).__name__, err)
        return None  # e.g. a residual with third derivatives (the autograd fallback is not wired here)


def _scales(
    problem: Problem,
    points: Tensor,
    initial: tuple[Tensor, Tensor, Tensor],
    residuals: tuple[Tensor, Tensor, Tensor],
    first: Tensor,
    second: Tensor,
) -> TimeScales | None:
    """:func:`initial_time_scales` from the residuals at ``u0``, at ``u = 0`` and at ``u0``'s values with all their
    derivatives set to 0, and the slopes in ``u_t`` and ``u_tt`` at ``u0``."""
    assert problem.time is not None
    u0, grad, hess = initial
    base, source, reacting = residuals
    t, zero = problem.space_dim, torch.zeros_like(u0)
    norm = _mean(u0, u0)
    if not math.isfinite(norm):
        return None
    at_rest = norm <= 1e-300  # u0 = 0: only a second-order problem's initial velocity can set a rate

    def solvable(slope: Tensor) -> bool:
        return bool(torch.isfinite(slope).all()) and bool((slope.abs() > 1e-12 * (1 + base.abs())).all())

    horizon = problem.time.t1 - problem.time.t0
    # second order wherever u_tt enters (a damped wave's u_tt + a u_t - u_xx also depends on u_t)
    second_order = bool((second.abs() > 1e-12 * (1 + base.abs())).any()) or not bool(torch.isfinite(second).all())
    if not second_order and solvable(first):  # first order in time
        if at_rest:
            return None
        rate = -(base - source) / first  # the operator's response to u0: a source term does not count
        if not bool(torch.isfinite(rate).all()):
            return None
        growth = _mean(u0, -(reacting - source) / first) / norm  # the reaction f(u)'s rate
        if not math.isfinite(growth):
            return None
        motion = rate - _mean(u0, rate) / norm * u0  # what does not scale u0: |motion| / |u0| bounds omega (below)
        omega = math.sqrt(max(_mean(motion, motion), 0.0) / norm)
        if omega * horizon / (2 * math.pi) > PERIODS_PER_WINDOW:  # may call for windows: the exact reading
            omega = math.sqrt(_first_order_frequency(problem, points, (u0, grad, hess), rate, base, first))
        return TimeScales(1, growth, omega, horizon)
    if not solvable(second):
        return None
    velocity = _condition(problem, InitialVelocity)  # the Expression of v0, or None
    v0, v_grad, v_hess = _derivatives(velocity, points, t) if velocity is not None else (zero, None, None)
    moved = _residual(problem, points, u0, grad, hess, rate=v0, rate_grad=v_grad, acceleration=zero)
    acceleration = -(moved - source) / second
    omega_sq = 0.0 if at_rest else max(-_mean(u0, acceleration) / norm, 0.0)
    v_norm = _mean(v0, v0)
    if at_rest and not v_norm > 1e-300:
        return None
    if v_grad is not None and v_hess is not None and v_norm > 1e-300:
        # the spatial operator on v0: the PDE's change from u = 0 to u = v0
        at_v0 = _residual(problem, points, v0, v_grad, v_hess, rate=zero, acceleration=zero)
        omega_sq = max(omega_sq, _mean(v0, (at_v0 - source) / second) / v_norm)
    if not math.isfinite(omega_sq):
        return None
    return TimeScales(2, 0.0, math.sqrt(omega_sq), horizon)


def _rate_function(problem: Problem, t: int) -> Callable[[Tensor], Tensor]:
    """``u_t(x, t0)`` of a problem first order in time as a function of the points, differentiable in them."""
    initial = _condition(problem, Initial)
    assert initial is not None

    def rate(x: Tensor) -> Tensor:
        base, first, _, source = _responses(problem, x, *_derivatives(initial, x, t, graph=True))
        return -(base - source) / first

    return rate


def _first_order_frequency(
    problem: Problem, points: Tensor, initial: tuple[Tensor, Tensor, Tensor], rate: Tensor, base: Tensor, first: Tensor
) -> float:
    """``omega^2 = -<u0, u_tt> / <u0, u0>`` of a problem first order in time, ``u_tt = -F'(u0)[u_t] / a`` (the
    PDE's change along ``u_t``): transport and rotation (``u_tt = -omega^2 u``) count, diffusion (``u_tt`` along
    ``+u``: it smooths a ``u0`` of several modes, each decaying at its own rate) does not. 0 where ``u_t`` cannot
    be differentiated in space. ``base``, ``first``: the residual at ``u0`` and its slope in ``u_t``."""
    u0, grad, hess, rate, base, first = (a[:_EXACT_POINTS] for a in (*initial, rate, base, first))  # Halton prefix
    points = points[:_EXACT_POINTS]
    norm = _mean(u0, u0)
    t, zero = problem.space_dim, torch.zeros_like(u0)
    x = points.detach().clone().requires_grad_(True)
    r, r_grad, r_hess = _derivatives(_rate_function(problem, t), x, t)
    size = _mean(r, r)
    if not math.isfinite(size) or size <= 1e-300 or not bool(torch.isfinite(r_hess).all()):
        return 0.0
    step = 1e-6 * math.sqrt(norm / size)  # a relative change of 1e-6 in u
    moved = _residual(problem, points, u0 + step * r, grad + step * r_grad, hess + step * r_hess, rate=zero,
                      acceleration=zero)  # fmt: skip
    acceleration = -(moved - base) / (step * first)
    omega_sq = -_mean(u0, acceleration) / norm
    return omega_sq if math.isfinite(omega_sq) and omega_sq > 0 else 0.0


def default_time_windows(problem: Problem) -> tuple[int, str | None]:
    """The number of time windows for ``problem`` (1 when its rates cannot be read) and a note saying why, for
    ``result.notes`` (None for 1 window)."""
    scales = initial_time_scales(problem)
    if scales is None:
        return 1, None
    n = scales.windows()
    if n == 1:
        return 1, None
    if scales.periods / PERIODS_PER_WINDOW >= scales.efolds / EFOLDS_PER_WINDOW:
        what = f"moves the initial state through about {scales.periods:.3g} periods"
        per_window, limit, unit = scales.periods / n, PERIODS_PER_WINDOW, "periods"
    else:
        what = f"grows the initial state by about {scales.efolds:.3g} e-folds (its terms in u itself)"
        per_window, limit, unit = scales.efolds / n, EFOLDS_PER_WINDOW, "e-folds"
    if n == scales.windows_wanted():
        each = f"at most {PERIODS_PER_WINDOW:g} periods and {EFOLDS_PER_WINDOW:g} e-folds each"
    else:  # capped: each window holds more than was measured to work
        each = (f"capped at {MAX_WINDOWS}: about {per_window:.3g} {unit} each, above the {limit:g} measured to work; "
                f"time_windows=n sets more, up to {MAX_TIME_WINDOWS}")  # fmt: skip
    note = (f"the PDE at t0 {what} over [t0, t1]: solved in {n} time windows ({each}), each started from the last; "
            "time_windows=1 keeps one space-time network")  # fmt: skip
    return n, note
