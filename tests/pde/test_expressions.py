"""Tests for kanpde.pde.expressions: conversion of numbers, strings, sympy expressions and callables."""

from __future__ import annotations

import copy
import math
import pickle
import re

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kanpde.pde.expressions import Expression, as_expression, coordinate_names

XY = ("x", "y")


@pytest.fixture(params=[torch.float64, torch.float32], ids=["float64", "float32"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


def _points(n: int = 17, n_coords: int = 2, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n, n_coords, generator=generator, dtype=torch.float64).to(dtype) * 0.9 + 0.05


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}


# --- evaluation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        ("2*pi**2*sin(pi*x)*sin(pi*y)", lambda x, y: 2 * math.pi**2 * torch.sin(math.pi * x) * torch.sin(math.pi * y)),
        ("exp(-x)*cos(y) + E**y", lambda x, y: torch.exp(-x) * torch.cos(y) + torch.exp(y)),
        ("e*x", lambda x, y: math.e * x),
        ("x^2 + y**3/3", lambda x, y: x**2 + y**3 / 3),
        ("sqrt(x) + log(y) + ln(x)", lambda x, y: torch.sqrt(x) + torch.log(y) + torch.log(x)),
        ("tanh(x) + sinh(y) - cosh(x)", lambda x, y: torch.tanh(x) + torch.sinh(y) - torch.cosh(x)),
        ("atan2(y, x) + asin(x)", lambda x, y: torch.atan2(y, x) + torch.asin(x)),
        ("acos(y) + atan(x) + arctan(y)", lambda x, y: torch.acos(y) + torch.atan(x) + torch.atan(y)),
        ("abs(x - 0.5) + sign(y - 0.5)", lambda x, y: torch.abs(x - 0.5) + torch.sign(y - 0.5)),
        ("Min(x, y, 0.5) + max(x, 0.3)", lambda x, y: torch.minimum(x, y).clamp(max=0.5) + x.clamp(min=0.3)),
        ("Heaviside(x - 0.5) + erf(x)", lambda x, y: (x > 0.5).to(x.dtype) + torch.erf(x)),
        ("floor(3*y) + ceil(2*x)", lambda x, y: torch.floor(3 * y) + torch.ceil(2 * x)),
        ("Piecewise((x, x > 0.5), (y, True))", lambda x, y: torch.where(x > 0.5, x, y)),
        ("Piecewise((1, (x > 0.3) & (y < 0.7)), (0, True))", lambda x, y: ((x > 0.3) & (y < 0.7)).to(x.dtype)),
        ("sin(1)*x + tan(y)", lambda x, y: math.sin(1) * x + torch.tan(y)),
        (sympy.sin(sympy.pi * sympy.Symbol("x")) * sympy.Symbol("y"), lambda x, y: torch.sin(math.pi * x) * y),
        (sympy.Symbol("x", real=True) ** 2, lambda x, y: x**2),
        (lambda p: p[:, 0] * p[:, 1], lambda x, y: x * y),
        (lambda p: (p[:, 0] + p[:, 1])[:, None], lambda x, y: x + y),
    ],
)  # fmt: skip
def test_values_match_torch(value: object, reference, dtype: torch.dtype) -> None:
    points = _points(dtype=dtype)
    values = as_expression(value, coords=XY, name="f")(points)
    assert values.shape == (17,) and values.dtype == dtype
    torch.testing.assert_close(values, reference(points[:, 0], points[:, 1]), **_tol(dtype))


@pytest.mark.parametrize("value", [3, 2.5, np.float64(2.5), "7/2", "pi", sympy.Rational(1, 3), "sin(1)"])
def test_constants_broadcast(value: object, dtype: torch.dtype) -> None:
    expression = as_expression(value, coords=XY, name="g")
    assert expression.is_constant
    values = expression(_points(5, dtype=dtype))
    assert values.shape == (5,) and values.dtype == dtype
    torch.testing.assert_close(values, torch.full((5,), float(sympy.sympify(value)), dtype=dtype))
    assert expression(torch.empty(0, 2, dtype=dtype)).shape == (0,)


def test_single_coordinate_broadcasts_in_more_dimensions(dtype: torch.dtype) -> None:
    points = _points(6, n_coords=4, dtype=dtype)
    expression = as_expression("t", coords=coordinate_names(3, time=True), name="exact")
    assert not expression.is_constant
    torch.testing.assert_close(expression(points), points[:, 3])


def test_gradient_flows_to_points() -> None:
    points = _points().requires_grad_(True)
    values = as_expression("sin(pi*x)*y**2", coords=XY, name="u")(points)
    (gradient,) = torch.autograd.grad(values.sum(), points)
    x, y = points.detach().unbind(1)
    expected = torch.stack([math.pi * torch.cos(math.pi * x) * y**2, 2 * torch.sin(math.pi * x) * y], dim=1)
    torch.testing.assert_close(gradient, expected)


def test_attributes_and_idempotence() -> None:
    expression = as_expression("x*y", coords=XY, name="f")
    assert expression.name == "f" and expression.coords == XY
    x, y = sympy.symbols("x y")
    assert expression.sympy_expr == x * y
    assert as_expression(expression, coords=XY, name="other") is expression
    widened = as_expression(expression, coords=("x", "y", "t"), name="f")
    assert widened.coords == ("x", "y", "t") and widened.sympy_expr == x * y
    assert as_expression(lambda p: p[:, 0], coords=XY, name="f").sympy_expr is None


def test_pickle_and_deepcopy_rebuild() -> None:
    points = _points()
    for expression in (as_expression("sin(x)*y", coords=XY, name="f"), as_expression(2.5, coords=XY, name="g")):
        for copied in (pickle.loads(pickle.dumps(expression)), copy.deepcopy(expression)):
            assert copied.name == expression.name and copied.sympy_expr == expression.sympy_expr
            torch.testing.assert_close(copied(points), expression(points))


def test_callable_on_other_coordinates_rejected() -> None:
    expression = as_expression(lambda p: p[:, 0], coords=("x",), name="g")
    with pytest.raises(ValueError, match=r"g.*\('x',\)"):
        as_expression(expression, coords=XY, name="g")


# --- conversion errors ------------------------------------------------------------------------------------------


def test_unknown_symbol_is_named() -> None:
    with pytest.raises(ValueError, match=r"f = 'beta\*sin\(x\)'.*unknown symbol\(s\) 'beta'.*coordinates.*x, y"):
        as_expression("beta*sin(x)", coords=XY, name="f")
    with pytest.raises(ValueError, match="'k'"):
        as_expression(sympy.Symbol("k") * sympy.Symbol("x"), coords=XY, name="f")


@pytest.mark.parametrize("text", ["N*x", "S + x", "Q", "I*x", "gamma", "beta"])
def test_sympy_names_are_not_special(text: str) -> None:
    with pytest.raises(ValueError, match="unknown symbol"):
        as_expression(text, coords=XY, name="f")


def test_unknown_function_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown function\(s\) beta.*supported: .*sin"):
        as_expression("beta(x, 2)", coords=XY, name="f")
    with pytest.raises(ValueError, match="no torch translation: besselj"):
        as_expression(sympy.besselj(0, sympy.Symbol("x")), coords=XY, name="f")


def test_time_in_steady_problem_is_explained() -> None:
    with pytest.raises(ValueError, match=r"'t'.*no time coordinate"):
        as_expression("exp(-t)*sin(pi*x)", coords=XY, name="f")
    as_expression("exp(-t)*sin(pi*x)", coords=("x", "t"), name="f")


@pytest.mark.parametrize("text", ["sin(x", "2x", "x +* y", ""])
def test_unparsable_string(text: str) -> None:
    with pytest.raises(ValueError, match="source: could not parse " + re.escape(repr(text))):
        as_expression(text, coords=XY, name="source")


@pytest.mark.parametrize("value", [math.inf, math.nan, "1/0", sympy.oo * sympy.Symbol("x"), sympy.nan])
def test_non_finite_number(value: object) -> None:
    with pytest.raises(ValueError, match="h.*(finite|nan)"):
        as_expression(value, coords=XY, name="h")


@pytest.mark.parametrize("value", [True, 1 + 2j, None, [1.0], torch.tensor(1.0), np.ones(3), sympy.Symbol("x") > 0])
def test_unsupported_type(value: object) -> None:
    with pytest.raises(TypeError, match="h must be"):
        as_expression(value, coords=XY, name="h")


def test_complex_and_relational_strings_rejected() -> None:
    with pytest.raises(ValueError, match="complex"):
        as_expression("sqrt(-1)*x", coords=XY, name="f")
    with pytest.raises(ValueError, match="not a scalar"):
        as_expression("x > 0", coords=XY, name="f")


def test_coordinate_names() -> None:
    assert coordinate_names(1, time=False) == ("x",)
    assert coordinate_names(2, time=False) == ("x", "y")
    assert coordinate_names(3, time=True) == ("x", "y", "z", "t")
    assert coordinate_names(1, time=True) == ("x", "t")
    assert coordinate_names(4, time=True) == ("x1", "x2", "x3", "x4", "t")
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="space_dim must be a positive integer"):
            coordinate_names(bad, time=False)  # type: ignore[arg-type]


def test_invalid_coords_and_name() -> None:
    with pytest.raises(ValueError, match="distinct"):
        as_expression("x", coords=("x", "x"), name="f")
    with pytest.raises(TypeError, match="coords"):
        as_expression("x", coords="xy", name="f")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        as_expression("x", coords=XY, name="")


# --- evaluation errors ------------------------------------------------------------------------------------------


def test_callable_returning_non_tensor() -> None:
    expression = as_expression(lambda p: p.numpy()[:, 0], coords=XY, name="flux")
    with pytest.raises(TypeError, match="flux: the callable .* returned ndarray; it must return a torch.Tensor"):
        expression(_points())


@pytest.mark.parametrize("result", [lambda p: p, lambda p: p[:3, 0], lambda p: p.sum()])
def test_callable_wrong_shape(result) -> None:
    expression = as_expression(result, coords=XY, name="flux")
    with pytest.raises(ValueError, match=r"flux: the callable .* returned shape .* for 17 points; expected \(17,\)"):
        expression(_points())


def test_callable_non_finite() -> None:
    expression = as_expression(lambda p: 1 / (p[:, 0] - p[2, 0]), coords=XY, name="initial")
    points = _points()
    x2, y2 = points[2].tolist()
    message = rf"initial = .* not finite at 1 of 17 points; the first is \(x={x2:.6g}, y={y2:.6g}\)"
    with pytest.raises(ValueError, match=message):
        expression(points)


def test_sympy_non_finite() -> None:
    expression = as_expression("log(x)", coords=("x",), name="exact")
    with pytest.raises(ValueError, match=r"exact = log\(x\) is not finite at 2 of 3 points; the first is \(x=0\)"):
        expression(torch.tensor([[0.0], [1.0], [0.0]]))
    with pytest.raises(ValueError, match="not finite"):
        as_expression("Piecewise((x, x > 0.5))", coords=("x",), name="exact")(torch.tensor([[0.1]]))


def test_callable_result_follows_points_dtype() -> None:
    expression = as_expression(lambda p: p[:, 0].float(), coords=XY, name="f")
    assert expression(_points()).dtype == torch.float64


@pytest.mark.parametrize("points", [torch.zeros(3, 3), torch.zeros(3), [[0.0]], torch.zeros(3, 2, dtype=torch.long)])
def test_bad_points(points: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"f expects points .*\(n_points, 2\)"):
        as_expression("x", coords=XY, name="f")(points)  # type: ignore[arg-type]


# --- derivatives ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["sin(pi*x)*exp(y)", "x**3*y - y/(1 + x**2)", "abs(x - 0.3)*y", "sqrt(x*y)"])
@pytest.mark.parametrize("coord", XY)
def test_derivative_matches_finite_differences(text: str, coord: str) -> None:
    expression = as_expression(text, coords=XY, name="u")
    derivative = expression.derivative(coord)
    assert derivative.name == f"du/d{coord}" and derivative.coords == XY
    points, step = _points(), 1e-6
    shift = torch.zeros(2, dtype=torch.float64)
    shift[XY.index(coord)] = step
    central = (expression(points + shift) - expression(points - shift)) / (2 * step)
    torch.testing.assert_close(derivative(points), central, rtol=1e-6, atol=1e-6)


def test_derivative_errors() -> None:
    with pytest.raises(TypeError, match="f is a Python callable"):
        as_expression(lambda p: p[:, 0], coords=XY, name="f").derivative("x")
    with pytest.raises(ValueError, match="coord must be one of"):
        as_expression("x", coords=XY, name="f").derivative("t")
    assert as_expression(2.0, coords=XY, name="f").derivative("x").is_constant


def test_expression_constructor_equals_as_expression() -> None:
    points = _points()
    torch.testing.assert_close(Expression("x+y", coords=XY, name="f")(points), points.sum(1))


# --- property: polynomial round trip through str ------------------------------------------------------------------

_X, _Y = sympy.symbols("x y")
_monomials = st.tuples(
    st.fractions(min_value=-5, max_value=5, max_denominator=7), st.integers(0, 4), st.integers(0, 4)
).map(lambda m: sympy.Rational(m[0].numerator, m[0].denominator) * _X ** m[1] * _Y ** m[2])


@settings(max_examples=40, deadline=None)
@given(st.lists(_monomials, min_size=1, max_size=6))
def test_polynomial_round_trip(monomials: list[sympy.Expr]) -> None:
    polynomial = sympy.Add(*monomials)
    points = _points(11)
    values = as_expression(str(polynomial), coords=XY, name="p")(points)
    expected = np.broadcast_to(sympy.lambdify((_X, _Y), polynomial, modules="numpy")(*points.numpy().T), (11,))
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12, atol=1e-12)
