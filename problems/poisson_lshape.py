"""Laplace equation on the L-shaped domain: the re-entrant corner singularity r^(2/3) sin(2 theta/3).

PDE:       -Laplace(u) = 0
Domain:    the L-shaped polygon [-1, 1]^2 minus the quadrant (0, 1] x [-1, 0), vertices
           (-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1); the interior angle at the origin is 3 pi/2
BCs:       u = exact solution on the whole boundary (Dirichlet; it vanishes on the two edges at the origin)
Exact:     u = r^(2/3) sin(2 theta/3), (r, theta) polar coordinates with theta in [0, 3 pi/2] measured from the
           positive x axis through the domain. It is harmonic but its gradient is unbounded at the origin:
           u is in H^(1 + 2/3 - eps) only, so it is NOT smooth (``SMOOTH = False``).
Source:    the corner singularity of elliptic problems on polygons, Grisvard, *Elliptic Problems in Nonsmooth
           Domains* (Pitman 1985): near a corner of angle omega the solution behaves like
           r^(pi/omega) sin(pi theta/omega), here omega = 3 pi/2. The standard benchmark of adaptive finite elements
           (e.g. Mitchell, "A collection of 2D elliptic problems for testing adaptive grid refinement algorithms",
           Appl. Math. Comput. 220, 2013, the "reentrant corner" problem).

Implementation note: theta in [0, 3 pi/2] is written with atan2 rotated so that the branch cut of atan2 falls in
the removed quadrant: with phi = atan2(-(x + y), y - x) in [-3 pi/4, 3 pi/4] on the domain, theta = phi + 3 pi/4
and sin(2 theta/3) = cos(2 phi/3).

Measured with kanpde 0.1.0 while this suite was written (seed 0, one thread, ``SETTINGS``): relative L2 error
1.2e-2, max error 0.10 (at the corner); grid extension 5 -> 10 -> 20 lowered it only from 3.0e-2, as expected
for a singular solution approximated by uniform knots.

Parameters: none.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import resolve

PARAMETERS: dict[str, Any] = {}
VERTICES = ((-1.0, -1.0), (0.0, -1.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (-1.0, 1.0))
SMOOTH = False
SETTINGS: dict[str, Any] = {"width": [2, 10, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``r^(2/3) sin(2 theta/3)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    resolve(PARAMETERS, overrides, __name__)
    x, y = points[:, 0], points[:, 1]
    phi = torch.atan2(-(x + y), y - x)
    return (x**2 + y**2) ** (1 / 3) * torch.cos(2 * phi / 3)


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem (it has no parameters; any override is an error)."""
    resolve(PARAMETERS, overrides, __name__)
    exact = "(x**2 + y**2)**(1/3)*cos(2*atan2(-x - y, y - x)/3)"
    return kp.Poisson(
        kp.Polygon(VERTICES),
        f=0,
        bcs=[kp.Dirichlet(exact)],
        exact=exact,
        description="poisson_lshape: Laplace(u) = 0 on the L-shape, u = r^(2/3) sin(2 theta/3) on the boundary",
    )
