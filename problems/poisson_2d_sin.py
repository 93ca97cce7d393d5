"""2-D Poisson equation with the solution sin(pi x) sin(pi y): the default problem of kanpde.

PDE:       -Laplace(u) = f,  f = 2 (m pi)^2 sin(m pi x) sin(m pi y)
Domain:    [-1, 1]^2
BCs:       u = 0 on the whole boundary (Dirichlet; the solver imposes it exactly on boxes)
Exact:     u = sin(m pi x) sin(m pi y), m = ``frequency`` (default 1)
Source:    the pykan PDE tutorial (pykan docs, "Example 6: Solving Partial Differential Equation (PDE)",
           which solves Laplace(u) = -2 pi^2 sin(pi x) sin(pi y) on [-1, 1]^2 with zero boundary values).

Reference figures (``BASELINE``), measured side by side on a 2-core machine in float64 and listed in the
project's bench README (``shared/bench/README.md``): pykan's tutorial approach, width [2, 10, 1] with grids
5, 10, 20, reached a relative L2 error of about 1e-2 in about 64 s; a DeepXDE tanh MLP [2, 20, 20, 20, 1]
(Adam then L-BFGS) about 9e-4 in 80 s; a 5-point finite-difference solve 1.3e-5 on a 512^2 grid in 2.4 s.
DESIGN.md's time-to-accuracy targets for kanpde on this problem are 1e-4 within 15 s and 1e-5 within 60 s
(1 thread).

Parameters (``make_problem`` overrides): ``frequency`` (positive integer m).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

PARAMETERS: dict[str, Any] = {"frequency": 1}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 30], "steps": 100}
BASELINE: dict[str, Any] | None = {
    "source": "pykan 0.2.8 tutorial approach, width [2, 10, 1], grids 5, 10, 20 (shared/bench/README.md)",
    "rel_l2": 1e-2,
    "seconds": 64.0,
    "others": [
        {"source": "DeepXDE tanh MLP [2, 20, 20, 20, 1], Adam then L-BFGS (shared/bench/README.md)",
         "rel_l2": 9e-4, "seconds": 80.0},
        {"source": "5-point finite differences on a 512^2 grid (shared/bench/README.md)",
         "rel_l2": 1.3e-5, "seconds": 2.4},
    ],
}  # fmt: skip


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "frequency", problem=__name__)
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(m pi x) sin(m pi y)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    m = _params(overrides)["frequency"]
    return torch.sin(m * math.pi * points[:, 0]) * torch.sin(m * math.pi * points[:, 1])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``frequency``."""
    m = _params(overrides)["frequency"]
    return kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)),
        f=f"2*({m}*pi)**2*sin({m}*pi*x)*sin({m}*pi*y)",
        bcs=[kp.Dirichlet(0)],
        exact=f"sin({m}*pi*x)*sin({m}*pi*y)",
        description=f"poisson_2d_sin: -Laplace(u) = 2 (m pi)^2 sin(m pi x) sin(m pi y) on [-1, 1]^2, u = 0, m = {m}",
    )
