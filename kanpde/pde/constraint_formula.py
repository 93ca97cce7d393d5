"""The formulas of the exact Dirichlet constraint ``u = b N + g``, written once for tensors and for sympy.

Each function uses only ``+ - * / **`` on its arguments, so the same code evaluates on torch tensors (the trial
function, :mod:`kanpde.pde.approximation`) and on sympy expressions (the closed-form solution,
:mod:`kanpde.symbolic.solution`): the two cannot drift apart. Arguments are columns (1-D tensors of shape
``(n_points,)``) or sympy expressions; bounds are numbers (floats for tensors, exact rationals for sympy).

- Box $\\prod_i [a_i, b_i]$: $\\phi = \\frac{h}{4}\\prod_i \\frac{4 (x_i - a_i)(b_i - x_i)}{(b_i - a_i)^2}$, $h$ the
  shortest side (in 1-D $(x-a)(b-x)/(b-a)$); slope 1 at the middle of the faces.
- Ball $|x - c| \\le r$: $\\phi = (r^2 - |x - c|^2) / (2r)$, slope 1 on the sphere.
- In time, with $\\tau = (t - t_0) / (t_1 - t_0)$: $b = \\tau^m \\phi(x)$, $m$ the order in time (1 for the heat
  equation, 2 with an initial velocity), and
  $g = u_0 + g_D(x, t) - g_D(x, t_0)$ or, second order,
  $g = u_0 + (t - t_0) v_0 + g_D(x, t) - g_D(x, t_0) - (t - t_0)\\,\\partial_t g_D(x, t_0)$, whose value (and
  time derivative) at $t_0$ are $u_0$ (and $v_0$) and which equals $g_D$ on the boundary for compatible data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy

__all__ = ["box_distance", "ball_distance", "vanishing_in_time", "lift_in_time", "exact_number"]


def exact_number(value: float) -> Any:
    """``value`` as an exact sympy number (a rational within 1e-12 when there is a short one), for formulas."""
    return sympy.nsimplify(value, rational=True, tolerance=1e-12)


def box_distance(columns: Sequence[Any], lower: Sequence[Any], upper: Sequence[Any]) -> Any:
    """The box's distance function $\\phi$ at ``columns`` (one per axis); positive inside, zero on the faces."""
    shortest = min(b - a for a, b in zip(lower, upper, strict=True))
    product: Any = 1
    for x, a, b in zip(columns, lower, upper, strict=True):
        product = product * (4 * (x - a) * (b - x) / (b - a) ** 2)
    return shortest / 4 * product


def ball_distance(columns: Sequence[Any], center: Sequence[Any], radius: Any) -> Any:
    """The ball's distance function $(r^2 - |x - c|^2) / (2r)$ at ``columns`` (one per axis)."""
    squared: Any = 0
    for x, c in zip(columns, center, strict=True):
        squared = squared + (x - c) ** 2
    return (radius**2 - squared) / (2 * radius)


def vanishing_in_time(elapsed: Any, length: Any, distance: Any, order: int) -> Any:
    """``b = ((t - t0) / (t1 - t0))^order * distance``: zero at ``t0`` (with ``order - 1`` derivatives) and on the
    boundary. ``elapsed`` is ``t - t0``, ``length`` is ``t1 - t0``."""
    return (elapsed / length) ** order * distance


def lift_in_time(
    initial_at_start: Any,
    boundary: Any,
    boundary_at_start: Any,
    elapsed: Any = None,
    velocity_at_start: Any = None,
    boundary_rate_at_start: Any = None,
) -> Any:
    """``g``: the initial value ``u0(x)``, plus the change of the boundary data since ``t0``; with an initial
    velocity ``v0(x)`` (and ``elapsed = t - t0``, ``boundary_rate_at_start = d/dt g_D(x, t0)``) also the linear
    term that gives ``g_t(x, t0) = v0``."""
    lift = initial_at_start + boundary - boundary_at_start
    if velocity_at_start is None:
        return lift
    return lift + elapsed * (velocity_at_start - boundary_rate_at_start)
