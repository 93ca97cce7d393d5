"""1-D heat equation with a source term: a forced (manufactured) solution.

PDE:       u_t - k u_xx = f,  f = (k pi^2 - 1) exp(-t) sin(pi x), diffusivity k (default 1)
Domain:    x in [0, 1], t in [0, t1] (default t1 = 1)
BCs:       u(0, t) = u(1, t) = 0 (Dirichlet)
Initial:   u(x, 0) = sin(pi x)
Exact:     u = exp(-t) sin(pi x)
Source:    the method of manufactured solutions (Roache, *Verification and Validation in Computational Science
           and Engineering*, 1998; Salari & Knupp, Sandia report SAND2000-1444): the source is chosen so that
           a prescribed function solves the equation. The solution decays at rate 1 instead of the free rate
           k pi^2, so the source term matters at every time.

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
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "diffusivity", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(-t) sin(pi x)``. Shapes: ``(n_points, 2) -> (n_points,)`` with columns (x, t)."""
    _params(overrides)
    return torch.exp(-points[:, 1]) * torch.sin(math.pi * points[:, 0])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``diffusivity`` and ``t1``."""
    p = _params(overrides)
    k = num(p["diffusivity"])
    return kp.Heat(
        kp.Interval(0, 1),
        time=(0.0, p["t1"]),
        diffusivity=p["diffusivity"],
        f=f"({k}*pi**2 - 1)*exp(-t)*sin(pi*x)",
        initial="sin(pi*x)",
        bcs=[kp.Dirichlet(0)],
        exact="exp(-t)*sin(pi*x)",
        description=f"heat_1d_source: u_t - {p['diffusivity']} u_xx = f on [0, 1], exact exp(-t) sin(pi x)",
    )
