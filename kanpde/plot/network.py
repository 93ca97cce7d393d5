"""Network diagram of a KAN: nodes in rows, every edge with a small plot of its activation function.

The figure is a plain :class:`matplotlib.figure.Figure` on an Agg canvas, never a pyplot figure: it works headless,
changes no global matplotlib state (backend, rcParams, pyplot's figure list) and is freed like any other object.

Layout (as in pykan): node row ``l`` holds the inputs of layer ``l`` (the network inputs at the bottom, the outputs
at the top). Between two node rows sits one row of small axes, one per edge ``i -> j``, ordered by ``(i, j)``; a
line joins input node ``i`` to the bottom of its box and the top of the box to output node ``j``. Each box shows
``phi_ij`` over that edge's inputs. Lines and curves fade with the edge's score
(:func:`~kanpde.kan.regularization.edge_scores`): their opacity is ``tanh(3 * score / max_score)``, with
``max_score`` the largest score in the network, so the strongest edges are opaque and masked edges vanish.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from ..kan.network import KAN
from ..kan.prune import sample_inputs
from ..kan.regularization import edge_scores

__all__ = ["plot_network"]

_ALPHA_GAIN = 3.0  # pykan's beta in the opacity tanh(3 * score), here on scores relative to the largest
_MARGIN_X = 0.05
_MARGIN_BOTTOM = 0.08
_MARGIN_TOP = 0.1


def _names(names: Sequence[str] | None, count: int, prefix: str, argument: str) -> list[str]:
    if names is None:
        return [f"{prefix}{i + 1}" for i in range(count)]
    if isinstance(names, str) or len(names) != count:
        raise ValueError(f"{argument} must be a list of {count} names, got {names!r}")
    return [str(name) for name in names]


def _check_options(n_samples: object, figsize: object) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2 (points per activation curve), got {n_samples!r}")
    if figsize is not None:
        values = list(figsize) if isinstance(figsize, Sequence) and not isinstance(figsize, str) else []
        if len(values) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"figsize must be (width, height) in inches, both > 0, or None; got {figsize!r}")


def _curves(model: KAN, x: Tensor | None, n_samples: int) -> tuple[list[np.ndarray], list[np.ndarray], list[Tensor]]:
    """Per layer: curve abscissae ``(n, in_dim)`` and values ``(n, in_dim, out_dim)`` sorted per input; scores."""
    xs, ys = [], []
    with torch.no_grad():
        if x is None:
            scores = edge_scores(model.trace(sample_inputs(model)))
            for layer in model.layers:
                ranges = layer.grid_range
                unit = torch.linspace(0, 1, n_samples, dtype=ranges.dtype, device=ranges.device).unsqueeze(1)
                points = ranges[:, 0] + unit * (ranges[:, 1] - ranges[:, 0])  # (n_samples, in_dim)
                xs.append(points.cpu().numpy())
                ys.append(layer.edge_activations(points).activations.cpu().numpy())
            return xs, ys, scores
        trace = model.trace(x)
        scores = edge_scores(trace)
        for acts in trace:
            order = acts.inputs.argsort(dim=0)  # (n_points, in_dim)
            keep = torch.linspace(0, order.shape[0] - 1, min(n_samples, order.shape[0])).round().long()
            order = order[keep.to(order.device)]
            inputs = acts.inputs.gather(0, order)
            values = acts.activations.gather(0, order.unsqueeze(-1).expand(-1, -1, acts.activations.shape[-1]))
            xs.append(inputs.cpu().numpy())
            ys.append(values.cpu().numpy())
    return xs, ys, scores


def _row_positions(count: int) -> np.ndarray:
    return _MARGIN_X + (1 - 2 * _MARGIN_X) * (np.arange(count) + 0.5) / count


def _draw_layer(
    fig: Figure, ax: Axes, xs: np.ndarray, ys: np.ndarray, scores: np.ndarray, rows: tuple[float, float], box_h: float
) -> None:
    """Lines, boxes and curves of one layer between the node rows at heights ``rows``."""
    in_dim, out_dim = scores.shape
    lower_nodes, upper_nodes = _row_positions(in_dim), _row_positions(out_dim)
    boxes = _row_positions(in_dim * out_dim)
    fig_w, fig_h = fig.get_size_inches()
    box_w = min(box_h * fig_h / fig_w, 0.8 * (1 - 2 * _MARGIN_X) / (in_dim * out_dim))
    y_mid = (rows[0] + rows[1]) / 2
    for i in range(in_dim):
        for j in range(out_dim):
            alpha = float(np.tanh(_ALPHA_GAIN * scores[i, j]))
            bx = boxes[i * out_dim + j]
            width = 0.5 + 1.5 * alpha
            ax.plot([lower_nodes[i], bx], [rows[0], y_mid - box_h / 2], color="k", alpha=alpha, lw=width)
            ax.plot([bx, upper_nodes[j]], [y_mid + box_h / 2, rows[1]], color="k", alpha=alpha, lw=width)
            inset = fig.add_axes((bx - box_w / 2, y_mid - box_h / 2, box_w, box_h))
            inset.plot(xs[:, i], ys[:, i, j], color="tab:blue", alpha=max(alpha, 0.05), lw=1.0)
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_alpha(max(alpha, 0.2))


def _save_png_atomically(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write the PNG atomically (see :func:`kanpde.io.atomic.atomic_path`): readers never see half a file."""
    from ..io.atomic import atomic_path

    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        fig.savefig(handle, format="png")


def plot_network(
    model: KAN,
    *,
    x: Tensor | None = None,
    path: str | os.PathLike[str] | None = None,
    n_samples: int = 200,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> Figure:
    """Draw ``model`` as a diagram of nodes and edges, each edge with a plot of its activation ``phi_ij``.

    With ``x``, every curve shows the edge on the inputs that ``x`` produces at that layer, and opacity follows the
    edge scores on ``x``. Without it, each curve spans its input's grid range and the scores come from
    :func:`~kanpde.kan.prune.sample_inputs` (points drawn uniformly on the network inputs' grid ranges).

    Args:
        model: the network to draw.
        x: batch of network inputs, or ``None``.
        path: where to save the figure as PNG (written atomically, parent folders created); ``None`` saves nothing.
        n_samples: points per activation curve (at most the batch size when ``x`` is given).
        figsize: ``(width, height)`` in inches; default from the widest layer and the depth.
        title: figure title.
        input_names: labels of the input nodes (default ``x1, x2, ...``).
        output_names: labels of the output nodes (default ``y1, y2, ...``).

    Returns:
        The figure (not registered with pyplot; nothing to close). It has one main axes for nodes and lines, plus
        one small axes per edge.

    Shapes:
        x: ``(n_points, width[0])``.

    Raises:
        TypeError: ``model`` is not a :class:`~kanpde.kan.network.KAN` or ``x`` is not a tensor.
        ValueError: ``x`` has the wrong shape, or an option is out of range (the message names it).

    Example:
        >>> import torch, kanpde as kp
        >>> fig = plot_network(kp.KAN(width=[2, 3, 1], seed=0, dtype=torch.float64), n_samples=20)
        >>> len(fig.axes)  # 1 main axes + 2*3 + 3*1 edges
        10
    """
    if not isinstance(model, KAN):
        raise TypeError(f"model must be a kanpde KAN, got {type(model)}")
    _check_options(n_samples, figsize)
    width = model.width
    inputs = _names(input_names, width[0], "x", "input_names")
    outputs = _names(output_names, width[-1], "y", "output_names")
    if x is not None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (n_points, {width[0]}) or None, got {type(x)}")
        x = x.detach().to(dtype=model.dtype, device=model.device)
    xs, ys, scores = _curves(model, x, n_samples)

    n_layers = len(model.layers)
    widest = max(a * b for a, b in zip(width[:-1], width[1:], strict=True))
    if figsize is None:
        figsize = (min(max(4.0, 0.6 * widest + 1.0, 0.6 * max(width)), 40.0), 2.0 * n_layers + 1.0)
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()

    top = max(float(s.max()) for s in scores)
    relative = [(s / top if top > 0 else s).detach().cpu().numpy() for s in scores]
    rows = _MARGIN_BOTTOM + (1 - _MARGIN_BOTTOM - _MARGIN_TOP) * np.arange(n_layers + 1) / n_layers
    box_h = 0.45 * (rows[1] - rows[0])
    for index in range(n_layers):
        _draw_layer(fig, ax, xs[index], ys[index], relative[index], (rows[index], rows[index + 1]), box_h)
    for row, count in zip(rows, width, strict=True):
        ax.scatter(_row_positions(count), np.full(count, row), s=30, color="k", zorder=3)
    for position, name in zip(_row_positions(width[0]), inputs, strict=True):
        ax.text(position, rows[0] - 0.02, name, ha="center", va="top")
    for position, name in zip(_row_positions(width[-1]), outputs, strict=True):
        ax.text(position, rows[-1] + 0.02, name, ha="center", va="bottom")
    if title is not None:
        fig.suptitle(title)
    if path is not None:
        _save_png_atomically(fig, path)
    return fig
