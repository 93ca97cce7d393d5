"""Observations of the solution: measured values at points, the data of an inverse problem.

``kp.Observations(points, values, field=0, noise=None, name=None)`` holds ``n`` measurements of field ``field``;
a problem takes them as ``data=[...]`` and the solver adds one residual block per set (label ``"data"``, or
``"data[name]"``): ``u_field(points) - values``. Files are read as data only (CSV through the ``csv`` module,
``.npz`` without pickles, HDF5 datasets through h5py); nothing in a file is ever executed.
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Observations"]

_COORDINATE = re.compile(r"^(x|y|z|t|x\d+)$")


def _as_array(value: Any, what: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"Observations: {what} must be an array of numbers, got {type(value).__name__} ({err})"
        ) from None
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise ValueError(f"Observations: {what} holds {bad} NaN or inf value(s); remove or repair those rows")
    return array


class Observations:
    """Measured values of one field of the solution at points.

    Args:
        points: ``(n, n_coords)`` (columns: space coordinates, then ``t``), or ``(n,)`` for one coordinate.
        values: ``(n,)`` (or ``(n, 1)``), the measured values of field ``field`` (units of ``u``).
        field: which field of the problem is observed (0 for a scalar PDE).
        noise: the known standard deviation of the measurement error (units of ``u``); None: estimated from the
            data residual after the solve (for ``result.uncertainty``).
        name: names the residual block ``"data[name]"`` (default ``"data"``), e.g. for ``weights={...}``.
        derivative: observe the first derivative of the field by this coordinate instead of its value, e.g.
            ``derivative="x"`` for a flux ``du/dx`` measured at the boundary.
        columns: coordinate names of the point columns (set by :meth:`from_file`); when given, the problem takes
            its coordinates from them by name.

    Example:
        >>> import torch, kanpde as kp
        >>> points = torch.tensor([[0.25], [0.5], [0.75]], dtype=torch.float64)  # (n, n_coords)
        >>> sensors = kp.Observations(points, torch.sin(torch.pi * points[:, 0]), noise=0.01, name="sensors")
        >>> sensors.points.shape, sensors.values.shape
        (torch.Size([3, 1]), torch.Size([3]))
        >>> sensors
        Observations(3 points, field=0, noise=0.01, label='data[sensors]')
        >>> k = kp.Unknown("k", init=1.0, bounds=(0, None))
        >>> problem = kp.Poisson(kp.Interval(0, 1), f="k*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], data=[sensors],
        ...                      unknowns=[k])
        >>> problem.data[0].label, problem.unknowns
        ('data[sensors]', (Unknown('k', init=1.0, bounds=(0.0, None)),))
    """

    points: Tensor
    values: Tensor
    field: int
    noise: float | None
    name: str | None
    columns: tuple[str, ...] | None
    derivative: str | None

    def __init__(
        self,
        points: Any,
        values: Any,
        field: int = 0,
        noise: float | None = None,
        name: str | None = None,
        *,
        derivative: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        pts = _as_array(points, "points")
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] == 0:
            raise ValueError(f"Observations: points must have shape (n, n_coords) with n >= 1, got {pts.shape}")
        vals = _as_array(values, "values")
        if vals.ndim == 2 and vals.shape[1] == 1:
            vals = vals[:, 0]
        if vals.ndim != 1 or len(vals) != len(pts):
            raise ValueError(
                f"Observations: values must have shape ({len(pts)},), one per point, got {tuple(vals.shape)}"
            )
        if isinstance(field, bool) or not isinstance(field, numbers.Integral) or field < 0:
            raise ValueError(f"Observations: field must be a field index >= 0, got {field!r}")
        if noise is not None and (
            isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not (math.isfinite(noise) and noise > 0)
        ):
            raise ValueError(f"Observations: noise must be a positive standard deviation or None, got {noise!r}")
        if name is not None and (not isinstance(name, str) or not name or not name.replace("_", "").isalnum()):
            raise ValueError(f"Observations: name must be a short word such as 'sensors', got {name!r}")
        if columns is not None and len(columns) != pts.shape[1]:
            raise ValueError(f"Observations: {len(columns)} column names for {pts.shape[1]} point columns")
        self.points, self.values = torch.from_numpy(pts), torch.from_numpy(vals)
        self.field, self.noise, self.name = int(field), None if noise is None else float(noise), name
        self.columns = None if columns is None else tuple(columns)
        if derivative is not None and not isinstance(derivative, str):
            raise TypeError(
                f"Observations: derivative must be a coordinate name such as 'x' or None, got {derivative!r}"
            )
        self.derivative = derivative

    @property
    def label(self) -> str:
        """The residual block's label: ``"data"`` or ``"data[name]"``."""
        return "data" if self.name is None else f"data[{self.name}]"

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        noise = "" if self.noise is None else f", noise={self.noise:g}"
        return f"Observations({len(self)} points, field={self.field}{noise}, label={self.label!r})"

    def checked(self, coords: Sequence[str], domain: Any, n_fields: int) -> tuple[Tensor, Tensor]:
        """The points ``(n, len(coords))`` in the problem's column order and the values ``(n,)``, checked against
        the problem (coordinates, domain, time range, field).

        Raises:
            ValueError: wrong number of columns, a missing coordinate column, a point outside the domain or
                time range, or a field the problem does not have.
        """
        coords = tuple(coords)
        points = self.points
        if self.columns is not None:
            missing = [c for c in coords if c not in self.columns]
            if missing:
                raise ValueError(
                    f"data: {self!r} lacks the coordinate column(s) {missing}; its columns are {list(self.columns)} "
                    f"and the problem has coordinates {list(coords)}"
                )
            points = points[:, [self.columns.index(c) for c in coords]]
        elif points.shape[1] != len(coords):
            raise ValueError(
                f"data: points of {self!r} have {points.shape[1]} column(s); the problem has coordinates {coords} "
                f"(pass points of shape (n, {len(coords)}))"
            )
        if self.derivative is not None and self.derivative not in coords:
            raise ValueError(f"data: derivative={self.derivative!r} of {self!r} is not a coordinate of {coords}")
        if self.field >= n_fields:
            raise ValueError(f"data: {self!r} observes field {self.field}; the problem has {n_fields} field(s)")
        inside = domain.contains(points, tol=1e-9)
        if not bool(inside.all()):
            first = int(torch.nonzero(~inside)[0])
            where = ", ".join(f"{c}={v:.6g}" for c, v in zip(coords, points[first].tolist()))
            raise ValueError(
                f"data: {int((~inside).sum())} point(s) of {self!r} lie outside the domain or time range, the first "
                f"at ({where}); the domain's bounds are {domain.bounds}"
            )
        return points, self.values

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        column: str | None = None,
        field: int = 0,
        noise: float | None = None,
        name: str | None = None,
    ) -> Observations:
        """Observations from a file: CSV with a header, ``.npz`` or HDF5 (``.h5``, ``.hdf5``).

        The columns (CSV header names, ``.npz`` array names, HDF5 dataset names, each one value per point) name
        the coordinates (``x``, ``y``, ``z``, ``t``) and the observed value: ``column`` (default ``"u"`` when
        present, else the one column that is not a coordinate). Matching the coordinates to the problem's is done
        by name when the problem is built. Read as data only: no code from the file runs.

        Raises:
            ValueError: an unknown suffix, a malformed file, or no (or no unique) value column.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise ValueError(f"Observations.from_file: no file at {str(path)!r}")
        if suffix == ".csv":
            table = _read_csv(path)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                table = {k: np.asarray(data[k]) for k in data.files}
        elif suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                table = {k: np.asarray(f[k]) for k in f if isinstance(f[k], h5py.Dataset)}
        else:
            raise ValueError(f"Observations.from_file: path must end in .csv, .npz, .h5 or .hdf5, got {path.name!r}")
        coords = [k for k in table if _COORDINATE.match(k)]
        if column is None:
            others = [k for k in table if k not in coords]
            if "u" in table:
                column = "u"
            elif len(others) == 1:
                column = others[0]
            else:
                raise ValueError(
                    f"Observations.from_file: {path.name} has columns {list(table)}; say which holds the observed "
                    "values with column=..."
                )
        if column not in table:
            raise ValueError(
                f"Observations.from_file: {path.name} lacks the field's column {column!r}; "
                f"its columns are {list(table)}"
            )
        coords = [c for c in coords if c != column]
        if not coords:
            raise ValueError(
                f"Observations.from_file: {path.name} has no coordinate column (x, y, z, t); its columns are "
                f"{list(table)}"
            )
        arrays = [np.asarray(table[c], dtype=np.float64).reshape(-1) for c in [*coords, column]]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"Observations.from_file: the columns of {path.name} differ in length")
        points = np.stack(arrays[:-1], axis=1)
        return cls(points, arrays[-1], field=field, noise=noise, name=name, columns=coords)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if r and not (len(r) == 1 and not r[0].strip())]
    if len(rows) < 2:
        raise ValueError(f"Observations.from_file: {path.name} needs a header line and at least one row of numbers")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or not all(header):
        raise ValueError(f"Observations.from_file: the header of {path.name} must name every column once: {header}")
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"Observations.from_file: line {i} of {path.name} has {len(row)} fields, the header {len(header)}"
            )
        try:
            values[i - 2] = [float(v) for v in row]
        except ValueError:
            raise ValueError(
                f"Observations.from_file: line {i} of {path.name} holds a value that is not a number"
            ) from None
    return {h: values[:, j] for j, h in enumerate(header)}
