"""Edge fitting: exact recovery of c*f(a*x + b) + d, a truthful R^2, the choice rule, domains, edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from kanpde.symbolic import SymbolicFit, fit_edge, get_function, select

X = torch.linspace(-1, 1, 300, dtype=torch.float64)
E = math.exp(-0.2)

# (target, expected name, expected (a, b, c, d)) in the canonical form of each function
EXACT_CASES = {
    "sin": (2 * torch.sin(3 * X + 0.5) - 1, "sin", (3.0, 0.5, 2.0, -1.0)),
    "cos": (0.7 * torch.cos(2 * X + 1) + 0.1, "cos", (2.0, 1.0, 0.7, 0.1)),
    "exp": (1.5 * torch.exp(0.7 * X - 0.2) + 0.3, "exp", (0.7, 0.0, 1.5 * E, 0.3)),  # b = 0: exp(b) goes into c
    "x^2": (2 * (X + 0.3) ** 2 - 1, "x^2", (1.0, 0.3, 2.0, -1.0)),
    "x^3": (0.5 * (X - 0.2) ** 3 + 0.1, "x^3", (1.0, -0.2, 0.5, 0.1)),
    "x": (3 * X + 1, "x", (1.0, 0.0, 3.0, 1.0)),
    "tanh": (torch.tanh(2 * X - 0.4), "tanh", (2.0, -0.4, 1.0, 0.0)),
    "gaussian": (torch.exp(-((1.5 * X - 0.2) ** 2)), "gaussian", (1.5, -0.2, 1.0, 0.0)),
    "log": (0.5 * torch.log(X + 1.5) + 1, "log", (1.0, 1.5, 0.5, 1.0)),
    "sqrt": (torch.sqrt(1.3 - X), "sqrt", (-1.0, 1.3, 1.0, 0.0)),
    "1/x": (1 / (X + 1.5), "1/x", (1.0, 1.5, 1.0, 0.0)),
    "cosh": (torch.cosh(1.2 * X + 0.1), "cosh", (1.2, 0.1, 1.0, 0.0)),
}


def _r2(fit: SymbolicFit, x: torch.Tensor, y: torch.Tensor) -> float:
    residual = fit(x) - y
    return 1 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


@pytest.mark.parametrize("case", list(EXACT_CASES))
def test_recovers_name_and_constants(case: str) -> None:
    y, name, expected = EXACT_CASES[case]
    best = fit_edge(X, y)[0]
    assert best.name == name
    for got, want in zip((best.a, best.b, best.c, best.d), expected):
        assert got == pytest.approx(want, abs=1e-6)
    assert best.r2 > 1 - 1e-12 and best.rmse < 1e-8


def test_r2_is_the_coefficient_of_determination() -> None:
    y = torch.sin(2 * X) + 0.3 * X**2
    for fit in fit_edge(X, y):
        assert math.isfinite(fit.r2) and math.isfinite(fit.rmse)
        assert fit.r2 == pytest.approx(_r2(fit, X, y), abs=1e-9)  # not a squared correlation
        assert fit.rmse == pytest.approx(float(torch.sqrt(torch.mean((fit(X) - y) ** 2))), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    "target",
    [
        torch.randn(300, generator=torch.Generator().manual_seed(0), dtype=torch.float64),  # unrelated noise
        3 * X - torch.floor(3 * X),  # sawtooth
        X * torch.sin(1 / (X.abs() + 0.05)),
    ],
    ids=["noise", "sawtooth", "x_sin_1_over_x"],
)
def test_unrepresentable_targets_get_a_low_r2(target: torch.Tensor) -> None:
    fits = fit_edge(X, target)
    assert all(math.isfinite(f.r2) for f in fits)
    assert fits[0].r2 < 0.99  # below any sensible threshold: the fit is flagged poor, not claimed
    assert fits[0].r2 == pytest.approx(_r2(fits[0], X, target), abs=1e-9)
    assert fits[0].r2 >= max(f.r2 for f in fits if f.degeneracy <= 5) - 1e-3  # the choice is (nearly) the best


def test_constant_target_maps_to_zero_with_r2_one() -> None:
    fits = fit_edge(X, torch.full_like(X, 2.5))
    assert [f.name for f in fits] == ["0"]
    assert fits[0].r2 == 1.0 and fits[0].d == 2.5 and fits[0].c == 0.0


def test_negligible_edge_maps_to_zero() -> None:
    y = 1e-5 * torch.sin(3 * X)
    assert [f.name for f in fit_edge(X, y, scale=1.0)] == ["0"]
    assert fit_edge(X, y, scale=1e-5)[0].name == "sin"  # the same edge is live in a layer of its own size


def test_simplest_of_equally_good_candidates_wins() -> None:
    line = fit_edge(X, 3 * X + 1)  # abs(x + b) and exp/sinh with tiny a also fit a line
    assert line[0].name == "x"
    noisy = fit_edge(X, X**2 + 2e-3 * X**3)  # cos, cosh, gaussian fit as well only by cancellation
    assert noisy[0].name == "x^2"
    degenerate = [f for f in noisy if f.name in ("cos", "cosh", "gaussian")]
    assert degenerate and all(f.degeneracy > 5 for f in degenerate)


def test_select_ranks_acceptable_then_rest() -> None:
    def fit(name: str, r2: float, complexity: float) -> SymbolicFit:
        return SymbolicFit(name, 1.0, 0.0, 1.0, 0.0, r2, complexity, 0.0)

    good_simple, good_complex, poor = fit("x^2", 1 - 5e-9, 2), fit("tanh", 1 - 1e-9, 3), fit("x", 0.5, 1)
    assert [f.name for f in select([poor, good_complex, good_simple])] == ["x^2", "tanh", "x"]
    # when every fit is poor the most accurate one leads: simplicity does not buy a worse poor fit
    assert [f.name for f in select([fit("x", 0.5, 1), fit("sin", 0.6, 2)])] == ["sin", "x"]


def test_domain_restricted_candidates_never_produce_nan() -> None:
    fits = {f.name: f for f in fit_edge(X, torch.sin(3 * X))}
    for name in ("log", "sqrt", "1/x", "1/x^2", "tan"):
        if name in fits:
            f = fits[name]
            lo, hi = sorted((f.a * -1 + f.b, f.a * 1 + f.b))
            assert bool(get_function(name).domain(torch.tensor([lo]), torch.tensor([hi]))[0])  # type: ignore[misc]
            assert bool(torch.isfinite(f(X)).all())


def test_deterministic_and_independent_of_chunking() -> None:
    y = torch.tanh(2 * X - 0.4) + 1e-3 * torch.cos(7 * X)
    first, second = fit_edge(X, y), fit_edge(X, y)
    chunked = fit_edge(X, y, max_elements=1000)
    assert first == second
    assert [f.name for f in chunked] == [f.name for f in first]
    torch.testing.assert_close(torch.tensor([f.r2 for f in chunked]), torch.tensor([f.r2 for f in first]))


def test_accepts_float32_and_column_vectors() -> None:
    x32 = X.to(torch.float32)[:, None]
    best = fit_edge(x32, torch.sin(3 * x32))[0]
    assert best.name == "sin" and best.a == pytest.approx(3.0, abs=1e-5)


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="same shape"):
        fit_edge(X, X[:-1])
    with pytest.raises(ValueError, match="finite"):
        fit_edge(X, X / 0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        fit_edge(X.tolist(), X)  # type: ignore[arg-type]
