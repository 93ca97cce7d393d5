"""Stationary Allen-Cahn kink: the tanh interface profile, as a steady nonlinear boundary value problem.

PDE:       eps^2 u'' + u - u^3 = 0 (the steady state of u_t = eps^2 u_xx + u - u^3), solved with ``kp.PDE``
Domain:    x in [-1, 1]
BCs:       u(-1) = -tanh(1/(sqrt(2) eps)), u(1) = tanh(1/(sqrt(2) eps)) (Dirichlet, the exact values)
Exact:     u = tanh(x / (sqrt(2) eps)), interface width eps (default 0.1)
Source:    Allen & Cahn, "A microscopic theory for antiphase boundary motion and its application to antiphase
           domain coarsening", Acta Metall. 27 (1979) 1085-1095: the 1-D equilibrium interface between the phases
           u = -1 and u = +1 of the double-well potential (1 - u^2)^2 / 4. Check: with z = x/(sqrt(2) eps),
           u' = (1 - u^2)/(sqrt(2) eps) and eps^2 u'' = -u (1 - u^2), so eps^2 u'' + u - u^3 = 0.

The equation is nonlinear and has other solutions (u = 0 solves the PDE, and other profiles meet other
boundary values); with these boundary values and small eps the kink is the stable one. Smaller ``epsilon``
gives a sharper interface.

Parameters (``make_problem`` overrides): ``epsilon`` (eps > 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"epsilon": 0.1}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [1, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 2000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "epsilon", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``tanh(x / (sqrt(2) eps))``. Shapes: ``(n_points, 1) -> (n_points,)``."""
    eps = _params(overrides)["epsilon"]
    return torch.tanh(points[:, 0] / (math.sqrt(2) * eps))


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``epsilon``."""
    eps = _params(overrides)["epsilon"]
    end = math.tanh(1 / (math.sqrt(2) * eps))
    # The end values as numbers: given as the formula of u, a hard-constrained solver would receive the
    # solution itself as its boundary extension.
    return kp.PDE(
        kp.Interval(-1, 1),
        lambda u: eps**2 * u.xx + u.value - u.value**3,
        bcs=[kp.Dirichlet(-end, on="left"), kp.Dirichlet(end, on="right")],
        exact=f"tanh(x/(sqrt(2)*{num(eps)}))",
        description=f"allen_cahn_kink: {eps}^2 u'' + u - u^3 = 0 on [-1, 1], u = tanh(x/(sqrt(2) {eps}))",
    )
