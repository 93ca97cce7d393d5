"""2-D heat equation on the unit square with zero Dirichlet data: the lowest decaying mode.

PDE:       u_t - k Laplace(u) = 0, diffusivity k (default 0.1)
Domain:    (x, y) in [0, 1]^2, t in [0, t1] (default t1 = 1)
BCs:       u = 0 on the whole spatial boundary (Dirichlet)
Initial:   u(x, y, 0) = sin(pi x) sin(pi y)
Exact:     u = exp(-2 pi^2 k t) sin(pi x) sin(pi y)
Source:    separation of variables for the diffusion equation in a rectangle: the product of two 1-D modes
           (e.g. Strauss, *Partial Differential Equations: An Introduction*, ch. 4 for one dimension).
           k = 0.1 lets the solution fall to exp(-1.97) = 0.14 of its initial size by t = 1.

Parameters (``make_problem`` overrides): ``diffusivity`` (k > 0), ``t1`` (> 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"diffusivity": 0.1, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [3, 10, 1], "grid_schedule": [5, 10], "steps": 50, "n_interior": 6000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "diffusivity", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(-2 pi^2 k t) sin(pi x) sin(pi y)``. Shapes: ``(n_points, 3) -> (n_points,)``, columns (x, y, t)."""
    k = _params(overrides)["diffusivity"]
    x, y, t = points.unbind(dim=1)
    return torch.exp(-2 * math.pi**2 * k * t) * torch.sin(math.pi * x) * torch.sin(math.pi * y)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``diffusivity`` and ``t1``."""
    p = _params(overrides)
    k = p["diffusivity"]
    return kp.Heat(
        kp.Rectangle((0, 0), (1, 1)),
        time=(0.0, p["t1"]),
        diffusivity=k,
        f=0,
        initial="sin(pi*x)*sin(pi*y)",
        bcs=[kp.Dirichlet(0)],
        exact=f"exp(-2*pi**2*{num(k)}*t)*sin(pi*x)*sin(pi*y)",
        description=f"heat_2d: u_t = {k} Laplace(u) on [0, 1]^2 x [0, {p['t1']}], u = 0 on the boundary",
    )
