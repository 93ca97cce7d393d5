"""B-spline kernels: partition of unity, agreement with Cox-de Boor, derivatives, least-squares refit."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kanpde.kan import spline

F64 = torch.float64


def random_knots(generator: torch.Generator, in_dim: int, n_knots: int) -> torch.Tensor:
    gaps = torch.rand(in_dim, n_knots - 1, generator=generator, dtype=F64) + 0.2
    return torch.cat([torch.zeros(in_dim, 1, dtype=F64), gaps.cumsum(1)], dim=1) - 2.0


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("uniform", [True, False])
def test_partition_of_unity_inside_grid(k: int, uniform: bool, generator: torch.Generator) -> None:
    knots = spline.uniform_knots(7, k, -1.0, 2.0, in_dim=2) if uniform else random_knots(generator, 2, 7 + 2 * k + 1)
    lo, hi = knots[:, k], knots[:, -k - 1]
    x = lo + (hi - lo) * torch.rand(500, 2, generator=generator, dtype=F64)
    local = spline.local_basis(x, knots, k, derivatives=2, uniform=uniform)
    torch.testing.assert_close(local.values.sum(-1), torch.ones_like(x), atol=1e-13, rtol=0)
    torch.testing.assert_close(local.d1.sum(-1), torch.zeros_like(x), atol=1e-10, rtol=0)
    torch.testing.assert_close(local.d2.sum(-1), torch.zeros_like(x), atol=1e-8, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("uniform", [True, False])
def test_local_basis_matches_dense_cox_de_boor(k: int, uniform: bool, generator: torch.Generator) -> None:
    knots = spline.uniform_knots(6, k, -1.0, 1.0, in_dim=3) if uniform else random_knots(generator, 3, 6 + 2 * k + 1)
    # Points also outside the extended grid, where every basis function vanishes.
    span = knots[:, -1] - knots[:, 0]
    x = knots[:, 0] - 0.1 * span + 1.2 * span * torch.rand(400, 3, generator=generator, dtype=F64)
    dense = spline.dense_basis(x, knots, k, uniform=uniform)
    torch.testing.assert_close(dense, spline.dense_basis_cox_de_boor(x, knots, k), atol=1e-14, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("uniform", [True, False])
def test_basis_derivatives_match_autograd_and_finite_differences(
    k: int, uniform: bool, generator: torch.Generator
) -> None:
    knots = spline.uniform_knots(5, k, -1.0, 1.0, in_dim=2) if uniform else random_knots(generator, 2, 5 + 2 * k + 1)
    x = knots[:, 0] + (knots[:, -1] - knots[:, 0]) * torch.rand(300, 2, generator=generator, dtype=F64)
    x.requires_grad_(True)
    local = spline.local_basis(x, knots, k, derivatives=2, uniform=uniform)
    for r in range(k + 1):
        (g1,) = torch.autograd.grad(local.values[..., r].sum(), x, create_graph=True)
        torch.testing.assert_close(g1, local.d1[..., r], atol=1e-10, rtol=1e-10)
        if local.d1.requires_grad:
            (g2,) = torch.autograd.grad(local.d1[..., r].sum(), x, retain_graph=True, materialize_grads=True)
            torch.testing.assert_close(g2, local.d2[..., r], atol=1e-10, rtol=1e-10)
    # Central differences of the spline function (points away from knots so the interval does not change).
    coef = torch.randn(2, 1, knots.shape[1] - k - 1, generator=generator, dtype=F64)
    eps = 1e-6
    xd = x.detach()

    def s(points: torch.Tensor, which: str = "values") -> torch.Tensor:
        return spline.evaluate_spline(spline.local_basis(points, knots, k, derivatives=2), coef, k, which)

    fd = (s(xd + eps) - s(xd - eps)) / (2 * eps)
    torch.testing.assert_close(fd, s(xd, "d1"), atol=1e-6, rtol=1e-6)


def test_uniform_fast_path_equals_general_search(generator: torch.Generator) -> None:
    knots = spline.uniform_knots(9, 3, -0.5, 1.5, in_dim=2)
    x = torch.rand(200, 2, generator=generator, dtype=F64) * 3 - 1
    a = spline.local_basis(x, knots, 3, derivatives=2, uniform=True)
    b = spline.local_basis(x, knots, 3, derivatives=2, uniform=False)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_least_squares_refit_recovers_coefficients(k: int, generator: torch.Generator) -> None:
    knots = spline.uniform_knots(10, k, -1.0, 2.0, in_dim=3)
    x = torch.rand(2000, 3, generator=generator, dtype=F64) * 3 - 1
    coef = torch.randn(3, 2, 10 + k, generator=generator, dtype=F64)
    y = spline.evaluate_spline(spline.local_basis(x, knots, k), coef, k)
    refit = spline.fit_coefficients(x, y, knots, k)
    y_refit = spline.evaluate_spline(spline.local_basis(x, knots, k), refit, k)
    torch.testing.assert_close(y_refit, y, atol=1e-9, rtol=0)


def test_banded_solver_matches_dense(generator: torch.Generator) -> None:
    n, bw = 12, 3
    a = torch.randn(n, n, generator=generator, dtype=F64)
    band_mask = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= bw
    spd = (a @ a.T) * band_mask + n * torch.eye(n, dtype=F64)
    band = torch.stack([torch.cat([spd.diagonal(-d), torch.zeros(d, dtype=F64)]) for d in range(bw + 1)])
    rhs = torch.randn(1, n, 2, generator=generator, dtype=F64)
    x = spline._solve_banded_spd(band.unsqueeze(0), rhs)
    torch.testing.assert_close(x[0], torch.linalg.solve(spd, rhs[0]), atol=1e-12, rtol=1e-12)


def test_knot_validation() -> None:
    with pytest.raises(ValueError, match="grid_size"):
        spline.uniform_knots(0, 3)
    with pytest.raises(ValueError, match="derivatives"):
        spline.local_basis(torch.zeros(1, 1), spline.uniform_knots(3, 3), 3, derivatives=3)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 4),
    grid_size=st.integers(1, 12),
)
def test_property_partition_of_unity_random_knots(seed: int, k: int, grid_size: int) -> None:
    g = torch.Generator().manual_seed(seed)
    knots = random_knots(g, 1, grid_size + 2 * k + 1)
    lo, hi = knots[0, k], knots[0, -k - 1]
    x = lo + (hi - lo) * torch.rand(64, 1, generator=g, dtype=F64)
    assert torch.allclose(spline.local_basis(x, knots, k).values.sum(-1), torch.ones(64, 1, dtype=F64), atol=1e-12)


def test_refined_float32_grid_counts_as_uniform() -> None:
    """A float32 grid refined from a uniform one is uniform to float32 rounding: the fast uniform path applies."""
    from kanpde.kan import KAN

    model = KAN([1, 2, 1], grid=3, seed=0, dtype=torch.float32).refine(7)
    assert all(layer.grid_is_uniform for layer in model.layers)
    skewed = spline.uniform_knots(5, 3, dtype=torch.float32).clone()
    skewed[..., 4] += 1e-3
    assert not spline.knots_are_uniform(skewed)
