"""1-D convection with a large speed, periodic in x: the failure-mode benchmark of the PINN literature.

PDE:       u_t + beta u_x = 0, speed beta (default 30)
Domain:    x in [0, 2 pi], t in [0, t1] (default t1 = 1)
BCs:       periodic in x: u(0, t) = u(2 pi, t) and u_x(0, t) = u_x(2 pi, t) (kp.Periodic)
Initial:   u(x, 0) = sin(x)
Exact:     u = sin(x - beta t) (the initial profile carried at speed beta: beta t1 / (2 pi) = 4.8 periods in t)
Source:    Krishnapriyan, Gholami, Zhe, Kirby & Mahoney, "Characterizing possible failure modes in physics-informed
           neural networks", NeurIPS 2021, sec. 3.1: plain PINNs learn this problem for small beta and fail from
           about beta = 30 on (a smooth, nearly constant-in-t wrong solution), which curriculum training and
           sequence-to-sequence learning (time marching) remedy; a public reproduction of the sweep measured 1.92e-2 at
           beta = 20 and 1.10 at beta = 30 (sciml-book, "When vanilla PINNs fail on convection").

Parameters (``make_problem`` overrides): ``beta`` (> 0), ``t1`` (> 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"beta": 30.0, "t1": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 30], "steps": 100, "time_windows": 2}
BASELINE: dict[str, Any] | None = None  # no published figure for a method that learns it, read here


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "beta", "t1", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(x - beta t)``. Shapes: ``(n_points, 2) -> (n_points,)`` with columns (x, t)."""
    beta = _params(overrides)["beta"]
    return torch.sin(points[:, 0] - beta * points[:, 1])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``beta`` and ``t1``."""
    p = _params(overrides)
    beta = p["beta"]
    return kp.PDE(
        kp.Interval(0, 2 * math.pi),
        lambda u: u.t + beta * u.x,
        bcs=[kp.Periodic("x")],
        time=(0.0, p["t1"]),
        initial="sin(x)",
        exact=f"sin(x - {num(beta)}*t)",
        description=f"convection: u_t + {beta:g} u_x = 0 on [0, 2 pi] x [0, {p['t1']:g}], periodic in x, "
        "u(x, 0) = sin(x)",
    )
