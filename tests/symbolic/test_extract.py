"""KAN -> SymbolicNetwork -> sympy: exact recovery of known formulas, honest reports, the network's mechanics."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import sympy
import torch

import kanpde as kp
from kanpde.symbolic import SymbolicNetwork, auto_symbolic

X_SYM, Y_SYM = sympy.symbols("x y")


def _data(n: int = 1000, dim: int = 2) -> torch.Tensor:
    return torch.rand(n, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1


def _trained(width: list[int], x: torch.Tensor, y: torch.Tensor, *, seed: int, steps: int = 50) -> kp.KAN:
    model = kp.KAN(width, grid=5, k=3, seed=seed, dtype=torch.float64)
    model.fit(x, y, steps=steps, progress=False)
    return model


def _is(expr: sympy.Expr, exact: sympy.Expr) -> bool:
    return sympy.simplify(expr - exact) == 0


# --- recovery of known formulas from briefly trained KANs ------------------------------------------------------


@pytest.fixture(scope="module")
def sin_square() -> tuple[kp.KAN, torch.Tensor, torch.Tensor]:
    """A [2,1,1] KAN after 50 L-BFGS steps on sin(pi*x) + y^2 (RMSE about 6e-3); tests must not modify it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    x = _data()
    y = torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2
    model = _trained([2, 1, 1], x, y, seed=1)
    torch.set_num_threads(previous)
    return model, x, y


def test_sin_plus_square_is_recovered_exactly(sin_square: tuple[kp.KAN, torch.Tensor, torch.Tensor]) -> None:
    model, x, y = sin_square
    expr = model.symbolic_formula(x, y=y)  # the thin KAN method
    assert _is(expr, sympy.sin(sympy.pi * X_SYM) + Y_SYM**2), expr


def test_exp_of_sin_plus_square_is_recovered_exactly() -> None:
    x = _data()
    y = torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)
    model = _trained([2, 1, 1], x, y, seed=3)
    sym = model.auto_symbolic(x, y=y)
    assert isinstance(sym, SymbolicNetwork)
    assert [fit.name for fit in sym.fits.values()] == ["sin", "x^2", "exp"]
    assert sym.report is not None and sym.report.exact_fit and sym.report.relative_rmse < 1e-10
    assert sym.report.rmse_network is not None and sym.report.rmse_network > 1e-3  # the KAN itself is rougher
    expr = sym.formula()
    assert _is(expr, sympy.exp(sympy.sin(sympy.pi * X_SYM) + Y_SYM**2)), expr
    numeric = sympy.lambdify((X_SYM, Y_SYM), expr, "numpy")
    torch.testing.assert_close(torch.as_tensor(numeric(x[:, 0].numpy(), x[:, 1].numpy()))[:, None], y)


def test_product_is_recovered_exactly_from_a_2_2_1_kan() -> None:
    # x*y = ((x + y)^2 - (x - y)^2)/4: the hidden nodes must become x + y and x - y. With the default init (all
    # base scales positive) both hidden nodes learn x + y, and the KAN represents x*y by curved edges instead; a
    # mixed-sign start lets it find the quadratic form. Layer 0 is restricted to "x" (a linear combination).
    x = _data()
    y = x[:, :1] * x[:, 1:]
    model = kp.KAN([2, 2, 1], grid=5, k=3, seed=0, dtype=torch.float64)
    with torch.no_grad():
        model.layers[0].scale_base[1, 1] *= -1  # type: ignore[index,operator]
    model.fit(x, y, steps=50, progress=False)
    sym = auto_symbolic(model, x, y, library={0: ["x"]})
    assert sym.report is not None and sym.report.exact_fit
    assert [sym.fits[(1, i, 0)].name for i in range(2)] == ["x^2", "x^2"]
    assert _is(sym.formula(), X_SYM * Y_SYM), sym.formula()


def test_unrepresentable_function_is_reported_as_not_exact() -> None:
    x = torch.linspace(-1, 1, 400, dtype=torch.float64)[:, None]
    y = 3 * x - torch.floor(3 * x)  # a sawtooth: no library function, no affine form of one
    model = _trained([1, 1], x, y, seed=0, steps=30)
    sym = auto_symbolic(model, x, y)
    report = sym.report
    assert report is not None
    assert not report.exact_fit
    assert report.relative_rmse > 1e-2
    assert "exact fit: False" in str(report)
    assert sym.rmse(x, y) == pytest.approx(report.rmse)


def test_without_data_the_report_compares_with_the_network(
    sin_square: tuple[kp.KAN, torch.Tensor, torch.Tensor],
) -> None:
    model, x, _ = sin_square
    sym = auto_symbolic(model, x, snap=False)  # target: the KAN's own output
    report = sym.report
    assert report is not None and report.rmse_network is not None
    assert report.rmse == pytest.approx(report.rmse_network)
    assert report.exact_rtol == 1e-3  # the network is itself approximate: a looser default
    assert len(report.edges) == 3 and all(0 <= e.layer <= 1 for e in report.edges)


def test_default_sample_points_follow_the_first_grid(sin_square: tuple[kp.KAN, torch.Tensor, torch.Tensor]) -> None:
    model = sin_square[0]
    sym = model.auto_symbolic(library=["x", "x^2", "sin"], retrain_steps=5, snap=False, alternatives=0)
    assert sym.width == [2, 1, 1] and sym.report is not None


# --- SymbolicNetwork mechanics ------------------------------------------------------------------------------------


def _product_network() -> SymbolicNetwork:
    """cos(pi*x - pi*y)/2 - cos(pi*x + pi*y)/2 = sin(pi*x)*sin(pi*y), with exact constants."""
    net = SymbolicNetwork([[["x", "x"], ["x", "x"]], [["cos"], ["cos"]]])
    first, second = net.symbolic_layers()
    for i, j, c in [(0, 0, sympy.pi), (1, 0, -sympy.pi), (0, 1, sympy.pi), (1, 1, sympy.pi)]:
        first.fix(2, i, j, c)
        first.fix(3, i, j, sympy.Integer(0))
    for i, c in [(0, sympy.Rational(1, 2)), (1, sympy.Rational(-1, 2))]:
        second.fix(0, i, 0, sympy.Integer(1))
        second.fix(1, i, 0, sympy.Integer(0))
        second.fix(2, i, 0, c)
        second.fix(3, i, 0, sympy.Integer(0))
    return net


def test_formula_recognises_a_product_of_sines() -> None:
    net = _product_network()
    x = _data(50)
    torch.testing.assert_close(net(x)[:, 0], torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1]))
    assert net.formula() == sympy.sin(sympy.pi * X_SYM) * sympy.sin(sympy.pi * Y_SYM)
    raw = net.formula(simplify=False)
    assert raw != net.formula() and _is(raw, net.formula())
    assert net.formula(variables=("s", "t")).free_symbols == set(sympy.symbols("s t"))


def test_jacobian_matches_finite_differences() -> None:
    net = SymbolicNetwork([[["sin", "x^2"], ["exp", "tanh"]], [["x"], ["cos"]]])
    gen = torch.Generator().manual_seed(1)
    theta, _ = net.flat_constants()
    theta = theta + 0.3 * torch.randn(theta.shape, generator=gen, dtype=torch.float64)
    net.set_flat_constants(theta)
    x = _data(20)
    out, jac = net.jacobian(x)
    torch.testing.assert_close(out, net(x))
    columns = []
    for p in range(theta.numel()):
        step = torch.zeros_like(theta)
        step[p] = 1e-6
        net.set_flat_constants(theta + step)
        plus = net(x)
        net.set_flat_constants(theta - step)
        columns.append((plus - net(x)) / 2e-6)
    torch.testing.assert_close(jac, torch.stack(columns, dim=2), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["lm", "lbfgs"])
def test_retrain_recovers_the_constants(method: str) -> None:
    x = _data(300)
    y = 2 * torch.sin(3 * x[:, :1] + 0.5) + 0.5 * (x[:, 1:] - 0.2) ** 2
    net = SymbolicNetwork([[["sin"], ["x^2"]]])
    (layer,) = net.symbolic_layers()
    with torch.no_grad():
        layer.a[0, 0], layer.b[0, 0], layer.c[0, 0] = 2.8, 0.4, 1.8
        layer.b[1, 0], layer.c[1, 0] = -0.1, 0.6
    rmse = net.retrain(x, y, steps=200, method=method)  # type: ignore[arg-type]
    assert rmse < 1e-8
    assert float(layer.a.detach()[0, 0]) == pytest.approx(3.0, abs=1e-6)
    assert float(layer.a.detach()[1, 0]) == 1.0  # fixed by the x^2 canonical form, never trained


def test_retrain_guards_against_leaving_the_domain() -> None:
    x = torch.linspace(0.1, 2, 200, dtype=torch.float64)[:, None]
    net = SymbolicNetwork([[["log"]]])
    (layer,) = net.symbolic_layers()
    with torch.no_grad():
        layer.b[0, 0] = 0.05
    before = net.rmse(x, torch.sin(10 * x))
    for method in ("lm", "lbfgs"):
        after = net.retrain(x, torch.sin(10 * x), steps=50, method=method)  # type: ignore[arg-type]
        assert math.isfinite(after) and after <= before
        assert all(bool(torch.isfinite(p).all()) for p in net.parameters())


def test_snap_constants_finds_pi_and_simple_rationals() -> None:
    x = _data(300)
    y = 2 * torch.sin(math.pi * x[:, :1]) + (x[:, 1:] + 0.5) ** 2 / 3
    net = SymbolicNetwork([[["sin"], ["x^2"]]])
    (layer,) = net.symbolic_layers()
    with torch.no_grad():
        layer.a[0, 0], layer.c[0, 0], layer.b[1, 0], layer.c[1, 0] = 3.1, 2.1, 0.45, 0.3
    net.retrain(x, y)
    snapped = net.snap_constants(x, y)
    assert any("a = pi" in s for s in snapped)
    expr = net.formula()
    assert _is(expr, 2 * sympy.sin(sympy.pi * X_SYM) + (Y_SYM + sympy.Rational(1, 2)) ** 2 / 3), expr
    assert net.rmse(x, y) < 1e-12


def test_snapping_keeps_constants_that_are_not_simple() -> None:
    x = _data(300)
    y = torch.sin(1.2345 * x[:, :1]) + 0.0  # 1.2345 is no simple value: it must survive as a float
    net = SymbolicNetwork([[["sin"], ["0"]]])
    (layer,) = net.symbolic_layers()
    with torch.no_grad():
        layer.a[0, 0] = 1.2
    net.retrain(x, y)
    net.snap_constants(x, y)
    assert float(layer.a.detach()[0, 0]) == pytest.approx(1.2345, abs=1e-9)
    assert net.rmse(x, y) < 1e-12


def test_state_dict_round_trip_keeps_functions_and_exact_constants() -> None:
    net = _product_network()
    copy = SymbolicNetwork([[["x", "x"], ["x", "x"]], [["cos"], ["cos"]]])
    copy.load_state_dict(net.state_dict())
    assert copy.formula() == net.formula()
    other = SymbolicNetwork([[["x", "x"], ["x", "x"]], [["sin"], ["cos"]]])
    with pytest.raises(ValueError, match="other edge functions"):
        other.load_state_dict(net.state_dict())


def test_kan_package_does_not_import_sympy() -> None:
    code = "import sys, kanpde.kan; kanpde.kan.KAN.auto_symbolic; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
