"""Problems as objects: the domain, the equation, the conditions and (when known) the exact solution.

- :class:`Poisson`: ``-Laplace(u) = f``, or ``-div(k grad u) = f`` with ``coefficient=k``;
- :class:`Heat`: ``u_t - div(k grad u) = f`` with an initial value (``k Laplace(u)`` for a constant ``k``);
- :class:`Wave`: ``u_tt - c^2 Laplace(u) = f`` with an initial value and an initial velocity;
- :class:`PDE`: any residual written with the derivatives of ``u`` (see :mod:`kanpde.pde.fields`).

Coordinates are named x, y, z (space; x1, ..., xn beyond three dimensions) then t (time); values are
expressions in them.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy
import torch
from torch import Tensor

from .coefficients import make_diffusion
from .conditions import AbstractCondition, Initial, InitialVelocity
from .expressions import Expression, ExpressionLike, as_expression, coordinate_names
from .fields import Fields, is_space_name
from .geometry import AbstractGeometry
from .parameters import Parameter, ParameterProduct, check_parameters
from .spacetime import SpaceTime, TimeInterval
from .unknowns import Unknown, UnknownField, prepare_unknowns, with_unknowns

__all__ = ["Problem", "Poisson", "Heat", "Wave", "PDE"]


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


def _named(conditions: Sequence[AbstractCondition]) -> tuple[AbstractCondition, ...]:
    """The conditions with labels that name one term each: a repeated ``name`` is refused, a repeated default label
    is numbered from its second use on (``"dirichlet[mask]"``, ``"dirichlet[mask 2]"``)."""
    named = Counter(c.name for c in conditions if c.name is not None)
    repeated = [name for name, n in named.items() if n > 1]
    if repeated:
        raise ValueError(
            f"two conditions are named {repeated[0]!r}: condition names name the loss terms (in weights, history and "
            "errors) and must be unique; give each its own name="
        )
    seen: Counter[str] = Counter(named)
    out = []
    for c in conditions:
        label = c.label
        if c.name is None:
            seen[label] += 1
            if seen[label] > 1:
                number = seen[label]
                label = f"{label[:-1]} {number}]" if label.endswith("]") else f"{label}[{number}]"
                c = dataclasses.replace(c, name=label)  # type: ignore[type-var]
        out.append(c)
    return tuple(out)


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


def _time_span(time: tuple[float, float] | TimeInterval) -> tuple[float, ...]:
    """``(t0, t1)`` as the user gave it, for descriptions."""
    return (time.t0, time.t1) if isinstance(time, TimeInterval) else tuple(time)


class Problem:
    """A PDE on a domain with conditions: :class:`Poisson`, :class:`Heat`, :class:`Wave` or :class:`PDE`.

    Attributes:
        space: the spatial domain.
        domain: the sampled domain: ``space``, or ``SpaceTime(space, time)`` for time-dependent problems.
        coords: coordinate names of the point columns (space, then ``t``, then the parameters).
        parameters: the :class:`~kanpde.pde.parameters.Parameter` inputs, in column order (empty when none).
        n_fields: number of unknown fields (1 for a scalar PDE).
        conditions: boundary conditions then the initial condition, bound to ``coords``.
        exact: the exact solution per field, or None.
        description: one line saying what the problem is (for summaries and file attributes).
        data: the observations of an inverse problem (``data=[kp.Observations(...)]``), each checked here.
        unknowns: the unknown constants and fields (``unknowns=[...]`` and those passed as values, e.g.
            ``diffusivity=k``), identified by the solver (see :mod:`kanpde.pde.unknowns`).
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
        initial_velocity: ExpressionLike | Sequence[ExpressionLike] | None = None,
        data: Sequence[Any] | None = None,
        unknowns: Sequence[Unknown | UnknownField] | None = None,
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
        if initial_velocity is not None:
            if self.time is None:
                raise ValueError("initial_velocity was given but the problem has no time interval; pass time=(t0, t1)")
            values = list(initial_velocity) if isinstance(initial_velocity, (list, tuple)) else [initial_velocity]
            conditions += [InitialVelocity(v, field=i) for i, v in enumerate(values)]
        for condition in conditions:
            condition.check_domain(self.domain)
            field = condition.field
            if isinstance(field, bool) or not isinstance(field, numbers.Integral) or not 0 <= field < n_fields:
                raise ValueError(
                    f"{condition.label}: field={field!r} is not a field of this problem; field must be an integer "
                    f"in 0 ... {n_fields - 1} (n_fields={n_fields})"
                )
        self.conditions: tuple[AbstractCondition, ...] = _named([c.bind(self.coords) for c in conditions])
        self.exact: tuple[Expression, ...] | None = None
        if exact is not None:
            values = list(exact) if isinstance(exact, (list, tuple)) else [exact]
            if len(values) != n_fields:
                raise ValueError(f"exact must give {n_fields} solution(s), one per field; got {len(values)}")
            self.exact = tuple(as_expression(v, coords=self.coords, name="exact") for v in values)
        self.description = description or type(self).__name__
        self.unknowns: tuple[Unknown | UnknownField, ...] = tuple(prepare_unknowns(unknowns, self.coords))
        self.data = _checked_data(data, self)
        # Observations may stand in for boundary conditions (an inverse problem measured inside the domain, e.g.
        # PINNacle's HInv, problems/heat_inverse_pinnacle.py): then there is nothing to warn about here.
        if not self.data and not any(not isinstance(c, (Initial, InitialVelocity)) for c in self.conditions):
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

    def sympy_residual(self, u: sympy.Expr, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
        """The PDE residual of the formula ``u`` (in ``symbols``, one per coordinate name), or None when it has
        no sympy form (callables, several fields). This is the residual callable applied to
        :class:`~kanpde.pde.symbolic_fields.SymbolicFields`; the problem classes that build their residual from
        values say it directly. Verification (:mod:`kanpde.symbolic.verify`) asks the problem for it."""
        from .symbolic_fields import SymbolicFields

        if self.n_fields != 1:
            return None
        try:
            value = self.residual(SymbolicFields(u, [symbols[c] for c in self.coords], self.coords))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a residual written with torch functions: checked numerically
            return None
        return value if isinstance(value, sympy.Expr) else None

    def exact_values(self, points: Tensor) -> Tensor | None:
        """The exact solution at ``points`` ``(n_points, n_coords) -> (n_points, n_fields)``, or None."""
        if self.exact is None:
            return None
        return torch.stack([e(points) for e in self.exact], dim=1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


def _checked_data(data: object, problem: Problem) -> tuple[Any, ...]:
    """The observations of ``data=[...]`` with their points checked against the problem (see
    :meth:`~kanpde.pde.observations.Observations.checked`)."""
    from .observations import Observations

    if data is None:
        return ()
    if isinstance(data, Observations):
        data = [data]
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be a list of kp.Observations, got {type(data).__name__}")
    for obs in data:
        if not isinstance(obs, Observations):
            raise TypeError(f"data must contain kp.Observations objects, got {obs!r}")
        obs.checked(problem.coords, problem.domain, problem.n_fields)
    return tuple(data)


def _steady_flux_residual(
    problem: Poisson | Heat, u: sympy.Expr, symbols: Mapping[str, sympy.Symbol]
) -> sympy.Expr | None:
    """``-div(k grad u) - f`` of the formula ``u`` for a conservation-form problem (None for callables)."""
    from .symbolic_fields import sympy_value

    f, flux = sympy_value(problem.f, symbols), problem.diffusion.sympy_divergence(u, symbols)
    return None if f is None or flux is None else -flux - f


class Poisson(Problem):
    """``-Laplace(u) = f`` in the domain, with boundary conditions; with ``coefficient=k`` the conservation form
    ``-div(k grad u) = f``: ``k`` a positive number, an expression in the coordinates, or a symmetric positive
    definite ``space_dim x space_dim`` matrix of numbers or expressions (see :mod:`kanpde.pde.coefficients`).

    Example:
        >>> import kanpde as kp
        >>> problem = kp.Poisson(kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)",
        ...                      bcs=[kp.Dirichlet(0)], exact="sin(pi*x)*sin(pi*y)")
        >>> problem.coords, problem.n_fields
        (('x', 'y'), 1)
        >>> import torch
        >>> points = torch.tensor([[0.5, 0.5], [0.0, 0.25]], dtype=torch.float64)  # (n_points, n_coords)
        >>> problem.exact_values(points)  # (n_points, n_fields)
        tensor([[1.],
                [0.]], dtype=torch.float64)
    """

    def __init__(
        self,
        domain: AbstractGeometry,
        f: ExpressionLike = 0.0,
        bcs: Sequence[AbstractCondition] | None = None,
        exact: ExpressionLike | None = None,
        *,
        description: str = "",
        coefficient: Any = 1.0,
        data: Sequence[Any] | None = None,
        unknowns: Sequence[Unknown | UnknownField] | None = None,
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        coords = _problem_coords(domain, False, parameters)
        unknowns = prepare_unknowns(unknowns, coords, f=f, coefficient=coefficient)
        f = with_unknowns(f, coords, "f", unknowns)
        coefficient = with_unknowns(coefficient, coords, "coefficient", unknowns)
        self.f = as_expression(f, coords=coords, name="f")
        source = self.f
        self.diffusion = flux = make_diffusion(coefficient, coords=coords, name="coefficient")
        self.coefficient = flux.scalar if flux.scalar is not None else flux.matrix
        plain = flux.scalar is not None and flux.scalar.constant == 1.0
        operator = "Laplace(u)" if plain else flux.operator_text()
        super().__init__(
            domain,
            (lambda u: u.laplacian + source(u.points)) if plain else (lambda u: flux.divergence(u) + source(u.points)),
            bcs=bcs,
            exact=exact,
            description=description or f"-{operator} = {source._describe()} on {domain!r}",
            data=data,
            unknowns=unknowns,
            parameters=parameters,
        )

    def sympy_residual(self, u: sympy.Expr, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
        """``-div(k grad u) - f`` of the formula ``u`` (None when ``f`` or ``k`` is a callable)."""
        return _steady_flux_residual(self, u, symbols)

    def check_data(self, points: Tensor) -> None:
        """As :meth:`Problem.check_data`, and the coefficient must be positive (definite) at ``points``."""
        super().check_data(points)
        self.diffusion.check_positive(points)


class Heat(Problem):
    """``u_t - div(k grad u) = f`` on the domain x (t0, t1), with an initial value and boundary conditions.

    ``diffusivity`` ``k``: a positive number (``u_t - k Laplace(u)``), an expression in the coordinates and ``t``
    (``div(k grad u) = k Laplace(u) + grad k . grad u``), or a symmetric positive definite ``space_dim x space_dim``
    matrix of numbers or expressions (anisotropic; see :mod:`kanpde.pde.coefficients`).

    Example:
        >>> import kanpde as kp
        >>> heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=0.1, initial="sin(pi*x)",
        ...                bcs=[kp.Dirichlet(0)], exact="exp(-0.1*pi**2*t)*sin(pi*x)")
        >>> heat.coords  # the columns of the points: space, then t
        ('x', 't')
    """

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
        data: Sequence[Any] | None = None,
        unknowns: Sequence[Unknown | UnknownField] | None = None,
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        coords = _problem_coords(domain, True, parameters)
        unknowns = prepare_unknowns(unknowns, coords, diffusivity=diffusivity, f=f)
        diffusivity = with_unknowns(diffusivity, coords, "diffusivity", unknowns)
        f = with_unknowns(f, coords, "f", unknowns)
        self.diffusion = flux = make_diffusion(diffusivity, coords=coords, name="diffusivity")
        self.diffusivity = flux.scalar if flux.scalar is not None else flux.matrix
        self.f = as_expression(f, coords=coords, name="f")
        source = self.f
        if initial is None:
            raise ValueError("Heat needs an initial value: pass initial=... (a number, string, sympy or callable)")
        super().__init__(
            domain,
            lambda u: u.t - flux.divergence(u) - source(u.points),
            bcs=bcs,
            time=time,
            initial=initial,
            exact=exact,
            description=description or f"u_t - {flux.operator_text()} = {source._describe()} on {domain!r}",
            data=data,
            unknowns=unknowns,
            parameters=parameters,
        )

    def sympy_residual(self, u: sympy.Expr, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
        """``u_t - div(k grad u) - f`` of the formula ``u`` (None when ``f`` or ``k`` is a callable)."""
        steady = _steady_flux_residual(self, u, symbols)
        return None if steady is None else sympy.diff(u, symbols["t"]) + steady

    def check_data(self, points: Tensor) -> None:
        """As :meth:`Problem.check_data`, and the diffusivity must be positive (definite) at ``points``."""
        super().check_data(points)
        self.diffusion.check_positive(points)


class Wave(Problem):
    """``u_tt - c^2 Laplace(u) = f`` on the domain x (t0, t1), with ``u`` and ``u_t`` given at ``t0``.

    Args:
        domain: the spatial domain.
        time: ``(t0, t1)``.
        speed: the wave speed ``c`` (a positive number, or an expression in x, y, z, t).
        f: the source.
        initial: ``u(x, t0)``.
        initial_velocity: ``u_t(x, t0)`` (default 0: the wave starts at rest).
        bcs: boundary conditions.
        exact: the exact solution, or None.

    Example:
        >>> import kanpde as kp
        >>> wave = kp.Wave(kp.Interval(0, 1), time=(0, 1), speed=1.0, initial="sin(pi*x)", initial_velocity=0,
        ...                bcs=[kp.Dirichlet(0)], exact="sin(pi*x)*cos(pi*t)")
        >>> wave.coords, wave.time
        (('x', 't'), TimeInterval(t0=0.0, t1=1.0))
    """

    def __init__(
        self,
        domain: AbstractGeometry,
        time: tuple[float, float] | TimeInterval = (0.0, 1.0),
        speed: ExpressionLike = 1.0,
        f: ExpressionLike = 0.0,
        initial: ExpressionLike | None = None,
        initial_velocity: ExpressionLike = 0.0,
        bcs: Sequence[AbstractCondition] | None = None,
        exact: ExpressionLike | None = None,
        *,
        description: str = "",
        data: Sequence[Any] | None = None,
        unknowns: Sequence[Unknown | UnknownField] | None = None,
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        coords = _problem_coords(domain, True, parameters)
        unknowns = prepare_unknowns(unknowns, coords, speed=speed, f=f)
        speed = with_unknowns(speed, coords, "speed", unknowns)
        f = with_unknowns(f, coords, "f", unknowns)
        self.speed = as_expression(speed, coords=coords, name="speed")
        self.f = as_expression(f, coords=coords, name="f")
        c, source = self.speed, self.f
        if c.is_constant and not float(c(torch.zeros(1, len(coords), dtype=torch.float64))[0]) > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        if initial is None:
            raise ValueError("Wave needs an initial value: pass initial=... (a number, string, sympy or callable)")
        if initial_velocity is None:
            raise ValueError("Wave needs an initial velocity: pass initial_velocity=... (0 for a wave at rest)")
        super().__init__(
            domain,
            lambda u: u.tt - c(u.points) ** 2 * u.laplacian - source(u.points),
            bcs=bcs,
            time=time,
            initial=initial,
            initial_velocity=initial_velocity,
            exact=exact,
            description=description or f"u_tt - ({c._describe()})**2*Laplace(u) = {source._describe()} on {domain!r}",
            data=data,
            unknowns=unknowns,
            parameters=parameters,
        )

    def sympy_residual(self, u: sympy.Expr, symbols: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
        """``u_tt - c^2 Laplace(u) - f`` of the formula ``u`` (None when ``c`` or ``f`` is a callable)."""
        from .symbolic_fields import sympy_value

        space = [symbols[c] for c in self.coords if is_space_name(c)]  # not t, not parameters
        laplacian = sympy.Add(*[sympy.diff(u, s, 2) for s in space])
        c, f = sympy_value(self.speed, symbols), sympy_value(self.f, symbols)
        return None if c is None or f is None else sympy.diff(u, symbols["t"], 2) - c**2 * laplacian - f

    def check_data(self, points: Tensor) -> None:
        """As :meth:`Problem.check_data`, and the speed must be positive at ``points``."""
        super().check_data(points)
        values = self.speed(points)
        if not bool((values > 0).all()):
            raise ValueError(f"speed must be positive in the domain, got {float(values.min()):g} at a point of it")


class PDE(Problem):
    """Any PDE: ``residual(u)`` returns what vanishes, written with ``u.value, u.x, u.xx, u.laplacian, u.t``...

    A problem second order in time gives ``u`` and ``u_t`` at ``t0``: ``initial=`` and ``initial_velocity=``.

    Example (viscous Burgers):
        >>> import kanpde as kp, math
        >>> burgers = kp.PDE(kp.Interval(-1, 1), lambda u: u.t + u.value * u.x - 0.01 / math.pi * u.xx,
        ...                  time=(0, 1), initial="-sin(pi*x)", bcs=[kp.Dirichlet(0)])
        >>> burgers.coords
        ('x', 't')
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
        initial_velocity: Any = None,
        data: Sequence[Any] | None = None,
        unknowns: Sequence[Unknown | UnknownField] | None = None,
        parameters: Sequence[Parameter] | None = None,
    ) -> None:
        super().__init__(
            domain,
            residual,
            bcs=bcs,
            time=time,
            initial=initial,
            initial_velocity=initial_velocity,
            exact=exact,
            n_fields=n_fields,
            description=description or f"general PDE on {domain!r}" + (f" x {_time_span(time)}" if time else ""),
            data=data,
            unknowns=unknowns,
            parameters=parameters,
        )
