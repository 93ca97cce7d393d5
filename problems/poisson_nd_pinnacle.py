"""PINNacle's PNd: the 5-D Poisson equation on the unit hypercube with the solution sum_i sin(pi x_i / 2).

PDE:       -Laplace(u) = f,  f = pi^2 / 4 sum_{i=1..5} sin(pi x_i / 2)
Domain:    [0, 1]^5 (coordinates x1 ... x5)
BCs:       u = sum_i sin(pi x_i / 2) on the whole boundary, given face by face as its traces (on x_i = 0 the sum
           over j != i, on x_i = 1 one plus it): 2 d Dirichlet conditions, kept as loss terms. One condition with
           the solution's own formula would hand the solver the answer (its exact lift is that formula).
Exact:     u = sum_{i=1..5} sin(pi x_i / 2)
Source:    the high-dimensional Poisson problem "PNd" of the PINNacle benchmark (Hao et al. 2023, arXiv
           2306.08827; ``PoissonND(dim=5)`` in ``src/pde/poisson.py`` of its repository): the same equation,
           domain, boundary data and solution. A sum of one-dimensional functions, which a KAN's first layer
           holds exactly (``poisson_5d``'s product of sines is the harder 5-D problem of this suite).

Parameters (``make_problem`` overrides): ``dim`` (the dimension, an integer >= 2; PINNacle's case is 5).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import coordinate_names, positive, resolve

PARAMETERS: dict[str, Any] = {"dim": 5}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [5, 5, 1], "grid_schedule": [3, 6], "steps": 30, "n_interior": 2000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "dim", problem=__name__)
    if not isinstance(params["dim"], int) or params["dim"] < 2:
        raise ValueError(f"{__name__}: dim must be an integer >= 2, got {params['dim']!r}")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sum_i sin(pi x_i / 2)``. Shapes: ``(n_points, dim) -> (n_points,)``."""
    _params(overrides)
    return torch.sin(math.pi / 2 * points).sum(dim=1)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` as in the module docstring."""
    d = _params(overrides)["dim"]
    box = kp.Box([0] * d, [1] * d)
    terms = [f"sin(pi*{x}/2)" for x in coordinate_names(d)]
    u = " + ".join(terms)
    bcs = []
    for i in range(d):  # side_names: (min, max) of each axis in turn
        rest = " + ".join(term for j, term in enumerate(terms) if j != i)
        bcs += [kp.Dirichlet(rest, on=box.side_names[2 * i]), kp.Dirichlet(f"1 + {rest}", on=box.side_names[2 * i + 1])]
    return kp.Poisson(
        box,
        f=f"pi**2/4*({u})",
        bcs=bcs,
        exact=u,
        description=f"poisson_nd_pinnacle: PINNacle's PNd, -Laplace(u) = pi^2/4 sum sin(pi x_i/2) on [0, 1]^{d}",
    )
