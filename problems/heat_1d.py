"""1-D heat equation on [0, 1] with zero Dirichlet data: one decaying Fourier mode.

PDE:       u_t - k u_xx = 0, diffusivity k (default 1)
Domain:    x in [0, 1], t in [0, t1] (default t1 = 1)
BCs:       u(0, t) = u(1, t) = 0 (Dirichlet)
Initial:   u(x, 0) = sin(pi x)
Exact:     u = exp(-pi^2 k t) sin(pi x)
Source:    Fourier's separation-of-variables solution of the diffusion equation on an interval (e.g. Strauss,
           *Partial Differential Equations: An Introduction*, sec. 4.1). With k = 1 the solution falls to
           5e-5 of its initial size by t = 1, so the space-time relative L2 error weighs the early times.

Parameters (``make_problem`` overrides): ``diffusivity`` (k > 0), ``t1`` (> 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"diffusivity": 1.0, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 30], "steps": 100, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "diffusivity", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(-pi^2 k t) sin(pi x)``. Shapes: ``(n_points, 2) -> (n_points,)`` with columns (x, t)."""
    k = _params(overrides)["diffusivity"]
    x, t = points[:, 0], points[:, 1]
    return torch.exp(-(math.pi**2) * k * t) * torch.sin(math.pi * x)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``diffusivity`` and ``t1``."""
    p = _params(overrides)
    k = p["diffusivity"]
    return kp.Heat(
        kp.Interval(0, 1),
        time=(0.0, p["t1"]),
        diffusivity=k,
        f=0,
        initial="sin(pi*x)",
        bcs=[kp.Dirichlet(0)],
        exact=f"exp(-pi**2*{num(k)}*t)*sin(pi*x)",
        description=f"heat_1d: u_t = {k} u_xx on [0, 1] x [0, {p['t1']}], u = 0 at x = 0, 1, u(x, 0) = sin(pi x)",
    )
