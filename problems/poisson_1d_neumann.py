"""1-D Poisson equation with a Neumann condition on one end and a Dirichlet condition on the other.

PDE:       -u''(x) = f(x),  f = -2
Domain:    x in [0, 1]
BCs:       du/dn = -2 at x = 0 (Neumann; the outward normal there is -x, so this is u'(0) = 2),
           u(1) = 4 (Dirichlet)
Exact:     u = (x + 1)^2
Source:    a manufactured solution for the mixed Dirichlet/Neumann two-point boundary value problem
           (LeVeque, *Finite Difference Methods for ODEs and PDEs*, SIAM 2007, sec. 2.12 treats this setting).
           The flux is given on the left end on purpose: it checks the sign of the outward normal.

The solution is a quadratic, so a KAN with cubic splines can represent it exactly.

Parameters: none.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

import kanpde as kp

from ._common import resolve

PARAMETERS: dict[str, Any] = {}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [1, 5, 1], "grid_schedule": [5], "steps": 30, "n_interior": 500}
BASELINE: dict[str, Any] | None = None


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``(x + 1)^2``. Shapes: ``(n_points, 1) -> (n_points,)``."""
    resolve(PARAMETERS, overrides, __name__)
    return (points[:, 0] + 1) ** 2


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem (it has no parameters; any override is an error)."""
    resolve(PARAMETERS, overrides, __name__)
    return kp.Poisson(
        kp.Interval(0, 1),
        f=-2,
        bcs=[kp.Neumann(-2, on="left"), kp.Dirichlet(4, on="right")],
        exact="(x + 1)**2",
        description="poisson_1d_neumann: -u'' = -2 on [0, 1], du/dn(0) = -2, u(1) = 4",
    )
