"""Boundary and initial conditions: where their points lie and what vanishes there.

``on`` selects the boundary part: None (the whole boundary), a side name of a box (``"xmin"``, ``"left"``, ...),
or a callable mask ``points (n, n_coords) -> bool (n,)`` on boundary points. Values are expressions
(numbers, sympy, strings in x, y, z, t, callables), bound to the problem's coordinates by :meth:`bind`.

``name`` names the condition's loss term in weights, history, summaries and errors (``kp.Dirichlet(0, on=mask,
name="inlet")``); without it the label says the kind and where (``"dirichlet[xmin]"``, ``"neumann[inlet_mask]"``
for a mask that is a named function), and a problem numbers labels that repeat (``"dirichlet[mask]"``,
``"dirichlet[mask 2]"``).
"""

from __future__ import annotations

import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sympy
import torch
from torch import Tensor

from .expressions import Expression, ExpressionLike, as_expression
from .fields import Fields
from .geometry import AbstractGeometry

__all__ = [
    "AbstractCondition",
    "ConditionPoints",
    "Dirichlet",
    "Neumann",
    "Robin",
    "Periodic",
    "Initial",
    "InitialVelocity",
]

Selector = None | str | Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class ConditionPoints:
    """Points where a condition is imposed.

    Shapes:
        points, normals: ``(n_points, n_coords)`` (normals zero in time; None for initial conditions);
        partners: the matching points of a periodic pair, or None.
    """

    points: Tensor
    normals: Tensor | None = None
    partners: Tensor | None = None


def _sample_selected(
    domain: AbstractGeometry, on: Selector, n_points: int, *, label: str, **kwargs: Any
) -> ConditionPoints:
    if on is None:
        points, normals = domain.sample_boundary(n_points, **kwargs)
        return ConditionPoints(points, normals)
    if isinstance(on, str):
        points, normals = domain.sample_side(on, n_points, **kwargs)
        return ConditionPoints(points, normals)
    # A callable mask: oversample the boundary and keep what it selects.
    kept_p, kept_n, have, drawn = [], [], 0, 0
    while have < n_points:
        if drawn >= 64 * n_points + 4096:
            raise ValueError(
                f"{label}: the `on` mask selected {have} of {drawn} boundary points; it selects too little"
            )
        points, normals = domain.sample_boundary(max(4 * (n_points - have), 256), **kwargs)
        mask = on(points)
        if not isinstance(mask, Tensor) or mask.shape != (len(points),):
            raise ValueError(f"{label}: `on` must return a bool tensor of shape (n_points,), got {mask!r:.80}")
        kept_p.append(points[mask.bool()])
        kept_n.append(normals[mask.bool()])
        have += int(mask.sum())
        drawn += len(points)
    return ConditionPoints(torch.cat(kept_p)[:n_points], torch.cat(kept_n)[:n_points])


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:#\[\] -]{0,99}")


def _check_name(condition: AbstractCondition) -> None:
    """Refuse a bad ``name`` when the condition is made (its ``field`` is checked by the problem, which knows
    ``n_fields``)."""
    name = condition.name
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string such as 'inlet', got {type(name).__name__}")
        if not _NAME.fullmatch(name) or name == "pde":
            raise ValueError(
                f"name must be 1 to 100 letters, digits, '_', '-', '.', ':', '#', spaces or brackets, starting with a "
                f"letter, digit or '_', and not 'pde' (the PDE's term); got {name!r}"
            )


def _mask_name(on: object) -> str:
    """How a callable mask appears in a default label: its function name, or ``"mask"`` for a lambda."""
    name = getattr(on, "__name__", "")
    return name if isinstance(name, str) and name.isidentifier() and not name.startswith("_") else "mask"


def _check_on(on: object) -> Selector:
    if on is None or isinstance(on, str) or callable(on):
        return on  # type: ignore[return-value]
    raise TypeError(f"on must be None, a side name such as 'xmin' or a callable mask, got {type(on).__name__}")


class AbstractCondition(ABC):
    """A condition ``residual(u) = 0`` on some points of the boundary (or of the initial slice)."""

    #: highest derivative order of u the residual needs (0: values, 1: first derivatives)
    order: int = 0
    #: the :class:`ConditionPoints` attributes where the residual needs u (see :meth:`residual_of`)
    point_sets: tuple[str, ...] = ("points",)
    field: int = 0
    on: Selector = None
    name: str | None = None

    @property
    def label(self) -> str:
        """Name of the loss term: ``name`` when given, else e.g. ``"dirichlet[xmin]"``."""
        return self.name if self.name is not None else self.default_label()

    def default_label(self) -> str:
        """The label without a ``name``: the kind and where, e.g. ``"dirichlet[xmin]"``."""
        where = "" if self.on is None else f"[{self.on if isinstance(self.on, str) else _mask_name(self.on)}]"
        return f"{type(self).__name__.lower()}{where}"

    @abstractmethod
    def bind(self, coords: tuple[str, ...]) -> AbstractCondition:
        """A copy with its values converted to expressions in ``coords`` (checked; errors name the value)."""

    def check_domain(self, domain: AbstractGeometry) -> None:
        """Raise ValueError when the condition cannot apply to ``domain`` (e.g. an unknown side)."""
        if not isinstance(self.on, str):
            return
        if not domain.side_names:
            raise ValueError(
                f"{self.label}: on={self.on!r} names a side, but {domain!r} has no named sides (boxes name theirs, "
                "a MeshDomain takes its mesh's physical tags); select boundary points with a callable mask"
            )
        try:  # the geometry knows its sides and aliases ("top" is one in 2-D, not in 1-D)
            domain.side_mask(self.on, torch.zeros(1, domain.dim, dtype=torch.float64))
        except ValueError as err:
            raise ValueError(f"{self.label}: on={self.on!r} is not a side of this domain: {err}") from None

    def sample(self, domain: AbstractGeometry, n_points: int, **kwargs: Any) -> ConditionPoints:
        """Points where the condition holds. ``kwargs``: generator, sampler, dtype, device."""
        return _sample_selected(domain, self.on, n_points, label=self.label, **kwargs)

    @abstractmethod
    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        """What vanishes when the condition holds, shape ``(n_points,)`` (or ``(n_points, m)``)."""

    def residual_of(self, u: Sequence[Fields], where: ConditionPoints) -> Tensor:
        """The residual from the solution at each of :attr:`point_sets` (``u[i]`` at ``point_sets[i]``).

        The residual engine calls this; a condition on one point set (the default) is :meth:`residual`.
        """
        return self.residual(u[0], where)


@dataclass(frozen=True)
class Dirichlet(AbstractCondition):
    """``u = value`` on the selected boundary.

    Example:
        >>> bc = Dirichlet("sin(pi*x)", on="ymin")
    """

    value: ExpressionLike = 0.0
    on: Selector = None
    field: int = 0
    name: str | None = None
    order = 0

    def __post_init__(self) -> None:
        _check_on(self.on)
        _check_name(self)

    def bind(self, coords: tuple[str, ...]) -> Dirichlet:
        return replace(self, value=as_expression(self.value, coords=coords, name="Dirichlet value"))

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        value = self.value
        assert isinstance(value, Expression), "bind() the condition first"
        return u[self.field].value - value(where.points)


@dataclass(frozen=True)
class Neumann(AbstractCondition):
    """``du/dn = flux`` on the selected boundary, ``n`` the outward unit normal."""

    flux: ExpressionLike = 0.0
    on: Selector = None
    field: int = 0
    name: str | None = None
    order = 1

    def __post_init__(self) -> None:
        _check_on(self.on)
        _check_name(self)

    def bind(self, coords: tuple[str, ...]) -> Neumann:
        return replace(self, flux=as_expression(self.flux, coords=coords, name="Neumann flux"))

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        flux = self.flux
        assert isinstance(flux, Expression) and where.normals is not None
        return _normal_derivative(u[self.field], where.normals) - flux(where.points)


@dataclass(frozen=True)
class Robin(AbstractCondition):
    """``alpha*u + beta*du/dn = value`` on the selected boundary."""

    alpha: ExpressionLike = 1.0
    beta: ExpressionLike = 1.0
    value: ExpressionLike = 0.0
    on: Selector = None
    field: int = 0
    name: str | None = None
    order = 1

    def __post_init__(self) -> None:
        _check_on(self.on)
        _check_name(self)
        if _is_zero(self.alpha) and _is_zero(self.beta):
            raise ValueError(
                f"Robin alpha and beta are both zero (alpha={self.alpha!r}, beta={self.beta!r}): the condition "
                "alpha*u + beta*du/dn = value then says nothing about u; give alpha or beta a non-zero value"
            )

    def bind(self, coords: tuple[str, ...]) -> Robin:
        return replace(  # runs __post_init__ again: strings that are zero are known now
            self,
            alpha=as_expression(self.alpha, coords=coords, name="Robin alpha"),
            beta=as_expression(self.beta, coords=coords, name="Robin beta"),
            value=as_expression(self.value, coords=coords, name="Robin value"),
        )

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        alpha, beta, value = self.alpha, self.beta, self.value
        assert isinstance(alpha, Expression) and isinstance(beta, Expression) and isinstance(value, Expression)
        assert where.normals is not None
        p = where.points
        field = u[self.field]
        return alpha(p) * field.value + beta(p) * _normal_derivative(field, where.normals) - value(p)


def _is_zero(value: object) -> bool:
    """Whether an expression-like value is the constant zero (callables are never known to be)."""
    if isinstance(value, Expression):
        value = value.sympy_expr
    if isinstance(value, sympy.Basic):
        return value.is_zero is True  # (sympy's Float(0.0) == 0 is False)
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == 0


def _normal_derivative(u: Fields, normals: Tensor) -> Tensor:
    full = torch.stack([u.d(c) for c in u.coords], dim=1)
    return (full * normals).sum(dim=1)


def _is_numbered_axis(axis: object) -> bool:
    return isinstance(axis, str) and axis[:1] == "x" and axis[1:].isdigit() and axis[1:2] != "0"


@dataclass(frozen=True)
class Periodic(AbstractCondition):
    """``u`` and ``du/d(axis)`` equal on the two opposite faces of a box along ``axis`` ("x", "y", "z"; "x1", ...
    beyond 3-D)."""

    axis: str = "x"
    field: int = 0
    name: str | None = None
    order = 1
    point_sets = ("points", "partners")

    def __post_init__(self) -> None:
        if self.axis not in ("x", "y", "z") and not _is_numbered_axis(self.axis):
            raise ValueError(f"Periodic axis must be 'x', 'y', 'z' (or 'x1', 'x2', ... beyond 3-D), got {self.axis!r}")
        _check_name(self)

    def default_label(self) -> str:
        return f"periodic[{self.axis}]"

    def bind(self, coords: tuple[str, ...]) -> Periodic:
        if self.axis not in coords:
            raise ValueError(f"Periodic axis {self.axis!r} is not a coordinate of this problem {coords}")
        return self

    def check_domain(self, domain: AbstractGeometry) -> None:
        space = getattr(domain, "space", domain)
        if not hasattr(space, "lower") or not hasattr(space, "upper") or not space.side_names:
            raise ValueError(f"Periodic({self.axis!r}) needs a box domain (Interval, Rectangle, Box); got {domain!r}")

    def sample(self, domain: AbstractGeometry, n_points: int, **kwargs: Any) -> ConditionPoints:
        space = getattr(domain, "space", domain)
        axis = space.side_names.index(f"{self.axis}min") // 2
        points, normals = domain.sample_side(f"{self.axis}min", n_points, **kwargs)
        partners = points.clone()
        partners[:, axis] = float(space.bounds[1][axis])  # a box (check_domain): its bounds are (lower, upper)
        return ConditionPoints(points, normals, partners)

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        raise TypeError(
            "a periodic residual compares two faces: call residual_of([u_min, u_max], where) or periodic_residual"
        )

    def residual_of(self, u: Sequence[Fields], where: ConditionPoints) -> Tensor:
        return self.periodic_residual(u[0], u[1])

    def periodic_residual(self, u_min: Fields, u_max: Fields) -> Tensor:
        """Value and normal-axis derivative mismatches, shape ``(n_points, 2)``."""
        a, b = u_min[self.field], u_max[self.field]
        return torch.stack([a.value - b.value, a.d(self.axis) - b.d(self.axis)], dim=1)


@dataclass(frozen=True)
class Initial(AbstractCondition):
    """``u(x, t0) = value`` (used by time-dependent problems for their ``initial`` argument)."""

    value: ExpressionLike = 0.0
    field: int = 0
    name: str | None = None
    order = 0

    def __post_init__(self) -> None:
        _check_name(self)

    def default_label(self) -> str:
        return "initial" if self.field == 0 else f"initial[field {self.field}]"

    def bind(self, coords: tuple[str, ...]) -> Initial:
        return replace(self, value=as_expression(self.value, coords=coords, name="initial value"))

    def check_domain(self, domain: AbstractGeometry) -> None:
        if not hasattr(domain, "sample_initial"):
            raise ValueError("an initial condition needs a time-dependent problem (give time=(t0, t1))")

    def sample(self, domain: AbstractGeometry, n_points: int, **kwargs: Any) -> ConditionPoints:
        return ConditionPoints(domain.sample_initial(n_points, **kwargs))  # type: ignore[attr-defined]

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        value = self.value
        assert isinstance(value, Expression)
        return u[self.field].value - value(where.points)


@dataclass(frozen=True)
class InitialVelocity(AbstractCondition):
    """``du/dt(x, t0) = value``: the initial velocity of a problem second order in time (``initial_velocity=``).

    One more block of the residual system, at the points of the initial slice, that reads the first derivative
    in ``t``.
    """

    value: ExpressionLike = 0.0
    field: int = 0
    name: str | None = None
    order = 1

    def __post_init__(self) -> None:
        _check_name(self)

    def default_label(self) -> str:
        return "initial_velocity" if self.field == 0 else f"initial_velocity[field {self.field}]"

    def bind(self, coords: tuple[str, ...]) -> InitialVelocity:
        return replace(self, value=as_expression(self.value, coords=coords, name="initial velocity"))

    def check_domain(self, domain: AbstractGeometry) -> None:
        if not hasattr(domain, "sample_initial"):
            raise ValueError("an initial velocity needs a time-dependent problem (give time=(t0, t1))")

    def sample(self, domain: AbstractGeometry, n_points: int, **kwargs: Any) -> ConditionPoints:
        return ConditionPoints(domain.sample_initial(n_points, **kwargs))  # type: ignore[attr-defined]

    def residual(self, u: Fields, where: ConditionPoints) -> Tensor:
        value = self.value
        assert isinstance(value, Expression)
        return u[self.field].d("t") - value(where.points)
