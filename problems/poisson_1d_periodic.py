"""1-D screened Poisson (modified Helmholtz) equation with periodic boundary conditions.

PDE:       -u''(x) + c u(x) = f(x),  f = (4 pi^2 + c) sin(2 pi x) + (16 pi^2 + c)/2 cos(4 pi x)
Domain:    x in [0, 1]
BCs:       periodic in x: u(0) = u(1) and u'(0) = u'(1)
Exact:     u = sin(2 pi x) + cos(4 pi x)/2
Source:    a manufactured solution. Fourier analysis on the circle (e.g. Strauss, *Partial Differential
           Equations: An Introduction*, ch. 5) shows why the screening term is there: with periodic conditions
           the operator -d^2/dx^2 + c has eigenvalues (2 pi k)^2 + c, all positive for c > 0, so the problem
           has exactly one solution.

Choice made here: the pure periodic Poisson problem (c = 0) is solvable only for mean-free f and its solution is
unique only up to an added constant. The default ``screening`` c = 1 removes the null space, so periodicity alone
determines u. With ``screening=0`` the problem becomes -u'' = f (f mean-free here) and a pinning condition
u(0) = 1/2 (a Dirichlet condition at the left end, the exact value) fixes the constant.

Parameters (``make_problem`` overrides): ``screening`` (c >= 0, default 1).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import resolve

PARAMETERS: dict[str, Any] = {"screening": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [1, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 1000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    if params["screening"] < 0:
        raise ValueError(f"{__name__}: screening must be >= 0 (c < 0 can hit an eigenvalue), got {params['screening']}")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(2 pi x) + cos(4 pi x)/2``. Shapes: ``(n_points, 1) -> (n_points,)``."""
    _params(overrides)
    x = points[:, 0]
    return torch.sin(2 * math.pi * x) + 0.5 * torch.cos(4 * math.pi * x)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``screening`` (0 gives periodic Poisson with a pinning condition)."""
    c = _params(overrides)["screening"]
    a1, a2 = 4 * math.pi**2 + c, (16 * math.pi**2 + c) / 2

    def residual(u: Any) -> Tensor:
        x = u.coord("x")
        f = a1 * torch.sin(2 * math.pi * x) + a2 * torch.cos(4 * math.pi * x)
        return -u.xx + c * u.value - f

    bcs: list[Any] = [kp.Periodic("x")]
    if c == 0:
        bcs.append(kp.Dirichlet(0.5, on="left"))
    return kp.PDE(
        kp.Interval(0, 1),
        residual,
        bcs=bcs,
        exact="sin(2*pi*x) + cos(4*pi*x)/2",
        description=f"poisson_1d_periodic: -u'' + {c}*u = f on [0, 1], periodic" + (", u(0) = 1/2" if c == 0 else ""),
    )
