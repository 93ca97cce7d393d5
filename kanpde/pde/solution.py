"""Solution: what training leaves behind, as a value that outlives the solver.

A :class:`Solution` holds the trained trial function (the KAN with its coordinate scaling, hard constraint and
identified unknowns), the problem, the settings it was trained with, the history and the result of the last solve.
It evaluates the solution (values, derivatives, PDE residual, errors against the exact solution) and is what
:mod:`kanpde.io`, :mod:`kanpde.plot` and :mod:`kanpde.symbolic` read: they use its public methods only, never the
solver's training state. ``solver.solution`` and ``result.solution`` give one (a copy: training the solver further
does not change it); :meth:`Solution.load` reads one from a checkpoint.

Example:
    >>> import torch, kanpde as kp
    >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    >>> solver = kp.Solver(problem, width=[1, 5, 1], seed=0)
    >>> solution = solver.solve(grid_schedule=[5], steps=50, progress=False).solution
    >>> solution.rel_l2 < 1e-3 and solution.predict(torch.tensor([[0.5]], dtype=torch.float64)).shape == (1,)
    True
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..kan import KAN
from .approximation import Approximation
from .fields import JetRequest
from .problem import Problem
from .residuals import pde_residual
from .result import Result, StepRecord

if TYPE_CHECKING:
    from .parameters import MemberErrors

__all__ = ["Solution", "as_solution"]

#: Seed offset of the test points (the solver's seed plus this), shared by the errors and the grid-extension ranges.
TEST_SEED_OFFSET = 7919


class Solution:
    """A trained solution ``u(x)`` of a problem, with the settings, history and metrics of its training.

    Args:
        approximation: the trial function ``u = b N(s (x - c)) + g`` (``b = 1, g = 0`` without a hard constraint;
            identified unknowns as ``approximation.inverse``). Kept as given: pass a copy to keep a snapshot.
        problem: the problem it solves.
        settings: the solver's constructor arguments (see :meth:`kanpde.Solver.settings`).
        request: the derivatives the PDE residual reads (found when the solver was built).
        history: the training history, one record per step.
        result: the result of the last solve (None before any).

    Attributes:
        problem: the problem.
        approximation: the trial function (a ``torch.nn.Module``; points in problem coordinates).
        settings: the constructor arguments of the solver that trained it (a copy).
        history: one :class:`~kanpde.pde.result.StepRecord` per recorded step.
        result: the :class:`~kanpde.pde.result.Result` of the last solve, or None.
    """

    def __init__(
        self,
        approximation: Approximation,
        problem: Problem,
        *,
        settings: Mapping[str, Any],
        request: JetRequest,
        history: Sequence[StepRecord] = (),
        result: Result | None = None,
    ) -> None:
        from .time_windows import PiecewiseInTime  # a time-marching solve: one approximation per window

        if not isinstance(approximation, (Approximation, PiecewiseInTime)):
            raise TypeError(f"approximation must be a kanpde Approximation, got {type(approximation).__name__}")
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be a kanpde problem (kp.Poisson, kp.PDE, ...), got {type(problem).__name__}")
        self.approximation = approximation
        self.problem = problem
        self.settings = dict(settings)
        self.request = request
        self.history = list(history)
        self.result = result

    def copied(self) -> Solution:
        """A snapshot: the same solution with its own copy of the network (later training leaves it unchanged)."""
        return Solution(
            copy.deepcopy(self.approximation), self.problem, settings=self.settings, request=self.request,
            history=self.history, result=self.result,
        )  # fmt: skip

    # -- what it is --------------------------------------------------------------------------------------------
    @property
    def windows(self) -> int:
        """Time windows of the solve that made it (1 without ``time_windows``): the solution is piecewise in time,
        one network per window."""
        return len(getattr(self.approximation, "windows", ())) or 1

    def _one_network(self, what: str) -> None:
        """Refuse ``what`` for a piecewise-in-time solution, which no single network or formula describes."""
        if hasattr(self.approximation, "windows"):  # one window too: a windowed solve cut short by Ctrl-C
            count = f"{self.windows} time window" + ("s" if self.windows > 1 else "")
            raise ValueError(
                f"{what} needs one network, but this solution is piecewise in time ({count}): "
                "predict, errors, plots and exports cover the whole interval; solve with time_windows=1 for it"
            )

    @property
    def model(self) -> KAN:
        """The KAN (on coordinates scaled to [-1, 1])."""
        return self.approximation.model

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    @property
    def dtype(self) -> torch.dtype:
        dtype: torch.dtype = self.settings["dtype"]
        return dtype

    @property
    def device(self) -> torch.device:
        return torch.device(self.settings["device"])

    @property
    def chunk_size(self) -> int:
        """Most points evaluated at once."""
        return int(self.settings["chunk_size"])

    @property
    def grid_size(self) -> int:
        return int(self.model.grid_size)

    @property
    def field_coords(self) -> dict[str, tuple[str, ...]]:
        """The coordinates of each identified unknown field, by name (empty without unknown fields)."""
        inverse = getattr(self.approximation, "inverse", None)
        if inverse is None:
            return {}
        return {name: tuple(inverse.field_coords(name)) for name in inverse.field_specs}

    @property
    def recipe(self) -> dict[str, Any] | None:
        """How to rebuild the problem, as data (see :mod:`kanpde.io.recipe`); None when it holds Python callables."""
        from ..io.recipe import problem_recipe

        return problem_recipe(self.problem)

    # -- metrics -----------------------------------------------------------------------------------------------
    @cached_property
    def _errors(self) -> tuple[float | None, float | None]:
        return self.errors()

    @property
    def rel_l2(self) -> float | None:
        """``||u - u_exact|| / ||u_exact||`` on the test points (None without an exact solution)."""
        return self._errors[0]

    @property
    def max_abs(self) -> float | None:
        """``max |u - u_exact|`` on the test points (None without an exact solution)."""
        return self._errors[1]

    @property
    def unknowns(self) -> dict[str, float]:
        """Identified values of the problem's unknown constants, by name (from the last solve; else empty)."""
        return dict(self.result.unknowns) if self.result is not None else {}

    @property
    def uncertainty(self) -> dict[str, float]:
        """Standard deviations of the identified constants, by name (from the last solve; else empty)."""
        return dict(self.result.uncertainty) if self.result is not None else {}

    def metrics(self) -> dict[str, Any]:
        """``rel_l2``, ``max_abs``, the number of trained parameters, steps, grid size and identified unknowns."""
        return {
            "rel_l2": self.rel_l2,
            "max_abs": self.max_abs,
            "n_parameters": sum(p.numel() for p in self.approximation.parameters()),
            "steps": len(self.history),
            "grid_size": self.grid_size,
            "unknowns": self.unknowns,
            "uncertainty": self.uncertainty,
        }

    # -- evaluation --------------------------------------------------------------------------------------------
    def test_points(self) -> Tensor:
        """The points of the error evaluation: ``n_test`` Halton points of the domain, ``(n_test, n_coords)``."""
        generator = torch.Generator().manual_seed(self.seed + TEST_SEED_OFFSET)
        return self.problem.domain.sample_interior(
            int(self.settings["n_test"]), generator=generator, sampler="halton", dtype=self.dtype, device=self.device
        )

    def predict(self, points: Tensor, *, derivative: str | Sequence[str] | None = None, **parameters: Any) -> Tensor:
        """The solution at ``points``: ``(n_points, n_coords) -> (n_points,)``, or ``(n_points, n_fields)``.

        For a parametric problem the points hold the parameter columns too, or the parameters are given by name
        (``predict(points, mu=1.3)``: a number, or one value per point); values outside a parameter's range warn
        (:class:`~kanpde.pde.parameters.ExtrapolationWarning`). ``derivative`` names a coordinate or parameter
        (or several, for a higher derivative): ``derivative="mu"`` gives the sensitivity ``du/dmu``.
        """
        from .parameters import with_parameters

        if not isinstance(points, Tensor):
            points = torch.as_tensor(points)
        points = with_parameters(self.problem, points.to(self.dtype), parameters).to(self.device)
        out = self.evaluate(points) if derivative is None else self.derivatives(points, derivative)
        return out[:, 0] if self.problem.n_fields == 1 else out

    def evaluate(self, points: Tensor) -> Tensor:
        """Every field at ``points`` (all coordinates given), ``(n_points, n_fields)``, without gradient."""
        with torch.no_grad():
            return torch.cat([self.approximation(part) for part in points.split(self.chunk_size)])

    def derivatives(self, points: Tensor, derivative: str | Sequence[str]) -> Tensor:
        """A partial derivative of every field by autograd, ``(n_points, n_fields)``; ``derivative`` names a
        coordinate, or several for a higher derivative (``("x", "x")``)."""
        names = [derivative] if isinstance(derivative, str) else list(derivative)
        coords = self.problem.coords
        if not names or any(not isinstance(n, str) or n not in coords for n in names):
            raise ValueError(f"derivative must name coordinates or parameters among {coords}, got {derivative!r}")
        parts = []
        for part in points.split(self.chunk_size):
            x = part.detach().requires_grad_(True)
            with torch.enable_grad():
                out = self.approximation(x)
                columns = []
                for field in range(out.shape[1]):
                    value = out[:, field]
                    for name in names:
                        (grad,) = torch.autograd.grad(
                            value.sum(), x, create_graph=True, allow_unused=True, materialize_grads=True
                        )
                        value = grad[:, coords.index(name)]
                    columns.append(value.detach())
            parts.append(torch.stack(columns, dim=1))
        return torch.cat(parts)

    def residual(self, points: Tensor) -> Tensor:
        """The PDE residual at ``points`` (no gradient), ``(n_points, n_equations)``."""
        parts = []
        for part in points.split(self.chunk_size):
            # Order-3 residuals differentiate through the points by autograd, which needs gradients on.
            with contextlib.nullcontext() if self.request.autograd else torch.no_grad():
                parts.append(pde_residual(self.approximation, self.problem, part, self.request).detach())
        return torch.cat(parts) if parts else points.new_zeros((0, 1))

    def errors(self, points: Tensor | None = None) -> tuple[float | None, float | None]:
        """Relative L2 and maximum absolute error against the exact solution (None, None without one), on
        ``points`` (default: :meth:`test_points`)."""
        if self.problem.exact is None:
            return None, None
        points = self.test_points() if points is None else points
        with torch.no_grad():
            exact = self.problem.exact_values(points)
            assert exact is not None
            diff = self.evaluate(points) - exact
        rel = float(diff.norm() / exact.norm().clamp_min(torch.finfo(self.dtype).tiny))
        return rel, float(diff.abs().max())

    def errors_at(self, **parameters: Any) -> list[MemberErrors]:
        """Errors against the exact solution at given parameter values (a parametric problem), e.g.
        ``errors_at(mu=[0.5, 1, 2])``; see :func:`kanpde.pde.parameters.errors_at`."""
        from .parameters import errors_at

        return errors_at(self, parameters)

    def unknown_field(self, name: str) -> Callable[[Tensor], Tensor]:
        """The identified :class:`~kanpde.pde.unknowns.UnknownField` ``name`` as a callable
        ``(n_points, n_coords) -> (n_points,)`` (the problem's coordinates; those the field ignores are unused)."""
        from .identification import unknown_field

        return unknown_field(self, name)

    # -- results out: thin wrappers over kanpde.io, kanpde.symbolic and kanpde.plot (imported on use) ------------
    def export_hdf5(self, path: str | os.PathLike[str], **options: Any) -> tuple[Any, Any]:
        """Write the solution field to ``path`` (HDF5) and an XDMF companion; see :func:`kanpde.io.export_hdf5`."""
        from ..io.hdf5 import export_hdf5

        return export_hdf5(self, path, **options)

    def export_mesh(self, path: str | os.PathLike[str], **options: Any) -> Any:
        """Write the solution with meshio, format by suffix (.vtu, .vtk, ...); see :func:`kanpde.io.export_mesh`."""
        from ..io.mesh import export_mesh

        return export_mesh(self, path, **options)

    def symbolic(self, field: str | None = None, **options: Any) -> Any:
        """The solution as one sympy expression in the coordinates (see :func:`kanpde.symbolic.solution_formula`);
        ``field="a"``: the formula of the identified unknown field ``a`` (:func:`kanpde.symbolic.field_formula`)."""
        from ..symbolic.solution import field_formula, solution_formula

        self._one_network("symbolic()")
        if field is not None:
            return field_formula(self, field, **options)
        return solution_formula(self, **options).expr

    def plot(self, path: str | os.PathLike[str] | None = None, **options: Any) -> Any:
        """The solution (and its error or residual) as a matplotlib Figure, saved as PNG when ``path`` is given."""
        from ..plot.fields import plot_solution

        return plot_solution(self, path, **options)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, problem: Problem | None = None, device: torch.device | str | None = None
    ) -> Solution:
        """The solution in a checkpoint written by ``solver.save`` (data only; ``problem=`` when the saved problem
        holds Python callables, see :func:`kanpde.io.checkpoint.load_checkpoint`)."""
        from ..io.checkpoint import load_checkpoint

        return load_checkpoint(path, problem=problem, device=device).solution

    def __repr__(self) -> str:
        return (
            f"Solution({type(self.problem).__name__}, width={self.model.width}, grid={self.grid_size}, "
            f"steps={len(self.history)})"
        )


def as_solution(source: object, what: str = "solution") -> Solution:
    """``source`` when it is a :class:`Solution`, else ``source.solution`` (a :class:`~kanpde.Solver` or a
    :class:`~kanpde.pde.result.Result` of a solve).

    Raises:
        TypeError: ``source`` is neither (the message names ``what``).
    """
    if isinstance(source, Solution):
        return source
    if not isinstance(source, (str, bytes, Tensor)):
        solution = getattr(source, "solution", None)
        if isinstance(solution, Solution):
            return solution
    raise TypeError(f"{what} must be a kp.Solution or a kp.Solver, got {type(source).__name__}")
