r"""Sparsity regularisation of a KAN: edge scores and the L1 + entropy penalty of the KAN paper (§2.5.1).

Pure functions of a network trace (``model.trace(x)``, one :class:`~kanpde.kan.layer.EdgeActivations` per layer),
differentiable in the parameters, so training adds ``lamb * sparsity_penalty(model.trace(x))`` to its loss and
pruning ranks edges and nodes with :func:`edge_scores`.

**The score of an edge** is the paper's L1 norm of its activation, the mean magnitude over the batch,

$$|\phi_{ij}|_1 = \frac{1}{n} \sum_{s=1}^{n} |\phi_{ij}(x^{(s)}_i)|,$$

without a normalisation by the input spread. It is the typical size of what the edge adds to its output node, which
is what pruning removes. Dividing by the spread of ``x_i`` (later pykan: ``std(x_i) + 0.1``) would inflate the
outgoing scores of a dead node, whose input is constant, and would let a layer lower the penalty of the next one by
spreading its outputs. pykan 0.0.x divides by the length of each input's grid range; with its default grid on
``[-1, 1]`` its scores are half of these, so its threshold ``1e-2`` corresponds to ``2e-2`` here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .layer import EdgeActivations

__all__ = ["edge_scores", "sparsity_penalty"]


def _check_trace(trace: object) -> Sequence[EdgeActivations]:
    if isinstance(trace, EdgeActivations) or not isinstance(trace, Sequence) or len(trace) == 0:
        raise TypeError(f"trace must be a non-empty list of EdgeActivations, e.g. model.trace(x); got {type(trace)}")
    for index, layer_acts in enumerate(trace):
        if not isinstance(layer_acts, EdgeActivations):
            raise TypeError(f"trace[{index}] must be an EdgeActivations (from model.trace(x)), got {type(layer_acts)}")
        if layer_acts.activations.ndim != 3 or layer_acts.activations.shape[0] == 0:
            raise ValueError(
                f"trace[{index}].activations must have shape (n_points >= 1, in_dim, out_dim), "
                f"got {tuple(layer_acts.activations.shape)}"
            )
    return trace


def edge_scores(trace: Sequence[EdgeActivations]) -> list[Tensor]:
    """The L1 norm of every edge activation: its mean magnitude over the batch (see the module docstring).

    Masked edges score exactly zero. Differentiable in the parameters (the gradient of ``|0|`` is taken as 0).

    Args:
        trace: per-layer edge activations on a batch, as returned by ``model.trace(x)``.

    Returns:
        One tensor of scores per layer, ``scores[l][i, j] = mean_n |phi_ij(x_ni)|`` for the edge from input ``i``
        to output ``j`` of layer ``l``.

    Shapes:
        trace[l].activations: ``(n_points, in_dim, out_dim)``; returns ``[(in_dim, out_dim)]`` per layer.

    Raises:
        TypeError: ``trace`` is not a list of :class:`~kanpde.kan.layer.EdgeActivations`.
        ValueError: a layer's activations are not ``(n_points >= 1, in_dim, out_dim)``.

    Example:
        >>> import torch, kanpde as kp
        >>> model = kp.KAN(width=[2, 3, 1], seed=0, dtype=torch.float64)
        >>> [s.shape for s in edge_scores(model.trace(torch.zeros(8, 2, dtype=torch.float64)))]
        [torch.Size([2, 3]), torch.Size([3, 1])]
    """
    return [layer_acts.activations.abs().mean(dim=0) for layer_acts in _check_trace(trace)]


def _entropy(scores: Tensor) -> Tensor:
    """``-sum p log p`` of ``p = scores / sum(scores)``, 0 for all-zero scores, with finite gradients everywhere."""
    total = scores.sum()
    p = scores / torch.where(total > 0, total, torch.ones_like(total))
    positive = p > 0
    # The inner where keeps log's argument away from 0, so the masked branch has a zero (not NaN) gradient.
    log_p = torch.log(torch.where(positive, p, torch.ones_like(p)))
    return -(p * log_p).sum()


def _check_weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (e.g. {name}=1.0), got {value!r}")
    return float(value)


def sparsity_penalty(trace: Sequence[EdgeActivations], *, l1: float = 1.0, entropy: float = 2.0) -> Tensor:
    r"""The sparsity regulariser of the KAN paper (§2.5.1): L1 of the edge scores plus their entropy, per layer.

    $$R = \sum_l \Big( \mu_1 \sum_{ij} s^l_{ij} + \mu_2 H\big(s^l / \textstyle\sum_{ij} s^l_{ij}\big) \Big),
    \qquad H(p) = -\sum_{ij} p_{ij} \log p_{ij},$$

    with ``s = edge_scores(trace)``, ``mu_1 = l1``, ``mu_2 = entropy`` and the natural logarithm; terms with
    ``p_ij = 0`` count as 0, and a layer whose edges all score zero contributes 0. The L1 part shrinks every edge;
    the entropy part favours a few strong edges over many equal ones. Training adds ``lamb * R`` to the loss.

    Args:
        trace: per-layer edge activations on a batch, as returned by ``model.trace(x)``.
        l1: weight ``mu_1`` of the L1 part (pykan's ``lamb_l1``).
        entropy: weight ``mu_2`` of the entropy part (pykan's ``lamb_entropy``).

    Returns:
        The penalty, a scalar tensor of the activations' dtype, differentiable in the parameters.

    Shapes:
        trace[l].activations: ``(n_points, in_dim, out_dim)``; returns ``()``.

    Raises:
        TypeError: ``trace`` is not a list of :class:`~kanpde.kan.layer.EdgeActivations`.
        ValueError: ``l1`` or ``entropy`` is negative or not finite.

    Example:
        >>> import torch, kanpde as kp
        >>> model = kp.KAN(width=[2, 3, 1], seed=0, dtype=torch.float64)
        >>> x = torch.rand(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> sparsity_penalty(model.trace(x), l1=1.0, entropy=2.0).shape
        torch.Size([])
    """
    l1 = _check_weight("l1", l1)
    entropy = _check_weight("entropy", entropy)
    penalty: Tensor | None = None
    for scores in edge_scores(trace):
        term = l1 * scores.sum() + entropy * _entropy(scores)
        penalty = term if penalty is None else penalty + term
    assert penalty is not None  # _check_trace rejects an empty trace
    return penalty
