"""Pruning a KAN into a new, smaller one (kanpde.kan.prune)."""

from __future__ import annotations

import pytest
import torch

from kanpde.kan.network import KAN
from kanpde.kan.prune import pruned, pruned_edges_, sample_inputs
from kanpde.kan.regularization import edge_scores

DTYPE = torch.float64
DEAD = [1, 3, 4]  # hidden nodes of the [2, 5, 1] network whose edges get zeroed
ALIVE = [0, 2]


def _inputs(n_points: int = 200, dim: int = 2, seed: int = 1, scale: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n_points, dim, generator=generator, dtype=DTYPE) * 2 - 1) * scale


def _kill(model: KAN, nodes: list[int], how: str) -> KAN:
    """Zero every edge into and out of the given hidden nodes of a one-hidden-layer network."""
    first, second = model.layers
    with torch.no_grad():
        if how == "mask":
            first.mask[:, nodes] = 0
            second.mask[nodes, :] = 0
        else:
            for param in (first.scale_base, first.scale_spline):
                param[:, nodes] = 0
            for param in (second.scale_base, second.scale_spline):
                param[nodes, :] = 0
    return model


def _model(how: str = "mask") -> KAN:
    return _kill(KAN([2, 5, 1], grid=5, k=3, seed=0, dtype=DTYPE), DEAD, how)


def _snapshot(model: KAN) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items() if torch.is_tensor(value)}


@pytest.mark.parametrize("how", ["mask", "scales"])
@pytest.mark.parametrize("use_x", [False, True])
def test_pruning_dead_nodes_keeps_the_function(how: str, use_x: bool) -> None:
    model = _model(how)
    small = pruned(model, threshold=1e-2, x=_inputs(seed=2) if use_x else None)
    assert small.width == [2, 2, 1]
    assert [layer.coef.shape for layer in small.layers] == [(2, 2, 8), (2, 1, 8)]
    for x in (_inputs(), _inputs(seed=3, scale=1.5)):  # inside and beyond the grid range
        with torch.no_grad():
            torch.testing.assert_close(small(x), model(x), rtol=0, atol=1e-12)


def test_kept_rows_and_columns_are_copied() -> None:
    model = _model()
    model.update_grid(_inputs() * 0.8)  # per-input, non-uniform knots
    assert not model.layers[1].grid_is_uniform
    small = pruned(model)
    old0, old1 = model.layers
    new0, new1 = small.layers
    for name in ("coef", "scale_base", "scale_spline", "mask"):
        torch.testing.assert_close(getattr(new0, name), getattr(old0, name)[:, ALIVE], rtol=0, atol=0)
        torch.testing.assert_close(getattr(new1, name), getattr(old1, name)[ALIVE, :], rtol=0, atol=0)
    torch.testing.assert_close(new0.grid, old0.grid, rtol=0, atol=0)
    torch.testing.assert_close(new1.grid, old1.grid[ALIVE], rtol=0, atol=0)
    assert new1.grid_is_uniform is old1.grid_is_uniform is False
    assert new0.spline_order == old0.spline_order and new0.grid_size == old0.grid_size
    assert small.dtype == DTYPE


def test_original_model_is_unchanged() -> None:
    model = _model()
    before = _snapshot(model)
    rng_before = torch.random.get_rng_state()
    small = pruned(model, threshold=1e-2)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global RNG is untouched
    assert model.width == [2, 5, 1]
    after = _snapshot(model)
    assert before.keys() == after.keys()
    for name in before:
        assert torch.equal(before[name], after[name]), name
    with torch.no_grad():  # the new model owns its tensors
        small.layers[0].coef.add_(1.0)
    assert torch.equal(model.layers[0].coef, before["layers.0.coef"])


def test_requires_grad_and_training_mode_are_kept() -> None:
    model = _model()
    model.layers[0].scale_base.requires_grad_(False)
    model.eval()
    small = pruned(model)
    assert not small.layers[0].scale_base.requires_grad
    assert small.layers[0].coef.requires_grad
    assert not small.training and not any(layer.training for layer in small.layers)


def test_prune_method_delegates() -> None:
    model = _model()
    assert model.prune(threshold=1e-2).width == [2, 2, 1]


def test_threshold_zero_drops_only_exactly_dead_nodes() -> None:
    assert pruned(_model(), threshold=0.0).width == [2, 2, 1]
    assert pruned(KAN([2, 5, 1], seed=0, dtype=DTYPE), threshold=0.0).width == [2, 5, 1]


def test_every_hidden_row_keeps_a_node() -> None:
    model = KAN([2, 3, 4, 1], seed=0, dtype=DTYPE)
    with torch.no_grad():
        for layer in model.layers:
            layer.mask.zero_()
    small = pruned(model, threshold=1e-2)
    assert small.width == [2, 1, 1, 1]
    with torch.no_grad():
        x = _inputs()
        torch.testing.assert_close(small(x), model(x), rtol=0, atol=0)


def test_weak_incoming_side_alone_prunes_a_node() -> None:
    model = KAN([2, 5, 1], seed=0, dtype=DTYPE)
    with torch.no_grad():
        model.layers[0].mask[:, 4] = 0  # node 4 still has a strong outgoing edge, but no input
    assert pruned(model).width == [2, 4, 1]


@pytest.mark.parametrize("threshold", [-1.0, float("nan"), float("inf"), "0.1", None])
def test_bad_threshold_names_the_argument(threshold: object) -> None:
    model = _model()
    with pytest.raises(ValueError, match="threshold"):
        pruned(model, threshold=threshold)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        pruned_edges_(model, threshold=threshold)  # type: ignore[arg-type]


def test_bad_x_is_rejected() -> None:
    model = _model()
    with pytest.raises(ValueError, match="x"):
        pruned(model, x=torch.zeros(4, 3, dtype=DTYPE))
    with pytest.raises(TypeError, match="x"):
        pruned(model, x=[[0.0, 0.0]])  # type: ignore[arg-type]


def test_pruned_edges_masks_weak_edges_in_place() -> None:
    model = KAN([2, 5, 1], seed=0, dtype=DTYPE)
    x = _inputs()
    with torch.no_grad():
        scores = edge_scores(model.trace(x))
    threshold = float(torch.cat([s.flatten() for s in scores]).median())
    expected = sum(int((s <= threshold).sum()) for s in scores)
    assert pruned_edges_(model, threshold=threshold, x=x) == expected > 0
    for layer, s in zip(model.layers, scores, strict=True):
        assert torch.equal(layer.mask == 0, s <= threshold)
    assert pruned_edges_(model, threshold=threshold, x=x) == 0  # already masked edges are not counted again


def test_pruned_edges_then_pruned_gives_the_dead_nodes_away() -> None:
    model = _model("scales")
    assert pruned_edges_(model, threshold=0.0) == 3 * 2 + 3 * 1
    assert pruned(model, threshold=0.0).width == [2, 2, 1]


def test_sample_inputs_lie_in_the_grid_range_and_are_seeded() -> None:
    model = KAN([2, 5, 1], seed=0, dtype=DTYPE, grid_range=(-2.0, 3.0))
    x = sample_inputs(model)
    assert x.shape == (1024, 2) and x.dtype == DTYPE
    assert x.min() >= -2.0 and x.max() <= 3.0 and x.max() - x.min() > 4.5
    assert torch.equal(x, sample_inputs(model))
    assert not torch.equal(x, sample_inputs(model, seed=1))
