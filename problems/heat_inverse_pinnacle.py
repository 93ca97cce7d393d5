"""PINNacle's HInv: a heat equation whose conductivity field a(x, y) is unknown, identified from noisy values of u.

PDE:       u_t - div(a grad u) = f, f = exp(-t) ((4 pi^2 - 1) sin(pi x) sin(pi y)
           + pi^2 (2 sin^2(pi x) sin^2(pi y) - cos^2(pi x) sin^2(pi y) - sin^2(pi x) cos^2(pi y)))
Domain:    (x, y) in [-1, 1]^2, t in [0, 1]
BCs:       none on u (as in PINNacle); a = 2 on the boundary (PINNacle's Dirichlet condition on a: its reference
           2 + sin(pi x) sin(pi y) is 2 there). kanpde has no condition on an unknown field, so the field is written
           a = 2 + (1 - x^2)(1 - y^2) b(x, y) with b a ``kp.UnknownField`` (a second KAN over (x, y)): the condition
           holds exactly. The data: ``n_data`` (default 2500) observations of u at points drawn uniformly in the
           space-time box (seeded), with Gaussian noise of standard deviation ``noise`` (default 0.1, as PINNacle);
           PINNacle reads its 2500 points from a file that is not available here, so the points differ.
Initial:   u(x, y, 0) = sin(pi x) sin(pi y). PINNacle gives none (its data carry u), but a time-dependent kanpde
           problem needs an initial value (``kp.PDE`` refuses one without), so this module gives u's own: information
           PINNacle's PINNs did not have, and errors are not directly comparable.
Exact:     u = exp(-t) sin(pi x) sin(pi y), a = 2 + sin(pi x) sin(pi y) (so b = sin(pi x) sin(pi y) / ((1 - x^2)
           (1 - y^2)), smooth; ``EXACT_UNKNOWNS`` gives it for the residual test)
Source:    Hao et al., "PINNacle: A Comprehensive Benchmark of Physics-Informed Neural Networks for Solving PDEs",
           NeurIPS 2024 (arXiv:2306.08827), problem HInv (``HeatInv`` in its ``src/pde/inverse.py``: the same PDE,
           source, domain, reference and noise). The source f is the one this u and a give (checked with sympy).

Parameters (``make_problem`` overrides): ``noise`` (standard deviation of the data's noise, >= 0), ``n_data``
(number of observations, integer >= 1).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

import kanpde as kp

from ._common import positive, resolve

PARAMETERS: dict[str, Any] = {"noise": 0.1, "n_data": 2500}
SMOOTH = True
# Measured (one thread, seed 0, the machine shared): these settings u 2.2e-2, a 5.2e-3 (relative L2) in 80 s CPU;
# the defaults (grids 5, 10, 30) u 2.5e-2, a 5.2e-3 in 147 s CPU; noiseless data (grid 5, 60 steps) u 1.1e-2.
SETTINGS: dict[str, Any] = {"width": [3, 10, 1], "grid_schedule": [5], "steps": 100}
BASELINE: dict[str, Any] | None = None
PI = math.pi
_DATA_SEED = 0


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    params = resolve(PARAMETERS, overrides, __name__)
    positive(params, "n_data", problem=__name__)
    if params["noise"] < 0:
        raise ValueError(f"{__name__}: parameter noise must be >= 0, got {params['noise']!r}")
    return params


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``exp(-t) sin(pi x) sin(pi y)``. Shapes: ``(n_points, 3) -> (n_points,)``, columns (x, y, t)."""
    _params(overrides)
    x, y, t = points.unbind(dim=1)
    return torch.exp(-t) * torch.sin(PI * x) * torch.sin(PI * y)


def exact_conductivity(points: Tensor) -> Tensor:
    """PINNacle's reference field ``a = 2 + sin(pi x) sin(pi y)``. Shapes: ``(n_points, >= 2) -> (n_points,)``."""
    return 2 + torch.sin(PI * points[:, 0]) * torch.sin(PI * points[:, 1])


def _bubble(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(1 - x^2)(1 - y^2)`` and its x- and y-derivatives."""
    return (1 - x**2) * (1 - y**2), -2 * x * (1 - y**2), -2 * y * (1 - x**2)


def _exact_b(points: Tensor) -> Tensor:
    """The unknown field's true values, ``(a - 2) / bubble``; at the boundary (where both vanish) its limit."""
    x, y = points[:, 0], points[:, 1]
    # sin(pi x) / (1 - x^2) = sin(pi (1 - x)) / ((1 - x)(1 + x)): written with sinc, it is smooth at x = +-1
    return _sinc_ratio(x) * _sinc_ratio(y)


def _sinc_ratio(x: Tensor) -> Tensor:
    """``sin(pi x) / (1 - x^2)``, smooth on [-1, 1]: ``pi sinc(1 - x) / (1 + x)`` for x >= 0,
    ``-pi sinc(1 + x) / (1 - x)`` below."""
    right = PI * torch.sinc(1 - x) / (1 + x).clamp_min(0.5)
    left = -PI * torch.sinc(1 + x) / (1 - x).clamp_min(0.5)  # sin(pi x) = -sin(pi (1 + x))
    return torch.where(x >= 0, right, left)


#: the unknown fields' true values (for the residual test, which binds them in place of the networks)
EXACT_UNKNOWNS = {"b": _exact_b}


def _source(x: Tensor, y: Tensor, t: Tensor) -> Tensor:
    sx, sy, cx, cy = torch.sin(PI * x), torch.sin(PI * y), torch.cos(PI * x), torch.cos(PI * y)
    return torch.exp(-t) * ((4 * PI**2 - 1) * sx * sy + PI**2 * (2 * sx**2 * sy**2 - cx**2 * sy**2 - sx**2 * cy**2))


def observations(noise: float, n_data: int) -> kp.Observations:
    """The data: ``n_data`` seeded uniform points in ``[-1, 1]^2 x [0, 1]`` and u there plus seeded noise."""
    generator = torch.Generator().manual_seed(_DATA_SEED)
    unit = torch.rand(n_data, 3, generator=generator, dtype=torch.float64)
    points = torch.stack([2 * unit[:, 0] - 1, 2 * unit[:, 1] - 1, unit[:, 2]], dim=1)
    values = exact_solution(points) + noise * torch.randn(n_data, generator=generator, dtype=torch.float64)
    return kp.Observations(points, values, name="u_data")


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``noise`` and ``n_data``."""
    p = _params(overrides)
    b = kp.UnknownField("b", width=[2, 5, 1])

    def residual(u: Any) -> Tensor:
        bu = b(u)
        x, y, t = u.coord("x"), u.coord("y"), u.coord("t")
        bubble, bubble_x, bubble_y = _bubble(x, y)
        a = 2 + bubble * bu.value
        a_x = bubble_x * bu.value + bubble * bu.x
        a_y = bubble_y * bu.value + bubble * bu.y
        return u.t - (a * (u.xx + u.yy) + a_x * u.x + a_y * u.y) - _source(x, y, t)

    return kp.PDE(
        kp.Rectangle((-1, -1), (1, 1)),
        residual,
        time=(0.0, 1.0),
        initial="sin(pi*x)*sin(pi*y)",
        data=[observations(p["noise"], p["n_data"])],
        unknowns=[b],
        exact="exp(-t)*sin(pi*x)*sin(pi*y)",
        description=f"heat_inverse_pinnacle (PINNacle's HInv): u_t - div(a grad u) = f on [-1, 1]^2 x [0, 1], "
        f"a = 2 + (1 - x^2)(1 - y^2) b unknown, {p['n_data']} observations of u with noise {p['noise']}",
    )
