"""1-D Poisson equation with a Robin condition on one end and a Dirichlet condition on the other.

PDE:       -u''(x) = f(x),  f = -2
Domain:    x in [0, 1]
BCs:       u(0) = 1 (Dirichlet),
           alpha u + beta du/dn = 4 alpha + 4 beta at x = 1 (Robin; the outward normal is +x, u(1) = u'(1) = 4)
Exact:     u = (x + 1)^2
Source:    a manufactured solution for the two-point boundary value problem with a Robin (third-kind, "mixed")
           condition, the convection (Newton cooling) boundary -k u' = h (u - u_inf) of heat-transfer texts such as
           Incropera & DeWitt, *Fundamentals of Heat and Mass Transfer*.

Parameters (``make_problem`` overrides): ``alpha`` (default 1), ``beta`` (default 1); alpha*beta >= 0 and not
both zero keeps the problem well posed.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

import kanpde as kp

from ._common import resolve

PARAMETERS: dict[str, Any] = {"alpha": 1.0, "beta": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [1, 5, 1], "grid_schedule": [5], "steps": 30, "n_interior": 500}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    if params["alpha"] == 0 and params["beta"] == 0:
        raise ValueError(f"{__name__}: alpha and beta must not both be zero")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``(x + 1)^2``. Shapes: ``(n_points, 1) -> (n_points,)``."""
    _params(overrides)
    return (points[:, 0] + 1) ** 2


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``alpha`` and ``beta``."""
    p = _params(overrides)
    alpha, beta = p["alpha"], p["beta"]
    return kp.Poisson(
        kp.Interval(0, 1),
        f=-2,
        bcs=[kp.Dirichlet(1, on="left"), kp.Robin(alpha, beta, 4 * alpha + 4 * beta, on="right")],
        exact="(x + 1)**2",
        description=f"poisson_1d_robin: -u'' = -2 on [0, 1], u(0) = 1, {alpha}*u + {beta}*du/dn = "
        f"{4 * alpha + 4 * beta} at x = 1",
    )
