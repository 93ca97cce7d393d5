"""The solution as HDF5 with an XDMF companion, so that ParaView and ``meshio`` open it.

Layout of ``solution.h5`` (schema version 1)::

    /                 attributes: kanpde_version, schema_version, problem, problem_class, geometry, coords, seed,
                      dtype, n_fields, field_names, width, grid_size, time_dependent, layout ("grid" or "mesh");
                      rel_l2, max_abs (with a result), formula (when given)
    /grid/x, y, z     1-D coordinates of a box's tensor grid (x fastest in every field)    [boxes only]
    /grid/t           the output times                                                    [time-dependent only]
    /mesh/points      node coordinates (n_points, 2 or 3); 1-D coordinates padded with a zero column; beyond
                      3-D all n coordinates of the scattered nodes, with /mesh/points_xyz their first three
                      columns (the XDMF geometry: ParaView shows a projection; layout "points")
    /mesh/cells       node indices (n_cells, nodes_per_cell); attribute cell_type (meshio's name)
    /fields/u         the solution at the nodes (n_points,); "u0", "u1", ... for systems
    /exact/u          the exact solution                                                   [when known]
    /error/u          u - exact                                                            [when known]
    /residual/pde     the PDE residual ("pde0", ... for several equations)
    /history/step, stage, grid, loss, seconds, and one dataset per loss term ("pde", "dirichlet", ...)
    /stages/grid, steps, loss, rel_l2, max_abs, seconds, n_parameters                      [with a result]

Time-dependent problems store every field as a group of one dataset per output time (``/fields/u/t0000``, ...,
each with a ``time`` attribute), and the XDMF file is a temporal collection (``meshio.xdmf.TimeSeriesReader``,
ParaView's time slider). Grid fields carry a ``grid_shape`` attribute: ``u.reshape(grid_shape)[j, i] = u(x_i, y_j)``.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from .atomic import atomic_path, check_writable
from .nodes import (
    OutputMesh,
    Snapshot,
    check_output_size,
    field_names,
    output_mesh,
    output_times,
    parameter_members,
    sample_solution,
)

if TYPE_CHECKING:
    from ..pde.result import Result, StepRecord
    from ..pde.solution import Solution

__all__ = ["export_hdf5", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_XDMF_TOPOLOGY = {
    "line": "Polyline",
    "quad": "Quadrilateral",
    "hexahedron": "Hexahedron",
    "triangle": "Triangle",
    "tetra": "Tetrahedron",
    "vertex": "Polyvertex",
}


def xdmf_points(mesh: OutputMesh) -> np.ndarray:
    """Node coordinates with at least two columns (XDMF has no 1-D geometry type)."""
    if mesh.space_dim > 3:
        return mesh.points[:, :3]
    if mesh.space_dim >= 2:
        return mesh.points
    return np.column_stack([mesh.points, np.zeros(len(mesh.points))])


def _time_key(index: int) -> str:
    return f"t{index:04d}"


def _history_arrays(history: Sequence[StepRecord]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "step": np.array([r.step for r in history], dtype=np.int64),
        "stage": np.array([r.stage for r in history], dtype=np.int64),
        "grid": np.array([r.grid for r in history], dtype=np.int64),
        "loss": np.array([r.loss for r in history], dtype=np.float64),
        "seconds": np.array([r.seconds for r in history], dtype=np.float64),
    }
    terms: list[str] = []
    for record in history:
        terms += [name for name in record.terms if name not in terms]
    for name in terms:
        key = name.replace("/", "_")
        if key in arrays:
            key = f"term_{key}"
        arrays[key] = np.array([r.terms.get(name, math.nan) for r in history], dtype=np.float64)
    return arrays


def _stage_arrays(result: Result) -> dict[str, np.ndarray]:
    def floats(values: list[float | None]) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    stages = result.stages
    return {
        "grid": np.array([s.grid for s in stages], dtype=np.int64),
        "steps": np.array([s.steps for s in stages], dtype=np.int64),
        "loss": floats([s.loss for s in stages]),
        "rel_l2": floats([s.rel_l2 for s in stages]),
        "max_abs": floats([s.max_abs for s in stages]),
        "seconds": floats([s.seconds for s in stages]),
        "n_parameters": np.array([s.n_parameters for s in stages], dtype=np.int64),
    }


def _root_attributes(solution: Solution, mesh: OutputMesh, result: Result | None, formula: Any) -> dict[str, Any]:
    from .._version import __version__

    problem = solution.problem
    attrs: dict[str, Any] = {
        "kanpde_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "problem": problem.description,
        "problem_class": type(problem).__name__,
        "geometry": repr(problem.space),
        "coords": list(problem.coords),
        "seed": int(solution.seed),
        "dtype": str(solution.dtype).removeprefix("torch."),
        "n_fields": int(problem.n_fields),
        "field_names": field_names(problem.n_fields),
        "width": list(solution.model.width),
        "grid_size": int(solution.grid_size),
        "time_dependent": problem.time is not None,
        "layout": "grid" if mesh.axes is not None else "points" if mesh.cell_type == "vertex" else "mesh",
    }
    if result is not None:
        for name in ("rel_l2", "max_abs"):
            value = getattr(result, name)
            if value is not None:
                attrs[name] = float(value)
        attrs["solve_seconds"] = float(result.seconds)
        if result.stopped:
            attrs["stopped"] = str(result.stopped)
        for name, value in getattr(result, "unknowns", {}).items():  # identified constants of an inverse problem
            attrs[f"unknown_{name}"] = float(value)
            attrs[f"uncertainty_{name}"] = float(result.uncertainty.get(name, float("nan")))
    if formula is not None:
        attrs["formula"] = str(formula)
    return attrs


def _write_snapshots(h5: h5py.File, snapshots: list[Snapshot], mesh: OutputMesh) -> None:
    for index, snap in enumerate(snapshots):
        for group, name, _, values in snap.labelled():
            key = f"{group}/{name}" if snap.time is None else f"{group}/{name}/{_time_key(index)}"
            dataset = h5.create_dataset(key, data=values)
            if snap.time is not None:
                dataset.attrs["time"] = snap.time
            if mesh.grid_shape is not None:
                dataset.attrs["grid_shape"] = np.array(mesh.grid_shape, dtype=np.int64)


def _write_h5(
    path: Path,
    solution: Solution,
    mesh: OutputMesh,
    snapshots: list[Snapshot],
    attrs: dict[str, Any],
    result: Result | None,
) -> None:
    with h5py.File(path, "w") as h5:
        for key, value in attrs.items():
            h5.attrs[key] = value
        if mesh.axes is not None:
            for name, axis in zip("xyz", mesh.axes):
                h5.create_dataset(f"grid/{name}", data=axis)
        if snapshots[0].time is not None:
            h5.create_dataset("grid/t", data=np.array([s.time for s in snapshots], dtype=np.float64))
        h5.create_dataset("mesh/points", data=xdmf_points(mesh) if mesh.space_dim <= 3 else mesh.points)
        if mesh.space_dim > 3:
            h5.create_dataset("mesh/points_xyz", data=xdmf_points(mesh))
        cells = h5.create_dataset("mesh/cells", data=mesh.cells)
        cells.attrs["cell_type"] = mesh.cell_type
        _write_snapshots(h5, snapshots, mesh)
        history = h5.create_group("history")
        for name, values in _history_arrays(solution.history).items():
            history.create_dataset(name, data=values)
        if result is not None:
            for name, values in _stage_arrays(result).items():
                h5.create_dataset(f"stages/{name}", data=values)
        _write_unknown_fields(h5, solution, mesh, snapshots)


def _write_unknown_fields(h5: h5py.File, solution: Solution, mesh: OutputMesh, snapshots: list[Snapshot]) -> None:
    """Identified unknown fields at the mesh nodes: ``unknown_fields/<name>``, ``(n_nodes,)`` for a field of
    the space coordinates, ``(n_times, n_nodes)`` for one of space and time."""
    import torch

    for name, coords in solution.field_coords.items():
        field = solution.unknown_field(name)
        nodes = torch.as_tensor(mesh.points, dtype=torch.float64)
        if "t" not in coords:
            values = field(nodes).cpu().numpy()
        else:
            rows = []
            for s in snapshots:
                assert s.time is not None  # a field of t: the problem is time-dependent, every snapshot has a time
                rows.append(field(torch.cat([nodes, torch.full_like(nodes[:, :1], s.time)], 1)).cpu().numpy())
            values = np.stack(rows)
        h5.create_dataset(f"unknown_fields/{name}", data=values)


# -- XDMF ------------------------------------------------------------------------------------------------------
def _data_item(parent: ET.Element, h5_name: str | None, key: str, array: np.ndarray) -> None:
    """A DataItem referring to ``h5_name:/key``, or holding ``array`` itself (``Format="XML"``) when ``h5_name`` is
    None."""
    number = "Int" if np.issubdtype(array.dtype, np.integer) else "Float"
    item = ET.SubElement(
        parent,
        "DataItem",
        Dimensions=" ".join(str(n) for n in array.shape),
        NumberType=number,
        Precision=str(array.dtype.itemsize),
        Format="HDF" if h5_name is not None else "XML",
    )
    item.text = f"{h5_name}:/{key}" if h5_name is not None else " ".join(map(repr, array.reshape(-1).tolist()))


def _mesh_elements(grid: ET.Element, h5_name: str | None, mesh: OutputMesh) -> None:
    n_cells, per_cell = mesh.cells.shape
    topology = ET.SubElement(
        grid, "Topology", TopologyType=_XDMF_TOPOLOGY[mesh.cell_type], NumberOfElements=str(n_cells)
    )
    if mesh.cell_type in ("line", "vertex"):
        topology.set("NodesPerElement", str(per_cell))
    _data_item(topology, h5_name, "mesh/cells", mesh.cells)
    points = xdmf_points(mesh)
    geometry = ET.SubElement(grid, "Geometry", GeometryType="XY" if points.shape[1] == 2 else "XYZ")
    _data_item(geometry, h5_name, "mesh/points" if mesh.space_dim <= 3 else "mesh/points_xyz", points)


def _attributes(grid: ET.Element, h5_name: str | None, snap: Snapshot, index: int) -> None:
    suffix = "" if snap.time is None else f"/{_time_key(index)}"
    for group, name, label, array in snap.labelled():
        attribute = ET.SubElement(grid, "Attribute", Name=label, AttributeType="Scalar", Center="Node")
        _data_item(attribute, h5_name, f"{group}/{name}{suffix}", array)


def xdmf_document(h5_name: str, mesh: OutputMesh, snapshots: list[Snapshot]) -> bytes:
    """The XDMF 3 text describing the HDF5 file ``h5_name`` (a file name relative to the XDMF file).

    A reference is ``file:/dataset``, which readers split at the colon (meshio requires exactly one): when
    ``h5_name`` contains a colon, the XDMF file holds the values themselves (``Format="XML"``) instead, so that it
    still opens in ParaView and meshio.
    """
    reference: str | None = h5_name if ":" not in h5_name else None
    root = ET.Element("Xdmf", Version="3.0")
    domain = ET.SubElement(root, "Domain")
    if snapshots[0].time is None:
        grid = ET.SubElement(domain, "Grid", Name="kanpde", GridType="Uniform")
        _mesh_elements(grid, reference, mesh)
        _attributes(grid, reference, snapshots[0], 0)
    else:
        collection = ET.SubElement(domain, "Grid", Name="kanpde", GridType="Collection", CollectionType="Temporal")
        for index, snap in enumerate(snapshots):
            grid = ET.SubElement(collection, "Grid", Name=_time_key(index), GridType="Uniform")
            _mesh_elements(grid, reference, mesh)  # the same datasets at every time: written once in the HDF5 file
            ET.SubElement(grid, "Time", Value=repr(float(snap.time)))  # type: ignore[arg-type]
            _attributes(grid, reference, snap, index)
    ET.indent(root)
    return b'<?xml version="1.0"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def export_hdf5(
    solution: Solution | Any,
    path: str | os.PathLike[str],
    *,
    resolution: int | Sequence[int] | None = None,
    times: Sequence[float] | int | None = None,
    result: Result | None = None,
    formula: Any = None,
    **parameters: Any,
) -> tuple[Path, Path]:
    """Write the solution at output nodes to ``path`` (HDF5) and an XDMF file beside it (same stem, ``.xdmf``).

    See the module docstring for the layout. Boxes get a tensor grid (x fastest), other shapes a triangulation
    whose nodes all lie in the domain (:func:`~kanpde.io.nodes.output_mesh`). Both files are written atomically
    (HDF5 first, then the XDMF that points to it); missing parent folders are created.

    Args:
        solution: the :class:`~kanpde.pde.solution.Solution` to write (trained or not), or a solver (its solution).
        path: the HDF5 file, e.g. ``"out/u.h5"``.
        resolution: nodes per axis (default 101 in 1-D and 2-D, 33 in 3-D), or one count per axis; beyond 3-D
            the number of scattered nodes (default 20,000).
        times: output times of a time-dependent problem, or their number (default 11 equally spaced in
            ``[t0, t1]``); must be None for a steady problem.
        result: the :class:`~kanpde.pde.result.Result` of the solve, for the metrics and per-stage records.
        formula: a closed-form solution (e.g. ``solution.symbolic()``), stored as a string attribute.
        parameters: the parameter values of a parametric problem, each a number (``mu=1.3``: one member of the
            family). One parameter of a steady problem may take a list (``mu=[0.5, 1, 2]``, a sweep): the files then
            hold one snapshot per value, stored like times (``/fields/u/t0000``, ... with the value as ``time``
            attribute, root attribute ``sweep``), so ParaView's time slider steps through the parameter. The root
            attributes ``parameter_names`` and ``parameter_values`` record the values (NaN for the swept one).

    Returns:
        h5_path: the HDF5 file.
        xdmf_path: the XDMF file (open this one in ParaView).

    Raises:
        ValueError: ``path`` ends in ``.xdmf`` / ``.xmf``, or a bad ``resolution`` or ``times`` (times outside the
            time interval, or more nodes than fit in memory), a parameter without a value, or a sweep of a
            time-dependent problem.
        TypeError: ``result`` is not a :class:`~kanpde.pde.result.Result`, or an unknown parameter name.
        IsADirectoryError: ``path`` is a directory.
        PermissionError, OSError: a file cannot be written (the message names it).

    Example:
        >>> import tempfile, pathlib, kanpde as kp
        >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
        >>> solver = kp.Solver(problem, width=[1, 3, 1], seed=0)
        >>> h5, xdmf = export_hdf5(solver, pathlib.Path(tempfile.mkdtemp()) / "u.h5", resolution=11)
        >>> xdmf.name
        'u.xdmf'
    """
    h5_path = Path(path)
    if h5_path.name in ("", ".", "..") or h5_path.is_dir():
        raise IsADirectoryError(
            f"path {str(path)!r} is a directory; give a file name such as {str(h5_path / 'solution.h5')!r}"
        )
    if h5_path.suffix.lower() in (".xdmf", ".xmf"):
        raise ValueError(
            f"path must name the HDF5 file (e.g. {h5_path.with_suffix('.h5')}); the .xdmf file is written beside it"
        )
    xdmf_path = h5_path.with_suffix(".xdmf")
    from ..pde.result import Result
    from ..pde.solution import as_solution

    solution = as_solution(solution)
    problem = solution.problem

    if result is not None and not isinstance(result, Result):
        raise TypeError(f"result must be the Result of solver.solve() or None, got {result!r}")
    mesh = output_mesh(problem.space, resolution)
    time = None if problem.time is None else (problem.time.t0, problem.time.t1)
    when = output_times(time, times)
    members, sweep = parameter_members(problem, parameters, when, what="export_hdf5")
    if sweep is not None and members is not None:
        when = [m[sweep] for m in members]
    check_output_size(mesh, len(when), problem.n_fields)
    check_writable(h5_path)  # before sampling the solution, and before either file is replaced
    check_writable(xdmf_path)
    snapshots = sample_solution(solution, mesh, when, parameters=members)
    attrs = _root_attributes(solution, mesh, result, formula)
    if members is not None:
        attrs["parameter_names"] = [p.name for p in problem.parameters]
        attrs["parameter_values"] = [math.nan if p.name == sweep else members[0][p.name] for p in problem.parameters]
    if sweep is not None:
        attrs["sweep"] = sweep
    with atomic_path(h5_path) as temporary:
        _write_h5(temporary, solution, mesh, snapshots, attrs, result)
    with atomic_path(xdmf_path) as temporary:
        temporary.write_bytes(xdmf_document(h5_path.name, mesh, snapshots))
    return h5_path, xdmf_path
