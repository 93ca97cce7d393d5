"""3-D Poisson equation on the unit cube with the solution sin(pi x) sin(pi y) sin(pi z).

PDE:       -Laplace(u) = f,  f = 3 pi^2 sin(pi x) sin(pi y) sin(pi z)
Domain:    [0, 1]^3
BCs:       u = 0 on the whole boundary (Dirichlet; the solver imposes it exactly on boxes)
Exact:     u = sin(pi x) sin(pi y) sin(pi z)
Source:    the 3-D analogue of the 2-D sine problem; the lowest Dirichlet eigenfunction of the unit cube
           (e.g. Strauss, *Partial Differential Equations: An Introduction*, sec. 6.2 "Rectangles and Cubes").

Parameters: none.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import resolve

PARAMETERS: dict[str, Any] = {}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [3, 10, 1], "grid_schedule": [5, 10], "steps": 50, "n_interior": 6000}
BASELINE: dict[str, Any] | None = None


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(pi x) sin(pi y) sin(pi z)``. Shapes: ``(n_points, 3) -> (n_points,)``."""
    resolve(PARAMETERS, overrides, __name__)
    return torch.sin(math.pi * points).prod(dim=1)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem (it has no parameters; any override is an error)."""
    resolve(PARAMETERS, overrides, __name__)
    return kp.Poisson(
        kp.Box((0, 0, 0), (1, 1, 1)),
        f="3*pi**2*sin(pi*x)*sin(pi*y)*sin(pi*z)",
        bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y)*sin(pi*z)",
        description="poisson_3d: -Laplace(u) = 3 pi^2 sin(pi x) sin(pi y) sin(pi z) on [0, 1]^3, u = 0",
    )
