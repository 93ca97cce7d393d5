"""5-D Poisson equation on the unit hypercube with the solution prod_i sin(pi x_i).

PDE:       -Laplace(u) = f,  f = 5 pi^2 prod_{i=1..5} sin(pi x_i)
Domain:    [0, 1]^5 (coordinates x1 ... x5)
BCs:       u = 0 on the whole boundary (Dirichlet; the solver imposes it exactly on boxes)
Exact:     u = prod_{i=1..5} sin(pi x_i)
Source:    the 5-D analogue of the 2-D and 3-D sine problems: the lowest Dirichlet eigenfunction of the unit
           hypercube, eigenvalue d pi^2 (separation of variables; e.g. Strauss, *Partial Differential Equations: An
           Introduction*, sec. 6.2 for d = 2, 3). Collocation points are scattered (no tensor grid in 5-D).

Parameters (``make_problem`` overrides): ``frequency`` (a positive integer m: u = prod sin(m pi x_i),
f = 5 m^2 pi^2 u).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

DIM = 5
PARAMETERS: dict[str, Any] = {"frequency": 1}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [DIM, 5, 1], "grid_schedule": [3, 6], "steps": 40, "n_interior": 3000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "frequency", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``prod_i sin(m pi x_i)``. Shapes: ``(n_points, 5) -> (n_points,)``."""
    m = _params(overrides)["frequency"]
    return torch.sin(m * math.pi * points).prod(dim=1)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` as in the module docstring."""
    m = _params(overrides)["frequency"]
    u = "*".join(f"sin({m}*pi*x{i})" for i in range(1, DIM + 1))
    return kp.Poisson(
        kp.Box([0] * DIM, [1] * DIM),
        f=f"{DIM * m * m}*pi**2*{u}",
        bcs=[kp.Dirichlet(0)],
        exact=u,
        description=f"poisson_5d: -Laplace(u) = {DIM * m * m} pi^2 prod sin({m} pi x_i) on [0, 1]^5, u = 0",
    )
