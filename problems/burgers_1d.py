"""1-D viscous Burgers equation with an exact traveling viscous-shock solution (Cole-Hopf).

PDE:       u_t + u u_x = nu u_xx, viscosity nu (default 0.05)
Domain:    x in [-1, 1], t in [0, t1] (default t1 = 1)
BCs:       u = exact solution at x = -1 and x = 1 (time-dependent Dirichlet data, close to u_L and u_R)
Initial:   u(x, 0) = exact solution at t = 0
Exact:     u = c - a tanh(a (x - x0 - c t) / (2 nu)),  c = (u_L + u_R)/2, a = (u_L - u_R)/2;
           defaults u_L = 1, u_R = 0, x0 = -0.25: a front of width about 2 nu / a = 0.2 moving at speed 1/2 from
           x = -0.25 to x = 0.25.
Source:    the Cole-Hopf transform (Hopf 1950; Cole 1951; Whitham, *Linear and Nonlinear Waves*, 1974, ch. 4):
           u = -2 nu phi_x / phi turns Burgers' equation into the heat equation phi_t = nu phi_xx. Here
           phi = exp(-u_L (x - x0 - u_L t/2) / (2 nu)) + exp(-u_R (x - x0 - u_R t/2) / (2 nu)), a sum of two
           exponential heat solutions, gives the tanh profile above (the Taylor viscous shock).

Why not the PINN benchmark of Raissi, Perdikaris & Karniadakis (J. Comput. Phys. 378, 2019), u(x, 0) =
-sin(pi x), nu = 0.01/pi: its solution has no closed form (only a Cole-Hopf integral to be evaluated by
quadrature), so it cannot serve as an exact reference here. Use ``kp.PDE`` directly for it.

Parameters (``make_problem`` overrides): ``viscosity`` (nu > 0), ``u_left`` > ``u_right`` (the Lax entropy
condition: only such fronts travel unchanged), ``x0`` (front position at t = 0), ``t1`` (> 0).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"viscosity": 0.05, "u_left": 1.0, "u_right": 0.0, "x0": -0.25, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "viscosity", "t1", problem=__name__)
    if not params["u_left"] > params["u_right"]:
        raise ValueError(f"{__name__}: u_left must be > u_right (a traveling viscous shock), got {params}")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``c - a tanh(a (x - x0 - c t) / (2 nu))``. Shapes: ``(n_points, 2) -> (n_points,)`` with columns (x, t)."""
    p = _params(overrides)
    c, a = (p["u_left"] + p["u_right"]) / 2, (p["u_left"] - p["u_right"]) / 2
    x, t = points[:, 0], points[:, 1]
    return c - a * torch.tanh(a * (x - p["x0"] - c * t) / (2 * p["viscosity"]))


def _formula(p: dict[str, Any], x: str = "x", t: str = "t") -> str:
    c, a = (p["u_left"] + p["u_right"]) / 2, (p["u_left"] - p["u_right"]) / 2
    return f"{num(c)} - {num(a)}*tanh({num(a)}*({x} - {num(p['x0'])} - {num(c)}*{t})/(2*{num(p['viscosity'])}))"


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``viscosity``, ``u_left``, ``u_right``, ``x0`` and ``t1``."""
    p = _params(overrides)
    nu = p["viscosity"]
    # Boundary and initial data are traces of u (x = -1, x = 1, t = 0), not u itself.
    return kp.PDE(
        kp.Interval(-1, 1),
        lambda u: u.t + u.value * u.x - nu * u.xx,
        bcs=[kp.Dirichlet(_formula(p, x="(-1)"), on="left"), kp.Dirichlet(_formula(p, x="1"), on="right")],
        time=(0.0, p["t1"]),
        initial=_formula(p, t="0"),
        exact=_formula(p),
        description=f"burgers_1d: u_t + u u_x = {nu} u_xx on [-1, 1], traveling front {p['u_left']} -> {p['u_right']}",
    )
