"""Diffusion coefficients of conservation-form operators: $\\nabla\\cdot(k\\nabla u)$ and $\\nabla\\cdot(K\\nabla u)$.

`kp.Heat(..., diffusivity=k)` builds $u_t - \\nabla\\cdot(k \\nabla u) = f$ and `kp.Poisson(..., coefficient=k)`
builds $-\\nabla\\cdot(k \\nabla u) = f$, with `k`:

- a number: $\\nabla\\cdot(k\\nabla u) = k \\Delta u$;
- an expression in the coordinates (string, sympy, callable; in `t` too for `Heat`):
  $\\nabla\\cdot(k\\nabla u) = k \\Delta u + \\nabla k \\cdot \\nabla u$, with $\\nabla k$ differentiated symbolically
  once (`Expression.derivative`), or by autograd at the points for a callable;
- a $d \\times d$ matrix $K$ (anisotropic; nested lists, a numpy array or a tensor; entries numbers or expressions):
  $\\sum_{ij} \\partial_i (K_{ij} \\partial_j u) = \\sum_{ij} K_{ij} \\partial_{ij} u
  + \\sum_j (\\sum_i \\partial_i K_{ij}) \\partial_j u$, which reads mixed second derivatives (the solver then
  propagates the full Hessian). $K$ must be symmetric (checked symbolically entry by entry) and, when constant,
  positive definite (eigenvalues); a varying $K$ is checked for positive definiteness at the solver's probe points
  (`check_positive`).

The values and space gradients of a coefficient at the points come from one function, `coefficient_at`: a
coefficient that is itself unknown (a second network) plugs in there by returning its value and gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import sympy
import torch
from torch import Tensor

from .expressions import Expression, as_expression
from .fields import Fields, is_space_name

__all__ = ["CoefficientValues", "Diffusion", "coefficient_at", "make_diffusion"]


@dataclass(frozen=True)
class CoefficientValues:
    """A scalar coefficient at points: its value and its gradient over the space coordinates.

    Shapes:
        value: ``(n_points,)``; gradient: ``(n_points, space_dim)``, or None when the coefficient is constant.
    """

    value: Tensor
    gradient: Tensor | None


def coefficient_at(
    k: Expression, gradient: Sequence[Expression] | None, points: Tensor, space_dims: Sequence[int]
) -> CoefficientValues:
    """The value and space gradient of the scalar coefficient ``k`` at ``points`` (the hook of this module).

    Args:
        k: the coefficient.
        gradient: its symbolic derivatives by each space coordinate, or None to differentiate ``k`` by autograd
            (a callable). Ignored when ``k`` is constant.
        points: the points, columns as ``k.coords``.
        space_dims: the columns of the space coordinates.

    Returns:
        The :class:`CoefficientValues` (gradient None for a constant ``k``).

    Shapes:
        points: ``(n_points, n_coords)``.
    """
    if k.is_constant:
        return CoefficientValues(k(points), None)
    own = getattr(getattr(k, "_function", None), "value_and_gradient", None)  # an unknown (kp.Unknown/UnknownField)
    known: tuple[Tensor, Tensor | None] | None = own(points, space_dims) if own is not None else None
    if known is not None:
        return CoefficientValues(*known)
    if gradient is not None:
        return CoefficientValues(k(points), torch.stack([g(points) for g in gradient], dim=1))
    # torch.func.vjp rather than torch.autograd.grad: it also works inside the Levenberg-Marquardt Jacobian, which
    # runs the residual under torch.func transforms. k is applied point by point, so the pullback of ones is the
    # gradient at each point.
    # (torch types vjp's result as a pair or, with has_aux=True, a triple; without aux it is the pair.)
    value, pullback = cast("tuple[Tensor, Callable[[Tensor], tuple[Tensor]]]", torch.func.vjp(k, points))
    (grad,) = pullback(torch.ones_like(value))
    return CoefficientValues(value, grad[:, list(space_dims)])


def _derivatives(k: Expression, space: Sequence[str]) -> tuple[Expression, ...] | None:
    """``dk/dx_i`` for each space coordinate, or None for a callable (autograd at the points instead)."""
    if k.sympy_expr is None:
        return None
    return tuple(k.derivative(c) for c in space)


def _is_matrix(value: object) -> bool:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return value.ndim == 2
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(r, (list, tuple)) for r in value)


class Diffusion:
    """A diffusion coefficient (a scalar or a symmetric matrix) and the operator $\\nabla\\cdot(k\\nabla u)$.

    Build it with :func:`make_diffusion`.

    Attributes:
        name: the argument's name (``"diffusivity"``, ``"coefficient"``), for messages.
        scalar: the scalar coefficient, or None for a matrix.
        matrix: the matrix entries (row-major tuples), or None for a scalar.
        space: the space coordinate names.
    """

    def __init__(self, name: str, scalar: Expression | None, matrix: tuple[tuple[Expression, ...], ...] | None,
                 coords: Sequence[str]) -> None:  # fmt: skip
        self.name, self.scalar, self.matrix, self.coords = name, scalar, matrix, tuple(coords)
        self.space = tuple(c for c in self.coords if is_space_name(c))  # not t, not parameters
        self._space_dims = tuple(i for i, c in enumerate(self.coords) if is_space_name(c))
        if scalar is not None:
            self._gradient = None if scalar.is_constant else _derivatives(scalar, self.space)
        else:
            assert matrix is not None
            # sum_i dK_ij/dx_i, per column j: the first-order part of sum_ij d_i(K_ij d_j u).
            self._entry_gradients = [
                [None if e.is_constant else _derivatives(e, self.space) for e in row] for row in matrix
            ]
            self._constant = all(e.is_constant for row in matrix for e in row)
            # Entries that are the constant 0 add nothing (a diagonal matrix reads no mixed derivative).
            self._zero = [[e.constant == 0.0 for e in row] for row in matrix]

    @property
    def is_constant(self) -> bool:
        """Whether the coefficient is constant (the operator is then $k\\Delta u$ or $\\sum K_{ij}\\partial_{ij}u$)."""
        if self.scalar is not None:
            return self.scalar.is_constant
        return self._constant

    def divergence(self, u: Fields) -> Tensor:
        """$\\nabla\\cdot(k\\nabla u)$ at the points of ``u``, shape ``(n_points,)``."""
        points = u.points
        if self.scalar is not None:
            k = coefficient_at(self.scalar, self._gradient, points, self._space_dims)
            out = k.value * u.laplacian
            return out if k.gradient is None else out + (k.gradient * u.grad).sum(dim=1)
        assert self.matrix is not None
        out = torch.zeros_like(u.value)
        drift: list[Tensor | None] = [None] * len(self.space)  # sum_i dK_ij/dx_i
        for i, row in enumerate(self.matrix):
            for j, entry in enumerate(row):
                if self._zero[i][j]:
                    continue
                k = coefficient_at(entry, self._entry_gradients[i][j], points, self._space_dims)
                out = out + k.value * u.d(self.space[i], self.space[j])
                if k.gradient is not None:
                    so_far = drift[j]
                    drift[j] = k.gradient[:, i] if so_far is None else so_far + k.gradient[:, i]
        for c, term in zip(self.space, drift):
            if term is not None:
                out = out + term * u.d(c)
        return out

    def sympy_divergence(self, u: sympy.Expr, by_name: Mapping[str, sympy.Symbol]) -> sympy.Expr | None:
        """The same operator on a sympy formula ``u`` (None when a coefficient is a callable)."""
        space = [by_name[c] for c in self.space]

        def value(e: Expression) -> sympy.Expr | None:
            if e.sympy_expr is None:
                return None
            return e.sympy_expr.xreplace({s: by_name[s.name] for s in e.sympy_expr.free_symbols if s.name in by_name})

        if self.scalar is not None:
            k = value(self.scalar)
            return None if k is None else sympy.Add(*[sympy.diff(k * sympy.diff(u, s), s) for s in space])
        assert self.matrix is not None
        entries = [[value(e) for e in row] for row in self.matrix]
        if any(e is None for row in entries for e in row):
            return None
        return sympy.Add(
            *[sympy.diff(entries[i][j] * sympy.diff(u, space[j]), space[i]) for i in range(len(space))
              for j in range(len(space))]
        )  # fmt: skip

    def describe(self) -> str:
        def short(e: Expression) -> str:
            return f"{e.constant:g}" if e.constant is not None else e._describe()

        if self.scalar is not None:
            return short(self.scalar)
        return "[" + ", ".join("[" + ", ".join(short(e) for e in row) + "]" for row in self.matrix or ()) + "]"

    def operator_text(self) -> str:
        """The operator for descriptions, e.g. ``div(k grad u)`` with k written out."""
        if self.scalar is not None and self.is_constant:
            return f"{self.describe()}*Laplace(u)"
        return f"div(({self.describe()}) grad u)" if self.scalar is not None else f"div({self.describe()} grad u)"

    def check_positive(self, points: Tensor) -> None:
        """Raise ValueError unless the coefficient is positive (definite) at ``points`` ``(n_points, n_coords)``."""
        if self.scalar is not None:
            values = self.scalar(points)
            if not bool((values > 0).all()):
                raise ValueError(
                    f"{self.name} must be positive in the domain, got {float(values.min()):g} at a point of the domain"
                )
            return
        assert self.matrix is not None
        k = torch.stack([torch.stack([e(points) for e in row], dim=-1) for row in self.matrix], dim=-2)
        smallest = torch.linalg.eigvalsh(k).min()
        if not bool(smallest > 0):
            raise ValueError(
                f"{self.name} must be positive definite in the domain; its smallest eigenvalue is {float(smallest):g} "
                "at a point of the domain"
            )


def make_diffusion(value: Any, *, coords: Sequence[str], name: str) -> Diffusion:
    """Convert a user's coefficient (see the module notes) into a :class:`Diffusion`, validating it.

    Args:
        value: a number, an expression, or a ``space_dim x space_dim`` matrix of them.
        coords: the problem's coordinate names (space, then ``t`` for time-dependent problems).
        name: the argument's name, for messages.

    Raises:
        TypeError: an entry of an unsupported kind.
        ValueError: a matrix of the wrong shape, not symmetric, or (constant) not positive definite; a constant
            scalar that is not positive.
    """
    coords = tuple(coords)
    space = [c for c in coords if is_space_name(c)]
    d = len(space)
    if not _is_matrix(value):
        if isinstance(value, (list, tuple)):
            raise ValueError(
                f"{name} must be a number, an expression or a {d} x {d} matrix (a list of {d} rows of {d} entries); "
                f"got a flat sequence {value!r}"
            )
        scalar = as_expression(value, coords=coords, name=name)
        if scalar.is_constant and not float(scalar(torch.zeros(1, len(coords), dtype=torch.float64))[0]) > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        return Diffusion(name, scalar, None, coords)
    rows = value.tolist() if isinstance(value, (torch.Tensor, np.ndarray)) else [list(r) for r in value]
    if len(rows) != d or any(len(r) != d for r in rows):
        shape = f"{len(rows)} x {'/'.join(sorted({str(len(r)) for r in rows}))}"
        raise ValueError(f"{name} must be a {d} x {d} matrix for a {d}-D domain (one row per space coordinate "
                         f"{', '.join(space)}), got {shape}")  # fmt: skip
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            if isinstance(entry, bool) or isinstance(entry, (list, tuple, dict)):
                raise TypeError(f"{name}[{i}][{j}] must be a number or an expression, got {entry!r}")
    matrix = tuple(
        tuple(as_expression(e, coords=coords, name=f"{name}[{i}][{j}]") for j, e in enumerate(row))
        for i, row in enumerate(rows)
    )
    _check_symmetric(matrix, name)
    if all(e.is_constant for row in matrix for e in row):
        numbers_ = torch.tensor([[e.constant for e in row] for row in matrix], dtype=torch.float64)
        eigenvalues = torch.linalg.eigvalsh(numbers_)
        if not bool(eigenvalues.min() > 0):
            raise ValueError(f"{name} must be positive definite; its eigenvalues are {eigenvalues.tolist()}")
    return Diffusion(name, None, matrix, coords)


def _check_symmetric(matrix: tuple[tuple[Expression, ...], ...], name: str) -> None:
    for i, row in enumerate(matrix):
        for j in range(i + 1, len(row)):
            a, b = matrix[i][j], matrix[j][i]
            if a.sympy_expr is None or b.sympy_expr is None:
                if a.sympy_expr is not None or b.sympy_expr is not None or a._function is not b._function:
                    raise ValueError(
                        f"{name} must be symmetric: {name}[{i}][{j}] and {name}[{j}][{i}] must be the same (a callable "
                        "entry must be the same object in both places)"
                    )
                continue
            if a.constant is not None and b.constant is not None:
                equal = abs(a.constant - b.constant) <= 1e-12 * max(1.0, abs(a.constant))
            else:
                equal = sympy.simplify(a.sympy_expr - b.sympy_expr) == 0
            if not equal:
                raise ValueError(
                    f"{name} must be symmetric, but {name}[{i}][{j}] = {a._describe()} differs from "
                    f"{name}[{j}][{i}] = {b._describe()}"
                )
