"""Unknowns of an inverse problem: constants (:class:`Unknown`) and coefficient fields (:class:`UnknownField`).

An unknown is trained together with the network. The solver holds its trainable parameters in an
:class:`~kanpde.pde.inverse_parameters.InverseParameters` module (a submodule of the approximation, so the
L-BFGS/Adam loss and the Levenberg-Marquardt Jacobian both see them); while the residual engine evaluates a term
it *binds* the current values (or, for the Jacobian, the values a ``torch.func`` transform swapped in), and the
objects the user wrote the problem with read them from that binding:

- an :class:`Unknown` acts as a 0-d tensor in residual callables (``u.t - k * u.xx``) and by its name in expression
  strings (``f="q*sin(pi*x)"``), see :func:`with_unknowns`; outside a binding it is its initial value;
- an :class:`UnknownField` called on the solution's fields, ``a(u)``, gives a
  :class:`~kanpde.pde.fields.Fields` of the coefficient at the same points, with the derivatives ``u`` carries.

Bounds are kept by a smooth reparametrisation of the trained number ``r``: ``(lo, None)``: ``lo + softplus(r)``;
``(None, hi)``: ``hi - softplus(r)``; ``(lo, hi)``: ``lo + (hi - lo) * sigmoid(r)``; no bounds: ``r`` itself.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_map

from ..kan.network import validate_width
from .expressions import _TORCH_NAMESPACE, Expression
from .fields import FieldJet, Fields, is_space_name

__all__ = ["Unknown", "UnknownField", "prepare_unknowns", "with_unknowns", "reads", "bound", "source_binding"]

_BINDING: ContextVar[Callable[..., Any] | None] = ContextVar("kanpde_unknowns", default=None)
_READS: ContextVar[set[str] | None] = ContextVar("kanpde_unknown_reads", default=None)
_RESERVED = {"pi", "e", "E", "I", "oo", "nan", "zoo", "True", "False", "u"}


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"{what}: name must be an identifier such as 'k' (not starting with '_'), got {name!r}")
    if name in _RESERVED or name in _TORCH_NAMESPACE:
        raise ValueError(f"{what}: name {name!r} is taken by a constant or function of expressions; choose another")
    return name


def _note_read(name: str) -> None:
    seen = _READS.get()
    if seen is not None:
        seen.add(name)


@contextlib.contextmanager
def reads() -> Iterator[set[str]]:
    """Collect the names of the unknowns read inside the block (the solver checks every unknown is used)."""
    seen: set[str] = set()
    token = _READS.set(seen)
    try:
        yield seen
    finally:
        _READS.reset(token)


@contextlib.contextmanager
def bound(evaluate: Callable[..., Any] | None) -> Iterator[None]:
    """Bind ``evaluate(name, points=None, like=None)`` (constant values, field jets) for the block."""
    if evaluate is None:
        yield
        return
    token = _BINDING.set(evaluate)
    try:
        yield
    finally:
        _BINDING.reset(token)


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Unknown) else value


class Unknown:
    """An unknown constant, identified from observations together with the solution.

    Args:
        name: how expression strings and results name it (an identifier, not a coordinate).
        init: the starting value (strictly inside ``bounds``).
        bounds: ``(lower, upper)``, either may be None (default: no bounds). The optimiser works on a smooth
            reparametrisation (softplus for one bound, sigmoid for two), so the value never leaves them.

    In a residual callable it acts as a 0-d float64 tensor (``k * u.xx``, ``torch.exp(k)``, ``k.sqrt()``); in
    strings by its name when the problem knows it (``unknowns=[k]``, or passed as a value, ``diffusivity=k``).

    Example:
        >>> k = Unknown("k", init=1.0, bounds=(0, None))
        >>> float(2 * k)
        2.0
        >>> k.value.shape  # a 0-d tensor
        torch.Size([])
    """

    name: str
    init: float
    bounds: tuple[float | None, float | None]

    def __init__(self, name: str, init: float, bounds: tuple[float | None, float | None] | None = None) -> None:
        self.name = _check_name(name, "Unknown")
        if isinstance(init, bool) or not isinstance(init, numbers.Real) or not math.isfinite(float(init)):
            raise ValueError(f"Unknown {name!r}: init must be a finite number, got {init!r}")
        self.init = float(init)
        lower = upper = None
        if bounds is not None:
            if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
                raise ValueError(
                    f"Unknown {name!r}: bounds must be a pair (lower, upper), None for open, got {bounds!r}"
                )
            for b in bounds:
                if b is not None and (isinstance(b, bool) or not isinstance(b, numbers.Real) or math.isnan(b)):
                    raise ValueError(f"Unknown {name!r}: bounds must hold numbers or None, got {bounds!r}")
            lower = None if bounds[0] is None or bounds[0] == -math.inf else float(bounds[0])
            upper = None if bounds[1] is None or bounds[1] == math.inf else float(bounds[1])
            if lower is not None and upper is not None and not lower < upper:
                raise ValueError(f"Unknown {name!r}: bounds must have lower < upper, got {bounds!r}")
        self.bounds = (lower, upper)
        if (lower is not None and not self.init > lower) or (upper is not None and not self.init < upper):
            raise ValueError(
                f"Unknown {name!r}: init={init!r} must lie strictly inside bounds={bounds!r} (the reparametrised "
                "optimiser reaches the bounds only in the limit)"
            )

    # -- the reparametrisation -----------------------------------------------------------------------------
    def transform(self, raw: Tensor) -> Tensor:
        """The value from the trained number ``raw`` (0-d)."""
        lower, upper = self.bounds
        if lower is not None and upper is not None:
            return lower + (upper - lower) * torch.sigmoid(raw)
        if lower is not None:
            return lower + nn.functional.softplus(raw)
        if upper is not None:
            return upper - nn.functional.softplus(raw)
        return raw

    def raw_of(self, value: float) -> float:
        """The trained number that gives ``value`` (the inverse of :meth:`transform`)."""
        lower, upper = self.bounds
        if lower is not None and upper is not None:
            p = (value - lower) / (upper - lower)
            return math.log(p) - math.log1p(-p)
        gap = value - lower if lower is not None else (upper - value if upper is not None else None)
        if gap is None:
            return value
        return gap + math.log(-math.expm1(-gap))  # softplus^-1, stable for large and small gaps

    # -- a 0-d tensor in residuals ---------------------------------------------------------------------------
    @property
    def value(self) -> Tensor:
        """The current value: the one the solver bound, else ``init`` (a 0-d float64 tensor)."""
        _note_read(self.name)
        evaluate = _BINDING.get()
        if evaluate is not None:
            return evaluate(self.name)
        return torch.tensor(self.init, dtype=torch.float64)

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        args = tree_map(_unwrap, args)
        kwargs = tree_map(_unwrap, kwargs or {})
        return func(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("name", "init", "bounds"):
            raise AttributeError(name)
        return getattr(self.value, name)  # k.exp(), k.sqrt(), k.dtype ...

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        bounds = "" if self.bounds == (None, None) else f", bounds={self.bounds}"
        return f"Unknown({self.name!r}, init={self.init!r}{bounds})"

    def __add__(self, other: Any) -> Any:
        return self.value + _unwrap(other)

    def __radd__(self, other: Any) -> Any:
        return _unwrap(other) + self.value

    def __sub__(self, other: Any) -> Any:
        return self.value - _unwrap(other)

    def __rsub__(self, other: Any) -> Any:
        return _unwrap(other) - self.value

    def __mul__(self, other: Any) -> Any:
        return self.value * _unwrap(other)

    def __rmul__(self, other: Any) -> Any:
        return _unwrap(other) * self.value

    def __truediv__(self, other: Any) -> Any:
        return self.value / _unwrap(other)

    def __rtruediv__(self, other: Any) -> Any:
        return _unwrap(other) / self.value

    def __pow__(self, other: Any) -> Any:
        return self.value ** _unwrap(other)

    def __rpow__(self, other: Any) -> Any:
        return _unwrap(other) ** self.value

    def __neg__(self) -> Any:
        return -self.value

    def __pos__(self) -> Any:
        return self.value

    def __abs__(self) -> Any:
        return self.value.abs()


class UnknownField:
    """An unknown coefficient field ``a(x, ...)``: a second KAN over the space coordinates (and time if asked).

    Args:
        name: its name in results (``solver.unknown_field(name)``, ``solver.symbolic(field=name)``).
        width: KAN layer sizes; ``width[0]`` is the number of space dimensions (plus one with ``time=True``) and
            ``width[-1]`` is 1. Default ``[n_inputs, 5, 1]``, set when the solver is built.
        grid: initial grid size (default: the solution network's); grid extension refines it with the solution.
        k: spline degree (default: the solution network's).
        positive: ``a = softplus(N)``, so ``a > 0`` everywhere (e.g. a conductivity).
        time: the field depends on ``t`` too (time-dependent problems only).

    In a residual, ``a(u)`` is a :class:`~kanpde.pde.fields.Fields` of ``a`` at the points of ``u``, with the same
    derivatives (``a(u).value``, ``a(u).x``, ``a(u).grad``, ``a(u).laplacian``, ...), e.g.
    ``-(a(u).value * u.laplacian + (a(u).grad * u.grad).sum(1)) - f`` for ``-div(a grad u) = f``.
    """

    def __init__(
        self,
        name: str,
        width: Sequence[int] | None = None,
        grid: int | None = None,
        k: int | None = None,
        *,
        positive: bool = False,
        time: bool = False,
    ) -> None:
        self.name = _check_name(name, "UnknownField")
        self.width = None if width is None else validate_width(width)
        if self.width is not None and self.width[-1] != 1:
            raise ValueError(f"UnknownField {name!r}: width[-1] must be 1 (a scalar field), got {list(width or [])}")
        for what, value in (("grid", grid), ("k", k)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
                raise ValueError(f"UnknownField {name!r}: {what} must be a positive integer, got {value!r}")
        self.grid, self.k = grid, k
        self.positive, self.time = bool(positive), bool(time)

    def n_inputs(self, coords: Sequence[str]) -> int:
        """Inputs of the field's network for a problem with coordinates ``coords`` (space first, then ``t``)."""
        space = sum(1 for c in coords if is_space_name(c))
        return space + (1 if self.time and "t" in coords else 0)

    def __call__(self, u: Any) -> Any:
        _note_read(self.name)
        if not isinstance(u, Fields):  # the probe's recording stand-in: derivatives of a are read as those of u
            return u
        evaluate = _BINDING.get()
        if evaluate is None:
            raise RuntimeError(
                f"UnknownField {self.name!r} is evaluated inside a solve only; use solver.unknown_field({self.name!r})"
            )
        jet = evaluate(self.name, u.points, u._jet)
        return Fields(jet, u.points, u.coords)

    def __repr__(self) -> str:
        return f"UnknownField({self.name!r}, width={self.width}, positive={self.positive})"


def prepare_unknowns(
    explicit: Sequence[Unknown | UnknownField] | None, coords: Sequence[str], **values: object
) -> list[Unknown | UnknownField]:
    """The unknowns of a problem: those of ``unknowns=[...]`` and those passed as argument values, checked.

    Raises:
        TypeError: ``unknowns`` is not a list of kp.Unknown / kp.UnknownField.
        ValueError: a name clashes with a coordinate or with another unknown.
    """
    if explicit is None:
        explicit = []
    if isinstance(explicit, (Unknown, UnknownField)):
        explicit = [explicit]
    if isinstance(explicit, (str, bytes)) or not isinstance(explicit, Sequence):
        raise TypeError(f"unknowns must be a list of kp.Unknown / kp.UnknownField, got {type(explicit).__name__}")
    found = list(explicit)
    for value in values.values():
        if isinstance(value, (Unknown, UnknownField)) and not any(value is u for u in found):
            found.append(value)
    names: dict[str, object] = {}
    for u in found:
        if not isinstance(u, (Unknown, UnknownField)):
            raise TypeError(f"unknowns must contain kp.Unknown or kp.UnknownField objects, got {u!r}")
        if u.name in coords:
            raise ValueError(f"unknowns: the name {u.name!r} of {u!r} clashes with a coordinate of {tuple(coords)}")
        if u.name in names and names[u.name] is not u:
            raise ValueError(f"unknowns: two unknowns are named {u.name!r}; names must be unique")
        names[u.name] = u
    return list(dict.fromkeys(found))


class _WithUnknowns:
    """A value that reads unknowns, as a callable on points (what :class:`Expression` accepts)."""

    def __init__(self, value: Any, coords: tuple[str, ...], name: str, used: list[Unknown | UnknownField]) -> None:
        self.coords, self.used = coords, used
        self.expression: Expression | None = None
        self.direct: Unknown | UnknownField | None
        if isinstance(value, (Unknown, UnknownField)):
            self.__qualname__ = value.name
            self.direct = value
        else:
            self.direct = None
            self.expression = Expression(value, coords=coords + tuple(u.name for u in used), name=name)
            self.__qualname__ = self.expression._describe()

    def __call__(self, points: Tensor) -> Tensor:
        n = points.shape[0]
        if isinstance(self.direct, Unknown):
            return self.direct.value.to(points.dtype).expand(n)
        if isinstance(self.direct, UnknownField):
            return _field_values(self.direct, points)
        assert self.expression is not None
        columns = [
            _field_values(u, points) if isinstance(u, UnknownField) else u.value.to(points.dtype).expand(n)
            for u in self.used
        ]
        return self.expression(torch.cat([points, torch.stack(columns, dim=1)], dim=1))

    def value_and_gradient(self, points: Tensor, space_dims: Sequence[int]) -> tuple[Tensor, Tensor | None] | None:
        """Value ``(n,)`` and space gradient ``(n, len(space_dims))`` at ``points`` when this value is an unknown
        itself (what :func:`kanpde.pde.coefficients.coefficient_at` asks for a conservation-form coefficient):
        an :class:`Unknown` is constant in space (gradient None); an :class:`UnknownField`'s gradient comes from
        its jet, so that Gauss-Newton's Jacobian sees both parts of ``div(a grad u)``. None for an expression that
        reads unknowns (the caller differentiates it by autograd)."""
        if isinstance(self.direct, Unknown):
            return self(points), None
        if not isinstance(self.direct, UnknownField):
            return None
        _note_read(self.direct.name)
        evaluate = _BINDING.get()
        n, columns = points.shape
        if evaluate is None:  # outside a solve (e.g. probing): the value __call__ gives, flat
            return self(points), points.new_zeros(n, len(space_dims))
        like = FieldJet(points.new_zeros(n, 1), points.new_zeros(n, 1, columns))
        jet = evaluate(self.direct.name, points, like)
        return jet.value[:, 0], jet.grad[:, 0][:, list(space_dims)]


def _field_values(field: UnknownField, points: Tensor) -> Tensor:
    _note_read(field.name)
    evaluate = _BINDING.get()
    if evaluate is None:
        if field.positive:
            return torch.ones(points.shape[0], dtype=points.dtype, device=points.device)
        return torch.zeros(points.shape[0], dtype=points.dtype, device=points.device)
    return evaluate(field.name, points, None).value[:, 0]


def with_unknowns(value: Any, coords: Sequence[str], name: str, unknowns: Sequence[Unknown | UnknownField]) -> Any:
    """``value`` unchanged when it reads no unknown; else a callable on points that evaluates it with the unknowns'
    current values (an :class:`Unknown` itself, an :class:`UnknownField` (its value), or a string or sympy
    expression naming unknowns, e.g. ``"q*sin(pi*x)"``)."""
    coords = tuple(coords)
    if isinstance(value, (Unknown, UnknownField)):
        return _WithUnknowns(value, coords, name, [value])
    if isinstance(value, str):
        from .safe_expr import parse_expression

        symbols = parse_expression(value, names=coords, what=name, unknown_names=True).free_symbols
    elif hasattr(value, "free_symbols") and not isinstance(value, Expression):
        symbols = value.free_symbols
    else:
        return value
    used = [u for u in unknowns if u.name in {s.name for s in symbols}]
    if not used:
        return value
    return _WithUnknowns(value, coords, name, used)


def warn_unused(unknowns: Sequence[Unknown | UnknownField], seen: set[str]) -> None:
    """Warn about unknowns that the problem never reads (they cannot be identified)."""
    for u in unknowns:
        if u.name not in seen:
            warnings.warn(
                f"unknown {u.name!r} appears nowhere in the problem (not in the residual, nor in any value): it "
                "cannot be identified and keeps its initial value",
                UserWarning,
                stacklevel=3,
            )


def source_binding(source: object) -> contextlib.AbstractContextManager[None]:
    """Bind the unknowns of a :class:`~kanpde.pde.residuals.FieldSource` (if it has any) for a residual evaluation."""
    evaluator = getattr(source, "unknown_evaluator", None)
    return bound(evaluator() if evaluator is not None else None)
