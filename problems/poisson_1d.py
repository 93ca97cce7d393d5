"""1-D Poisson equation with homogeneous Dirichlet data: the smallest reference problem.

PDE:       -u''(x) = f(x),  f = (m pi)^2 sin(m pi x)
Domain:    x in [-1, 1]
BCs:       u(-1) = u(1) = 0 (Dirichlet on the whole boundary; the solver imposes it exactly on boxes)
Exact:     u = sin(m pi x), m = ``frequency`` (default 1)
Source:    the 1-D restriction of the pykan PDE tutorial (Example 6, 2-D Poisson with sin(pi x) sin(pi y) on
           [-1, 1]^2); the classic two-point boundary value problem of any finite-difference text
           (e.g. LeVeque, *Finite Difference Methods for ODEs and PDEs*, SIAM 2007, ch. 2).

Parameters (``make_problem`` overrides): ``frequency`` (positive integer m).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

PARAMETERS: dict[str, Any] = {"frequency": 1}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [1, 5, 1], "grid_schedule": [5, 10], "steps": 30, "n_interior": 500}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "frequency", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(m pi x)``. Shapes: ``(n_points, 1) -> (n_points,)``."""
    m = _params(overrides)["frequency"]
    return torch.sin(m * math.pi * points[:, 0])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``frequency``."""
    m = _params(overrides)["frequency"]
    return kp.Poisson(
        kp.Interval(-1, 1),
        f=f"({m}*pi)**2*sin({m}*pi*x)",
        bcs=[kp.Dirichlet(0)],
        exact=f"sin({m}*pi*x)",
        description=f"poisson_1d: -u'' = (m pi)^2 sin(m pi x) on [-1, 1], u(+-1) = 0, m = {m}",
    )
