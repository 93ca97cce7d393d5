"""Edge scores and the L1 + entropy sparsity penalty (kanpde.kan.regularization)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from kanpde.kan.network import KAN
from kanpde.kan.regularization import edge_scores, sparsity_penalty

DTYPE = torch.float64


def _model(width: list[int] | None = None, seed: int = 0) -> KAN:
    return KAN(width or [2, 4, 3], grid=5, k=3, seed=seed, dtype=DTYPE)


def _inputs(n_points: int = 64, dim: int = 2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n_points, dim, generator=generator, dtype=DTYPE) * 2 - 1


class _Tracer(nn.Module):
    """Lets torch.func.functional_call swap parameters while calling model.trace."""

    def __init__(self, model: KAN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> list:
        return self.model.trace(x)


def test_edge_scores_are_mean_absolute_activations() -> None:
    model, x = _model(), _inputs()
    trace = model.trace(x)
    scores = edge_scores(trace)
    assert [tuple(s.shape) for s in scores] == [(2, 4), (4, 3)]
    for layer_scores, acts in zip(scores, trace, strict=True):
        torch.testing.assert_close(layer_scores, acts.activations.abs().mean(dim=0))
        assert layer_scores.dtype == DTYPE


def test_masked_edges_score_exactly_zero() -> None:
    model = _model()
    with torch.no_grad():
        model.layers[0].mask[1, 2] = 0
    scores = edge_scores(model.trace(_inputs()))
    assert scores[0][1, 2].item() == 0.0
    assert (scores[0].flatten()[torch.arange(8) != 6] > 0).all()


def test_penalty_matches_the_paper_formula() -> None:
    model, x = _model(), _inputs()
    l1, entropy = 0.7, 1.3
    expected = 0.0
    for s in edge_scores(model.trace(x)):
        p = s / s.sum()
        expected += l1 * s.sum().item() - entropy * (p * p.log()).sum().item()
    value = sparsity_penalty(model.trace(x), l1=l1, entropy=entropy)
    assert value.shape == ()
    assert value.item() == pytest.approx(expected, rel=1e-12)


def test_entropy_of_equal_scores_is_log_of_edge_count() -> None:
    model = _model([1, 4])
    with torch.no_grad():
        model.layers[0].scale_base.zero_()
        model.layers[0].coef.zero_()
        model.layers[0].coef[..., :] = 1.0  # every edge the same spline
        model.layers[0].scale_spline.fill_(1.0)
    trace = model.trace(_inputs(dim=1))
    value = sparsity_penalty(trace, l1=0.0, entropy=1.0)
    assert value.item() == pytest.approx(math.log(4), rel=1e-12)


def test_penalty_is_differentiable() -> None:
    model, x = _model([2, 3, 1]), _inputs(n_points=32)
    tracer = _Tracer(model)
    names = ["model.layers.0.coef", "model.layers.0.scale_base", "model.layers.1.scale_spline"]
    params = dict(tracer.named_parameters())
    inputs = tuple(params[name].detach().clone().requires_grad_(True) for name in names)

    def penalty(*values: torch.Tensor) -> torch.Tensor:
        return sparsity_penalty(
            functional_call(tracer, dict(zip(names, values, strict=True)), (x,)), l1=1.0, entropy=2.0
        )

    assert torch.autograd.gradcheck(penalty, inputs, eps=1e-6, atol=1e-7)


def test_penalty_backward_reaches_the_parameters() -> None:
    model = _model()
    sparsity_penalty(model.trace(_inputs())).backward()
    for layer in model.layers:
        for param in (layer.coef, layer.scale_base, layer.scale_spline):
            assert param.grad is not None and torch.isfinite(param.grad).all()
            assert param.grad.abs().sum() > 0


@pytest.mark.parametrize("how", ["mask", "scales"])
def test_zero_edge_network_scores_and_penalises_zero(how: str) -> None:
    model = _model()
    with torch.no_grad():
        for layer in model.layers:
            if how == "mask":
                layer.mask.zero_()
            else:
                layer.scale_base.zero_()
                layer.scale_spline.zero_()
    trace = model.trace(_inputs())
    assert all((s == 0).all() for s in edge_scores(trace))
    value = sparsity_penalty(trace)
    assert value.item() == 0.0
    value.backward()  # no NaN from 0 * log 0 or 0 / 0
    for param in model.parameters():
        assert param.grad is None or torch.isfinite(param.grad).all()


def test_weights_scale_the_parts() -> None:
    model, x = _model(), _inputs()
    l1_only = sparsity_penalty(model.trace(x), l1=1.0, entropy=0.0)
    entropy_only = sparsity_penalty(model.trace(x), l1=0.0, entropy=1.0)
    both = sparsity_penalty(model.trace(x), l1=2.0, entropy=3.0)
    torch.testing.assert_close(both, 2 * l1_only + 3 * entropy_only)
    total = sum(s.sum() for s in edge_scores(model.trace(x)))
    torch.testing.assert_close(l1_only, total)


@pytest.mark.parametrize("name, value", [("l1", -1.0), ("entropy", float("nan")), ("l1", "1"), ("entropy", -0.1)])
def test_bad_weights_name_the_argument(name: str, value: object) -> None:
    model = _model()
    with pytest.raises(ValueError, match=name):
        sparsity_penalty(model.trace(_inputs()), **{name: value})


@pytest.mark.parametrize("trace", [[], None, [1.0]])
def test_bad_trace_is_rejected(trace: object) -> None:
    with pytest.raises(TypeError, match="trace"):
        edge_scores(trace)  # type: ignore[arg-type]
