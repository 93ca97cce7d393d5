"""2-D Laplace equation on a CSG domain (a square with a circular hole), solution e^x sin y.

PDE:       -Laplace(u) = 0 (e^x sin y = Im(e^z), z = x + i y, is harmonic)
Domain:    the square [-1, 1]^2 minus the disk of radius r (default 0.4) centred at (0.2, 0.1):
           ``kp.Rectangle((-1, -1), (1, 1)) - kp.Disk((0.2, 0.1), r)``
BCs:       u = e^x sin y on the whole boundary, outer square and hole (Dirichlet)
Exact:     u = e^x sin y
Source:    a manufactured harmonic function (the imaginary part of the analytic function e^z; any complex
           analysis text, e.g. Ahlfors, *Complex Analysis*). The domain exercises
           constructive solid geometry: boundary points on both the square and the circle, a curved boundary, and
           no exact (hard) boundary constraint, since the CSG distance function is not smooth.

Parameters (``make_problem`` overrides): ``radius`` (0 < r < 0.8 keeps the hole inside the square).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

PARAMETERS: dict[str, Any] = {"radius": 0.4}
CENTER = (0.2, 0.1)
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "radius", problem=__name__)
    if params["radius"] >= 0.8:
        raise ValueError(f"{__name__}: radius must be < 0.8 so that the hole stays inside the square")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``e^x sin y``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    _params(overrides)
    return torch.exp(points[:, 0]) * torch.sin(points[:, 1])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``radius``."""
    r = _params(overrides)["radius"]
    domain = kp.Rectangle((-1, -1), (1, 1)) - kp.Disk(CENTER, r)
    return kp.Poisson(
        domain,
        f=0,
        bcs=[kp.Dirichlet("exp(x)*sin(y)")],
        exact="exp(x)*sin(y)",
        description=f"poisson_2d_csg: Laplace(u) = 0 on [-1, 1]^2 minus a disk of radius {r}, u = e^x sin y",
    )
