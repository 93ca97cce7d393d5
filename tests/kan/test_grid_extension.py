"""Grid extension keeps the function wherever the model was used (issue: refine without x lost it)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch.func import functional_call, jacrev

import kanpde as kp
from kanpde.kan.least_squares import output_jacobian

F64 = torch.float64


def paper_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The KAN paper's exp(sin(pi x) + y^2) on [-1, 1]^2."""
    x = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64) * 2 - 1
    return x, torch.exp(torch.sin(math.pi * x[:, :1]) + x[:, 1:] ** 2)


def max_change(new: kp.KAN, old: kp.KAN, x: torch.Tensor) -> float:
    """Largest change of the output on ``x``, relative to the output's size there."""
    with torch.no_grad():
        before = old(x)
        return float((new(x) - before).abs().max() / before.abs().max())


def test_refine_keeps_a_trained_function_whose_hidden_inputs_left_the_grid() -> None:
    x, y = paper_data(500, seed=0)
    model = kp.KAN([2, 1, 1], grid=5, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=15, progress=False)
    hidden = model.layers[1]
    knot_lo, knot_hi = hidden.grid_range[0].tolist()
    seen_lo, seen_hi = hidden.input_range[0].tolist()
    assert seen_lo < knot_lo or seen_hi > knot_hi  # the situation of the issue: training moved them out
    for grid in (10, 12, 20):
        fine = model.refine(grid)  # no x: the recorded ranges are enough
        assert max_change(fine, model, x) <= 1e-10, grid
        assert fine.refine_error <= 1e-10
        assert all(layer.grid_size >= grid for layer in fine.layers)
    # Continuing: a second refinement of the refined model is exact as well.
    assert max_change(model.refine(10).refine(20), model, x) <= 1e-10


@pytest.mark.parametrize(("width", "grid"), [([2, 5, 1], 23), ([2, 5, 1], 10), ([3, 4, 4, 1], 10), ([3, 4, 4, 1], 17)])
def test_fresh_models_refine_exactly(width: list[int], grid: int) -> None:
    model = kp.KAN(width, grid=5, k=3, seed=3, dtype=F64)
    x = torch.rand(2000, width[0], generator=torch.Generator().manual_seed(1), dtype=F64) * 2 - 1
    assert max_change(model.refine(grid), model, x) <= 1e-10


def test_quintic_splines_refine_exactly() -> None:
    x, y = paper_data(300, seed=2)
    model = kp.KAN([2, 3, 1], grid=4, k=5, seed=0, dtype=F64)
    model.fit(x, y, steps=5, progress=False)
    assert max_change(model.refine(8), model, x) <= 1e-9


def test_coarser_grid_is_refused_unless_asked_for() -> None:
    x, y = paper_data(500, seed=0)
    model = kp.KAN([2, 1, 1], grid=10, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=10, progress=False)
    with pytest.raises(ValueError, match="coarser"):
        model.refine(5)
    with pytest.warns(UserWarning, match="changed by up to"):
        coarse = model.refine(5, allow_coarser=True)
    assert coarse.layers[0].grid_size == 5
    assert coarse.refine_error > 1e-6  # a projection, not exact: the change is reported
    assert max_change(coarse, model, x) < 0.2


def test_update_grid_refuses_nan_and_leaves_the_model_unchanged() -> None:
    x, y = paper_data(200, seed=0)
    model = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=5, progress=False)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        model.update_grid(bad)
    bad[3, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        model.update_grid(bad)
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, before[key]), key


def test_update_grid_keeps_the_function_on_the_range_recorded_before() -> None:
    x, y = paper_data(1000, seed=0)
    model = kp.KAN([2, 3, 1], grid=10, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=10, progress=False)
    old = kp.KAN([2, 3, 1], grid=10, k=3, seed=0, dtype=F64)
    old.load_state_dict(model.state_dict())
    forgetful = kp.KAN([2, 3, 1], grid=10, k=3, seed=0, dtype=F64)
    forgetful.load_state_dict(old.state_dict())
    for layer in forgetful.layers:  # as if nothing had been recorded
        layer.input_range.copy_(torch.tensor([math.inf, -math.inf], dtype=F64).repeat(layer.in_dim, 1))
    model.update_grid(x[x[:, 0] > 0])  # data on half of the domain: the grid still covers all of it
    forgetful.update_grid(x[x[:, 0] > 0])
    assert float(model.layers[0].grid_range[0, 0]) <= float(x[:, 0].min())
    assert float(forgetful.layers[0].grid_range[0, 0]) > 0
    # Quantile knots are another spline space: kept to its accuracy (measured 2.9e-2; 0.12 without the record).
    assert max_change(model, old, x) <= 5e-2 < max_change(forgetful, old, x)
    assert 0 < model.refine_error < 0.2


def test_ranges_survive_save_and_load() -> None:
    x, y = paper_data(300, seed=0)
    model = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=10, progress=False)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    loaded.load_state_dict(torch.load(buffer, weights_only=True))
    for a, b in zip(model.layers, loaded.layers):
        assert torch.equal(a.input_range, b.input_range) and b.has_recorded_range
    assert torch.equal(loaded.refine(10)(x), model.refine(10)(x))
    # A state dict from before ranges were recorded loads, with nothing recorded.
    legacy = {k: v for k, v in model.state_dict().items() if not k.endswith("input_range")}
    fresh = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    fresh.load_state_dict(legacy)
    assert not any(layer.has_recorded_range for layer in fresh.layers)


def test_record_ranges_ignores_non_finite_values() -> None:
    model = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    x = torch.tensor([[0.5, -0.25], [float("nan"), 0.75], [-0.5, float("inf")]], dtype=F64)
    model.record_ranges(x)
    torch.testing.assert_close(model.layers[0].input_range, torch.tensor([[-0.5, 0.5], [-0.25, 0.75]], dtype=F64))


def test_output_jacobian_matches_autograd() -> None:
    model = kp.KAN([3, 4, 2, 2], grid=6, k=3, seed=1, dtype=F64)
    x = torch.rand(40, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    model.update_grid(x)  # non-uniform knots take the general basis path
    with torch.no_grad():
        model.layers[1].mask[0, 1] = 0.0
    params = {name: p.detach() for name, p in model.named_parameters()}
    auto = jacrev(lambda p: functional_call(model, p, (x,)).reshape(-1))(params)
    expected = torch.cat([auto[name].reshape(80, -1) for name in params], dim=1)
    torch.testing.assert_close(output_jacobian(model, x), expected, rtol=1e-12, atol=1e-13)


def test_levenberg_marquardt_fit_beats_lbfgs_on_the_same_steps() -> None:
    x, y = paper_data(400, seed=0)
    x_test, y_test = paper_data(1000, seed=1)
    errors = {}
    for optimizer in ("lbfgs", "lm"):
        model = kp.KAN([2, 1, 1], grid=5, k=3, seed=0, dtype=F64)
        for grid in (5, 10):
            model = model if grid == 5 else model.refine(grid)
            history = model.fit(x, y, steps=15, optimizer=optimizer, progress=False)
        errors[optimizer] = float(((model(x_test) - y_test) ** 2).mean().sqrt())
    assert all(b <= a for a, b in zip(history.loss, history.loss[1:]))  # LM accepts only steps that lower it
    assert errors["lm"] <= 1e-3 and errors["lm"] <= 0.2 * errors["lbfgs"], errors
    with pytest.raises(ValueError, match="lamb"):
        model.fit(x, y, steps=2, optimizer="lm", lamb=1e-3, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        model.fit(x, y, steps=2, optimizer="newton", progress=False)


@pytest.mark.slow
@pytest.mark.parametrize(("k_fine", "bound"), [(None, 2e-6), (5, 1e-6)])
def test_kan_paper_regression_chain_with_levenberg_marquardt(k_fine: int | None, bound: float) -> None:
    """The chain 5 -> 10 -> 20 -> 50 with 50 steps per grid, cubic splines throughout or raised to quintic ones
    at the first refine (docs/benchmarks.md has the figures: 1.4e-6 and 1.7e-9 on the benchmark's data)."""
    x, y = paper_data(1000, seed=0)
    x_test, y_test = paper_data(1000, seed=1)
    model = kp.KAN([2, 1, 1], grid=5, k=3, seed=0, dtype=F64)
    for grid in (5, 10, 20, 50):
        model = model if grid == 5 else model.refine(grid, k=k_fine)
        model.fit(x, y, steps=50, optimizer="lm", progress=False)
    assert model.spline_order == (k_fine or 3)
    assert float(((model(x_test) - y_test) ** 2).mean().sqrt()) <= bound


def test_refine_raises_the_degree_close_to_the_function() -> None:
    """``refine(G, k=5)``: quintic splines, the function kept up to the cubic's derivative jumps (reported)."""
    x, y = paper_data(300, seed=0)
    model = kp.KAN([2, 3, 1], grid=5, k=3, seed=0, dtype=F64)
    model.fit(x, y, steps=20, optimizer="lm", progress=False)
    raised = model.refine(10, k=5)
    assert raised.spline_order == 5 and all(layer.spline_order == 5 for layer in raised.layers)
    assert all(layer.grid_size >= 10 for layer in raised.layers)
    change = max_change(raised, model, x)
    assert 1e-12 < change <= 1e-2, change  # close, not exact: a quintic cannot follow a cubic's kinks
    assert 0 < raised.refine_error <= 0.1
    same = raised.refine(20)  # the degree stays, and a nested refine is exact again
    assert same.spline_order == 5 and max_change(same, raised, x) <= 1e-10
    assert model.spline_order == 3  # the original is unchanged
    with pytest.raises(ValueError, match="k must be an integer from the current spline degree 5 to 20"):
        raised.refine(40, k=3)
    with pytest.raises(ValueError, match="k must be"):
        model.refine(10, k=50)
    with pytest.raises((TypeError, ValueError), match="k"):
        model.refine(10, k=4.5)  # type: ignore[arg-type]
