"""1-D heat equation whose solution is the heat kernel (fundamental solution), shifted in time.

PDE:       u_t - k u_xx = 0, diffusivity k (default 1)
Domain:    x in [-L, L] (default L = 2), t in [0, t1] (default t1 = 1)
BCs:       u = exact solution at x = -L and x = L (time-dependent Dirichlet data, its traces there)
Initial:   u(x, 0) = exact solution at t = 0, a Gaussian of variance 2 k tau
Exact:     u = exp(-x^2 / (4 k (t + tau))) / sqrt(4 pi k (t + tau)), shift tau (default 0.1)
Source:    the fundamental solution of the heat equation, Evans, *Partial Differential Equations* (2nd ed.,
           AMS 2010), sec. 2.3.1. Unshifted (tau = 0) it is a Dirac delta at t = 0; the shift tau makes the
           initial value a smooth Gaussian. The solution spreads (variance 2 k (t + tau)) and its peak falls like
           1/sqrt(t + tau): a moving, non-separable profile. Smaller ``shift`` gives a sharper start.

Parameters (``make_problem`` overrides): ``diffusivity`` (k > 0), ``shift`` (tau > 0), ``half_width`` (L > 0),
``t1`` (> 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"diffusivity": 1.0, "shift": 0.1, "half_width": 2.0, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20, 40], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "diffusivity", "shift", "half_width", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(-x^2 / (4 k (t + tau))) / sqrt(4 pi k (t + tau))``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    p = _params(overrides)
    k, tau = p["diffusivity"], p["shift"]
    x, t = points[:, 0], points[:, 1]
    s = 4 * k * (t + tau)
    return torch.exp(-(x**2) / s) / torch.sqrt(math.pi * s)


def _formula(p: dict[str, Any], x: str = "x", t: str = "t") -> str:
    k, tau = num(p["diffusivity"]), num(p["shift"])
    return f"exp(-{x}**2/(4*{k}*({t} + {tau})))/sqrt(4*pi*{k}*({t} + {tau}))"


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``diffusivity``, ``shift``, ``half_width`` and ``t1``."""
    p = _params(overrides)
    half = p["half_width"]
    # Boundary and initial data are traces of u (x = -L, x = L, t = 0), not u itself.
    return kp.Heat(
        kp.Interval(-half, half),
        time=(0.0, p["t1"]),
        diffusivity=p["diffusivity"],
        f=0,
        initial=_formula(p, t="0"),
        bcs=[kp.Dirichlet(_formula(p, x=num(-half)), on="left"), kp.Dirichlet(_formula(p, x=num(half)), on="right")],
        exact=_formula(p),
        description=f"heat_kernel: u_t = {p['diffusivity']} u_xx on [-{half}, {half}], kernel shifted by {p['shift']}",
    )
