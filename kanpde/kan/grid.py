"""Grid extension and grid adaptation: the *mechanism* (deciding when to use them is the solver's business).

- :func:`refined_layer` puts a layer's splines on a finer grid and refits the coefficients by least squares, so
  the new layer computes the same function on its grid range. When the new knots contain the old ones (uniform
  grids whose sizes divide each other, e.g. 5 -> 10 -> 20) the old spline lies in the new space and the refit is
  exact to rounding. Given the layer's inputs, a range they leave is widened to cover them first.
- :func:`adapt_layer_grid_` moves a layer's knots to follow the distribution of its inputs (a mix of quantile and
  uniform knots, weight ``grid_eps`` on uniform, as pykan does) and refits, keeping the function on the new range.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from . import spline
from .layer import KANLayer

__all__ = ["refined_layer", "adapt_layer_grid_", "gauss_legendre_samples"]


def gauss_legendre_samples(interior: Tensor, n_per_interval: int) -> tuple[Tensor, Tensor]:
    """Gauss-Legendre nodes and weights in every interval of each row of an interior grid.

    With ``n_per_interval >= k+1`` nodes the weighted least-squares refit is the L2 projection onto the new
    spline space on ``[lower, upper]``.

    Shapes:
        interior: ``(in_dim, grid_size + 1)``; returns nodes ``(grid_size * n_per_interval, in_dim)`` and
        weights of the same shape.
    """
    ref_nodes, ref_weights = np.polynomial.legendre.leggauss(n_per_interval)
    nodes = torch.as_tensor(ref_nodes, dtype=interior.dtype, device=interior.device)
    weights = torch.as_tensor(ref_weights, dtype=interior.dtype, device=interior.device)
    left, right = interior[:, :-1], interior[:, 1:]  # (in_dim, G)
    half = (right - left) / 2
    points = (left + right).unsqueeze(-1) / 2 + half.unsqueeze(-1) * nodes  # (in_dim, G, n)
    w = half.unsqueeze(-1) * weights
    return points.reshape(interior.shape[0], -1).T.contiguous(), w.reshape(interior.shape[0], -1).T.contiguous()


def _interior(layer: KANLayer) -> Tensor:
    k = layer.spline_order
    return layer.grid[:, k : layer.grid.shape[1] - k]


def _refit(layer: KANLayer, new_knots: Tensor, x: Tensor, weights: Tensor | None) -> Tensor:
    """Coefficients on ``new_knots`` that reproduce the layer's spline parts at the samples ``x``."""
    with torch.no_grad():
        old = spline.evaluate_spline(
            spline.local_basis(x, layer.grid, layer.spline_order, uniform=layer.grid_is_uniform),
            layer.coef,
            layer.spline_order,
        )
        # One fit per input column: weights differ per column, so fit column by column when weighted.
        if weights is None:
            return spline.fit_coefficients(x, old, new_knots, layer.spline_order)
        columns = [
            spline.fit_coefficients(
                x[:, i : i + 1], old[:, i : i + 1], new_knots[i : i + 1], layer.spline_order, weights=weights[:, i]
            )
            for i in range(layer.in_dim)
        ]
        return torch.cat(columns, dim=0)


def _with_grid(layer: KANLayer, knots: Tensor, coef: Tensor) -> KANLayer:
    new = KANLayer(
        layer.in_dim,
        layer.out_dim,
        grid_size=knots.shape[1] - 2 * layer.spline_order - 1,
        spline_order=layer.spline_order,
        dtype=layer.coef.dtype,
        device=layer.coef.device,
    )
    with torch.no_grad():
        new.grid.copy_(knots)
        new.coef.copy_(coef)
        new.scale_base.copy_(layer.scale_base)
        new.scale_spline.copy_(layer.scale_spline)
        new.mask.copy_(layer.mask)
    new.grid_is_uniform = spline.knots_are_uniform(knots)
    return new


def refined_layer(layer: KANLayer, grid_size: int, inputs: Tensor | None = None) -> KANLayer:
    """A new layer on a grid of ``grid_size`` intervals, computing the same function where its inputs lie.

    New interior knots subdivide the old ones (piecewise-linear in the knot index), so a uniform grid stays
    uniform and a refinement by an integer factor is nested. The spline parts are refit by the L2 projection on
    the interior range (Gauss-Legendre samples): exact to rounding there for a nested refinement. Outside it the
    new extended grid is shorter than the old one, so the old spline's tail is lost; hidden layers often see such
    inputs (measured on the default problem after 100 steps at grid 5: inputs up to 2.1 on [-1, 1]; refining to
    10 changed the output by 1.5 where its size is 5.4). Given the layer's ``inputs``, each input whose samples
    leave the range gets a uniform grid over the range widened to cover them, and the projection there (the old
    spline's tail included): no longer nested, so exact only to the new spline's approximation error.

    Shapes:
        inputs: ``(n_points, in_dim)`` or None; the layer's in_dim/out_dim are kept; the coefficients become
        ``(in_dim, out_dim, grid_size + k)``.
    """
    if not isinstance(grid_size, int) or grid_size < 1:
        raise ValueError(f"grid_size must be an integer >= 1, got {grid_size!r}")
    old_interior = _interior(layer)
    old_size = old_interior.shape[1] - 1
    positions = np.linspace(0.0, old_size, grid_size + 1)
    lower_index = np.minimum(np.floor(positions).astype(np.int64), old_size - 1)
    frac = torch.as_tensor(positions - lower_index, dtype=old_interior.dtype, device=old_interior.device)
    idx = torch.as_tensor(lower_index, device=old_interior.device)
    new_interior = old_interior[:, idx] + frac * (old_interior[:, idx + 1] - old_interior[:, idx])
    if inputs is not None:
        if inputs.ndim != 2 or inputs.shape[1] != layer.in_dim:
            raise ValueError(f"inputs must have shape (n_points, {layer.in_dim}), got {tuple(inputs.shape)}")
        with torch.no_grad():
            x = inputs.detach().to(old_interior)
            lo, hi = old_interior[:, 0], old_interior[:, -1]
            new_lo, new_hi = torch.minimum(lo, x.min(dim=0).values), torch.maximum(hi, x.max(dim=0).values)
            widen = (new_lo < lo) | (new_hi > hi)
            fractions = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
            uniform = new_lo.unsqueeze(1) + (new_hi - new_lo).unsqueeze(1) * fractions
            new_interior = torch.where(widen.unsqueeze(1), uniform, new_interior)
    new_knots = spline.extend_knots(new_interior, layer.spline_order)
    samples, weights = gauss_legendre_samples(new_interior, 2 * (layer.spline_order + 1))
    coef = _refit(layer, new_knots, samples, weights)
    return _with_grid(layer, new_knots, coef)


def adapt_layer_grid_(layer: KANLayer, x: Tensor, *, grid_eps: float = 0.02, margin: float = 0.0) -> None:
    """Move the layer's knots to follow its inputs ``x`` and refit the splines to keep the function (in place).

    Interior knots are ``grid_eps * uniform + (1 - grid_eps) * quantiles`` of each input column, on
    ``[min - margin, max + margin]``. The spline parts are refit on that range (the L2 projection plus the samples
    themselves), so the function is kept to the accuracy of the new spline space there.

    Shapes:
        x: ``(n_points, in_dim)`` layer inputs, n_points >= 2.
    """
    if not 0.0 <= grid_eps <= 1.0:
        raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps}")
    if x.ndim != 2 or x.shape[1] != layer.in_dim or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n_points >= 2, {layer.in_dim}), got {tuple(x.shape)}")
    grid_size = layer.grid_size
    with torch.no_grad():
        x = x.detach().to(layer.grid.dtype)
        x_sorted = x.sort(dim=0).values  # (n, in_dim)
        ranks = torch.linspace(0, x.shape[0] - 1, grid_size + 1, device=x.device).round().long()
        adaptive = x_sorted[ranks].T  # (in_dim, G+1)
        lo = x_sorted[0] - margin
        hi = x_sorted[-1] + margin
        span = (hi - lo).clamp_min(1e-6)  # a constant input still gets a usable grid
        hi = lo + span
        fractions = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
        uniform = lo.unsqueeze(1) + span.unsqueeze(1) * fractions
        interior = grid_eps * uniform + (1 - grid_eps) * adaptive
        interior[:, 0], interior[:, -1] = lo, hi
        min_gap = 1e-6 * span / grid_size  # repeated input values must not give coincident knots
        for j in range(1, grid_size + 1):
            interior[:, j] = torch.maximum(interior[:, j], interior[:, j - 1] + min_gap)
        new_knots = spline.extend_knots(interior, layer.spline_order)
        samples, weights = gauss_legendre_samples(interior, 2 * (layer.spline_order + 1))
        samples = torch.cat([samples, x])
        data_weight = (span / x.shape[0]).expand(x.shape[0], -1)
        weights = torch.cat([weights, data_weight])
        coef = _refit(layer, new_knots, samples, weights)
        layer.grid.copy_(new_knots)
        layer.coef.copy_(coef)
        layer.grid_is_uniform = spline.knots_are_uniform(new_knots)
