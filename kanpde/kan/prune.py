"""Pruning: a NEW, smaller KAN without weak hidden nodes (:func:`pruned`), or weak edges masked in place.

Edges are ranked by :func:`~kanpde.kan.regularization.edge_scores` (the mean magnitude of each activation on a
batch). As in pykan, hidden node ``j`` of node row ``l`` is kept when its strongest incoming edge *and* its strongest
outgoing edge both score above the threshold; input and output nodes are always kept, and every hidden row keeps at
least one node. Without a batch, the scores come from :func:`sample_inputs`: points drawn uniformly (with a fixed
seed) on the grid range of each network input.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layer import KANLayer
from .network import KAN
from .regularization import edge_scores

__all__ = ["pruned", "pruned_edges_", "sample_inputs"]

_N_SAMPLES = 1024


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number >= 0 (e.g. threshold=1e-2), got {threshold!r}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0 (e.g. threshold=1e-2), got {threshold!r}")
    return float(threshold)


def _check_model(model: object) -> KAN:
    if not isinstance(model, KAN):
        raise TypeError(f"model must be a kanpde KAN, got {type(model)}")
    return model


def _layers(model: KAN) -> list[KANLayer]:
    return list(model.layers)


def sample_inputs(model: KAN, *, n_points: int = _N_SAMPLES, seed: int = 0) -> Tensor:
    """Points drawn uniformly on the grid range of each input of ``model`` (a private, seeded generator).

    The default batch for :func:`pruned` and for the scores of a network plot: after ``update_grid`` the first
    layer's grids follow the data, so their ranges are a reasonable stand-in for it.

    Args:
        model: the network.
        n_points: how many points.
        seed: seed of the generator (the global RNG is untouched).

    Returns:
        The points, in the model's dtype and on its device.

    Shapes:
        returns ``(n_points, width[0])``.
    """
    model = _check_model(model)
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
        raise ValueError(f"n_points must be an integer >= 1, got {n_points!r}")
    ranges = _layers(model)[0].grid_range.detach()  # (in_dim, 2)
    generator = torch.Generator().manual_seed(int(seed))
    unit = torch.rand(n_points, ranges.shape[0], generator=generator, dtype=ranges.dtype).to(ranges.device)
    return ranges[:, 0] + unit * (ranges[:, 1] - ranges[:, 0])


def _scores(model: KAN, x: Tensor | None) -> list[Tensor]:
    if x is None:
        x = sample_inputs(model)
    elif not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (n_points, {model.width[0]}) or None, got {type(x)}")
    else:
        x = x.detach().to(dtype=model.dtype, device=model.device)
    with torch.no_grad():
        return edge_scores(model.trace(x))


def _kept_nodes(scores: list[Tensor], threshold: float) -> list[Tensor]:
    """Indices of the kept nodes of every node row (inputs, hidden rows, outputs)."""
    device = scores[0].device
    kept = [torch.arange(scores[0].shape[0], device=device)]
    for incoming, outgoing in zip(scores[:-1], scores[1:], strict=True):
        strongest_in = incoming.max(dim=0).values  # (n_nodes,): over the edges into each node
        strongest_out = outgoing.max(dim=1).values  # (n_nodes,): over the edges out of each node
        keep = torch.nonzero((strongest_in > threshold) & (strongest_out > threshold)).flatten()
        if keep.numel() == 0:  # a row without nodes would cut the network; keep its strongest node
            keep = torch.minimum(strongest_in, strongest_out).argmax().reshape(1)
        kept.append(keep)
    kept.append(torch.arange(scores[-1].shape[1], device=device))
    return kept


def _sliced_layer(layer: KANLayer, rows: Tensor, columns: Tensor) -> KANLayer:
    """A new layer with the edges from inputs ``rows`` to outputs ``columns`` of ``layer`` (copies)."""
    new = KANLayer(
        rows.numel(),
        columns.numel(),
        grid_size=layer.grid_size,
        spline_order=layer.spline_order,
        # A private generator: the initial values are overwritten, and the global RNG must stay untouched.
        generator=torch.Generator().manual_seed(0),
        dtype=layer.coef.dtype,
        device=layer.coef.device,
    )
    with torch.no_grad():
        new.grid.copy_(layer.grid[rows])
        new.input_range.copy_(layer.input_range[rows])
        new.mask.copy_(layer.mask[rows][:, columns])
        for name in ("coef", "scale_base", "scale_spline"):
            old: nn.Parameter = getattr(layer, name)
            param: nn.Parameter = getattr(new, name)
            param.copy_(old[rows][:, columns])
            param.requires_grad_(old.requires_grad)
    new.grid_is_uniform = layer.grid_is_uniform
    new.train(layer.training)
    return new


def pruned(model: KAN, *, threshold: float = 1e-2, x: Tensor | None = None) -> KAN:
    """A NEW KAN without the hidden nodes whose incoming or outgoing edges are all weak; ``model`` is untouched.

    Hidden node ``j`` is kept when its largest incoming and its largest outgoing edge score (see
    :func:`~kanpde.kan.regularization.edge_scores`) both exceed ``threshold``. Input and output nodes are always
    kept, and a hidden row where no node passes keeps the node whose weaker side is strongest. The new layers copy
    the kept rows and columns of ``coef``, ``scale_base``, ``scale_spline`` and ``mask``, the knot rows of the kept
    inputs, and ``grid_is_uniform``. A removed node's outgoing edges are dropped, so the output changes by at most
    what they contributed: nothing when they were masked or zero.

    Args:
        model: the network to prune.
        threshold: score at or below which an edge counts as weak (>= 0).
        x: batch on which to score the edges; ``None`` uses :func:`sample_inputs` (1024 points drawn uniformly,
            seed 0, on the grid range of each input).

    Returns:
        The pruned network, in the dtype, device and training mode of ``model``.

    Shapes:
        x: ``(n_points, width[0])``; the result keeps ``width[0]`` and ``width[-1]``.

    Raises:
        ValueError: ``threshold`` is negative or not finite; ``x`` has the wrong shape.
        TypeError: ``model`` is not a :class:`~kanpde.kan.network.KAN` or ``x`` is not a tensor.

    Example:
        >>> import torch, kanpde as kp
        >>> model = kp.KAN(width=[2, 5, 1], seed=0, dtype=torch.float64)
        >>> with torch.no_grad():
        ...     model.layers[0].mask[:, 3:] = 0
        ...     model.layers[1].mask[3:, :] = 0
        >>> pruned(model, threshold=1e-2).width
        [2, 3, 1]
    """
    model = _check_model(model)
    threshold = _check_threshold(threshold)
    kept = _kept_nodes(_scores(model, x), threshold)
    layers = [_sliced_layer(layer, kept[i], kept[i + 1]) for i, layer in enumerate(_layers(model))]
    new = KAN.from_layers(layers, seed=model.seed)
    new.train(model.training)
    return new


def pruned_edges_(model: KAN, *, threshold: float = 1e-2, x: Tensor | None = None) -> int:
    """Mask, in place, every edge whose score is at most ``threshold``; returns how many edges were newly masked.

    All scores come from one batch before any edge is masked. Masked edges contribute nothing to the output, so
    :func:`pruned` can then drop the nodes they leave without strong edges.

    Args:
        model: the network to edit (its ``mask`` buffers change).
        threshold: score at or below which an edge is masked (>= 0).
        x: batch on which to score the edges; ``None`` uses :func:`sample_inputs`.

    Returns:
        The number of edges whose mask went from non-zero to zero.

    Shapes:
        x: ``(n_points, width[0])``.

    Raises:
        ValueError: ``threshold`` is negative or not finite; ``x`` has the wrong shape.
        TypeError: ``model`` is not a :class:`~kanpde.kan.network.KAN` or ``x`` is not a tensor.
    """
    model = _check_model(model)
    threshold = _check_threshold(threshold)
    count = 0
    with torch.no_grad():
        for layer, scores in zip(_layers(model), _scores(model, x), strict=True):
            mask = layer.mask
            weak = (scores <= threshold) & (mask != 0)
            count += int(weak.sum())
            mask[weak] = 0
    return count
