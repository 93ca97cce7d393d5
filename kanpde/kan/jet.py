"""Forward propagation of derivatives ("jets") through sums of 1-D edge functions.

Each node carries its value ``z``, gradient ``g = grad_x z`` and Laplacian ``lam`` (or full Hessian ``H``) with
respect to the network inputs ``x``. For a layer ``z_j = sum_i phi_ij(z_i)`` with ``a, a', a''`` the edge
function and its derivatives at ``z_i``::

    z_j   = sum_i a_ij
    g_j   = sum_i a'_ij g_i
    lam_j = sum_i ( a''_ij |g_i|^2 + a'_ij lam_i )
    H_j   = sum_i ( a''_ij g_i g_i^T + a'_ij H_i )

The Laplacian may be restricted to a subset of the inputs (``laplacian_dims``): the spatial coordinates of a
time-dependent problem, say. Everything here is differentiable, so the parameter gradient of a loss built from a
jet needs one reverse pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Jet", "EdgeDerivatives", "input_jet_step", "propagate_jet"]


class Jet(NamedTuple):
    """Values and input-derivatives of a set of nodes.

    Attributes:
        value: node values.
        grad: gradients with respect to the ``n_inputs`` network inputs.
        lap: Laplacians over ``laplacian_dims`` (``None`` when not propagated).
        hess: full Hessians (``None`` when not propagated).

    Shapes:
        value: ``(n_points, n_nodes)``; grad: ``(n_points, n_nodes, n_inputs)``; lap: ``(n_points, n_nodes)``;
        hess: ``(n_points, n_nodes, n_inputs, n_inputs)``.
    """

    value: Tensor
    grad: Tensor
    lap: Tensor | None
    hess: Tensor | None


class EdgeDerivatives(NamedTuple):
    """Every edge function ``phi_ij = w_ij * base(z_i) + S_ij(z_i)`` and its first two derivatives at the input.

    The base part is kept factored (a per-input function times a per-edge weight) so that sums over inputs are
    matrix products rather than elementwise work on ``(n_points, in_dim, out_dim)`` tensors.

    Attributes:
        spline: ``S, S', S''`` (the last two ``None`` when not asked for); masks and spline scales folded in.
        base: ``silu, silu', silu''`` at the input (likewise).
        base_weight: ``w_ij``, masked.

    Shapes:
        spline: each ``(n_points, in_dim, out_dim)``; base: each ``(n_points, in_dim)``;
        base_weight: ``(in_dim, out_dim)``.
    """

    spline: tuple[Tensor, Tensor | None, Tensor | None]
    base: tuple[Tensor, Tensor | None, Tensor | None]
    base_weight: Tensor

    def edge(self, order: int) -> Tensor:
        """``phi_ij`` (order 0) or its derivative of that order on every edge, shape ``(n_points, in_dim, out_dim)``."""
        spline, base = self.spline[order], self.base[order]
        assert spline is not None and base is not None, f"derivative of order {order} was not computed"
        return torch.addcmul(spline, base.unsqueeze(-1), self.base_weight)

    def node_sum(self, order: int, weights: Tensor | None = None) -> Tensor:
        """``sum_i phi^(order)_ij * weights_i`` for every output j, shape ``(n_points, out_dim)``.

        Shapes:
            weights: ``(n_points, in_dim)`` or ``(in_dim,)`` (default ones).
        """
        spline, base = self.spline[order], self.base[order]
        assert spline is not None and base is not None, f"derivative of order {order} was not computed"
        if weights is None:
            return spline.sum(dim=1) + base @ self.base_weight
        if weights.ndim == 1:
            return torch.einsum("nio,i->no", spline, weights) + (base * weights) @ self.base_weight
        return torch.einsum("nio,ni->no", spline, weights) + (base * weights) @ self.base_weight


def _laplacian_mask(n_inputs: int, laplacian_dims: Sequence[int] | None, like: Tensor) -> Tensor:
    mask = like.new_zeros(n_inputs)
    mask[list(range(n_inputs)) if laplacian_dims is None else list(laplacian_dims)] = 1.0
    return mask


def input_jet_step(
    edges: EdgeDerivatives,
    *,
    laplacian: bool,
    hessian: bool,
    laplacian_dims: Sequence[int] | None = None,
    input_scale: Tensor | None = None,
) -> Jet:
    """Jet after the first layer, whose inputs are the coordinates (``g_i = s_i e_i``, ``lam_i = 0``).

    ``input_scale`` ``s`` handles inputs that are scaled coordinates ``s_i * x_i + c_i``: derivatives are then
    with respect to ``x``.

    Shapes:
        edges: over ``(n_points, n_inputs, out_dim)``; input_scale: ``(n_inputs,)``; returns a :class:`Jet`
        over ``out_dim`` nodes.
    """
    if input_scale is not None:
        s = input_scale
        s2 = (s * s).unsqueeze(-1)
        scale_spline = (s2, s.unsqueeze(-1), s2)  # by derivative order; order 0 is not scaled
        spline = tuple(t if t is None or f == 0 else t * scale_spline[f] for f, t in enumerate(edges.spline))
        base = tuple(t if t is None or f == 0 else t * (s if f == 1 else s * s) for f, t in enumerate(edges.base))
        edges = EdgeDerivatives(spline, base, edges.base_weight)  # type: ignore[arg-type]
    value = edges.node_sum(0)
    grad = edges.edge(1).transpose(1, 2)  # (n, out, n_inputs): d z_j / d x_i = phi'_ij
    lap = hess = None
    if laplacian:
        n_inputs = edges.base_weight.shape[0]
        lap = edges.node_sum(2, _laplacian_mask(n_inputs, laplacian_dims, edges.base_weight))
    if hessian:
        hess = torch.diag_embed(edges.edge(2).transpose(1, 2))  # only d^2/dx_i^2 of phi_ij(x_i) is non-zero
    return Jet(value, grad, lap, hess)


def propagate_jet(jet: Jet, edges: EdgeDerivatives, *, laplacian_dims: Sequence[int] | None = None) -> Jet:
    """Jet of a layer's outputs from the jet of its inputs and the edge derivatives at the input values.

    Propagates the Laplacian and/or Hessian exactly when the input jet carries them.

    Shapes:
        jet: over ``in_dim`` nodes; edges: over ``(n_points, in_dim, out_dim)``; returns a jet over ``out_dim``.
    """
    s1, b1, w = edges.spline[1], edges.base[1], edges.base_weight
    assert s1 is not None and b1 is not None
    value = edges.node_sum(0)
    grad = torch.einsum("nio,nid->nod", s1, jet.grad) + torch.einsum("nid,io->nod", b1.unsqueeze(-1) * jet.grad, w)
    lap = hess = None
    if jet.lap is not None:
        g = jet.grad if laplacian_dims is None else jet.grad[..., list(laplacian_dims)]
        lap = edges.node_sum(2, (g * g).sum(dim=-1)) + edges.node_sum(1, jet.lap)
    if jet.hess is not None:
        outer = jet.grad.unsqueeze(-1) * jet.grad.unsqueeze(-2)  # (n, in, d, d)
        hess = torch.einsum("nio,nide->node", edges.edge(2), outer) + torch.einsum(
            "nio,nide->node", edges.edge(1), jet.hess
        )
    return Jet(value, grad, lap, hess)
