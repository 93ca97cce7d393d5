"""kanpde: physics-informed PDE solving on Kolmogorov-Arnold Networks, and a fast general-purpose KAN library.

The public API (DESIGN.md's contract): geometry, conditions, problems, the solver, and the KAN. The PDE names are
imported on first use, so ``import kanpde.kan`` (or ``kanpde.KAN``) does not load sympy, h5py or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__ as __version__
from .kan import KAN as KAN
from .kan import KANLayer as KANLayer

_LAZY = {
    "Interval": "pde.shapes", "Rectangle": "pde.shapes", "Box": "pde.shapes", "Disk": "pde.shapes",
    "Polygon": "pde.shapes", "Union": "pde.csg", "Intersection": "pde.csg", "Difference": "pde.csg",
    "TimeInterval": "pde.spacetime", "Dirichlet": "pde.conditions", "Neumann": "pde.conditions",
    "Robin": "pde.conditions", "Periodic": "pde.conditions", "Problem": "pde.problem", "Poisson": "pde.problem",
    "Heat": "pde.problem", "PDE": "pde.problem", "Solver": "pde.solver", "Result": "pde.result",
    "AutoSchedule": "pde.refinement", "MeshDomain": "pde.mesh_geometry",
    "RAD": "pde.adaptive_sampling", "RAR": "pde.adaptive_sampling",
    "Ball": "pde.ball",
    "Wave": "pde.problem",
    "Unknown": "pde.unknowns", "UnknownField": "pde.unknowns", "Observations": "pde.observations",
    "Parameter": "pde.parameters",
    "Solution": "pde.solution", "TrainState": "pde.train_state",
}  # fmt: skip

__all__ = ["KAN", "KANLayer", "__version__", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), also=__all__)


if TYPE_CHECKING:
    from .pde.adaptive_sampling import RAD as RAD
    from .pde.adaptive_sampling import RAR as RAR
    from .pde.ball import Ball as Ball
    from .pde.conditions import Dirichlet as Dirichlet
    from .pde.conditions import Neumann as Neumann
    from .pde.conditions import Periodic as Periodic
    from .pde.conditions import Robin as Robin
    from .pde.csg import Difference as Difference
    from .pde.csg import Intersection as Intersection
    from .pde.csg import Union as Union
    from .pde.mesh_geometry import MeshDomain as MeshDomain
    from .pde.observations import Observations as Observations
    from .pde.parameters import Parameter as Parameter
    from .pde.problem import PDE as PDE
    from .pde.problem import Heat as Heat
    from .pde.problem import Poisson as Poisson
    from .pde.problem import Problem as Problem
    from .pde.problem import Wave as Wave
    from .pde.refinement import AutoSchedule as AutoSchedule
    from .pde.result import Result as Result
    from .pde.shapes import Box as Box
    from .pde.shapes import Disk as Disk
    from .pde.shapes import Interval as Interval
    from .pde.shapes import Polygon as Polygon
    from .pde.shapes import Rectangle as Rectangle
    from .pde.solution import Solution as Solution
    from .pde.solver import Solver as Solver
    from .pde.spacetime import TimeInterval as TimeInterval
    from .pde.train_state import TrainState as TrainState
    from .pde.unknowns import Unknown as Unknown
    from .pde.unknowns import UnknownField as UnknownField
