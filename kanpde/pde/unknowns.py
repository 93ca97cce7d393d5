"""Unknowns of an inverse problem: constants (:class:`Unknown`) and coefficient fields (:class:`UnknownField`).

An unknown is trained together with the network. The solver holds its trainable parameters in an
:class:`InverseParameters` module (a submodule of the approximation, so the L-BFGS/Adam loss and the
Levenberg-Marquardt Jacobian both see them); while the residual engine evaluates a term it *binds* the current
values (or, for the Jacobian, the values a ``torch.func`` transform swapped in), and the objects the user wrote the
problem with read them from that binding:

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_map

from ..kan import KAN
from ..kan.network import validate_width
from .expressions import _TORCH_NAMESPACE, Expression
from .fields import FieldJet, Fields

__all__ = ["Unknown", "UnknownField", "InverseParameters", "prepare_unknowns", "with_unknowns", "reads"]

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


def _unwrap(value: object) -> object:
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
    """

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
        space = sum(1 for c in coords if c != "t")
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


def _pad(tensor: Tensor, n: int, dims: int) -> Tensor:
    """Zero-pad the last ``dims`` axes of ``tensor`` to size ``n`` (derivatives in the coordinates it ignores)."""
    extra = n - tensor.shape[-1]
    if extra == 0:
        return tensor
    pad = []
    for _ in range(dims):
        pad += [0, extra]
    return nn.functional.pad(tensor, pad)


def _softplus_jet(jet: FieldJet, dims: Sequence[int]) -> FieldJet:
    """Jet of ``softplus(z)`` from the jet of ``z``."""
    s = torch.sigmoid(jet.value)
    value = nn.functional.softplus(jet.value)
    grad = None if jet.grad is None else s.unsqueeze(-1) * jet.grad
    lap = hess = None
    if jet.lap is not None and jet.grad is not None:
        lap = s * jet.lap + s * (1 - s) * jet.grad[..., list(dims)].square().sum(-1)
    if jet.hess is not None and jet.grad is not None:
        outer = jet.grad.unsqueeze(-1) * jet.grad.unsqueeze(-2)
        hess = s[..., None, None] * jet.hess + (s * (1 - s))[..., None, None] * outer
    return FieldJet(value, grad, lap, hess, jet.laplacian_dims)


class InverseParameters(nn.Module):
    """The trained parameters of a problem's unknowns: one number per :class:`Unknown`, one KAN per
    :class:`UnknownField` (on the field's coordinates scaled to ``[-1, 1]`` like the solution's).

    ``forward(name)`` is the value of constant ``name`` (0-d); ``forward(name, points, like)`` the jet of field
    ``name`` at ``points`` ``(n_points, n_coords)`` with the derivatives ``like`` (a FieldJet) carries.
    """

    def __init__(
        self,
        unknowns: Sequence[Unknown | UnknownField],
        coords: Sequence[str],
        lower: Sequence[float],
        upper: Sequence[float],
        *,
        grid: int,
        k: int,
        seed: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        super().__init__()
        self.coords = tuple(coords)
        self.constants = {u.name: u for u in unknowns if isinstance(u, Unknown)}
        self.field_specs = {u.name: u for u in unknowns if isinstance(u, UnknownField)}
        self.raw = nn.ParameterDict(
            {
                n: nn.Parameter(torch.tensor(u.raw_of(u.init), dtype=dtype, device=device))
                for n, u in self.constants.items()
            }
        )
        self.fields = nn.ModuleDict()
        for i, (name, spec) in enumerate(self.field_specs.items()):
            n_in = spec.n_inputs(self.coords)
            width = spec.width or [n_in, 5, 1]
            if width[0] != n_in:
                raise ValueError(
                    f"UnknownField {name!r}: width[0] must be {n_in} (its coordinates "
                    f"{self.field_coords(name)}), got {list(width)}"
                )
            self.fields[name] = KAN(
                width, grid=spec.grid or grid, k=spec.k or k, seed=seed + 1 + i, dtype=dtype, device=device
            )
        lo = torch.as_tensor(lower, dtype=dtype, device=device)
        hi = torch.as_tensor(upper, dtype=dtype, device=device)
        self.register_buffer("center", (lo + hi) / 2)
        self.register_buffer("scale", 2 / (hi - lo))

    def field_coords(self, name: str) -> tuple[str, ...]:
        """The coordinates field ``name`` depends on."""
        return self.coords[: self.field_specs[name].n_inputs(self.coords)]

    def field_inputs(self, name: str, points: Tensor) -> Tensor:
        """The field network's (scaled) inputs at ``points`` ``(n_points, n_coords)``."""
        n_in = self.field_specs[name].n_inputs(self.coords)
        return (points[:, :n_in] - self.center[:n_in]) * self.scale[:n_in]

    def values(self) -> dict[str, Tensor]:
        """The constants' current values (0-d tensors, differentiable in the parameters)."""
        return {name: u.transform(self.raw[name]) for name, u in self.constants.items()}

    def forward(
        self, name: str, points: Tensor | None = None, like: FieldJet | None = None, composable: bool = False
    ) -> Tensor | FieldJet:
        if points is None:
            return self.constants[name].transform(self.raw[name])
        spec, model = self.field_specs[name], self.fields[name]
        n_in, n_coords = spec.n_inputs(self.coords), points.shape[1]
        x = self.field_inputs(name, points)
        like = like if like is not None else FieldJet(points)
        if like.grad is None:
            jet = FieldJet(model(x))
            return _softplus_jet(jet, ()) if spec.positive else jet
        dims = like.laplacian_dims if like.laplacian_dims is not None else tuple(range(n_coords))
        own = tuple(d for d in dims if d < n_in)
        second = like.lap is not None or like.hess is not None
        raw = model.jet(x, laplacian=False, hessian=second, input_scale=self.scale[:n_in], composable=composable)
        grad = _pad(raw.grad, n_coords, 1)
        hess = None if raw.hess is None else _pad(raw.hess, n_coords, 2)
        lap = None
        if hess is not None:
            lap = sum((hess[..., d, d] for d in own), torch.zeros_like(raw.value))
        jet = FieldJet(raw.value, grad, lap, hess, like.laplacian_dims)
        return _softplus_jet(jet, own) if spec.positive else jet

    def refine(self, grid: int, points: Tensor) -> None:
        """Grid extension of every field network to at least ``grid``, keeping the field where it was used
        (``points`` ``(n_points, n_coords)``, the solver's stage points) and on its knot range."""
        for name in list(self.fields):
            model = self.fields[name]
            model.record_ranges(self.field_inputs(name, points).to(model.dtype))
            if grid > model.grid_size:
                self.fields[name] = model.refine(grid)

    def rebuild_fields(self, state: Mapping[str, object]) -> None:
        """Rebuild every field network on the grids of the coefficients in ``state`` (a saved state dict of the
        approximation), so that the state loads; entries that do not fit are left to the state check."""
        from ..kan.layer import KANLayer

        for name in list(self.fields):
            model, layers = self.fields[name], []
            for i, layer in enumerate(model.layers):
                coef = state.get(f"inverse.fields.{name}.layers.{i}.coef")
                fits = (
                    isinstance(coef, Tensor)
                    and coef.ndim == 3
                    and tuple(coef.shape[:2]) == (layer.in_dim, layer.out_dim)
                )
                grid = int(coef.shape[2]) - layer.spline_order if fits else layer.grid_size  # type: ignore[union-attr]
                layers.append(
                    KANLayer(
                        layer.in_dim,
                        layer.out_dim,
                        grid_size=max(grid, 1),
                        spline_order=layer.spline_order,
                        dtype=model.dtype,
                        device=model.device,
                    )
                )
            self.fields[name] = KAN.from_layers(layers, seed=model.seed)

    def evaluator(self, params: Mapping[str, Tensor] | None = None, composable: bool = False) -> Callable[..., Any]:
        """What :func:`bound` binds: this module's values, or with the parameters ``params`` swapped in (names
        relative to this module; for ``torch.func`` transforms)."""
        if params is None:

            def direct(name: str, points: Tensor | None = None, like: FieldJet | None = None) -> Any:
                return self(name, points, like, composable)

            return direct

        def swapped(name: str, points: Tensor | None = None, like: FieldJet | None = None) -> Any:
            return torch.func.functional_call(self, dict(params), (name, points, like, True))

        return swapped


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
