"""2-D Helmholtz equation with the solution sin(a pi x) sin(b pi y), written as a general PDE (kp.PDE).

PDE:       Laplace(u) + k^2 u = q,  q = (k^2 - (a^2 + b^2) pi^2) sin(a pi x) sin(b pi y)
Domain:    [-1, 1]^2
BCs:       u = 0 on the whole boundary (Dirichlet; the solver imposes it exactly on boxes)
Exact:     u = sin(a pi x) sin(b pi y), defaults a = 1, b = 4, k = 1
Source:    Wang, Teng & Perdikaris, "Understanding and mitigating gradient flow pathologies in physics-informed
           neural networks", SIAM J. Sci. Comput. 43(5), 2021 (the Helmholtz benchmark with a1 = 1, a2 = 4,
           k = 1). The y-frequency 4 makes the residual stiff for gradient descent: the benchmark behind adaptive
           loss weights. k^2 must stay off the Dirichlet eigenvalues (i^2 + j^2) pi^2 / 4 of the square for
           uniqueness (k = 1 is far below the first, pi^2/2).

Parameters (``make_problem`` overrides): ``wavenumber`` (k), ``a``, ``b`` (positive integers).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

PARAMETERS: dict[str, Any] = {"wavenumber": 1.0, "a": 1, "b": 4}
SMOOTH = True
SETTINGS: dict[str, Any] = {"width": [2, 20, 1], "grid_schedule": [5, 10, 20], "steps": 50, "n_interior": 4000}
BASELINE: dict[str, Any] | None = None


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "a", "b", problem=__name__)
    # -Laplace on [-1, 1]^2 with u = 0 has the eigenvalues (i^2 + j^2) pi^2 / 4, i, j >= 1.
    n = 4 * params["wavenumber"] ** 2 / math.pi**2
    m = round(n)
    if abs(n - m) < 1e-9 * max(n, 1.0) and any(_is_square(m - i * i) for i in range(1, math.isqrt(max(m, 0)) + 1)):
        raise ValueError(f"{__name__}: k^2 = {params['wavenumber'] ** 2} is a Dirichlet eigenvalue of the square")
    return params


def _is_square(n: int) -> bool:
    return n > 0 and math.isqrt(n) ** 2 == n


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(a pi x) sin(b pi y)``. Shapes: ``(n_points, 2) -> (n_points,)``."""
    p = _params(overrides)
    return torch.sin(p["a"] * math.pi * points[:, 0]) * torch.sin(p["b"] * math.pi * points[:, 1])


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``wavenumber``, ``a`` and ``b``."""
    p = _params(overrides)
    k, a, b = p["wavenumber"], p["a"], p["b"]
    k2 = k * k
    scale = k2 - (a * a + b * b) * math.pi**2

    def residual(u: Any) -> Tensor:
        x, y = u.coord("x"), u.coord("y")
        q = scale * torch.sin(a * math.pi * x) * torch.sin(b * math.pi * y)
        return u.laplacian + k2 * u.value - q

    return kp.PDE(
        kp.Rectangle((-1, -1), (1, 1)),
        residual,
        bcs=[kp.Dirichlet(0)],
        exact=f"sin({a}*pi*x)*sin({b}*pi*y)",
        description=f"helmholtz_2d: Laplace(u) + {k}^2 u = q on [-1, 1]^2, u = 0, exact sin({a} pi x) sin({b} pi y)",
    )
