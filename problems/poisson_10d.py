"""10-D Poisson equation in the unit ball, solution (1 - |x|^2)(1 + x1 x2 + x3 x4 + ... + x9 x10).

PDE:       -Laplace(u) = f,  f = 2 d + (2 d + 8) h  with  d = 10,  h = sum_{k=1..5} x_{2k-1} x_{2k}
Domain:    the unit ball |x| <= 1 in R^10 (``kp.Ball``; it fills 0.25 % of its bounding box, so points are placed
           by a radial map, not by rejection)
BCs:       u = 0 on the sphere (Dirichlet; the solver imposes it exactly with the ball's distance function)
Exact:     u = (1 - |x|^2)(1 + h)
Source:    manufactured: h is a harmonic polynomial, homogeneous of degree 2, so with phi = 1 - |x|^2
           Laplace(phi h) = h Laplace(phi) + 2 grad(phi) . grad(h) = -2 d h - 4 (x . grad h) = -(2 d + 8) h
           (Euler's identity x . grad h = 2 h), and Laplace(phi) = -2 d. The harmonic part h is modelled on
           the boundary data of the 10-D Laplace example of the Deep Ritz method (E & Yu, 2018, "The Deep Ritz
           method", Commun. Math. Stat. 6), multiplied by phi so that the problem lives in a ball with zero
           boundary values. Measured (SETTINGS, seed 0, 1 thread, busy 2-core machine): rel L2 4.3e-5 in 164 s.

Parameters (``make_problem`` overrides): ``scale`` (the factor a of h: u = (1 - |x|^2)(1 + a h)).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

import kanpde as kp

from ._common import num, resolve

DIM = 10
PARAMETERS: dict[str, Any] = {"scale": 1.0}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [DIM, 10, 1], "grid_schedule": [3], "steps": 30, "n_interior": 3000}
BASELINE: dict[str, Any] | None = None


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``(1 - |x|^2)(1 + a h)``. Shapes: ``(n_points, 10) -> (n_points,)``."""
    a = resolve(PARAMETERS, overrides, __name__)["scale"]
    h = (points[:, 0::2] * points[:, 1::2]).sum(dim=1)
    return (1 - (points**2).sum(dim=1)) * (1 + a * h)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` as in the module docstring."""
    a = resolve(PARAMETERS, overrides, __name__)["scale"]
    h = " + ".join(f"x{2 * k - 1}*x{2 * k}" for k in range(1, DIM // 2 + 1))
    r2 = " + ".join(f"x{i}**2" for i in range(1, DIM + 1))
    return kp.Poisson(
        kp.Ball([0] * DIM, 1.0),
        f=f"{2 * DIM} + {2 * DIM + 8}*{num(a)}*({h})",
        bcs=[kp.Dirichlet(0)],
        exact=f"(1 - ({r2}))*(1 + {num(a)}*({h}))",
        description=f"poisson_10d: -Laplace(u) = 20 + 28 a h (a = {a:g}, h = x1 x2 + ... + x9 x10) in the unit 10-ball",
    )
