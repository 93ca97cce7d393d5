"""2-D Poisson equation with the solution sin(pi x) sin(pi y^2), the PDE example of the KAN paper.

PDE:       -Laplace(u) = f,  f = pi^2 (1 + 4 y^2) sin(pi x) sin(pi y^2) - 2 pi sin(pi x) cos(pi y^2)
Domain:    [-1, 1]^2
BCs:       u = 0 on the whole boundary (Dirichlet; sin(pi y^2) vanishes at y = +-1)
Exact:     u = sin(pi x) sin(pi y^2)
Source:    Liu et al., "KAN: Kolmogorov-Arnold Networks" (arXiv:2404.19756, 2024), sec. 3.4 (solving PDEs),
           which writes it as u_xx + u_yy = -pi^2 (1 + 4 y^2) sin(pi x) sin(pi y^2) + 2 pi sin(pi x) cos(pi y^2).
           The paper compares KANs and MLPs in plots only; no single reference number is quoted here.

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
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(pi x) sin(pi y^2)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    resolve(PARAMETERS, overrides, __name__)
    return torch.sin(math.pi * points[:, 0]) * torch.sin(math.pi * points[:, 1] ** 2)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem (it has no parameters; any override is an error)."""
    resolve(PARAMETERS, overrides, __name__)
    return kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)),
        f="pi**2*(1 + 4*y**2)*sin(pi*x)*sin(pi*y**2) - 2*pi*sin(pi*x)*cos(pi*y**2)",
        bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y**2)",
        description="poisson_2d_sin_y2: -Laplace(u) = f on [-1, 1]^2, u = 0, exact sin(pi x) sin(pi y^2)",
    )
