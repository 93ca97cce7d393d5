"""Grid extension and grid adaptation: the *mechanism* (deciding when to use them is the solver's business).

- :func:`refined_layer` puts a layer's splines on a finer grid and refits the coefficients by least squares so
  that the new layer computes the same function on the whole range its inputs have taken (the *used range*:
  its knot range and every input it has recorded, see :meth:`~kanpde.kan.layer.KANLayer.record_range_`). The new
  knots contain the old ones: each old interval is cut into ``r`` equal parts, and where the used range leaves the
  old grid, ``r k`` cells of the same width continue the old knot lattice (``k``: the spline order; as far as
  the old spline reaches), then cells twice as wide as the one before. The old spline then lies in the new space
  and the refit is exact to rounding (a nested refinement); the grid may get a few more intervals than asked for.
  The growing cells matter where hidden values wander far from the hidden layer's grid: on burgers_raissi (width
  [2, 10, 1], grid 5 -> 10 -> 20, 8000 points) hidden values reached about 16x the grid's range, and a lattice of
  fine cells gave the hidden layer 161 intervals at grid 10 (2020 parameters, 3.8 s per Levenberg-Marquardt
  step, one thread) where the growing cells give a few dozen (1 s per step); within 240 s the error went from
  3.6e-2 (grid 10 cut short) to 5.0e-3 (grid 20 reached).
- :func:`coarsened_layer` (grid reduction, asked for explicitly) projects onto a uniform coarser grid: not exact,
  the error is reported.
- :func:`adapt_layer_grid_` moves a layer's knots to follow the distribution of its inputs (a mix of quantile and
  uniform knots, weight ``grid_eps`` on uniform, as pykan does) and refits on the whole used range.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from . import spline
from .layer import KANLayer

__all__ = [
    "refined_layer",
    "coarsened_layer",
    "adapt_layer_grid_",
    "used_range",
    "image_range",
    "nested_interior",
    "gauss_legendre_samples",
]

# An input counts as leaving the grid when it is farther out than this fraction of a cell (rounding of hidden
# values must not add a cell).
_CELL_TOLERANCE = 1e-9


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


def used_range(layer: KANLayer, fallback: Tensor | None = None) -> Tensor:
    """Where the layer's function must be kept: the hull of its knot range and its recorded inputs.

    A layer that has recorded nothing uses ``fallback`` (e.g. the :func:`image_range` of the layer before it)
    instead of a record.

    Shapes:
        fallback: ``(in_dim, 2)`` or None; returns ``(in_dim, 2)`` (lower, upper).
    """
    knots = _interior(layer)
    lo, hi = knots[:, 0].clone(), knots[:, -1].clone()
    seen = layer.input_range
    if layer.has_recorded_range:
        lo, hi = torch.minimum(lo, seen[:, 0]), torch.maximum(hi, seen[:, 1])
    elif fallback is not None:
        lo, hi = torch.minimum(lo, fallback[:, 0]), torch.maximum(hi, fallback[:, 1])
    return torch.stack([lo, hi], dim=1)


def image_range(layer: KANLayer, inputs: Tensor, n_samples: int = 513) -> Tensor:
    """Bounds of the layer's outputs when every input ``i`` ranges over ``inputs[i]`` (independently).

    Each output is a sum of edge functions, so its range lies within the sum of their ranges; those are sampled
    densely and widened by 0.1 % of their spread for what the samples miss.

    Shapes:
        inputs: ``(in_dim, 2)``; returns ``(out_dim, 2)``.
    """
    with torch.no_grad():
        fractions = torch.linspace(0, 1, n_samples, dtype=inputs.dtype, device=inputs.device).unsqueeze(1)
        t = inputs[:, 0] + (inputs[:, 1] - inputs[:, 0]) * fractions  # (n_samples, in_dim)
        acts = layer.edge_activations(t).activations  # (n_samples, in_dim, out_dim)
        lo, hi = acts.min(dim=0).values.sum(dim=0), acts.max(dim=0).values.sum(dim=0)
        margin = 1e-3 * (hi - lo)
        return torch.stack([lo - margin, hi + margin], dim=1)


def nested_interior(old: Tensor, grid_size: int, cover: Tensor, fine_cells: int | None = None) -> Tensor:
    """Interior knots that contain ``old``, cut each old interval into ``r = max(1, grid_size // G_old)``
    parts and continue the end cells' lattice outwards until ``cover`` is inside.

    Every row gets the same number of intervals: at least ``grid_size``; rows that need fewer cells to reach
    ``cover`` get the difference as extra cells, split between both ends.

    ``fine_cells`` (None: all of them): how many cells outside ``old`` keep the fine width on each side; farther
    out each cell is twice as wide as the one before, so a cover far beyond ``old`` costs a few cells instead of
    a lattice of fine ones. An old spline is zero beyond its ``k`` extension cells, so ``fine_cells = r * k``
    keeps the refinement nested (exact).

    Shapes:
        old: ``(in_dim, G_old + 1)`` ascending; cover: ``(in_dim, 2)``; returns ``(in_dim, n_intervals + 1)``.
    """
    in_dim, old_size = old.shape[0], old.shape[1] - 1
    parts = max(1, grid_size // old_size)
    fractions = torch.arange(parts, dtype=old.dtype, device=old.device) / parts
    inner = old[:, :-1].unsqueeze(-1) + (old[:, 1:] - old[:, :-1]).unsqueeze(-1) * fractions
    inner = torch.cat([inner.reshape(in_dim, -1), old[:, -1:]], dim=1)  # (in_dim, parts * G_old + 1)
    h_left = ((old[:, 1] - old[:, 0]) / parts).tolist()
    h_right = ((old[:, -1] - old[:, -2]) / parts).tolist()
    fine = math.inf if fine_cells is None else fine_cells

    def next_width(widths: list[float], h: float) -> float:
        return h if len(widths) < fine else 2 * widths[-1]

    def widths_to(gap: float, h: float) -> list[float]:
        """Cell widths outwards from the old end until ``gap`` is covered."""
        widths: list[float] = []
        while sum(widths) < gap - _CELL_TOLERANCE * h:
            widths.append(next_width(widths, h))
        return widths

    gaps_left = (old[:, 0] - cover[:, 0]).tolist()
    gaps_right = (cover[:, 1] - old[:, -1]).tolist()
    lefts = [widths_to(g, h) for g, h in zip(gaps_left, h_left)]
    rights = [widths_to(g, h) for g, h in zip(gaps_right, h_right)]
    needed = [len(a) + len(b) + parts * old_size for a, b in zip(lefts, rights)]
    total = max(grid_size, *needed)
    rows = []
    for i in range(in_dim):
        slack = total - needed[i]
        for _ in range(slack // 2):
            lefts[i].append(next_width(lefts[i], h_left[i]))
        for _ in range(slack - slack // 2):
            rights[i].append(next_width(rights[i], h_right[i]))
        left = old[i, 0] - torch.tensor(lefts[i], dtype=old.dtype, device=old.device).cumsum(0).flip(0)
        right = old[i, -1] + torch.tensor(rights[i], dtype=old.dtype, device=old.device).cumsum(0)
        rows.append(torch.cat([left, inner[i], right]))
    return torch.stack(rows)


def _refit(
    layer: KANLayer, new_knots: Tensor, x: Tensor, weights: Tensor | None, order: int | None = None
) -> tuple[Tensor, float]:
    """Coefficients on ``new_knots`` (splines of degree ``order``, default the layer's) that reproduce the layer's
    spline parts at the samples ``x``, and the largest change of an edge function (spline part times its scale)
    at those samples."""
    k_old = layer.spline_order
    k = k_old if order is None else order
    with torch.no_grad():
        old_basis = spline.local_basis(x, layer.grid, k_old, uniform=layer.grid_is_uniform)
        old = spline.evaluate_spline(old_basis, layer.coef, k_old)
        # One fit per input column: weights differ per column, so fit column by column when weighted.
        if weights is None:
            coef = spline.fit_coefficients(x, old, new_knots, k)
        else:
            coef = torch.cat(
                [
                    spline.fit_coefficients(
                        x[:, i : i + 1], old[:, i : i + 1], new_knots[i : i + 1], k, weights=weights[:, i]
                    )  # fmt: skip
                    for i in range(layer.in_dim)
                ],
                dim=0,
            )
        new = spline.evaluate_spline(spline.local_basis(x, new_knots, k), coef, k)
        change = ((new - old) * (layer.scale_spline * layer.mask)).abs()
        return coef, float(change.max()) if change.numel() else 0.0


def _with_grid(layer: KANLayer, knots: Tensor, coef: Tensor, order: int | None = None) -> KANLayer:
    order = layer.spline_order if order is None else order
    new = KANLayer(
        layer.in_dim,
        layer.out_dim,
        grid_size=knots.shape[1] - 2 * order - 1,
        spline_order=order,
        dtype=layer.coef.dtype,
        device=layer.coef.device,
    )
    with torch.no_grad():
        new.grid.copy_(knots)
        new.coef.copy_(coef)
        new.scale_base.copy_(layer.scale_base)
        new.scale_spline.copy_(layer.scale_spline)
        new.mask.copy_(layer.mask)
        new.input_range.copy_(layer.input_range)
    new.grid_is_uniform = spline.knots_are_uniform(knots)
    return new


def _projected(layer: KANLayer, interior: Tensor, order: int | None = None) -> tuple[KANLayer, float]:
    order = layer.spline_order if order is None else order
    new_knots = spline.extend_knots(interior, order)
    samples, weights = gauss_legendre_samples(interior, 2 * (max(order, layer.spline_order) + 1))
    coef, change = _refit(layer, new_knots, samples, weights, order)
    return _with_grid(layer, new_knots, coef, order), change


def refined_layer(
    layer: KANLayer, grid_size: int, cover: Tensor | None = None, spline_order: int | None = None
) -> tuple[KANLayer, float]:
    """A new layer on a finer, nested grid that computes the same function on ``cover`` and the knot range.

    See the module docstring: each old interval is cut into ``r = max(1, grid_size // G_old)`` equal parts and
    the lattice of the end cells continues outwards for ``r k`` cells, then in cells doubling in width, until
    ``cover`` is inside (so the new grid has at least ``grid_size`` intervals). The spline parts are refit by the
    L2 projection on the new interior range (Gauss-Legendre samples), exact to rounding because the old spline
    lies in the new space.

    A higher ``spline_order`` (degree elevation, e.g. cubic to quintic) projects onto smoother splines: a spline
    of degree ``k`` has jumps in its ``k``-th derivative at the old knots, which a spline of higher degree on the
    same knots cannot follow, so the refit is close but not exact (the returned change says how close).

    Args:
        layer: the layer to refine (unchanged).
        grid_size: the least number of intervals of the new grid (>= the current one).
        cover: where the function must be kept, ``(in_dim, 2)``; default: :func:`used_range`.
        spline_order: the new layer's spline degree (default: the layer's; not lower).

    Returns:
        (the new layer, the largest change of an edge function at the refit samples: rounding level unless the
        degree was raised).
    """
    if not isinstance(grid_size, int) or grid_size < 1:
        raise ValueError(f"grid_size must be an integer >= 1, got {grid_size!r}")
    if spline_order is not None and spline_order < layer.spline_order:
        raise ValueError(f"spline_order must be >= the layer's ({layer.spline_order}), got {spline_order}")
    cover = used_range(layer) if cover is None else cover
    fine_cells = max(1, grid_size // (_interior(layer).shape[1] - 1)) * layer.spline_order
    return _projected(layer, nested_interior(_interior(layer), grid_size, cover, fine_cells), spline_order)


def coarsened_layer(
    layer: KANLayer, grid_size: int, cover: Tensor | None = None, spline_order: int | None = None
) -> tuple[KANLayer, float]:
    """A new layer on a uniform grid of ``grid_size`` intervals over ``cover`` (the L2 projection there).

    Used for grid *reduction*, which cannot keep the function exactly: the returned change says how much of it
    was lost.

    Shapes:
        cover: ``(in_dim, 2)`` or None (:func:`used_range`).
    """
    cover = used_range(layer) if cover is None else cover
    fractions = torch.linspace(0, 1, grid_size + 1, dtype=cover.dtype, device=cover.device)
    interior = cover[:, :1] + (cover[:, 1:] - cover[:, :1]) * fractions
    return _projected(layer, interior, spline_order)


def adapt_layer_grid_(
    layer: KANLayer, x: Tensor, *, grid_eps: float = 0.02, margin: float = 0.0, keep: Tensor | None = None
) -> float:
    """Move the layer's knots to follow its inputs ``x`` and refit the splines to keep the function (in place).

    Interior knots are ``grid_eps * uniform + (1 - grid_eps) * quantiles`` of each input column, on the hull of
    ``[min - margin, max + margin]`` and ``keep`` (e.g. the range the layer recorded before). The spline parts are
    refit by least squares there (the L2 projection plus the samples themselves), so the function is kept to the
    accuracy of the new spline space on that hull. Nothing is recorded (the caller does).

    Returns:
        The largest change of an edge function at the refit samples.

    Shapes:
        x: ``(n_points, in_dim)`` layer inputs, n_points >= 2, finite; keep: ``(in_dim, 2)`` or None.
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
        if keep is not None:
            finite = keep[:, 0] <= keep[:, 1]  # an empty range (+inf, -inf) adds nothing
            lo = torch.where(finite, torch.minimum(lo, keep[:, 0]), lo)
            hi = torch.where(finite, torch.maximum(hi, keep[:, 1]), hi)
        span = (hi - lo).clamp_min(1e-6)  # a constant input still gets a usable grid
        hi = lo + span
        fractions = torch.linspace(0, 1, grid_size + 1, dtype=x.dtype, device=x.device)
        uniform = lo.unsqueeze(1) + span.unsqueeze(1) * fractions
        interior = grid_eps * uniform + (1 - grid_eps) * adaptive.clamp(lo.unsqueeze(1), hi.unsqueeze(1))
        interior[:, 0], interior[:, -1] = lo, hi
        min_gap = 1e-6 * span / grid_size  # repeated input values must not give coincident knots
        for j in range(1, grid_size + 1):
            interior[:, j] = torch.maximum(interior[:, j], interior[:, j - 1] + min_gap)
        new_knots = spline.extend_knots(interior, layer.spline_order)
        samples, weights = gauss_legendre_samples(interior, 2 * (layer.spline_order + 1))
        samples = torch.cat([samples, x])
        data_weight = (span / x.shape[0]).expand(x.shape[0], -1)
        weights = torch.cat([weights, data_weight])
        coef, change = _refit(layer, new_knots, samples, weights)
        layer.grid.copy_(new_knots)
        layer.coef.copy_(coef)
        layer.grid_is_uniform = spline.knots_are_uniform(new_knots)
        return change
