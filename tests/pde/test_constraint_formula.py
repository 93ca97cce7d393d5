"""The hard constraint's formulas are written once: tensors and sympy give the same numbers."""

from __future__ import annotations

import pytest
import sympy
import torch

import kanpde as kp
from kanpde.pde.constraint_formula import ball_distance, box_distance, lift_in_time, vanishing_in_time

F64 = torch.float64


@pytest.mark.parametrize(
    "geometry",
    [
        kp.Interval(-0.5, 2),
        kp.Box((0, -1, 0.25), (1, 1, 3)),
        kp.Ball((0.1, 0, -0.2, 0.3), 0.7),
        kp.Disk((1, 2), 0.5),
    ],
    ids=["interval", "box3d", "ball4d", "disk"],
)
def test_distance_formula_equals_the_distance_function(geometry: kp.AbstractGeometry) -> None:
    symbols = sympy.symbols(f"s0:{geometry.dim}")
    formula = geometry.distance_formula(symbols)
    assert all(isinstance(a, sympy.Rational) for a in formula.atoms(sympy.Number))  # exact bounds
    points = geometry.sample_interior(50, generator=torch.Generator().manual_seed(0))
    numeric = sympy.lambdify(symbols, formula, "math")
    expected = torch.tensor([float(numeric(*p.tolist())) for p in points], dtype=F64)
    torch.testing.assert_close(geometry.distance(points), expected, rtol=1e-12, atol=1e-14)
    assert bool((expected > 0).all())


def test_distance_formula_refused_without_a_closed_form() -> None:
    square = kp.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    with pytest.raises(ValueError, match="no closed-form distance function"):
        square.distance_formula(sympy.symbols("x y"))


def test_time_formulas_vanish_and_lift_as_documented() -> None:
    x, t = sympy.symbols("x t")
    distance = box_distance([x], [0], [1])
    assert sympy.simplify(distance - x * (1 - x)) == 0
    assert sympy.simplify(ball_distance([x], [0], 1) - (1 - x**2) / 2) == 0
    b = vanishing_in_time(t - 1, 2, distance, order=2)
    assert b.subs(t, 1) == 0 and sympy.diff(b, t).subs(t, 1) == 0 and b.subs(x, 0) == 0
    g_d = sympy.exp(t) * x
    u0, v0 = sympy.sin(x), x**2
    g = lift_in_time(u0, g_d, g_d.subs(t, 1), t - 1, v0, sympy.diff(g_d, t).subs(t, 1))
    assert sympy.simplify(g.subs(t, 1) - u0) == 0
    assert sympy.simplify(sympy.diff(g, t).subs(t, 1) - v0) == 0
    first_order = lift_in_time(u0, g_d, g_d.subs(t, 1))
    assert sympy.simplify(first_order.subs(t, 1) - u0) == 0
