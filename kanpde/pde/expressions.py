"""Values given as numbers, sympy expressions, strings or callables, evaluated on points.

Wherever a problem expects a value (source term, boundary value, initial value, exact solution, Robin
coefficients) it accepts an `ExpressionLike` and converts it once with `as_expression` into an `Expression`,
a function from points of shape `(n_points, n_coords)` to values of shape `(n_points,)`.

Accepted values:

- a finite real number (`int`, `float`, numpy scalar; not `bool`);
- a sympy expression whose free symbols are named like the coordinates (any assumptions);
- a string, read by the whitelist parser `kanpde.pde.safe_expr.parse_expression` (see the rule below);
- a callable taking a `torch.Tensor` of points and returning a `torch.Tensor` of shape `(n_points,)` or
  `(n_points, 1)`. Its result is checked on every call. Numpy arrays and Python numbers are rejected rather
  than converted: they cannot carry autograd and lose the points' device.

String rule: a string is parsed against a fixed namespace, nothing else. Known names are the coordinates
(which take precedence), the constants `pi`, `E` and `e` (both Euler's number), and the functions in
`SUPPORTED_FUNCTIONS` (`abs`/`min`/`max`/`ln`/`ceil`/`arcsin`/`arccos`/`arctan` are aliases). Every other
name becomes an unknown symbol or function and is reported as an error, so `N`, `S`, `Q`, `I`, `beta` and
`gamma` never turn silently into sympy objects. `^` means power; implicit multiplication (`2x`) is not
supported, write `2*x`. Strings are data: they are never evaluated as Python. Attributes, subscripts, names
starting with `_`, lambdas, strings and calls of anything but the listed functions are refused, and so are
strings longer than 10000 characters, nesting deeper than 100 levels and exponents above 1000 (see
`kanpde.pde.safe_expr` and docs/security.md).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import TypeAlias, final

import numpy as np
import sympy
import torch
from sympy.core.function import AppliedUndef
from sympy.printing.lambdarepr import LambdaPrinter
from torch import Tensor

from .safe_expr import FUNCTIONS, parse_expression

__all__ = ["SUPPORTED_FUNCTIONS", "Expression", "ExpressionLike", "as_expression", "coordinate_names"]

_SPACE_NAMES = ("x", "y", "z")
_TIME_NAME = "t"
_FUNCTIONS = FUNCTIONS
SUPPORTED_FUNCTIONS: tuple[str, ...] = tuple(sorted(_FUNCTIONS))
"""Function names understood in strings (sympy names plus a few numpy-style aliases)."""
_NON_FINITE = (sympy.S.NaN, sympy.S.Infinity, sympy.S.NegativeInfinity, sympy.S.ComplexInfinity)


def _as_tensors(args: Sequence[Tensor | float]) -> list[Tensor]:
    """Turn Python numbers among `args` into 0-d tensors that follow the first (floating) tensor argument."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    ref = next((a for a in tensors if a.is_floating_point()), tensors[0] if tensors else None)
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float64
    device = ref.device if ref is not None else None
    return [a if isinstance(a, Tensor) else torch.as_tensor(float(a), dtype=dtype, device=device) for a in args]


def _lifted(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    return lambda *args: fn(*_as_tensors(args))


def _where(cond: Tensor | bool, a: Tensor | float, b: Tensor | float) -> Tensor:
    a_tensor, b_tensor = _as_tensors((a, b))
    return torch.where(torch.as_tensor(cond, dtype=torch.bool), a_tensor, b_tensor)


def _heaviside(x: Tensor | float, h0: Tensor | float) -> Tensor:
    x_tensor, h0_tensor = _as_tensors((x, h0))
    return torch.heaviside(x_tensor, h0_tensor.to(x_tensor.dtype))


# The names _TorchPrinter writes, bound to torch functions (numbers are accepted wherever tensors are).
_TORCH_NAMESPACE: dict[str, object] = {
    **{n: _lifted(getattr(torch, n)) for n in ("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh",
                                               "cosh", "tanh", "asinh", "acosh", "atanh", "exp", "log", "sqrt",
                                               "erf", "erfc", "floor", "ceil", "sign", "abs", "logical_not")},
    "minimum": lambda *a: functools.reduce(torch.minimum, _as_tensors(a)),
    "maximum": lambda *a: functools.reduce(torch.maximum, _as_tensors(a)),
    "logical_and": lambda *a: functools.reduce(torch.logical_and, _as_tensors(a)),
    "logical_or": lambda *a: functools.reduce(torch.logical_or, _as_tensors(a)),
    "where": _where, "heaviside": _heaviside, "pi": math.pi, "E": math.e, "e": math.e, "nan": math.nan,
}  # fmt: skip


def _calling(torch_name: str) -> Callable[[LambdaPrinter, sympy.Basic], str]:
    """A printer method that writes `torch_name(arg, ...)`."""
    return lambda printer, expr: f"{torch_name}({', '.join(map(printer._print, expr.args))})"


class _TorchPrinter(LambdaPrinter):
    """Writes Python code whose function names are the keys of `_TORCH_NAMESPACE` (elementwise on tensors)."""

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))  # round-trips the double exactly; str() keeps only 15 digits

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        code = "nan"  # no branch applies: caught by the finiteness check
        for value, cond in reversed(expr.args):
            value_code = self._print(value)
            code = value_code if cond == sympy.true else f"where({self._print(cond)}, {value_code}, {code})"
        return code

    def _print_ITE(self, expr: sympy.ITE) -> str:
        return "where({}, {}, {})".format(*map(self._print, expr.args))

    _print_And, _print_Or, _print_Not = _calling("logical_and"), _calling("logical_or"), _calling("logical_not")
    _print_Min, _print_Max, _print_sign = _calling("minimum"), _calling("maximum"), _calling("sign")

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        h0 = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
        return f"heaviside({self._print(expr.args[0])}, {self._print(h0)})"


def coordinate_names(space_dim: int, time: bool = False) -> tuple[str, ...]:
    """Names of the coordinate columns: `x`, `y`, `z` for space (`x1`, ..., `xn` beyond three), then `t`.

    Args:
        space_dim: Number of space dimensions, at least 1: up to 3 they are named x, y, z; in more dimensions
            all of them are named x1, x2, ..., xn (so a 5-D point has columns x1 ... x5).
        time: Whether the last column is time.

    Returns:
        The names, e.g. `("x", "y")`, `("x", "t")` or `("x1", "x2", "x3", "x4")`.

    Raises:
        ValueError: If `space_dim` is not a positive integer.

    Example:
        >>> coordinate_names(2, time=True)
        ('x', 'y', 't')
        >>> coordinate_names(4)
        ('x1', 'x2', 'x3', 'x4')
    """
    if isinstance(space_dim, bool) or not isinstance(space_dim, int) or space_dim < 1:
        raise ValueError(f"space_dim must be a positive integer (the number of space coordinates), got {space_dim!r}")
    space = _SPACE_NAMES[:space_dim] if space_dim <= 3 else tuple(f"x{i + 1}" for i in range(space_dim))
    return space + ((_TIME_NAME,) if time else ())


@final
class Expression:
    """A value as a function of the coordinates, evaluated on tensors of points.

    Build one with `as_expression` (or `Expression(value, coords=..., name=...)`, which is the same
    conversion); the module docstring lists the accepted values. Sympy-backed expressions are compiled once
    to torch functions with `sympy.lambdify`, so autograd flows from the values to the points.

    Attributes:
        name: What the value is (`"f"`, `"exact"`, ...); used in error messages.
        coords: Coordinate names of the point columns, e.g. `("x", "y")` or `("x", "t")`.
        sympy_expr: The sympy expression as given (a string gives plain `sympy.Symbol(name)` symbols, a
            number a sympy number), or None for a callable.

    Shapes:
        points: `(n_points, n_coords)`, floating point, `n_coords = len(coords)`.
        returns: `(n_points,)`, with the dtype and device of `points`.

    Example:
        >>> f = Expression("2*pi**2*sin(pi*x)*sin(pi*y)", coords=("x", "y"), name="f")
        >>> f(torch.tensor([[0.5, 0.5]], dtype=torch.float64))
        tensor([19.7392], dtype=torch.float64)
    """

    __slots__ = ("name", "coords", "sympy_expr", "_function", "_constant")

    def __init__(self, value: ExpressionLike, *, coords: Sequence[str], name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self.name, self.coords = name, _checked_coords(coords, name)
        self.sympy_expr: sympy.Expr | None = None
        self._function: Callable[..., object]
        self._constant: float | None = None
        if isinstance(value, Expression):
            if value.sympy_expr is None and value.coords != self.coords:
                raise ValueError(
                    f"{name}: the callable expression {value.name!r} was built for coordinates {value.coords}, "
                    f"but this problem has {self.coords}; rebuild it with these coordinates."
                )
            value = value.sympy_expr if value.sympy_expr is not None else value._function
        if isinstance(value, bool) or isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(
                f"{name} must be a number, a sympy expression, a string or a callable; got {type(value).__name__}. "
                "For a tensor (e.g. a learnable parameter k) pass a callable such as `lambda p: k * p[:, 0]`."
            )
        shown = f"{name} = {value!r}" if isinstance(value, str) else f"{name} = {value}"
        if isinstance(value, str):
            value = _parsed(value, self.coords, name)
        elif isinstance(value, numbers.Real) and not isinstance(value, sympy.Basic):
            if not math.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            value = sympy.sympify(value)
        elif isinstance(value, sympy.Basic) and not isinstance(value, sympy.Expr):
            raise TypeError(f"{name} must be a scalar sympy expression, got {type(value).__name__} {value}")
        elif not isinstance(value, sympy.Basic):
            if not callable(value):
                raise TypeError(
                    f"{name} must be a number, a sympy expression, a string such as 'sin(pi*x)', or a callable "
                    f"mapping points (n_points, {len(self.coords)}) to (n_points,); got {type(value).__name__}"
                )
            self._function = value
            return
        self.sympy_expr = _checked_sympy(value, self.coords, shown)
        if not self.sympy_expr.free_symbols:
            self._constant = _constant_value(self.sympy_expr, name)
        else:
            self._function = _lambdified(self.sympy_expr, self.coords, name)

    @property
    def is_constant(self) -> bool:
        """Whether the value does not depend on the coordinates (never true for a callable)."""
        return self._constant is not None

    @property
    def constant(self) -> float | None:
        """The number a constant expression stands for, None when it depends on the coordinates."""
        return self._constant

    def __reduce__(self) -> tuple[object, ...]:
        # The lambdified function does not pickle; rebuild it from the sympy expression (or the callable).
        value = self.sympy_expr if self.sympy_expr is not None else self._function
        return (_rebuilt, (value, self.coords, self.name))

    def __repr__(self) -> str:
        return f"Expression({self.name} = {self._describe()}, coords={self.coords})"

    def _describe(self) -> str:
        if self.sympy_expr is not None:
            return str(self.sympy_expr)
        return getattr(self._function, "__qualname__", repr(self._function))

    def __call__(self, points: Tensor) -> Tensor:
        """Evaluate at `points` (one column per coordinate, in the order of `coords`); see the class Shapes.

        Raises:
            TypeError: If `points` is not a floating tensor, or a callable does not return a real tensor.
            ValueError: If `points` has the wrong shape, a callable returns the wrong shape or device, or a
                value is not finite (the message counts them and shows the first such point).
            Exception: Whatever a callable raises itself, with a note naming the value and what it was given.
        """
        n_coords = len(self.coords)
        if not isinstance(points, Tensor) or not points.is_floating_point():
            raise TypeError(
                f"{self.name} expects points as a floating torch.Tensor of shape (n_points, {n_coords}) with "
                f"columns ({', '.join(self.coords)}); got {type(points).__name__} {getattr(points, 'dtype', '')}"
            )
        if points.ndim != 2 or points.shape[1] != n_coords:
            raise ValueError(
                f"{self.name} expects points of shape (n_points, {n_coords}) with columns "
                f"({', '.join(self.coords)}); got shape {tuple(points.shape)}"
            )
        n_points = points.shape[0]
        if self._constant is not None:
            return torch.full((n_points,), self._constant, dtype=points.dtype, device=points.device)
        if self.sympy_expr is not None:
            values = torch.as_tensor(self._function(*points.unbind(dim=1)), dtype=points.dtype, device=points.device)
            values = values.expand(n_points)
        else:
            try:
                result = self._function(points)
            except Exception as error:  # the user's own code: say which value it was and what it was given
                error.add_note(
                    f"(raised by the callable given as {self.name}, {self._describe()}, called with points as a "
                    f"torch.Tensor of shape ({n_points}, {n_coords}), columns {', '.join(self.coords)}, that may "
                    "require grad: compute with torch functions, not numpy)"
                )
                raise
            values = self._checked_result(result, points)
        # Under torch.func transforms (vmap) a data-dependent check cannot run; the values were checked when the
        # same points were evaluated outside the transform.
        if not torch._C._functorch.is_functorch_wrapped_tensor(values) and not bool(torch.isfinite(values).all()):
            self._raise_non_finite(values, points)
        return values

    def _checked_result(self, values: object, points: Tensor) -> Tensor:
        n_points, what = points.shape[0], f"{self.name}: the callable {self._describe()}"
        if not isinstance(values, Tensor):
            raise TypeError(
                f"{what} returned {type(values).__name__}; it must return a torch.Tensor of shape (n_points,) "
                "computed with torch functions (numpy arrays are not converted: they drop autograd and the "
                "device). For a constant, pass the number itself."
            )
        if values.shape == (n_points, 1):
            values = values[:, 0]
        elif values.shape != (n_points,):
            raise ValueError(
                f"{what} returned shape {tuple(values.shape)} for {n_points} points; expected ({n_points},) "
                f"or ({n_points}, 1). Reduce over columns, e.g. `p[:, 0] * p[:, 1]`, not `p * p`."
            )
        if values.is_complex():
            raise TypeError(f"{what} returned complex values ({values.dtype}); return real values")
        if values.device != points.device:
            raise ValueError(f"{what} returned values on {values.device} for points on {points.device}")
        return values.to(points.dtype)

    def _raise_non_finite(self, values: Tensor, points: Tensor) -> None:
        bad = torch.nonzero(~torch.isfinite(values.detach())).flatten()
        first = int(bad[0])
        where = ", ".join(f"{c}={v:.6g}" for c, v in zip(self.coords, points[first].tolist(), strict=True))
        hint = "check the callable"
        if self.sympy_expr is not None:
            hint = "the expression is undefined there (log, sqrt, division by zero?)"
        raise ValueError(
            f"{self.name} = {self._describe()} is not finite at {bad.numel()} of {values.numel()} points; "
            f"the first is ({where}) with value {values[first].item()}: {hint}"
        )

    def derivative(self, coord: str) -> Expression:
        """The partial derivative with respect to one coordinate, computed symbolically.

        Coordinates are treated as real numbers, so that e.g. `Abs(x)` gives `sign(x)`.

        Args:
            coord: The coordinate name, one of `coords`.

        Returns:
            A new expression named `d{name}/d{coord}` on the same coordinates.

        Shapes:
            Same as the expression itself: `(n_points, n_coords) -> (n_points,)`.

        Raises:
            TypeError: If the expression is a callable (no symbolic form).
            ValueError: If `coord` is not a coordinate, or the derivative has no torch translation.

        Example:
            >>> Expression("x**2*y", coords=("x", "y"), name="u").derivative("x").sympy_expr
            2*x*y
        """
        if self.sympy_expr is None:
            raise TypeError(
                f"{self.name} is a Python callable and has no symbolic derivative; give it as a sympy "
                "expression or string, or differentiate it yourself (e.g. with torch.autograd)"
            )
        if coord not in self.coords:
            raise ValueError(f"coord must be one of the coordinates {self.coords} of {self.name}, got {coord!r}")
        expr = self.sympy_expr
        by_name = {s.name: s for s in sorted(expr.free_symbols, key=str)}
        real = {c: sympy.Symbol(c, real=True) for c in self.coords}
        derivative = expr.xreplace({s: real[s.name] for s in expr.free_symbols}).diff(real[coord])
        derivative = derivative.xreplace({r: by_name.get(c, sympy.Symbol(c)) for c, r in real.items()})
        return Expression(derivative, coords=self.coords, name=f"d{self.name}/d{coord}")


ExpressionLike: TypeAlias = float | str | sympy.Expr | Callable[[Tensor], Tensor] | Expression
"""What users may pass wherever a value is expected (`int` included in `float`)."""


def as_expression(value: ExpressionLike, *, coords: Sequence[str], name: str) -> Expression:
    """Convert a user-given value into an `Expression` on the given coordinates, once.

    An `Expression` on the same coordinates is returned unchanged; a sympy-backed one on other coordinates
    (e.g. built for `("x",)` and used with `("x", "t")`) is converted again.

    Args:
        value: A number, sympy expression, string or callable (see the module docstring for the rules).
        coords: Coordinate names of the point columns, e.g. `coordinate_names(2, time=False)`.
        name: What the value is (`"f"`, `"exact"`, ...), for error messages.

    Returns:
        The expression.

    Shapes:
        The result maps points `(n_points, len(coords))` to values `(n_points,)`.

    Raises:
        TypeError: If `value` is of an unsupported kind (the message lists the accepted ones).
        ValueError: If a string does not parse, uses unknown symbols or functions (for `t` in a steady problem
            the message says there is no time coordinate), or a number is not finite.

    Example:
        >>> as_expression("exp(-t)*sin(pi*x)", coords=("x", "t"), name="exact").is_constant
        False
    """
    if isinstance(value, Expression) and value.coords == tuple(coords):
        return value
    return Expression(value, coords=coords, name=name)


def _rebuilt(value: ExpressionLike, coords: tuple[str, ...], name: str) -> Expression:
    return Expression(value, coords=coords, name=name)


def _checked_coords(coords: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(coords, str) or not all(isinstance(c, str) and c.isidentifier() for c in coords):
        raise TypeError(f"coords of {name} must be a tuple of identifiers such as ('x', 'y'), got {coords!r}")
    if not coords or len(set(coords)) != len(coords) or set(coords) & set(_TORCH_NAMESPACE):
        raise ValueError(f"coords of {name} must be distinct names other than pi, e, sin, ...; got {tuple(coords)}")
    return tuple(coords)


def _parsed(text: str, coords: tuple[str, ...], name: str) -> sympy.Basic:
    # Other names become plain symbols, reported by _checked_sympy with the coordinates (and a hint for t).
    return parse_expression(text, names=coords, what=name, unknown_names=True)


def _checked_sympy(expr: sympy.Basic, coords: tuple[str, ...], shown: str) -> sympy.Expr:
    if not isinstance(expr, sympy.Expr) or expr.is_Matrix:
        raise ValueError(f"{shown} is a {type(expr).__name__}, not a scalar expression")
    unknown = sorted({s.name for s in expr.free_symbols} - set(coords))
    if unknown:
        message = (f"{shown} uses unknown symbol(s) {', '.join(map(repr, unknown))}; the coordinates of this "
                   f"problem are {', '.join(coords)}. Substitute parameter values, or pass a callable.")  # fmt: skip
        if _TIME_NAME in unknown:
            message += f" 't' is time, but this problem is steady: it has no time coordinate ({', '.join(coords)})."
        raise ValueError(message)
    functions = sorted({type(f).__name__ for f in expr.atoms(AppliedUndef)})
    if functions:
        raise ValueError(
            f"{shown} calls unknown function(s) {', '.join(functions)}; supported: {', '.join(SUPPORTED_FUNCTIONS)}"
        )
    if expr.has(*_NON_FINITE):
        raise ValueError(f"{shown} contains a non-finite number (nan, oo or zoo)")
    if expr.has(sympy.I):
        raise ValueError(f"{shown} is complex; only real values are supported")
    return expr


def _constant_value(expr: sympy.Expr, name: str) -> float:
    try:
        value = float(expr)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} = {expr} does not evaluate to a real number ({error})") from error
    if not math.isfinite(value):
        raise ValueError(f"{name} = {expr} is not finite ({value})")
    return value


def _lambdified(expr: sympy.Expr, coords: tuple[str, ...], name: str) -> Callable[..., object]:
    by_name = {s.name: s for s in expr.free_symbols}
    args = [by_name.get(c, sympy.Symbol(c)) for c in coords]
    printer = _TorchPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True})
    try:
        function = sympy.lambdify(args, expr, modules=[_TORCH_NAMESPACE], printer=printer)
    except Exception as error:  # the printer raises for objects it cannot write (Integral, ...)
        raise ValueError(f"{name} = {expr} cannot be evaluated with torch ({error}); pass a callable") from error
    missing = sorted(set(function.__code__.co_names) - set(_TORCH_NAMESPACE))
    if missing:
        raise ValueError(
            f"{name} = {expr} uses name(s) with no torch translation: {', '.join(missing)}. Supported: "
            f"{', '.join(SUPPORTED_FUNCTIONS)}; for others pass a callable built with torch functions."
        )
    return function
