"""The candidate library: every entry's torch and sympy functions agree; registry; domains; canonical forms."""

from __future__ import annotations

import math

import pytest
import sympy
import torch

from kanpde.symbolic import (
    DEFAULT_LIBRARY,
    fit_edge,
    function_names,
    get_function,
    register_function,
    unregister_function,
)
from kanpde.symbolic.library import resolve_library

# a point set inside every entry's domain (log, sqrt, 1/x need positive arguments; tan stays inside one branch)
_U = torch.linspace(0.1, 1.4, 27, dtype=torch.float64)


@pytest.mark.parametrize("name", DEFAULT_LIBRARY)
def test_torch_and_sympy_functions_agree(name: str) -> None:
    entry = get_function(name)
    u = sympy.Symbol("u")
    numeric = sympy.lambdify(u, entry.sympy_fn(u), "math")
    expected = torch.tensor([float(numeric(float(v))) for v in _U], dtype=torch.float64)
    torch.testing.assert_close(entry.torch_fn(_U), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in DEFAULT_LIBRARY if n != "0"])
def test_entries_are_differentiable_by_autograd(name: str) -> None:
    u = _U.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(get_function(name).torch_fn(u).sum(), u)
    assert bool(torch.isfinite(grad).all())


def test_complexity_scores_rank_simple_functions_first() -> None:
    scores = {name: get_function(name).complexity for name in ("0", "x", "x^2", "sin", "exp", "x^3", "tanh")}
    assert scores == {"0": 0, "x": 1, "x^2": 2, "sin": 2, "exp": 2, "x^3": 3, "tanh": 3}


def test_default_library_lists_the_required_functions() -> None:
    required = {"0", "x", "x^2", "x^3", "x^4", "1/x", "sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "gaussian"}
    assert required | {"abs", "sinh", "cosh", "arctan"} <= set(DEFAULT_LIBRARY)
    assert list(DEFAULT_LIBRARY) == function_names()[: len(DEFAULT_LIBRARY)]


def test_domains_reject_arguments_outside_them() -> None:
    lo = torch.tensor([0.5, -0.5, -2.0, 1.0], dtype=torch.float64)
    hi = torch.tensor([2.0, 0.5, -1.0, 2.0], dtype=torch.float64)
    assert get_function("log").domain(lo, hi).tolist() == [True, False, False, True]  # type: ignore[misc]
    assert get_function("sqrt").domain(lo, hi).tolist() == [True, False, False, True]  # type: ignore[misc]
    assert get_function("1/x").domain(lo, hi).tolist() == [True, False, True, True]  # type: ignore[misc]
    tan_lo = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    tan_hi = torch.tensor([1.0, 2.0], dtype=torch.float64)  # (1, 2) contains the pole pi/2
    assert get_function("tan").domain(tan_lo, tan_hi).tolist() == [True, False]  # type: ignore[misc]
    assert get_function("sin").domain is None


@pytest.mark.parametrize(
    ("name", "params"),
    [("sin", (-3.0, 0.5, -2.0, 1.0)), ("cos", (2.0, 7.0, -1.5, 0.0)), ("tanh", (-2.0, 0.3, 1.0, 0.5))],
)
def test_canonical_form_is_the_same_function(name: str, params: tuple[float, float, float, float]) -> None:
    entry = get_function(name)
    a, b, c, d = entry.canonical(*params)
    assert a > 0
    if entry.period is not None:
        assert -entry.period / 2 <= b < entry.period / 2
    if entry.antiperiod is not None:
        assert c > 0
    x = torch.linspace(-2, 2, 50, dtype=torch.float64)
    a0, b0, c0, d0 = params
    torch.testing.assert_close(c * entry.torch_fn(a * x + b) + d, c0 * entry.torch_fn(a0 * x + b0) + d0)


def test_register_function_makes_a_candidate_available_by_name() -> None:
    # a = 1 is the canonical form of a power (c absorbs the scale), as for the built-in x^2, x^3
    entry = register_function("x^5", lambda u: u**5, lambda u: u**5, 3, a_mode="one")
    try:
        assert get_function("x^5") is entry and "x^5" in function_names()
        x = torch.linspace(-1, 1, 200, dtype=torch.float64)
        best = fit_edge(x, 2 * (x - 0.1) ** 5 + 1, library=["x^3", "x^5"])[0]
        assert best.name == "x^5"
        assert math.isclose(best.b, -0.1, abs_tol=1e-6) and math.isclose(best.c, 2.0, rel_tol=1e-6)
        with pytest.raises(ValueError, match="overwrite=True"):
            register_function("x^5", torch.sin, sympy.sin, 1)
        replaced = register_function("x^5", lambda u: u**5, lambda u: u**5, 4, overwrite=True)
        assert get_function("x^5").complexity == 4 and replaced is get_function("x^5")
    finally:
        unregister_function("x^5")
    assert "x^5" not in function_names()


def test_registry_errors_say_what_exists() -> None:
    with pytest.raises(KeyError, match="registered"):
        get_function("no-such-function")
    with pytest.raises(ValueError, match="built-in"):
        unregister_function("sin")
    with pytest.raises(ValueError, match="complexity"):
        register_function("bad", torch.sin, sympy.sin, -1)


def test_resolve_library_always_offers_zero_and_accepts_entries() -> None:
    names = [e.name for e in resolve_library(["sin", get_function("exp"), "sin"])]
    assert names == ["0", "sin", "exp"]
    assert [e.name for e in resolve_library(None)] == function_names()
    with pytest.raises(ValueError, match="at least one"):
        resolve_library([])


def test_a_library_is_extended_per_call_without_changing_anyone_else() -> None:
    from kanpde.symbolic import BUILTINS, Library, auto_symbolic

    mine = BUILTINS.with_function("x^5", lambda u: u**5, lambda u: u**5, 3, a_mode="one")
    assert isinstance(mine, Library) and "x^5" in mine and "x^5" not in BUILTINS  # a new object
    assert "x^5" not in function_names()  # nothing process-wide changed
    x = torch.linspace(-1, 1, 200, dtype=torch.float64)
    best = fit_edge(x, 2 * (x - 0.1) ** 5 + 1, library=mine)[0]
    assert best.name == "x^5" and best.function is mine["x^5"]
    torch.testing.assert_close(best(x), 2 * (x - 0.1) ** 5 + 1, rtol=1e-6, atol=1e-6)
    with pytest.raises(KeyError, match="x\\^5"):
        fit_edge(x, x**5, library=["x^5"])  # outside the call, the name means nothing
    # a symbolic network built with the library keeps its entries after the call
    import kanpde as kp

    points = x[:, None]
    model = kp.KAN([1, 1], grid=5, k=3, seed=0, dtype=torch.float64)
    model.fit(points, points**5, steps=30, progress=False)
    network = auto_symbolic(model, points, points**5, library=mine.without("x^4", "x^3"))
    assert sympy.simplify(network.formula() - sympy.Symbol("x") ** 5) == 0
    torch.testing.assert_close(network(points), points**5, rtol=1e-8, atol=1e-8)
    with pytest.raises(ValueError, match="overwrite"):
        mine.with_function("x^5", torch.sin, sympy.sin, 1)
    with pytest.raises(ValueError, match="complexity"):
        BUILTINS.with_function("bad", torch.sin, sympy.sin, -1)
