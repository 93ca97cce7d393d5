"""PINNacle's HNd: a 5-D heat equation in the unit ball with Neumann data, solution exp(|x|^2 / 2 + t).

PDE:       u_t - (1/d) Laplace(u) = f,  f = -(1/d) |x|^2 exp(|x|^2 / 2 + t),  d = 5
Domain:    the unit ball |x| <= 1 in R^5, t in [0, 1]
BCs:       du/dn = |x|^2 exp(|x|^2 / 2 + t) on the sphere (Neumann; = u there, since grad u = x u)
Initial:   u(x, 0) = exp(|x|^2 / 2)
Exact:     u = exp(|x|^2 / 2 + t): Laplace(u) = (d + |x|^2) u, so u_t - Laplace(u) / d = -|x|^2 u / d = f
Source:    the high-dimensional heat problem "HNd" of the PINNacle benchmark (Hao et al. 2023, arXiv 2306.08827;
           ``HeatND(dim=5, T=1)`` in ``src/pde/heat.py`` of its repository): the same equation, domain,
           boundary and initial data and solution.

Parameters (``make_problem`` overrides): ``dim`` (an integer >= 2; PINNacle's case is 5), ``t1`` (> 0).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import coordinate_names, positive, resolve

PARAMETERS: dict[str, Any] = {"dim": 5, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [6, 5, 1], "grid_schedule": [3, 6], "steps": 30, "n_interior": 3000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "dim", "t1", problem=__name__)
    if not isinstance(params["dim"], int) or params["dim"] < 2:
        raise ValueError(f"{__name__}: dim must be an integer >= 2, got {params['dim']!r}")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(|x|^2 / 2 + t)``. Shapes: ``(n_points, dim + 1) -> (n_points,)``, columns x1 ... xd, t."""
    _params(overrides)
    x, t = points[:, :-1], points[:, -1]
    return torch.exp((x**2).sum(dim=1) / 2 + t)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` as in the module docstring."""
    p = _params(overrides)
    d = p["dim"]
    r2 = "(" + " + ".join(f"{x}**2" for x in coordinate_names(d)) + ")"
    u = f"exp({r2}/2 + t)"
    return kp.Heat(
        kp.Ball([0] * d, 1.0),
        time=(0.0, p["t1"]),
        diffusivity=1 / d,
        f=f"-{r2}*{u}/{d}",
        initial=f"exp({r2}/2)",
        bcs=[kp.Neumann(f"{r2}*{u}")],
        exact=u,
        description=f"heat_nd_pinnacle: PINNacle's HNd, u_t - Laplace(u)/{d} = f in the unit {d}-ball, "
        f"t in [0, {p['t1']:g}], Neumann data",
    )
