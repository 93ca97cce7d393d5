"""What the static type check (``mypy kanpde``, run by .ci/run) found and what was added for it.

- ``kp.PDE(..., time=kp.TimeInterval(t0, t1))`` built its description with ``tuple(time)`` and failed (a
  TimeInterval is not iterable); the annotation allows a TimeInterval.
- ``Expression.constant``: the number a constant expression stands for (None otherwise), used where code read
  ``float(expr.sympy_expr)`` of an expression it knew to be constant.
"""

from __future__ import annotations

import pytest
import sympy

import kanpde as kp
from kanpde.pde.expressions import Expression


def test_pde_takes_a_time_interval_as_its_time() -> None:
    residual = lambda u: u.t - u.xx  # noqa: E731
    with_pair = kp.PDE(kp.Interval(0, 1), residual, time=(0, 2), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    with_interval = kp.PDE(
        kp.Interval(0, 1), residual, time=kp.TimeInterval(0, 2), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)]
    )
    assert with_interval.time == with_pair.time == kp.TimeInterval(0.0, 2.0)
    assert with_interval.coords == ("x", "t")
    assert with_interval.description.endswith(" x (0.0, 2.0)")
    assert with_pair.description.endswith(" x (0, 2)")  # the pair as given, as before


def test_expression_constant() -> None:
    coords = ("x", "y")
    assert Expression("2*pi", coords=coords, name="k").constant == float(2 * sympy.pi)
    assert Expression(3, coords=coords, name="k").constant == 3.0
    assert Expression("x + 1", coords=coords, name="k").constant is None
    assert Expression(lambda p: p[:, 0], coords=coords, name="k").constant is None


def test_constant_matrix_coefficient_reads_its_numbers() -> None:
    # Zero off-diagonal entries read no mixed derivative, the description shows the numbers, and the symmetry
    # check compares them (all three read Expression.constant).
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)], coefficient=[[2.5, 0], [0, 1]])
    assert problem.diffusion._zero == [[False, True], [True, False]]
    assert problem.diffusion.describe() == "[[2.5, 0], [0, 1]]"
    with pytest.raises(ValueError, match="symmetric"):
        kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)], coefficient=[[2, 0.5], [0.4, 1]])
