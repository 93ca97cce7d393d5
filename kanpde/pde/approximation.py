"""The trial function: a KAN on scaled coordinates, optionally with Dirichlet data imposed exactly.

``u(x) = N(s * (x - c))`` maps the domain's bounding box onto the KAN's grid range ``[-1, 1]``. With a hard
constraint, ``u(x) = b(x) N(s (x - c)) + g(x)``, where ``b`` vanishes on the boundary (an approximate distance
function of the geometry) and ``g`` is the Dirichlet value extended inside (its own formula), so the boundary
condition holds exactly. Derivatives of ``b N`` follow the product rule:
``Lap(b N) = Lap(b) N + 2 grad b . grad N + b Lap(N)``, ``H(b N) = H(b) N + grad b grad N^T + grad N grad b^T
+ b H(N)``; those of ``b`` and ``g`` (fixed functions) come from autograd once per batch of points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ..kan import KAN
from .conditions import Dirichlet, Initial, InitialVelocity
from .constraint_formula import lift_in_time, vanishing_in_time
from .expressions import Expression
from .fields import FieldJet, JetRequest
from .shapes import Box

if TYPE_CHECKING:
    from .geometry import AbstractGeometry
    from .problem import Problem

__all__ = ["Approximation", "HardConstraint", "function_jet", "exact_dirichlet", "exact_dirichlet_applies"]


def function_jet(fn: Callable[[Tensor], Tensor], points: Tensor, request: JetRequest) -> FieldJet:
    """Value and input derivatives of a fixed scalar function by autograd (no parameter dependence).

    Shapes:
        fn: ``(n_points, n_coords) -> (n_points,)``; returns a one-field :class:`FieldJet` (detached).
    """
    x = points.detach().requires_grad_(True)
    with torch.enable_grad():
        value = fn(x)
        if not value.requires_grad:  # a constant: every derivative is zero
            value = value + 0 * x.sum(dim=1)
        (grad,) = torch.autograd.grad(
            value.sum(), x, create_graph=request.level >= 2, allow_unused=True, materialize_grads=True
        )
        hess = lap = None
        if request.level >= 2 and not grad.requires_grad:  # affine: no second derivatives
            hess = torch.zeros(*x.shape, x.shape[1], dtype=x.dtype, device=x.device)
            lap = torch.zeros_like(value)
        elif request.level >= 2:
            rows = [
                torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True, allow_unused=True, materialize_grads=True)[
                    0
                ]
                for i in range(x.shape[1])
            ]
            hess = torch.stack(rows, dim=1)
            dims = request.laplacian_dims if request.laplacian_dims is not None else range(x.shape[1])
            lap = sum((hess[:, i, i] for i in dims), torch.zeros_like(value))
    return FieldJet(
        value.detach().unsqueeze(1),
        grad.detach().unsqueeze(1),
        None if lap is None else lap.detach().unsqueeze(1),
        None if hess is None or request.level < 3 else hess.detach().unsqueeze(1),
        request.laplacian_dims,
    )


class HardConstraint:
    """``u = b N + g`` with ``b`` zero on the boundary and ``g`` the Dirichlet data (both callables on points)."""

    def __init__(self, vanishing: Callable[[Tensor], Tensor], lift: Callable[[Tensor], Tensor]) -> None:
        self.vanishing, self.lift = vanishing, lift

    def jets(self, points: Tensor, request: JetRequest) -> tuple[FieldJet, FieldJet]:
        return function_jet(self.vanishing, points, request), function_jet(self.lift, points, request)


def exact_dirichlet_applies(problem: Problem, *, smooth_only: bool = False) -> bool:
    """Whether the problem's Dirichlet data (and initial value) can be imposed exactly.

    Needs one Dirichlet condition on the whole boundary, nothing else but (for time-dependent problems) the
    initial value of a scalar field and possibly its initial velocity; ``smooth_only`` also asks for a box or a
    ball, whose distance functions are smooth.
    """
    dirichlet = [c for c in problem.conditions if isinstance(c, Dirichlet)]
    initial = [c for c in problem.conditions if isinstance(c, Initial)]
    velocity = [c for c in problem.conditions if isinstance(c, InitialVelocity)]
    expected = 1 + (problem.time is not None) + len(velocity)
    return (
        problem.n_fields == 1
        and len(dirichlet) == 1
        and dirichlet[0].on is None
        and len(initial) == (problem.time is not None)
        and len(velocity) <= 1
        and len(problem.conditions) == expected
        and (not smooth_only or isinstance(problem.space, Box) or _is_ball(problem.space))
    )


def _is_ball(space: object) -> bool:
    from .ball import Ball  # a ball's distance function (r^2 - |x - c|^2) / 2r is smooth too

    return isinstance(space, Ball)


def exact_dirichlet(problem: Problem) -> HardConstraint:
    """``u = b N + g`` with the Dirichlet data (and initial value) built in.

    Steady: ``b`` = the domain's distance function, ``g`` = the Dirichlet value (its formula, evaluated inside).
    Time-dependent: ``b = (t - t0)/(t1 - t0) * distance(x)`` and ``g(x, t) = u0(x) + g_D(x, t) - g_D(x, t0)``,
    which equals ``u0`` at ``t0`` and ``g_D`` on the boundary when the data are compatible there. The formulas are
    those of :mod:`kanpde.pde.constraint_formula`, which the closed-form solution uses too. With an initial
    velocity ``v0`` (second order in time): ``b = ((t - t0)/(t1 - t0))^2 * distance(x)`` and
    ``g = u0(x) + (t - t0) v0(x) + g_D(x, t) - g_D(x, t0) - (t - t0) d/dt g_D(x, t0)``, whose value and time
    derivative at ``t0`` are ``u0`` and ``v0``.

    Raises:
        ValueError: the problem's conditions are not of that form.
    """
    if not exact_dirichlet_applies(problem):
        raise ValueError(
            "hard_constraint=True needs one Dirichlet condition on the whole boundary (kp.Dirichlet(value)) and, for "
            "time-dependent problems, the initial value, and no other condition"
        )
    value = next(c for c in problem.conditions if isinstance(c, Dirichlet)).value
    assert isinstance(value, Expression)
    space, d = problem.space, problem.space_dim  # columns: space [:d], then t [d], then parameters (not in b)
    if problem.time is None:
        return HardConstraint(space.distance if not problem.parameters else lambda p: space.distance(p[:, :d]), value)
    initial = next(c for c in problem.conditions if isinstance(c, Initial)).value
    assert isinstance(initial, Expression)
    t0, length = problem.time.t0, problem.time.length

    def at_start(points: Tensor) -> Tensor:
        return torch.cat([points[:, :d], torch.full_like(points[:, d : d + 1], t0), points[:, d + 1 :]], dim=1)

    velocity = next((c.value for c in problem.conditions if isinstance(c, InitialVelocity)), None)
    if velocity is not None:
        assert isinstance(velocity, Expression)
        return _second_order_constraint(space, t0, length, initial, velocity, value)

    def vanishing(points: Tensor) -> Tensor:
        return vanishing_in_time(points[:, d] - t0, length, space.distance(points[:, :d]), order=1)

    def lift(points: Tensor) -> Tensor:
        start = at_start(points)
        return lift_in_time(initial(start), value(points), value(start))

    return HardConstraint(vanishing, lift)


def _second_order_constraint(
    space: AbstractGeometry, t0: float, length: float, initial: Expression, velocity: Expression, value: Expression
) -> HardConstraint:
    """The hard constraint of :func:`exact_dirichlet` for a problem with an initial velocity."""

    def start_and_rate(points: Tensor) -> tuple[Tensor, Tensor]:
        """``g_D(x, t0)`` and ``d/dt g_D(x, t0)`` (autograd in t, differentiable in x)."""
        t = torch.full_like(points[:, -1:], t0).requires_grad_(True)
        with torch.enable_grad():
            start = value(torch.cat([points[:, :-1], t], dim=1))
            if not start.requires_grad:
                return start, torch.zeros_like(start)
            (rate,) = torch.autograd.grad(start.sum(), t, create_graph=True, allow_unused=True, materialize_grads=True)
        return start, rate[:, 0]

    def vanishing(points: Tensor) -> Tensor:
        return vanishing_in_time(points[:, -1] - t0, length, space.distance(points[:, :-1]), order=2)

    def lift(points: Tensor) -> Tensor:
        start = torch.cat([points[:, :-1], torch.full_like(points[:, -1:], t0)], dim=1)
        g_start, g_rate = start_and_rate(points)
        return lift_in_time(initial(start), value(points), g_start, points[:, -1] - t0, velocity(start), g_rate)

    return HardConstraint(vanishing, lift)


class Approximation(nn.Module):
    """``u(x)``: a KAN on coordinates scaled to ``[-1, 1]``, with an optional :class:`HardConstraint`.

    Args:
        model: the KAN, ``width[0] == n_coords``, ``width[-1] == n_fields``.
        lower: lower corner of the coordinates' bounding box (space and time), mapped onto ``-1``.
        upper: upper corner, mapped onto ``1``.
        constraint: exact Dirichlet data, or None.

    Shapes:
        forward: ``(n_points, n_coords) -> (n_points, n_fields)``.
    """

    center: Tensor  # buffer (n_coords,): the middle of the bounding box
    scale: Tensor  # buffer (n_coords,): 2 / (upper - lower), maps the box onto [-1, 1]

    def __init__(
        self, model: KAN, lower: Sequence[float], upper: Sequence[float], constraint: HardConstraint | None = None
    ) -> None:
        super().__init__()
        self.model = model
        lo = torch.as_tensor(lower, dtype=model.dtype, device=model.device)
        hi = torch.as_tensor(upper, dtype=model.dtype, device=model.device)
        self.register_buffer("center", (lo + hi) / 2)
        self.register_buffer("scale", 2 / (hi - lo))
        self.constraint = constraint

    def normalized(self, points: Tensor) -> Tensor:
        return (points - self.center) * self.scale

    def forward(self, points: Tensor) -> Tensor:
        out = self.model(self.normalized(points))
        if self.constraint is not None:
            b = self.constraint.vanishing(points).unsqueeze(1)
            g = self.constraint.lift(points).unsqueeze(1)
            out = b * out + g
        return out

    def field_jet(
        self,
        points: Tensor,
        request: JetRequest,
        constraint_jets: tuple[FieldJet, FieldJet] | None = None,
        *,
        composable: bool = False,
    ) -> FieldJet:
        """Values and derivatives (as ``request`` asks) with respect to the physical coordinates.

        Args:
            points: the points.
            request: which derivatives.
            constraint_jets: precomputed jets of ``b`` and ``g`` at ``points`` (see :meth:`HardConstraint.jets`);
                computed here when None and a constraint is set.
            composable: plain autograd operations only (for ``torch.func`` transforms).
        """
        if request.level == 0:
            return FieldJet(self(points))
        jet = self.model.jet(
            self.normalized(points),
            laplacian=request.level == 2,
            hessian=request.level >= 3,
            laplacian_dims=request.laplacian_dims,
            input_scale=self.scale,
            composable=composable,
        )
        out = FieldJet(jet.value, jet.grad, jet.lap, jet.hess, request.laplacian_dims)
        if self.constraint is None:
            return out
        b, g = constraint_jets if constraint_jets is not None else self.constraint.jets(points, request)
        return _product_plus(b, out, g, request)


def _product_plus(b: FieldJet, n: FieldJet, g: FieldJet, request: JetRequest) -> FieldJet:
    """Jet of ``b * n + g`` (``b``, ``g`` one field, broadcast over the fields of ``n``)."""
    assert b.grad is not None and n.grad is not None and g.grad is not None
    value = b.value * n.value + g.value
    grad = b.grad * n.value.unsqueeze(-1) + b.value.unsqueeze(-1) * n.grad + g.grad
    lap = hess = None
    if request.level == 2:
        assert b.lap is not None and n.lap is not None and g.lap is not None
        dims = list(request.laplacian_dims) if request.laplacian_dims is not None else slice(None)
        cross = (b.grad[..., dims] * n.grad[..., dims]).sum(-1)
        lap = b.lap * n.value + 2 * cross + b.value * n.lap + g.lap
    if request.level >= 3:
        assert b.hess is not None and n.hess is not None and g.hess is not None
        outer = b.grad.unsqueeze(-1) * n.grad.unsqueeze(-2)
        hess = (
            b.hess * n.value[..., None, None]
            + outer
            + outer.transpose(-1, -2)
            + b.value[..., None, None] * n.hess
            + g.hess
        )
    return FieldJet(value, grad, lap, hess, request.laplacian_dims)
