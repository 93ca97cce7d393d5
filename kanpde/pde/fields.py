"""What a residual function sees: the solution and its derivatives at a batch of points.

A residual of :class:`~kanpde.pde.problem.PDE` is written with a :class:`Fields` object ``u``::

    u.value            u itself                          (n_points,)
    u.x, u.y, u.t      first derivatives by coordinate   (n_points,)
    u.xx, u.xy, u.tt   second derivatives (beyond 3-D: u.x1, u.x1x1, u.x2x5, ...)
    u.laplacian        Laplacian over the space coordinates
    u.grad             spatial gradient                  (n_points, space_dim)
    u.d("x", "x", "x") any derivative; order 3 and more by nested autograd
    u.coord("x")       the coordinate column             (n_points,)
    u.param("mu")      a parameter's value (its column)  (n_points,)
    u.d("mu")          sensitivity du/dmu to a parameter
    u[1]               field 1 of a system (same attributes)

Derivatives up to second order come from forward jets (closed form); which jet is computed (gradient only,
Laplacian over some coordinates, full Hessian) is found once by probing the residual (see :func:`probe`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["JetRequest", "FieldJet", "Fields", "probe", "split_coordinates", "is_space_name"]


def is_space_name(name: str) -> bool:
    """Whether ``name`` is a space coordinate's name: ``x``, ``y``, ``z``, or ``x`` followed by digits (``x1``, ...).

    Other columns are time (``t``) and parameters (:mod:`kanpde.pde.parameters`), which the Laplacian and the
    gradient leave out.
    """
    return name in ("x", "y", "z") or (name.startswith("x") and name[1:].isdigit())


@dataclass(frozen=True)
class JetRequest:
    """Which derivatives a residual needs: 1 = gradient, 2 = Laplacian over ``laplacian_dims``, 3 = Hessian."""

    level: int = 1
    laplacian_dims: tuple[int, ...] | None = None
    autograd: bool = False  # order >= 3 somewhere: nested autograd on the points


@dataclass(frozen=True)
class FieldJet:
    """Solution values and input derivatives at points, in physical coordinates.

    Shapes:
        value: ``(n_points, n_fields)``; grad: ``(n_points, n_fields, n_coords)`` or None;
        lap: ``(n_points, n_fields)`` or None; hess: ``(n_points, n_fields, n_coords, n_coords)`` or None.
    """

    value: Tensor
    grad: Tensor | None = None
    lap: Tensor | None = None
    hess: Tensor | None = None
    laplacian_dims: tuple[int, ...] | None = None


def split_coordinates(name: str, coords: Sequence[str]) -> tuple[str, ...] | None:
    """Split an attribute name such as ``"xy"``, ``"xxt"`` or ``"x1x10"`` into coordinate names, or None.

    With one-letter coordinates every letter is one coordinate; with names such as ``x1 ... xn`` (more than three
    space dimensions) the longest coordinate name that matches is taken at each position.

    Example:
        >>> split_coordinates("x1x2", ("x1", "x2", "x3", "x4")), split_coordinates("xt", ("x", "t"))
        (('x1', 'x2'), ('x', 't'))
    """
    if not name or name.startswith("_"):
        return None
    by_length = sorted(coords, key=len, reverse=True)
    parts: list[str] = []
    position = 0
    while position < len(name):
        match = next((c for c in by_length if name.startswith(c, position)), None)
        if match is None:
            return None
        parts.append(match)
        position += len(match)
    return tuple(parts)


class Fields:
    """The solution (all fields) and its derivatives at a batch of points; see the module docstring.

    Args:
        jet: values and derivatives.
        points: the points.
        coords: coordinate names of the columns (space first, then ``t``).
        field: which field the attribute shortcuts refer to.
        evaluate: ``points -> values (n_points, n_fields)`` differentiable in the points, for the autograd
            fallback (orders >= 3); None disables it.
    """

    def __init__(
        self,
        jet: FieldJet,
        points: Tensor,
        coords: Sequence[str],
        *,
        field: int = 0,
        evaluate: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        self._jet, self.points, self.coords = jet, points, tuple(coords)
        self._field, self._evaluate = field, evaluate
        self._space_dims = tuple(i for i, c in enumerate(self.coords) if is_space_name(c))

    def __getitem__(self, field: int) -> Fields:
        n_fields = self._jet.value.shape[1]
        if not -n_fields <= field < n_fields:
            raise IndexError(f"field index {field} out of range for {n_fields} field(s)")
        return Fields(self._jet, self.points, self.coords, field=field % n_fields, evaluate=self._evaluate)

    @property
    def value(self) -> Tensor:
        return self._jet.value[:, self._field]

    def coord(self, name: str) -> Tensor:
        """The coordinate column ``name`` of the points, shape ``(n_points,)``."""
        return self.points[:, self._index(name)]

    def param(self, name: str) -> Tensor:
        """The value of the parameter ``name`` at each point (its column; see :mod:`kanpde.pde.parameters`)."""
        return self.coord(name)

    @property
    def grad(self) -> Tensor:
        """Spatial gradient, shape ``(n_points, space_dim)``."""
        return self._gradient()[:, list(self._space_dims)]

    @property
    def laplacian(self) -> Tensor:
        """Laplacian over the space coordinates, shape ``(n_points,)``."""
        return self._second_sum(self._space_dims)

    def d(self, *names: str) -> Tensor:
        """Partial derivative by the named coordinates, e.g. ``u.d("x", "y")``; shape ``(n_points,)``."""
        if not names:
            return self.value
        idx = [self._index(n) for n in names]
        if len(idx) == 1:
            return self._gradient()[:, idx[0]]
        if len(idx) == 2:
            if idx[0] == idx[1] and self._jet.hess is None:
                return self._second_sum((idx[0],))
            return self._hessian()[:, idx[0], idx[1]]
        return self._autograd(idx)

    def __getattr__(self, name: str) -> Tensor:
        # u.x, u.xy, u.xxt ...: derivatives named by concatenated coordinates (u.x1x2, u.x3t beyond 3-D).
        coords = self.__dict__.get("coords", ())
        names = split_coordinates(name, coords)
        if names is not None:
            return self.d(*names)
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r}; derivatives are named by coordinates {coords} "
            "(u.x, u.xx, u.xy, u.t, ...), or use u.value, u.grad, u.laplacian, u.d(...), u.coord(...)"
        )

    # -- internals -----------------------------------------------------------------------------------------
    def _index(self, name: str) -> int:
        try:
            return self.coords.index(name)
        except ValueError:
            raise ValueError(f"unknown coordinate {name!r}; this problem has coordinates {self.coords}") from None

    def _gradient(self) -> Tensor:
        if self._jet.grad is None:
            raise RuntimeError("first derivatives were not computed for this batch")
        return self._jet.grad[:, self._field]

    def _hessian(self) -> Tensor:
        if self._jet.hess is None:
            raise RuntimeError("second derivatives were not computed for this batch (probe the residual first)")
        return self._jet.hess[:, self._field]

    def _second_sum(self, dims: tuple[int, ...]) -> Tensor:
        if self._jet.hess is not None:
            h = self._jet.hess[:, self._field]
            return sum((h[:, i, i] for i in dims), torch.zeros_like(self.value))
        if self._jet.lap is None or tuple(self._jet.laplacian_dims or ()) != tuple(dims):
            raise RuntimeError(f"the sum of second derivatives over {dims} was not computed for this batch")
        return self._jet.lap[:, self._field]

    def _autograd(self, idx: list[int]) -> Tensor:
        if self._evaluate is None:
            raise RuntimeError("derivatives of order >= 3 need the autograd fallback, which is not available here")
        graph = torch.is_grad_enabled()  # off where only the loss's value is wanted (the optimisers' records)
        with torch.enable_grad():  # nested autograd on the points, also under torch.no_grad
            x = self.points.detach().requires_grad_(True)
            out = self._evaluate(x)[:, self._field]
            for i in idx:
                if not out.requires_grad:  # independent of the points (a constant source): derivatives are 0
                    out = torch.zeros_like(out)
                    break
                (g,) = torch.autograd.grad(out.sum(), x, create_graph=True, allow_unused=True, materialize_grads=True)
                out = g[:, i]
        return out if graph else out.detach()


class _Recorder:
    """Stands in for :class:`Fields` during probing and records what the residual reads."""

    def __init__(
        self,
        n_points: int,
        coords: Sequence[str],
        n_fields: int,
        dtype: torch.dtype,
        field: int = 0,
        points: Tensor | None = None,
    ):
        self.coords, self._n, self._nf, self._dtype, self._field = tuple(coords), n_points, n_fields, dtype, field
        self.second: set[tuple[int, ...]] = set()
        self.mixed = False
        self.first = False
        self.high = False
        self._space_dims = tuple(i for i, c in enumerate(self.coords) if is_space_name(c))
        if points is None:
            points = torch.rand(n_points, len(self.coords), dtype=dtype, generator=torch.Generator().manual_seed(0))
        self.points = points.to(dtype)

    def _z(self) -> Tensor:
        return torch.zeros(self._n, dtype=self._dtype)

    def __getitem__(self, field: int) -> _Recorder:
        if isinstance(field, bool) or not isinstance(field, int) or not -self._nf <= field < self._nf:
            raise IndexError(f"residual: field index {field!r} out of range for {self._nf} field(s)")
        return self  # every field shares the record

    def _index(self, name: str) -> int:
        try:
            return self.coords.index(name)
        except ValueError:
            raise ValueError(
                f"residual: unknown coordinate {name!r}; this problem has coordinates {self.coords}"
            ) from None

    @property
    def value(self) -> Tensor:
        return self._z()

    def coord(self, name: str) -> Tensor:
        return self.points[:, self._index(name)]

    def param(self, name: str) -> Tensor:
        return self.coord(name)

    @property
    def grad(self) -> Tensor:
        self.first = True
        return torch.zeros(self._n, len(self._space_dims), dtype=self._dtype)

    @property
    def laplacian(self) -> Tensor:
        self.second.add(self._space_dims)
        return self._z()

    def d(self, *names: str) -> Tensor:
        idx = [self._index(n) for n in names]
        if len(idx) == 1:
            self.first = True
        elif len(idx) == 2:
            if idx[0] == idx[1]:
                self.second.add((idx[0],))
            else:
                self.mixed = True
        elif len(idx) > 2:
            self.high = True
        return self._z()

    def __getattr__(self, name: str) -> Any:
        coords = self.__dict__.get("coords", ())
        names = split_coordinates(name, coords)
        if names is not None:
            return self.d(*names)
        raise AttributeError(
            f"residual: u has no attribute {name!r}; derivatives are named by coordinates {coords} (u.x, u.xx, "
            "u.t, ...), or use u.value, u.grad, u.laplacian, u.d(...), u.coord(...)"
        )


def probe(
    residual: Callable[[Any], Tensor],
    coords: Sequence[str],
    n_fields: int,
    dtype: torch.dtype,
    points: Tensor | None = None,
) -> JetRequest:
    """Find which derivatives ``residual`` reads by calling it once on a recording stand-in.

    One sum of pure second derivatives (the Laplacian, or ``u.xx`` alone) is propagated as a Laplacian over those
    coordinates; several, or any mixed one, need the full Hessian. ``points`` (``(n, n_coords)``, e.g. a few
    points of the domain, where the problem's data is defined) default to 8 random points of the unit cube.
    """
    recorder = _Recorder(8 if points is None else len(points), coords, n_fields, dtype, points=points)
    out = residual(recorder)
    n = recorder._n
    if not isinstance(out, Tensor):
        raise TypeError(
            f"residual must return a torch.Tensor of shape (n_points,) or (n_points, n_equations), got "
            f"{type(out).__name__}"
        )
    if out.ndim not in (1, 2) or out.shape[0] != n:
        raise ValueError(
            f"residual must return shape (n_points,) or (n_points, n_equations); on {n} points it returned shape "
            f"{tuple(out.shape)} (build it from u.value, u.x, u.laplacian, ..., which have shape (n_points,))"
        )
    if recorder.mixed or len(recorder.second) > 1:
        return JetRequest(level=3, autograd=recorder.high)
    if recorder.second:
        return JetRequest(level=2, laplacian_dims=next(iter(recorder.second)), autograd=recorder.high)
    return JetRequest(level=1, autograd=recorder.high)
