"""How fine a grid the initial value of a time-dependent problem needs: a check of the default grid schedule.

Every edge of a KAN's first layer is a spline of one input on a uniform grid over that input's range, so the
network can only hold the structure of ``u0`` along an input if a 1-D spline on that grid can. The check samples
``u0`` along lines parallel to each spatial axis (through points of the initial slice, across the domain's bounding
box), fits each line by least squares with a spline of degree ``spline_order`` on ``grid_size`` equal intervals,
and reports the relative misfit ``||fit - u0|| / ||u0||`` over all lines. :func:`data_grid` is the smallest grid of
a ladder whose misfit is below :data:`RESOLVED`; ``Solver.solve`` with its default schedule runs that one grid
instead when the schedule's last grid does not resolve ``u0`` (and says so in ``result.notes``).

Measured (1024 samples on [0, 1], degree 5): ``sin(pi x)`` 1.8e-6 at grid 5; ``sin(6 pi x)`` 9.1e-2 at 5, 5.4e-3
at 10; ``sin(20 pi x)`` 0.78 at 20, 1.5e-2 at 30, 1.3e-3 at 40 (ten periods need about four knot intervals per
period: the multi-scale heat problem, ``problems/heat_multiscale.py``).

Example:
    >>> import kanpde as kp
    >>> problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial="sin(20*pi*x)", bcs=[kp.Dirichlet(0)])
    >>> data_grid(problem, 5)[0]
    40
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..kan.spline import evaluate_spline, fit_coefficients, local_basis, uniform_knots
from .conditions import Initial
from .expressions import Expression
from .problem import Problem

__all__ = ["DEFAULT_SCHEDULE", "RESOLVED", "LADDER", "initial_misfit", "data_grid", "resolved_schedule"]

DEFAULT_SCHEDULE = (5, 10, 30)
"""The grid schedule of ``Solver.solve`` when none is given."""

RESOLVED = 1e-2
"""A grid resolves the initial value along an axis when the 1-D fits' relative misfit is at most this."""

LADDER = (5, 10, 20, 30, 40, 60, 80)
"""The grids :func:`data_grid` tries, coarsest first."""

_LINES = 16  # lines per axis
_SAMPLES = 1024  # samples per line (about 13 per knot interval at grid 80)


def _initial(problem: Problem) -> Initial | None:
    """The problem's (first field's) initial value condition, or None (stationary, or no initial value)."""
    if problem.time is None:
        return None
    found = [c for c in problem.conditions if isinstance(c, Initial) and c.field == 0]
    return found[0] if found else None


def initial_misfit(problem: Problem, grid_size: int, spline_order: int, *, seed: int = 0) -> list[float] | None:
    """Relative misfit of the best 1-D spline fits of ``u0`` along each spatial axis (one number per axis).

    None when the problem has no initial value, or when ``u0`` vanishes (or is not finite) on the samples.

    Raises:
        ValueError: ``grid_size`` or ``spline_order`` is not a positive integer.
    """
    if grid_size < 1 or spline_order < 1:
        raise ValueError(f"grid_size and spline_order must be >= 1, got {grid_size} and {spline_order}")
    condition = _initial(problem)
    if condition is None:
        return None
    domain = problem.domain
    generator = torch.Generator().manual_seed(seed + 7919)
    base = domain.sample_initial(_LINES, generator=generator, sampler="halton")  # type: ignore[attr-defined]
    lower, upper = domain.bounds
    value = condition.value
    assert isinstance(value, Expression), "a problem's conditions are bound"
    out = []
    for axis in range(problem.space_dim):
        lo, hi = float(lower[axis]), float(upper[axis])
        s = torch.linspace(lo, hi, _SAMPLES, dtype=torch.float64)
        points = base.repeat_interleave(_SAMPLES, dim=0)  # line after line
        points[:, axis] = s.repeat(len(base))
        with torch.no_grad():
            y = value(points).reshape(len(base), _SAMPLES).T  # (samples, lines)
        if not bool(torch.isfinite(y).all()):
            return None
        scale = float(y.norm())
        if scale == 0.0:
            return None
        x = s.reshape(-1, 1)
        knots = uniform_knots(grid_size, spline_order, lo, hi)
        coef = fit_coefficients(x, y.unsqueeze(1), knots, spline_order)
        fit = evaluate_spline(local_basis(x, knots, spline_order), coef, spline_order)[:, 0]
        out.append(float((fit - y).norm()) / scale)
    return out


def data_grid(
    problem: Problem, spline_order: int, *, seed: int = 0, above: int = 0
) -> tuple[int | None, list[float] | None]:
    """The smallest grid of :data:`LADDER` finer than ``above`` on which every axis of ``u0`` is fitted to
    :data:`RESOLVED`.

    Returns:
        ``(grid, misfits)``: the grid (the ladder's largest when none resolves ``u0``; None without an initial
        value or without a ladder grid finer than ``above``) and the misfits per axis on it.
    """
    grid, misfits = None, None
    for grid in (g for g in LADDER if g > above):
        misfits = initial_misfit(problem, grid, spline_order, seed=seed)
        if misfits is None:
            return None, None
        if max(misfits) <= RESOLVED:
            break
    return grid, misfits


def resolved_schedule(
    problem: Problem, schedule: Sequence[int], spline_order: int, *, seed: int = 0
) -> tuple[list[int], str | None]:
    """``schedule``, or ``[data_grid]`` when its last grid does not resolve ``u0`` (misfit above :data:`RESOLVED`
    along some axis; its coarser grids resolve it less), with a sentence saying so (None when unchanged)."""
    schedule = list(schedule)
    misfits = initial_misfit(problem, schedule[-1], spline_order, seed=seed)
    if misfits is None or max(misfits) <= RESOLVED:
        return schedule, None
    grid, fine = data_grid(problem, spline_order, seed=seed, above=schedule[-1])  # the grids up to it: coarser
    if grid is None or fine is None:
        return schedule, None
    axis = max(range(len(misfits)), key=misfits.__getitem__)
    name = problem.coords[axis]
    resolved = "" if max(fine) <= RESOLVED else f" (the ladder's largest grid; {RESOLVED:.0%} is not reached)"
    note = (
        f"grid schedule {schedule} -> [{grid}]: a spline of degree {spline_order} on grid {schedule[-1]} fits the "
        f"initial value along {name} to {max(misfits):.1%} only, on grid {grid} to {max(fine):.2%}{resolved} "
        "(kanpde.pde.data_resolution); pass grid_schedule to choose"
    )
    return [grid], note
