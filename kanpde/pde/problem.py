"""Problems as objects: the domain, the equation, the conditions and (when known) the exact solution.

- :class:`Poisson`: ``-Laplace(u) = f``;
- :class:`Heat`: ``u_t - k Laplace(u) = f`` with an initial value;
- :class:`PDE`: any residual written with the derivatives of ``u`` (see :mod:`kanpde.pde.fields`).

Coordinates are named x, y, z (space) then t (time); values are expressions in them.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .conditions import AbstractCondition, Initial
from .expressions import Expression, ExpressionLike, as_expression, coordinate_names
from .fields import Fields
from .geometry import AbstractGeometry
from .parameters import Parameter, ParameterProduct, check_parameters
from .spacetime import SpaceTime, TimeInterval

__all__ = ["Problem", "Poisson", "Heat", "PDE"]


def _check_conditions(bcs: object) -> list[AbstractCondition]:
    if bcs is None:
        return []
    if isinstance(bcs, AbstractCondition):
        return [bcs]
    if isinstance(bcs, (str, bytes)) or not isinstance(bcs, Sequence):
        raise TypeError(f"bcs must be a list of conditions (kp.Dirichlet, kp.Neumann, ...), got {type(bcs).__name__}")
    bad = [c for c in bcs if not isinstance(c, AbstractCondition)]
    if bad:
        raise TypeError(f"bcs must contain conditions such as kp.Dirichlet(0); got {bad[0]!r}")
    return list(bcs)


def _problem_coords(domain: object, time: bool, parameters: object) -> tuple[str, ...]:
    """Column names of a problem's points: space, then ``t``, then the parameters (checked)."""
    base = coordinate_names(domain.dim, time) if isinstance(domain, AbstractGeometry) else ("x", "t")[: 1 + time]
    return base + tuple(p.name for p in check_parameters(parameters, base))


def _time_interval(time: object) -> TimeInterval:
    if isinstance(time, TimeInterval):
        return time
    if isinstance(time, (str, bytes)) or not isinstance(time, Sequence) or len(time) != 2:
        raise ValueError(f"time must be a pair (t0, t1) with t0 < t1, got {time!r}")
    try:
        return TimeInterval(float(time[0]), float(time[1]))
    except (TypeError, ValueError) as err:
        raise ValueError(f"time must be a pair (t0, t1) with t0 < t1, got {time!r}: {err}") from None


class Problem:
    """A PDE on a domain with conditions. Concrete problems are :class:`Poisson`, :class:`Heat`, :class:`PDE`.

    Attributes:
        space: the spatial domain.
        domain: the sampled domain: ``space``, or ``SpaceTime(space, time)`` for time-dependent problems.
        coords: coordinate names of the point columns (space, then ``t``, then the parameters).
        parameters: the :class:`~kanpde.pde.parameters.Parameter` inputs, in column order (empty when none).
        n_fields: number of unknown fields (1 for a scalar PDE).
        conditions: boundary conditions then the initial condition, bound to ``coords``.
        exact: the exact solution per field, or None.
        description: one line saying what the problem is (for summaries and file attributes).
    """

    def __init__(
        self,
        domain: AbstractGeometry,
        residual: Callable[[Fields], Tensor],
        *,
        bcs: Sequence[AbstractCondition] | None = None,
        time: tuple[float, float] | TimeInterval | None = None,
        initial: ExpressionLike | Sequence[ExpressionLike] | None = None,
        exact: ExpressionLike | Sequence[ExpressionLike] | None = None,
        n_fields: int = 1,
        description: str = "",
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        if not isinstance(domain, AbstractGeometry) or isinstance(domain, SpaceTime):
            raise TypeError(
                f"domain must be a geometry such as kp.Rectangle((0, 0), (1, 1)) (time goes in `time=`), "
                f"got {type(domain).__name__}"
            )
        if not callable(residual):
            raise TypeError(f"residual must be a callable u -> tensor, got {type(residual).__name__}")
        if not isinstance(n_fields, int) or n_fields < 1:
            raise ValueError(f"n_fields must be a positive integer, got {n_fields!r}")
        self.space = domain
        self.time = None if time is None else _time_interval(time)
        self.domain: AbstractGeometry = domain if self.time is None else SpaceTime(domain, self.time)
        if domain.dim > 3:
            raise ValueError(f"domain has {domain.dim} dimensions; problems are defined for 1 to 3 space dimensions")
        self.coords = coordinate_names(domain.dim, self.time is not None)
        self.parameters: tuple[Parameter, ...] = check_parameters(parameters, self.coords)
        if self.parameters:  # one more column per parameter on every point set (parameters.py)
            self.domain = ParameterProduct(self.domain, self.parameters)
            self.coords += tuple(p.name for p in self.parameters)
        self.n_fields = n_fields
        self._residual = residual
        conditions = _check_conditions(bcs)
        if initial is not None:
            if self.time is None:
                raise ValueError("initial was given but the problem has no time interval; pass time=(t0, t1)")
            values = list(initial) if isinstance(initial, (list, tuple)) else [initial]
            conditions += [Initial(v, field=i) for i, v in enumerate(values)]
        elif self.time is not None:
            raise ValueError("a time-dependent problem needs an initial value: pass initial=...")
        for condition in conditions:
            condition.check_domain(self.domain)
            field = condition.field
            if isinstance(field, bool) or not isinstance(field, numbers.Integral) or not 0 <= field < n_fields:
                raise ValueError(
                    f"{condition.label}: field={field!r} is not a field of this problem; field must be an integer "
                    f"in 0 ... {n_fields - 1} (n_fields={n_fields})"
                )
        self.conditions: tuple[AbstractCondition, ...] = tuple(c.bind(self.coords) for c in conditions)
        self.exact: tuple[Expression, ...] | None = None
        if exact is not None:
            values = list(exact) if isinstance(exact, (list, tuple)) else [exact]
            if len(values) != n_fields:
                raise ValueError(f"exact must give {n_fields} solution(s), one per field; got {len(values)}")
            self.exact = tuple(as_expression(v, coords=self.coords, name="exact") for v in values)
        self.description = description or type(self).__name__
        if not any(not isinstance(c, Initial) for c in self.conditions):
            warnings.warn(
                f"{type(self).__name__}: bcs is empty, so the solution is not unique (any solution plus a solution of "
                "the homogeneous equation also solves it); pass boundary conditions, e.g. bcs=[kp.Dirichlet(0)]",
                UserWarning,
                stacklevel=3 if type(self) is not Problem else 2,
            )

    def check_data(self, points: Tensor) -> None:
        """Evaluate the problem's data at a few ``points`` of the domain; raise a clear error for bad values.

        Called by the solver when it is built, before any training. Checks the exact solution; subclasses check
        their coefficients too (:class:`Heat`: a positive diffusivity).

        Shapes:
            points: ``(n_points, n_coords)``.
        """
        if self.exact is not None:
            self.exact_values(points)

    @property
    def space_dim(self) -> int:
        return self.space.dim

    @property
    def n_coords(self) -> int:
        return len(self.coords)

    def residual(self, u: Fields) -> Tensor:
        """The PDE residual at the points of ``u``, shape ``(n_points,)`` or ``(n_points, n_equations)``."""
        return self._residual(u)

    def exact_values(self, points: Tensor) -> Tensor | None:
        """The exact solution at ``points`` ``(n_points, n_coords) -> (n_points, n_fields)``, or None."""
        if self.exact is None:
            return None
        return torch.stack([e(points) for e in self.exact], dim=1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class Poisson(Problem):
    """``-Laplace(u) = f`` in the domain, with boundary conditions.

    Example:
        >>> import kanpde as kp
        >>> problem = kp.Poisson(kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)",
        ...                      bcs=[kp.Dirichlet(0)], exact="sin(pi*x)*sin(pi*y)")
    """

    def __init__(
        self,
        domain: AbstractGeometry,
        f: ExpressionLike = 0.0,
        bcs: Sequence[AbstractCondition] | None = None,
        exact: ExpressionLike | None = None,
        *,
        description: str = "",
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        coords = _problem_coords(domain, False, parameters)
        self.f = as_expression(f, coords=coords, name="f")
        source = self.f
        super().__init__(
            domain,
            lambda u: u.laplacian + source(u.points),
            bcs=bcs,
            exact=exact,
            description=description or f"-Laplace(u) = {source._describe()} on {domain!r}",
            parameters=parameters,
        )


class Heat(Problem):
    """``u_t - k Laplace(u) = f`` on the domain x (t0, t1), with an initial value and boundary conditions."""

    def __init__(
        self,
        domain: AbstractGeometry,
        time: tuple[float, float] | TimeInterval = (0.0, 1.0),
        diffusivity: ExpressionLike = 1.0,
        f: ExpressionLike = 0.0,
        initial: ExpressionLike | None = None,
        bcs: Sequence[AbstractCondition] | None = None,
        exact: ExpressionLike | None = None,
        *,
        description: str = "",
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        coords = _problem_coords(domain, True, parameters)
        self.diffusivity = as_expression(diffusivity, coords=coords, name="diffusivity")
        self.f = as_expression(f, coords=coords, name="f")
        k, source = self.diffusivity, self.f
        if k.is_constant and not float(k(torch.zeros(1, len(coords), dtype=torch.float64))[0]) > 0:
            raise ValueError(f"diffusivity must be positive, got {diffusivity!r}")
        if initial is None:
            raise ValueError("Heat needs an initial value: pass initial=... (a number, string, sympy or callable)")
        super().__init__(
            domain,
            lambda u: u.t - k(u.points) * u.laplacian - source(u.points),
            bcs=bcs,
            time=time,
            initial=initial,
            exact=exact,
            description=description or f"u_t - {k._describe()}*Laplace(u) = {source._describe()} on {domain!r}",
            parameters=parameters,
        )

    def check_data(self, points: Tensor) -> None:
        """As :meth:`Problem.check_data`, and the diffusivity must be positive at ``points``."""
        super().check_data(points)
        values = self.diffusivity(points)
        if not bool((values > 0).all()):
            worst = float(values.min())
            raise ValueError(f"diffusivity must be positive in the domain, got {worst:g} at a point of the domain")


class PDE(Problem):
    """Any PDE: ``residual(u)`` returns what vanishes, written with ``u.value, u.x, u.xx, u.laplacian, u.t``...

    Example (viscous Burgers):
        >>> import kanpde as kp, math
        >>> burgers = kp.PDE(kp.Interval(-1, 1), lambda u: u.t + u.value * u.x - 0.01 / math.pi * u.xx,
        ...                  time=(0, 1), initial="-sin(pi*x)", bcs=[kp.Dirichlet(0)])
    """

    def __init__(
        self,
        domain: AbstractGeometry,
        residual: Callable[[Fields], Tensor],
        bcs: Sequence[AbstractCondition] | None = None,
        time: tuple[float, float] | TimeInterval | None = None,
        initial: Any = None,
        exact: Any = None,
        *,
        n_fields: int = 1,
        description: str = "",
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        super().__init__(
            domain,
            residual,
            bcs=bcs,
            time=time,
            initial=initial,
            exact=exact,
            n_fields=n_fields,
            description=description or f"general PDE on {domain!r}" + (f" x {tuple(time)}" if time else ""),
            parameters=parameters,
        )
