"""Parametric problems: parameters are inputs of the solution, ``u(x, t; mu)``, learnt for a whole range at once.

A :class:`Parameter` names a scalar and its range ``(low, high)``. A problem given ``parameters=[...]`` appends one
column per parameter to every point set (column order: space coordinates, then ``t``, then the parameters in the
order given), so sources, coefficients, boundary and initial values and the exact solution may use the parameter
names, residual callables read them as ``u.coord("mu")`` (or ``u.param("mu")``) and ``u.d("mu")`` is the
sensitivity ``du/dmu``. All of this happens in one place, :class:`ParameterProduct`: the problem's sampled domain
times the parameter box. Its boundary is the domain's boundary times the whole box (boundary conditions hold for
every parameter value), its normals have zero parameter components, and its initial slice is the domain's initial
slice times the box.

Evaluating a trained solution at given parameter values (``solver.predict(points, mu=1.3)``) goes through
:func:`with_parameters`, which appends the columns, refuses a missing or unknown parameter and warns
(:class:`ExtrapolationWarning`) for values outside the range.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .fields import is_space_name
from .geometry import _F64, AbstractGeometry, SamplerSpec, Tensor, _check_extent, _float_scalar, _permutation
from .safe_expr import CONSTANTS, FUNCTIONS
from .sampling import AbstractSampler, make_sampler

if TYPE_CHECKING:
    from .problem import Problem

__all__ = [
    "Parameter",
    "ParameterProduct",
    "ExtrapolationWarning",
    "check_parameters",
    "with_parameters",
    "parameter_values",
    "MemberErrors",
    "errors_at",
]


class ExtrapolationWarning(UserWarning):
    """A parametric solution was evaluated at a parameter value outside the range it was trained on."""


@dataclass(frozen=True)
class Parameter:
    """A scalar input of the solution, sampled over ``range = (low, high)`` like a coordinate.

    Args:
        name: how expressions and residuals refer to it (an identifier that is not a coordinate name such as
            ``x``, ``y``, ``z``, ``t``, ``x1``, nor a function or constant of the expression language).
        range: ``(low, high)``, finite, ``low < high``.

    Raises:
        TypeError, ValueError: a bad ``name`` or ``range`` (the message names it).

    Example:
        >>> Parameter("mu", (0.5, 2.0)).length
        1.5
        >>> import kanpde as kp
        >>> mu = kp.Parameter("mu", (0.5, 2.0))
        >>> family = kp.Poisson(kp.Interval(0, 1), f="mu*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], parameters=[mu])
        >>> family.coords  # mu is one more input column: the solution is u(x, mu)
        ('x', 'mu')
    """

    name: str
    range: tuple[float, float]

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"Parameter name must be an identifier such as 'mu' (not starting with _), got {name!r}")
        if is_space_name(name) or name == "t":
            raise ValueError(
                f"Parameter name {name!r} clashes with a coordinate name (x, y, z, x1, x2, ..., t); choose another"
            )
        if name in FUNCTIONS or name in CONSTANTS:
            raise ValueError(
                f"Parameter name {name!r} clashes with a function or constant of expressions (sin, pi, e, ...); "
                "choose another"
            )
        value = self.range
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
            raise ValueError(f"Parameter {name!r}: range must be a pair (low, high), got {value!r}")
        low = _float_scalar(value[0], f"Parameter {name!r}: range low")
        high = _float_scalar(value[1], f"Parameter {name!r}: range high")
        if not low < high:
            raise ValueError(f"Parameter {name!r}: range must have low < high, got ({low}, {high})")
        _check_extent([low], [high], f"Parameter {name!r}: range", (name,))
        object.__setattr__(self, "range", (low, high))

    @property
    def low(self) -> float:
        return self.range[0]

    @property
    def high(self) -> float:
        return self.range[1]

    @property
    def length(self) -> float:
        """``high - low``."""
        return self.range[1] - self.range[0]


def check_parameters(parameters: object, coords: Sequence[str]) -> tuple[Parameter, ...]:
    """The problem's ``parameters`` argument as a tuple: Parameter objects with distinct names, none a coordinate.

    Raises:
        TypeError: ``parameters`` is not a list of :class:`Parameter`.
        ValueError: two parameters share a name, or one is named like a coordinate of the problem.
    """
    if parameters is None:
        return ()
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise TypeError(f"parameters must be a list of kp.Parameter, got {type(parameters).__name__}")
    bad = [p for p in parameters if not isinstance(p, Parameter)]
    if bad:
        raise TypeError(f"parameters must contain kp.Parameter('name', (low, high)) objects; got {bad[0]!r}")
    names = [p.name for p in parameters]
    for i, name in enumerate(names):
        if name in coords:
            raise ValueError(f"parameters: {name!r} clashes with a coordinate of this problem {tuple(coords)}")
        if name in names[:i]:
            raise ValueError(f"parameters: the name {name!r} is given twice; parameter names must be distinct")
    return tuple(parameters)


class ParameterProduct(AbstractGeometry):
    """The sampled domain (space, or space x time) times the parameter box; the parameters are the last columns.

    Interior points come from one sampler in all ``dim`` dimensions. Boundary points are the domain's boundary
    points with an independent sample of the box appended (randomly paired); normals are zero in the parameter
    columns, and the distance function and side names are those of the domain.

    Attributes:
        base: the domain without parameters (a spatial geometry or a ``SpaceTime``).
        parameters: the parameters, in column order.
        space: the spatial geometry.
        time: the time interval, or None.
    """

    def __init__(self, base: AbstractGeometry, parameters: Sequence[Parameter]) -> None:
        if not isinstance(base, AbstractGeometry) or isinstance(base, ParameterProduct):
            raise TypeError(f"base must be a geometry without parameters, got {type(base).__name__}")
        if not parameters:
            raise ValueError("ParameterProduct needs at least one parameter")
        self.base, self.parameters = base, tuple(parameters)
        self.space: AbstractGeometry = getattr(base, "space", base)
        self.time = getattr(base, "time", None)
        self._n_base = base.dim
        self._low = torch.tensor([p.low for p in self.parameters], dtype=_F64)
        self._high = torch.tensor([p.high for p in self.parameters], dtype=_F64)

    def __repr__(self) -> str:
        box = ", ".join(f"{p.name} in [{p.low:g}, {p.high:g}]" for p in self.parameters)
        return f"ParameterProduct({self.base!r}, {box})"

    @property
    def dim(self) -> int:
        return self._n_base + len(self.parameters)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lower, upper = self.base.bounds
        return (*lower, *(p.low for p in self.parameters)), (*upper, *(p.high for p in self.parameters))

    @property
    def _volume(self) -> float:
        return math.prod(p.length for p in self.parameters)

    @property
    def measure(self) -> float:
        return self.base.measure * self._volume

    @property
    def boundary_measure(self) -> float:
        return self.base.boundary_measure * self._volume

    def _in_box(self, x: Tensor, tol: float) -> Tensor:
        params = x[:, self._n_base :]
        low, high = self._low.to(x.device, x.dtype), self._high.to(x.device, x.dtype)
        return ((params >= low - tol) & (params <= high + tol)).all(dim=1)

    def _contains(self, x: Tensor, tol: float) -> Tensor:
        return self.base._contains(x[:, : self._n_base], tol) & self._in_box(x, tol)

    def _on_boundary(self, x: Tensor, tol: float) -> Tensor:
        return self.base._on_boundary(x[:, : self._n_base], tol) & self._in_box(x, tol)

    def _interior_mask(self, x: Tensor) -> Tensor:
        return self.base._interior_mask(x[:, : self._n_base]) & self._in_box(x, -1e-12)

    def _normal(self, x: Tensor) -> Tensor:
        zeros = torch.zeros(len(x), len(self.parameters), dtype=x.dtype, device=x.device)
        return torch.cat([self.base._normal(x[:, : self._n_base]), zeros], dim=1)

    def _distance(self, x: Tensor) -> Tensor:
        return self.base._distance(x[:, : self._n_base])

    def _box_sample(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> Tensor:
        """``n`` points of the parameter box, randomly permuted (so that pairing with other columns is random)."""
        unit = sampler.sample_unit(n, len(self.parameters), generator=generator)[_permutation(n, generator)]
        return self._low + (self._high - self._low) * unit.to(_F64)

    def _with_parameters(
        self, points: Tensor, normals: Tensor | None, generator: torch.Generator, sampler: AbstractSampler
    ) -> tuple[Tensor, Tensor | None]:
        n = len(points)
        points = torch.cat([points.to(_F64), self._box_sample(n, generator, sampler)], dim=1)
        if normals is not None:
            normals = torch.cat([normals.to(_F64), torch.zeros(n, len(self.parameters), dtype=_F64)], dim=1)
        return points, normals

    def _sample_boundary(self, n: int, generator: torch.Generator, sampler: AbstractSampler) -> tuple[Tensor, Tensor]:
        points, normals = self._with_parameters(*self.base._sample_boundary(n, generator, sampler), generator, sampler)
        assert normals is not None
        return points, normals

    def sample_initial(
        self,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """Points of the initial slice ``t = t0`` times the parameter box (see ``SpaceTime.sample_initial``).

        Shapes:
            points: ``(n_points, dim)``.
        """
        if not hasattr(self.base, "sample_initial"):
            raise ValueError("an initial slice needs a time-dependent problem (give time=(t0, t1))")
        smp = make_sampler(sampler)
        start = self.base.sample_initial(n_points, generator=generator, sampler=smp, dtype=_F64)
        points, _ = self._with_parameters(start, None, generator, smp)
        return points.to(dtype=dtype, device=device)

    @property
    def side_names(self) -> tuple[str, ...]:
        return self.base.side_names

    def side_mask(self, name: str, points: Tensor, *, tol: float = 1e-9) -> Tensor:
        if not isinstance(points, Tensor) or points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"points must be a floating tensor of shape (n_points, {self.dim})")
        inside = self._in_box(points.detach().to(_F64), tol).to(points.device)
        return self.base.side_mask(name, points[:, : self._n_base], tol=tol) & inside

    def sample_side(
        self,
        name: str,
        n_points: int,
        *,
        generator: torch.Generator,
        sampler: SamplerSpec = "sobol",
        dtype: torch.dtype = _F64,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        smp = make_sampler(sampler)
        points, side_normals = self.base.sample_side(name, n_points, generator=generator, sampler=smp, dtype=_F64)
        points, normals = self._with_parameters(points, side_normals, generator, smp)
        assert normals is not None
        return points.to(dtype=dtype, device=device), normals.to(dtype=dtype, device=device)


def _warn_outside(problem: Problem, columns: Tensor, what: str) -> None:
    for i, parameter in enumerate(problem.parameters):
        values = columns[:, i]
        if not len(values):
            continue
        low, high = float(values.min()), float(values.max())
        if low < parameter.low or high > parameter.high:
            shown = f"{low:g}" if low == high else f"values in [{low:g}, {high:g}]"
            warnings.warn(
                f"{what}: {parameter.name}={shown} lies outside the parameter range [{parameter.low:g}, "
                f"{parameter.high:g}] the solution was trained on: this is extrapolation",
                ExtrapolationWarning,
                stacklevel=3,
            )


def _column(name: str, value: object, n_points: int, dtype: torch.dtype, device: torch.device, what: str) -> Tensor:
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(f"{what}: {name} must be a number or one value per point, got {value!r}")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{what}: {name} must be a finite number, got {value!r}")
        return torch.full((n_points,), number, dtype=dtype, device=device)
    try:
        column = torch.as_tensor(value, dtype=dtype, device=device).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{what}: {name} must be a number or one value per point, got {value!r:.80} ({err})") from None
    if column.numel() == 1:
        column = column.expand(n_points)
    if column.shape != (n_points,):
        raise ValueError(f"{what}: {name} must be a number or {n_points} values (one per point), got {column.numel()}")
    if not bool(torch.isfinite(column).all()):
        raise ValueError(f"{what}: {name} must be finite")
    return column


def with_parameters(problem: Problem, points: Tensor, values: Mapping[str, Any], *, what: str = "predict") -> Tensor:
    """``points`` with the parameter columns appended from ``values`` (or checked, when already there).

    Points either hold every coordinate including the parameters (then ``values`` must be empty), or the
    coordinates without the parameters (space, then ``t``), and ``values`` gives each parameter: a number, or
    one value per point. Values outside a parameter's range give an :class:`ExtrapolationWarning`.

    Args:
        problem: the problem (with or without parameters).
        points: the points.
        values: parameter values by name.
        what: the caller's name for messages.

    Returns:
        points: all columns, in the problem's coordinate order.

    Shapes:
        points: ``(n_points, n_coords)`` or ``(n_points, n_coords - n_parameters)``; returns ``(n_points, n_coords)``.

    Raises:
        TypeError: an unknown parameter name, or a value that is not a number or a sequence.
        ValueError: wrong point shape, a missing parameter, non-finite values, or values given for points that
            already hold the parameter columns.
    """
    names = [p.name for p in problem.parameters]
    unknown = [k for k in values if k not in names]
    if unknown:
        known = f"its parameters are {tuple(names)}" if names else "it has no parameters"
        raise TypeError(f"{what}() got an unexpected keyword argument {unknown[0]!r}: {known}")
    n_coords, n_base = problem.n_coords, problem.n_coords - len(names)
    if points.ndim != 2 or points.shape[1] not in (n_coords, n_base):
        shapes = f"(n_points, {n_coords})" + (f" or (n_points, {n_base}) with {', '.join(names)}=..." if names else "")
        raise ValueError(
            f"{what}: points must have shape {shapes} for coordinates {problem.coords}, got {tuple(points.shape)}"
        )
    if points.shape[1] == n_coords:
        if values and names:
            raise ValueError(
                f"{what}: points already hold the parameter columns ({', '.join(names)}); give either those columns "
                f"or {', '.join(f'{k}=...' for k in values)}, not both"
            )
        if names:
            _warn_outside(problem, points[:, n_base:].detach(), what)
        return points
    missing = [k for k in names if k not in values]
    if missing:
        example = ", ".join(f"{p.name}={(p.low + p.high) / 2:g}" for p in problem.parameters)
        raise ValueError(
            f"{what}: parameter {missing[0]!r} has no value; the problem has parameters {tuple(names)}: give "
            f"{what}(points, {example}) or append the parameter columns to points"
        )
    n_points = points.shape[0]
    columns = torch.stack([_column(k, values[k], n_points, points.dtype, points.device, what) for k in names], dim=1)
    _warn_outside(problem, columns, what)
    return torch.cat([points, columns], dim=1)


def parameter_values(problem: Problem, values: Mapping[str, Any], *, what: str) -> list[dict[str, float]]:
    """Expand ``values`` (a number per parameter; at most one given as a list, a sweep) into one dict per member.

    Example: ``mu=[0.5, 1, 2], k=0.1`` gives ``[{"mu": 0.5, "k": 0.1}, {"mu": 1.0, "k": 0.1}, ...]``.

    Raises:
        TypeError: an unknown name, or a value that is not a number or a list of numbers.
        ValueError: a missing parameter, an empty or non-finite sweep, or two sweeps.
    """
    names = [p.name for p in problem.parameters]
    unknown = [k for k in values if k not in names]
    if unknown:
        known = f"its parameters are {tuple(names)}" if names else "it has no parameters"
        raise TypeError(f"{what}() got an unexpected keyword argument {unknown[0]!r}: {known}")
    missing = [k for k in names if k not in values]
    if missing:
        example = ", ".join(f"{p.name}={(p.low + p.high) / 2:g}" for p in problem.parameters)
        raise ValueError(f"{what}: parameter {missing[0]!r} has no value; give e.g. {what}(..., {example})")
    swept = [k for k in names if not isinstance(values[k], numbers.Real) or isinstance(values[k], bool)]
    if len(swept) > 1:
        raise ValueError(f"{what}: only one parameter may take a list of values (a sweep), got lists for {swept}")
    lists: dict[str, list[float]] = {}
    for k in names:
        value = values[k]
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            items = [value]
        elif isinstance(value, (str, bytes, bool)) or not isinstance(value, (Sequence, Tensor)):
            raise TypeError(f"{what}: {k} must be a number or a list of numbers, got {value!r}")
        else:
            items = list(value.reshape(-1).tolist() if isinstance(value, Tensor) else value)
            if not items:
                raise ValueError(f"{what}: {k} must hold at least one value, got {value!r}")
        floats = [_float_scalar(v, f"{what}: {k}") for v in items]
        lists[k] = floats
    n = max(len(v) for v in lists.values())
    return [{k: v[i] if len(v) > 1 else v[0] for k, v in lists.items()} for i in range(n)]


@dataclass(frozen=True)
class MemberErrors:
    """Errors of a parametric solution at one parameter value (one member of the family).

    Attributes:
        values: the parameter values, by name.
        rel_l2: ``||u - u_exact|| / ||u_exact||`` on the test points of the domain (space and time).
        max_abs: ``max |u - u_exact|`` there.
    """

    values: dict[str, float]
    rel_l2: float | None
    max_abs: float | None


def errors_at(solution: Any, values: Mapping[str, Any]) -> list[MemberErrors]:
    """Errors of a :class:`~kanpde.pde.solution.Solution` at each member of ``values`` (see
    :func:`parameter_values`).

    The points are the solution's test points with their parameter columns replaced by the member's values.

    Raises:
        ValueError: the problem has no parameters or no exact solution, or bad ``values``.
    """
    problem = solution.problem
    if not problem.parameters:
        raise ValueError("errors_at: the problem has no parameters (kp.Parameter); use solver.errors()")
    if problem.exact is None:
        raise ValueError("errors_at: the problem has no exact solution (exact=...) to compare with")
    members = parameter_values(problem, values, what="errors_at")
    base = solution.test_points()[:, : problem.n_coords - len(problem.parameters)]
    out = []
    for member in members:
        points = with_parameters(problem, base, member, what="errors_at")
        rel, mx = solution.errors(points)
        out.append(MemberErrors(dict(member), rel, mx))
    return out
