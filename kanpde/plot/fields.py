"""Figures of a solution: the field, the exact solution, the error (or the PDE residual when no exact is known).

- 1-D: the curve of u with the exact solution dashed, and the error below;
- 2-D: a colour map of u with contours, beside it ``|u - exact|`` (or ``|residual|``), with colour bars;
- 1-D + time: u(x, t) as a colour map in (x, t), a few time slices (exact dashed), and the error map;
- 2-D + time: u and the error at three times (one colour scale per row).

Values come from :func:`kanpde.io.nodes.sample_solution` on :func:`kanpde.io.nodes.output_mesh` nodes, the same
ones the exporters write. Figures are drawn with the Agg canvas (no pyplot) and saved atomically as PNG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.tri import Triangulation

from ..io.nodes import OutputMesh, Snapshot, output_mesh, output_times, sample_solution
from .network import _save_png_atomically

if TYPE_CHECKING:
    from ..pde.result import Result
    from ..pde.solution import Solution

__all__ = ["plot_solution"]

_N_SLICES = 4  # time slices of a 1-D + time figure
_N_TIME_PANELS = 3  # times of a 2-D + time figure


def _first(values: dict[str, np.ndarray]) -> np.ndarray | None:
    return next(iter(values.values()), None)


def _u(snap: Snapshot) -> np.ndarray:
    """The first field (the one drawn)."""
    return next(iter(snap.fields.values()))


def _secondary(snap: Snapshot) -> tuple[np.ndarray, str]:
    """What the second panel shows: |u - exact| when the exact solution is known, else |PDE residual|."""
    error = _first(snap.error)
    if error is not None:
        return np.abs(error), "|u - exact|"
    residual = _first(snap.residual)
    assert residual is not None
    return np.abs(residual), "|PDE residual|"


def _title(solution: Solution, result: Result | None) -> str:
    rel = result.rel_l2 if result is not None else solution.errors()[0]
    problem = solution.problem
    name = type(problem).__name__
    grid = f"G={solution.grid_size}"
    if rel is None:
        return f"{name}, {grid} (no exact solution: residual shown)"
    return f"{name}, {grid}: relative L2 error {rel:.2e}"


def _limits(*arrays: np.ndarray) -> tuple[float, float]:
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return (vmin - 0.5, vmax + 0.5) if vmin == vmax else (vmin, vmax)


def _map(
    fig: Figure,
    ax: Axes,
    mesh: OutputMesh,
    values: np.ndarray,
    label: str,
    *,
    contours: bool,
    limits: tuple[float, float] | None = None,
    colorbar: bool = True,
) -> ScalarMappable:
    """A 2-D colour map of node values on the mesh (contour lines for the solution), with a colour bar."""
    cmap = "viridis" if contours else "magma"
    vmin, vmax = limits or _limits(values)
    finite = values[np.isfinite(values)]
    if mesh.axes is not None:
        x, y = mesh.axes
        grid = values.reshape(len(y), len(x))
        image: ScalarMappable = ax.pcolormesh(x, y, grid, shading="gouraud", cmap=cmap, vmin=vmin, vmax=vmax)
        if contours and finite.size and float(finite.max()) > float(finite.min()):
            ax.contour(x, y, grid, levels=10, colors="white", linewidths=0.6, alpha=0.8)
    else:
        tri = Triangulation(mesh.points[:, 0], mesh.points[:, 1], mesh.cells)
        image = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap, vmin=vmin, vmax=vmax)
        if contours and finite.size and float(finite.max()) > float(finite.min()):
            ax.tricontour(tri, values, levels=10, colors="white", linewidths=0.6, alpha=0.8)
    if colorbar:
        fig.colorbar(image, ax=ax, label=label)
    ax.set_aspect("equal")
    return image


def _plot_1d(fig: Figure, solution: Solution, mesh: OutputMesh, snap: Snapshot) -> None:
    coord = solution.problem.coords[0]
    order = np.argsort(mesh.points[:, 0], kind="stable")
    x = mesh.points[order, 0]
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    u = _u(snap)
    top.plot(x, u[order], color="tab:blue", lw=1.8, label="u (KAN)")
    exact = _first(snap.exact)
    if exact is not None:
        top.plot(x, exact[order], color="k", lw=1.2, ls="--", label="exact")
    top.set_ylabel("u")
    top.legend(loc="best")
    top.grid(alpha=0.3)
    error = _first(snap.error)
    if error is not None:
        bottom.plot(x, error[order], color="tab:red", lw=1.2)
        bottom.set_ylabel("u - exact")
    else:
        residual = _first(snap.residual)
        assert residual is not None
        bottom.plot(x, residual[order], color="tab:red", lw=1.2)
        bottom.set_ylabel("PDE residual")
    bottom.axhline(0.0, color="k", lw=0.5)
    bottom.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    bottom.set_xlabel(coord)
    bottom.grid(alpha=0.3)


def _plot_2d(fig: Figure, solution: Solution, mesh: OutputMesh, snap: Snapshot) -> None:
    x_name, y_name = solution.problem.coords[:2]
    left, right = fig.subplots(1, 2)
    u = _u(snap)
    _map(fig, left, mesh, u, "u", contours=True)
    left.set_title("u (KAN)")
    second, label = _secondary(snap)
    _map(fig, right, mesh, second, label, contours=False)
    right.set_title(label)
    for ax in (left, right):
        ax.set_xlabel(x_name)
        ax.set_ylabel(y_name)


def _plot_1d_time(fig: Figure, solution: Solution, mesh: OutputMesh, snaps: list[Snapshot]) -> None:
    x_name, t_name = solution.problem.coords
    order = np.argsort(mesh.points[:, 0], kind="stable")
    x = mesh.points[order, 0]
    times = np.array([s.time for s in snaps], dtype=np.float64)
    u = np.stack([_u(s)[order] for s in snaps])
    axes = fig.subplots(1, 3)
    image = axes[0].pcolormesh(x, times, u, shading="gouraud", cmap="viridis")
    fig.colorbar(image, ax=axes[0], label="u")
    axes[0].set_title("u(x, t) (KAN)")
    axes[0].set_xlabel(x_name)
    axes[0].set_ylabel(t_name)
    picks = np.unique(np.linspace(0, len(snaps) - 1, min(_N_SLICES, len(snaps))).round().astype(int))
    colours = [f"C{i}" for i in range(len(picks))]
    for pick, colour in zip(picks, colours):
        snap = snaps[pick]
        axes[1].plot(x, u[pick], color=colour, lw=1.6, label=f"{t_name} = {snap.time:.3g}")
        exact = _first(snap.exact)
        if exact is not None:
            axes[1].plot(x, exact[order], color=colour, lw=1.0, ls="--")
    axes[1].set_title("time slices" + (" (exact dashed)" if snaps[0].exact else ""))
    axes[1].set_xlabel(x_name)
    axes[1].set_ylabel("u")
    axes[1].legend(loc="best", fontsize="small")
    axes[1].grid(alpha=0.3)
    second = np.stack([_secondary(s)[0][order] for s in snaps])
    label = _secondary(snaps[0])[1]
    image = axes[2].pcolormesh(x, times, second, shading="gouraud", cmap="magma")
    fig.colorbar(image, ax=axes[2], label=label)
    axes[2].set_title(label)
    axes[2].set_xlabel(x_name)
    axes[2].set_ylabel(t_name)


def _plot_2d_time(fig: Figure, solution: Solution, mesh: OutputMesh, snaps: list[Snapshot]) -> None:
    x_name, y_name, t_name = solution.problem.coords
    picks = np.unique(np.linspace(0, len(snaps) - 1, min(_N_TIME_PANELS, len(snaps))).round().astype(int))
    axes = fig.subplots(2, len(picks), squeeze=False)
    values = [_u(snaps[p]) for p in picks]
    seconds = [_secondary(snaps[p]) for p in picks]
    label = seconds[0][1]
    top_limits = _limits(*values)
    bottom_limits = _limits(*[s[0] for s in seconds])
    for column, pick in enumerate(picks):
        time = f"{t_name} = {snaps[pick].time:.3g}"
        top = _map(fig, axes[0, column], mesh, values[column], "u", contours=True, limits=top_limits, colorbar=False)
        axes[0, column].set_title(f"u at {time}")
        bottom = _map(
            fig, axes[1, column], mesh, seconds[column][0], label, contours=False, limits=bottom_limits, colorbar=False
        )
        axes[1, column].set_title(f"{label} at {time}")
        for ax in axes[:, column]:
            ax.set_xlabel(x_name)
            ax.set_ylabel(y_name)
    fig.colorbar(top, ax=axes[0, :].tolist(), label="u")
    fig.colorbar(bottom, ax=axes[1, :].tolist(), label=label)


_PLOT_NODES = 10_000


def _refined(mesh: OutputMesh) -> OutputMesh:
    """The triangulation split uniformly (each triangle into 4, repeatedly) until it has about ``_PLOT_NODES``
    nodes; the new nodes lie on the old triangles, hence in the domain."""
    from matplotlib.tri import UniformTriRefiner

    subdiv = max(0, math.ceil(math.log(_PLOT_NODES / max(len(mesh.points), 1), 4)))
    if subdiv == 0:
        return mesh
    fine = UniformTriRefiner(Triangulation(mesh.points[:, 0], mesh.points[:, 1], mesh.cells)).refine_triangulation(
        subdiv=min(subdiv, 4)
    )
    return OutputMesh(np.column_stack([fine.x, fine.y]), fine.triangles.astype(np.int64), "triangle")


def plot_solution(
    solution: Solution | Any,
    path: str | os.PathLike[str] | None = None,
    *,
    result: Result | None = None,
    resolution: int | Sequence[int] | None = None,
    times: Sequence[float] | int | None = None,
    parameters: dict[str, float] | None = None,
) -> Figure:
    """Draw ``solution`` with its error (see the module notes for the layout per dimension).

    Args:
        solution: the (trained) :class:`~kanpde.pde.solution.Solution`, or a solver (its solution); 1-D and 2-D
            problems, steady or time-dependent.
        path: where to save the figure as PNG (atomically, parent folders created); None saves nothing.
        result: the result of the solve, whose relative L2 error goes in the title (default: ``solution.errors()``).
        resolution: nodes per axis (default 101 in 1-D and 2-D, 33 in 3-D; a non-box is triangulated).
        times: output times of a time-dependent problem, or their number (default 11; 2-D shows three of them).
        parameters: the parameter values of a parametric problem (one member of the family), e.g. ``{"mu": 1.3}``.

    Returns:
        The figure (Agg canvas, not registered with pyplot).

    Raises:
        ValueError: a 3-D problem (export it with :func:`~kanpde.io.hdf5.export_hdf5` and open it in ParaView).

    Example:
        >>> import kanpde as kp
        >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
        >>> fig = plot_solution(kp.Solver(problem, width=[1, 3, 1]), resolution=21)
        >>> len(fig.axes)
        2
    """
    from ..pde.result import Result
    from ..pde.solution import as_solution

    solution = as_solution(solution)
    if result is not None and not isinstance(result, Result):
        raise TypeError(f"result must be the Result of solver.solve() or None, got {result!r}")
    problem = solution.problem
    space_dim = problem.space.dim
    if space_dim > 2:
        raise ValueError(
            f"plot_solution draws 1-D and 2-D problems; this one has {space_dim} space dimensions. "
            "Write it with export_hdf5(solver, 'u.h5') and open u.xdmf in ParaView."
        )
    mesh = output_mesh(problem.space, resolution)
    if mesh.cell_type == "triangle" and len(mesh.points) < _PLOT_NODES:  # e.g. a coarse MeshDomain: draw it finer
        mesh = _refined(mesh)
    time = None if problem.time is None else (problem.time.t0, problem.time.t1)
    when = output_times(time, times)
    members = None if parameters is None and not problem.parameters else [dict(parameters or {})] * len(when)
    snaps = sample_solution(solution, mesh, when, residual=problem.exact is None, parameters=members)
    steady = problem.time is None
    if steady:
        size = (7.0, 6.0) if space_dim == 1 else (12.0, 5.0)
    else:
        size = (16.0, 4.8) if space_dim == 1 else (4.6 * min(_N_TIME_PANELS, len(snaps)), 8.5)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    if steady and space_dim == 1:
        _plot_1d(fig, solution, mesh, snaps[0])
    elif steady:
        _plot_2d(fig, solution, mesh, snaps[0])
    elif space_dim == 1:
        _plot_1d_time(fig, solution, mesh, snaps)
    else:
        _plot_2d_time(fig, solution, mesh, snaps)
    fig.suptitle(_title(solution, result))
    if path is not None:
        _save_png_atomically(fig, path)
    return fig
