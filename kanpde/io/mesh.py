"""The solution in any format meshio writes (VTU, VTK, XDMF, Gmsh, ...), chosen by the file suffix.

The nodes, cells and values are those of :func:`~kanpde.io.hdf5.export_hdf5` (the same
:func:`~kanpde.io.nodes.output_mesh` and :func:`~kanpde.io.nodes.sample_solution`); point data are named ``u``,
``u_exact``, ``u_error`` and ``residual_pde`` (``u0``, ``u1``, ... for systems). A single file holds no time
series: for a time-dependent problem every output time becomes its own point data, ``u_t0000``, ``u_t0001``, ...
(the times are those of ``times``); use :func:`~kanpde.io.hdf5.export_hdf5` for a series ParaView animates.
A parametric problem writes one member of its family (``mu=1.3``), or for a sweep of one parameter of a steady
problem (``mu=[0.5, 1, 2]``) one point data per value, ``u_mu0000``, ``u_mu0001``, ..., in the order given
(:func:`~kanpde.io.hdf5.export_hdf5` writes a sweep as a series with the values).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import meshio
import numpy as np

from .atomic import atomic_path, check_writable
from .nodes import check_output_size, output_mesh, output_times, parameter_members, sample_solution

if TYPE_CHECKING:
    from ..pde.solution import Solution

__all__ = ["export_mesh", "mesh_format"]

_PREFERRED = ("vtu", "vtk", "xdmf", "gmsh")  # when a suffix fits several writers (".msh": ansys or gmsh)


def mesh_format(path: str | os.PathLike[str]) -> str:
    """meshio's format name for the suffix of ``path`` (the longest known compound suffix wins).

    Raises:
        ValueError: meshio knows no format with that suffix (the message lists the known suffixes).
    """
    suffixes = Path(path).suffixes
    for start in range(len(suffixes)):
        ext = "".join(suffixes[start:]).lower()
        formats = meshio.extension_to_filetypes.get(ext)
        if formats:
            return next((f for f in _PREFERRED if f in formats), formats[0])
    known = ", ".join(sorted(meshio.extension_to_filetypes))
    raise ValueError(f"cannot tell the mesh format of {str(path)!r} from its suffix; use one of {known}")


def export_mesh(
    solution: Solution | Any,
    path: str | os.PathLike[str],
    *,
    resolution: int | Sequence[int] | None = None,
    times: Sequence[float] | int | None = None,
    file_format: str | None = None,
    **options: Any,
) -> Path:
    """Write the solution at output nodes with meshio; the format follows the suffix of ``path``.

    Points are written with three coordinates (zeros appended), as VTK expects. The file is written atomically
    (missing parent folders are created). XDMF is written with its data inline (``data_format="XML"``) so that
    it is one self-contained file; :func:`~kanpde.io.hdf5.export_hdf5` writes XDMF + HDF5.

    Args:
        solution: the :class:`~kanpde.pde.solution.Solution` to write (trained or not), or a solver (its solution).
        path: the output file, e.g. ``"out/u.vtu"``.
        resolution: nodes per axis (default 101 in 1-D and 2-D, 33 in 3-D), or one count per axis.
        times: output times of a time-dependent problem, or their number (default 11 equally spaced).
        file_format: meshio's format name, overriding the suffix.
        options: the problem's parameter values by name (``mu=1.3``, or ``mu=[0.5, 1, 2]`` for a sweep of a
            steady problem; every parameter needs a value), and the rest passed to ``meshio.write`` (e.g.
            ``binary=False`` for ASCII VTK).

    Returns:
        The written path.

    Raises:
        ValueError: unknown suffix or ``file_format``, bad ``resolution`` or ``times`` (times outside the time
            interval, or more nodes than fit in memory).
        PermissionError, OSError: the file cannot be written (the message names it).

    Example:
        >>> import tempfile, pathlib, kanpde as kp
        >>> problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)])
        >>> out = export_mesh(kp.Solver(problem, width=[2, 3, 1]), pathlib.Path(tempfile.mkdtemp()) / "u.vtu",
        ...                   resolution=5)
        >>> sorted(meshio.read(out).point_data)
        ['residual_pde', 'u']
    """
    target = Path(path)
    if file_format is not None:
        known = sorted({f for formats in meshio.extension_to_filetypes.values() for f in formats})
        if file_format not in known:
            raise ValueError(f"file_format must be one of meshio's formats {known}, got {file_format!r}")
    fmt = file_format or mesh_format(target)
    from ..pde.solution import as_solution

    solution = as_solution(solution)
    problem = solution.problem
    parameters = {p.name: options.pop(p.name) for p in problem.parameters if p.name in options}
    mesh = output_mesh(problem.space, resolution)
    time = None if problem.time is None else (problem.time.t0, problem.time.t1)
    when = output_times(time, times)
    members, sweep = parameter_members(problem, parameters, when, what="export_mesh")
    if sweep is not None and members is not None:
        when = [m[sweep] for m in members]
    check_output_size(mesh, len(when), problem.n_fields)
    check_writable(target)  # before sampling the solution
    snapshots = sample_solution(solution, mesh, when, parameters=members)
    point_data: dict[str, np.ndarray] = {}
    for index, snap in enumerate(snapshots):
        suffix = "" if snap.time is None else f"_{sweep or 't'}{index:04d}"
        for _, _, label, values in snap.labelled():
            point_data[label + suffix] = values
    points = np.zeros((len(mesh.points), 3))
    points[:, : min(mesh.space_dim, 3)] = mesh.points[:, :3]
    if mesh.space_dim > 3:  # scattered nodes: the geometry is the first three coordinates; all of them as data
        point_data.update({name: mesh.points[:, i].copy() for i, name in enumerate(problem.coords[: mesh.space_dim])})
    result = meshio.Mesh(points, [(mesh.cell_type, mesh.cells)], point_data=point_data)
    if fmt == "xdmf":
        options.setdefault("data_format", "XML")
    with atomic_path(target) as temporary:
        meshio.write(temporary, result, file_format=fmt, **options)
    return target
