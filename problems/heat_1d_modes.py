"""1-D heat equation with two Fourier modes decaying at different rates.

PDE:       u_t - k u_xx = 0, diffusivity k (default 0.1)
Domain:    x in [0, 1], t in [0, t1] (default t1 = 1)
BCs:       u(0, t) = u(1, t) = 0 (Dirichlet)
Initial:   u(x, 0) = sin(pi x) + a sin(3 pi x), a = ``amplitude`` (default 1/2)
Exact:     u = exp(-pi^2 k t) sin(pi x) + a exp(-9 pi^2 k t) sin(3 pi x)
Source:    superposition of separated solutions, the Fourier series solution of the diffusion equation on an
           interval (e.g. Strauss, *Partial Differential Equations: An Introduction*, sec. 4.1). The default
           k = 0.1 keeps both modes visible over [0, 1] (the third decays by exp(-8.9) at t = 1, the first by
           exp(-0.99)): two time scales in one solution.

Parameters (``make_problem`` overrides): ``diffusivity`` (k > 0), ``amplitude`` (a), ``t1`` (> 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"diffusivity": 0.1, "amplitude": 0.5, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "diffusivity", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """Two decaying modes. Shapes: ``(n_points, 2) -> (n_points,)`` with columns (x, t)."""
    p = _params(overrides)
    k, a = p["diffusivity"], p["amplitude"]
    x, t = points[:, 0], points[:, 1]
    first = torch.exp(-(math.pi**2) * k * t) * torch.sin(math.pi * x)
    third = torch.exp(-9 * math.pi**2 * k * t) * torch.sin(3 * math.pi * x)
    return first + a * third


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``diffusivity``, ``amplitude`` and ``t1``."""
    p = _params(overrides)
    k, a = num(p["diffusivity"]), num(p["amplitude"])
    return kp.Heat(
        kp.Interval(0, 1),
        time=(0.0, p["t1"]),
        diffusivity=p["diffusivity"],
        f=0,
        initial=f"sin(pi*x) + {a}*sin(3*pi*x)",
        bcs=[kp.Dirichlet(0)],
        exact=f"exp(-pi**2*{k}*t)*sin(pi*x) + {a}*exp(-9*pi**2*{k}*t)*sin(3*pi*x)",
        description=f"heat_1d_modes: u_t = {p['diffusivity']} u_xx on [0, 1], modes 1 and 3 (a = {p['amplitude']})",
    )
