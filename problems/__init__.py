"""The reference problem suite: PDEs with exact solutions, one module per problem (not part of the wheel).

Every module exposes:

- a docstring stating the PDE, the domain, the boundary/initial conditions, the exact solution and its source;
- ``make_problem(**overrides) -> kp.Problem``: the problem, with parameters (listed in ``PARAMETERS``, with
  their defaults) overridable by keyword; an unknown keyword is a TypeError;
- ``exact_solution(points, **overrides) -> Tensor``: the exact solution in torch, ``(n_points, n_coords) ->
  (n_points,)`` (columns x, y, z then t), written independently of the problem's ``exact`` expression;
- ``SETTINGS``: recommended solver settings (``width``, ``grid_schedule``, ``steps``, and ``n_interior`` unless
  the solver's default is meant);
- ``BASELINE``: published or measured reference figures (``{"source": ..., "rel_l2": ..., ...}``) or None;
- ``SMOOTH``: whether the solution is smooth (the 1e-4 accuracy target applies) or not.

Example:
    >>> import problems, kanpde as kp
    >>> module = problems.load("poisson_1d")
    >>> settings = module.SETTINGS
    >>> solver = kp.Solver(module.make_problem(), width=settings["width"], n_interior=settings.get("n_interior"))
    >>> result = solver.solve(grid_schedule=settings["grid_schedule"], steps=settings["steps"], progress=False)
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["PROBLEMS", "load"]

#: every problem: name -> module name (in this package)
PROBLEMS: dict[str, str] = {
    "poisson_1d": "poisson_1d",
    "poisson_1d_neumann": "poisson_1d_neumann",
    "poisson_1d_robin": "poisson_1d_robin",
    "poisson_1d_periodic": "poisson_1d_periodic",
    "poisson_2d_sin": "poisson_2d_sin",
    "poisson_2d_sin_y2": "poisson_2d_sin_y2",
    "laplace_2d_sinh": "laplace_2d_sinh",
    "poisson_2d_csg": "poisson_2d_csg",
    "poisson_3d": "poisson_3d",
    "poisson_lshape": "poisson_lshape",
    "poisson_gaussian_bump": "poisson_gaussian_bump",
    "heat_1d": "heat_1d",
    "heat_1d_modes": "heat_1d_modes",
    "heat_1d_source": "heat_1d_source",
    "heat_2d": "heat_2d",
    "heat_neumann": "heat_neumann",
    "heat_kernel": "heat_kernel",
    "helmholtz_2d": "helmholtz_2d",
    "burgers_1d": "burgers_1d",
    "allen_cahn_kink": "allen_cahn_kink",
    "allen_cahn": "allen_cahn",
    "poisson_holes": "poisson_holes",
    "heat_multiscale": "heat_multiscale",
    "burgers_raissi": "burgers_raissi",
    "poisson_5d": "poisson_5d",
    "poisson_10d": "poisson_10d",
    "wave_1d": "wave_1d",
    "wave_1d_long": "wave_1d_long",
    "wave_1d_c": "wave_1d_c",
    "poisson_nd_pinnacle": "poisson_nd_pinnacle",
    "poisson_2d_c_pinnacle": "poisson_2d_c_pinnacle",
    "heat_inverse_pinnacle": "heat_inverse_pinnacle",
    "heat_nd_pinnacle": "heat_nd_pinnacle",
    "convection": "convection",
}


def load(name: str) -> ModuleType:
    """The module of the problem ``name`` (a key of ``PROBLEMS``).

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    if name not in PROBLEMS:
        raise KeyError(f"unknown problem {name!r}; known problems: {', '.join(sorted(PROBLEMS))}")
    return importlib.import_module(f".{PROBLEMS[name]}", __name__)
