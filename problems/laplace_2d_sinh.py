"""2-D Laplace equation on the unit square with one non-zero side: the separation-of-variables solution.

PDE:       -Laplace(u) = 0
Domain:    [0, 1]^2
BCs:       u = 0 on x = 0, x = 1 and y = 0; u = sin(m pi x) on y = 1 (Dirichlet, four conditions)
Exact:     u = sin(m pi x) sinh(m pi y) / sinh(m pi), m = ``frequency`` (default 1)
Source:    the classic Dirichlet problem for a rectangle solved by separation of variables (e.g. Strauss,
           *Partial Differential Equations: An Introduction*, sec. 6.2 "Rectangles and Cubes"; Haberman,
           *Applied PDEs*, sec. 2.5.1). The side data are given separately, as in the textbooks, so the solver
           cannot use a single hard-constrained boundary condition.

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
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "frequency", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(m pi x) sinh(m pi y) / sinh(m pi)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    m = _params(overrides)["frequency"]
    x, y = points[:, 0], points[:, 1]
    return torch.sin(m * math.pi * x) * torch.sinh(m * math.pi * y) / math.sinh(m * math.pi)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``frequency``."""
    m = _params(overrides)["frequency"]
    return kp.Poisson(
        kp.Rectangle((0, 0), (1, 1)),
        f=0,
        bcs=[
            kp.Dirichlet(0, on="xmin"),
            kp.Dirichlet(0, on="xmax"),
            kp.Dirichlet(0, on="ymin"),
            kp.Dirichlet(f"sin({m}*pi*x)", on="ymax"),
        ],
        exact=f"sin({m}*pi*x)*sinh({m}*pi*y)/sinh({m}*pi)",
        description=f"laplace_2d_sinh: Laplace(u) = 0 on [0, 1]^2, u = sin(m pi x) on y = 1, else 0, m = {m}",
    )
