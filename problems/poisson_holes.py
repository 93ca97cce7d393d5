"""2-D Laplace equation on a square with four circular holes, a harmonic solution with logarithmic layers.

PDE:       -Laplace(u) = 0
Domain:    the square [-1, 1]^2 minus four disks of radius r (default 0.2) centred at (+-0.5, +-0.5):
           ``kp.Rectangle((-1, -1), (1, 1)) - kp.Disk(c1, r) - ... - kp.Disk(c4, r)``
BCs:       u = exact solution on the outer square and on every hole (Dirichlet)
Exact:     u = (1/4) sum_i log(|p - c_i| / r): a sum of fundamental solutions of the Laplacian centred in the
           holes (harmonic wherever it is defined, so in the whole domain); u is near 0 on each hole and rises to
           about 0.9 at the square's corners: the boundary data, not a source, carry the solution.
Source:    the free-space Green's function of the 2-D Laplacian, log|p| / (2 pi) (e.g. Evans, *Partial
           Differential Equations*, sec. 2.2). The geometry is that of the field's multiply-connected Poisson
           benchmarks (a rectangle with circular holes, e.g. PINNacle's Poisson2d-C, Hao et al. 2023), with a
           closed-form solution so that errors are exact: there, a PINN must propagate boundary data through the
           whole domain, and an unbalanced loss converges to an almost constant u.

Parameters (``make_problem`` overrides): ``radius`` (0 < r < 0.5 keeps the holes apart and inside the square).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import num, positive, resolve

PARAMETERS: dict[str, Any] = {"radius": 0.2}
CENTRES = ((-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5))
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10], "steps": 100, "n_interior": 6000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "radius", problem=__name__)
    if params["radius"] >= 0.5:
        raise ValueError(f"{__name__}: radius must be < 0.5 so that the holes stay apart and inside the square")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``(1/4) sum_i log(|p - c_i| / r)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    r = _params(overrides)["radius"]
    x, y = points[:, 0], points[:, 1]
    total = torch.zeros_like(x)
    for cx, cy in CENTRES:
        total = total + torch.log(((x - cx) ** 2 + (y - cy) ** 2) / r**2) / 2
    return total / 4


def _formula(r: float) -> str:
    logs = " + ".join(f"log(((x - {num(cx)})**2 + (y - {num(cy)})**2)/{num(r * r)})/2" for cx, cy in CENTRES)
    return f"({logs})/4"


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``radius``."""
    r = _params(overrides)["radius"]
    domain: Any = kp.Rectangle((-1, -1), (1, 1))
    for centre in CENTRES:
        domain = domain - kp.Disk(centre, r)
    return kp.Poisson(
        domain,
        f=0,
        bcs=[kp.Dirichlet(_formula(r))],
        exact=_formula(r),
        description=f"poisson_holes: Laplace(u) = 0 on [-1, 1]^2 minus four disks of radius {r}, log layers",
    )
