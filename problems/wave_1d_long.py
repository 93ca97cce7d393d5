"""The two standing modes of ``wave_1d`` over a long horizon: five periods of the fundamental, fifteen of the third.

PDE:       u_tt - c^2 u_xx = 0, wave speed c (default 1)
Domain:    x in [0, 1], t in [0, t1] (default t1 = 10)
BCs:       u(0, t) = u(1, t) = 0 (Dirichlet)
Initial:   u(x, 0) = sin(pi x), u_t(x, 0) = 3 pi c b sin(3 pi x)
Exact:     u = sin(pi x) cos(pi c t) + b sin(3 pi x) sin(3 pi c t), amplitude b (default 0.5)
Source:    as ``wave_1d`` (separation of variables for the vibrating string, e.g. Strauss, *Partial Differential
           Equations: An Introduction*, sec. 4.1); this is that problem with ``t1 = 10``.
           One space-time network does not learn it (relative L2 45.8, grids 5, 10, 40 steps, 1000 points); time
           marching in ten windows of length 1 does (the SETTINGS below; docs/benchmarks.md, "Harder problems").

Parameters (``make_problem`` overrides): ``speed`` (c > 0), ``amplitude`` (b), ``t1`` (> 0).
"""

from __future__ import annotations

import copy
from typing import Any

from torch import Tensor

import kanpde as kp

from . import wave_1d
from ._common import resolve

PARAMETERS: dict[str, Any] = {**wave_1d.PARAMETERS, "t1": 10.0}
SMOOTH = True
# Ten windows of length 1 (1.5 periods of the third mode each), each one grid-10 stage of 60 Levenberg-Marquardt
# steps; later windows fit the handed-over initial data by the loss (kanpde.pde.time_windows), weighted 10 (measured
# over t1 = 10: 5.9e-4 in 113 s CPU; with weights 1 1.1e-3). A first stage on grid 5 made it worse: that stage
# does not fit, its hidden values leave [-1, 1] and grid extension then gives the second layer about 4x the
# parameters (Levenberg-Marquardt steps of 2.5 s instead of 0.2 s).
# The defaults (kp.Solver(problem).solve()) choose five windows (15 periods of the third mode, at most 3 per window:
# kanpde.pde.time_scales) and reach 5.2e-4 in 275 s CPU (one space-time network with the defaults: 1.44).
SETTINGS: dict[str, Any] = {**copy.deepcopy(wave_1d.SETTINGS), "time_windows": 10}  # its own lists and dicts
BASELINE: dict[str, Any] | None = None


def _overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    return resolve(PARAMETERS, overrides, __name__)


def exact_solution(points: Tensor, **overrides: Any) -> Tensor:
    """``sin(pi x) cos(pi c t) + b sin(3 pi x) sin(3 pi c t)``. Shapes: ``(n_points, 2) -> (n_points,)``, columns
    (x, t)."""
    return wave_1d.exact_solution(points, **_overrides(overrides))


def make_problem(**overrides: Any) -> kp.Problem:
    """The problem; ``overrides`` may set ``speed``, ``amplitude`` and ``t1``."""
    return wave_1d.make_problem(**_overrides(overrides))
