"""Splines as piecewise polynomials: the hot path of KAN layers.

On each knot interval every edge spline is a polynomial of degree k in the local coordinate
``u = (x - t_i) / h_i``. :func:`spline_pieces` turns coefficients into a table of those polynomials (cost
independent of the number of points); :func:`locate` finds each point's interval (index arithmetic on uniform
knots); :func:`evaluate_pieces` and :func:`evaluate_pieces_jet` evaluate values and derivatives by Horner's
rule with one row gather per point, so the cost per point does not depend on the grid size.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .spline import _cardinal_piece_matrix, evaluate_spline, local_basis

__all__ = ["Location", "locate", "spline_pieces", "evaluate_pieces", "evaluate_pieces_jet"]


class Location(NamedTuple):
    """Where each point lies on its knot vector, for evaluating piecewise polynomials.

    Attributes:
        piece: row of the padded piece table (see :func:`spline_pieces`): knot interval + 1, with 0 and
            ``n_knots`` for points left and right of the extended grid (zero pieces).
        u: local coordinate ``(x - t_i) / h_i`` in ``[0, 1]``.
        inv_h: ``1 / h_i``, the chain-rule factor of d/dx.

    Shapes:
        piece: ``(n_points, in_dim)`` int64; u, inv_h: ``(n_points, in_dim)``.
    """

    piece: Tensor
    u: Tensor
    inv_h: Tensor


def locate(x: Tensor, knots: Tensor, *, uniform: bool) -> Location:
    """Knot interval, local coordinate and inverse width of every point (index arithmetic when uniform).

    Shapes:
        x: ``(n_points, in_dim)``; knots: ``(in_dim, n_knots)``.
    """
    n_knots = knots.shape[1]
    if uniform:
        h = (knots[:, -1] - knots[:, 0]) / (n_knots - 1)
        scaled = (x - knots[:, 0]) / h
        interval = torch.floor(scaled.detach()).long().clamp(-1, n_knots - 1)
        u = (scaled - interval.to(x.dtype)).clamp(0.0, 1.0)
        inv_h = (1.0 / h).expand_as(x)
    else:
        interval = torch.searchsorted(knots.contiguous(), x.detach().T.contiguous(), right=True).T - 1
        inside = interval.clamp(0, n_knots - 2)
        left = torch.gather(knots, 1, inside.T).T
        width = torch.gather(knots.diff(dim=1), 1, inside.T).T
        u = ((x - left) / width).clamp(0.0, 1.0)
        inv_h = 1.0 / width
        interval = interval.clamp(-1, n_knots - 1)
    # The right end t_{n-1} itself belongs to the last interval (where every basis function vanishes anyway).
    return Location(interval + 1, u, inv_h)


@functools.cache
def _monomial_fit_matrix(spline_order: int) -> np.ndarray:
    """Inverse Vandermonde matrix on ``k+1`` Chebyshev nodes of [0, 1]: values at nodes -> monomial coefficients."""
    k = spline_order
    nodes = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k + 1) + 0.5) / (k + 1))
    return np.linalg.inv(np.vander(nodes, k + 1, increasing=True))


def spline_pieces(coef: Tensor, knots: Tensor, spline_order: int, *, uniform: bool) -> Tensor:
    """Every edge spline as a table of polynomial pieces in the local coordinate ``u`` of each knot interval.

    ``S_ij(x) = sum_p table[i, row, p, j] u^p`` on interval ``row - 1``; rows 0 and ``n_knots`` (outside the
    extended grid) are zero. Differentiable in ``coef``; the cost does not depend on the number of points.
    On uniform knots the pieces come from the exact cardinal B-spline matrix; otherwise from values at ``k+1``
    nodes per interval (an exact interpolation of a degree-k polynomial).

    Shapes:
        coef: ``(in_dim, out_dim, n_basis)``; knots: ``(in_dim, n_knots)``;
        return: ``(in_dim, n_knots + 1, k+1, out_dim)``.
    """
    k = spline_order
    in_dim, out_dim, _ = coef.shape
    n_intervals = knots.shape[1] - 1
    if uniform:
        # Interval i carries B_{i-k..i}: windows of k+1 consecutive coefficients (zero-padded at the ends).
        # (gather, not unfold: torch.func has a batching rule for indexing, not for unfold's backward)
        window_index = torch.arange(n_intervals, device=coef.device).unsqueeze(1) + torch.arange(
            k + 1, device=coef.device
        )
        windows = torch.nn.functional.pad(coef, (k, k))[:, :, window_index]  # (in, out, n_intervals, k+1)
        matrix = torch.as_tensor(_cardinal_piece_matrix(k), dtype=coef.dtype, device=coef.device)
        pieces = torch.einsum("ionr,pr->inpo", windows, matrix)
    else:
        nodes = torch.as_tensor(
            0.5 - 0.5 * np.cos(np.pi * (np.arange(k + 1) + 0.5) / (k + 1)), dtype=coef.dtype, device=coef.device
        )
        left, width = knots[:, :-1], knots.diff(dim=1)  # (in, n_intervals)
        points = left.unsqueeze(-1) + width.unsqueeze(-1) * nodes  # (in, n_intervals, k+1)
        flat = points.reshape(in_dim, -1).T  # (n_intervals*(k+1), in)
        values = evaluate_spline(local_basis(flat, knots, k, uniform=False), coef, k)  # (n_i*(k+1), in, out)
        values = values.reshape(n_intervals, k + 1, in_dim, out_dim)
        fit = torch.as_tensor(_monomial_fit_matrix(k), dtype=coef.dtype, device=coef.device)
        pieces = torch.einsum("pq,nqio->inpo", fit, values)
    return torch.nn.functional.pad(pieces, (0, 0, 0, 0, 1, 1))


def evaluate_pieces(table: Tensor, location: Location, order: int) -> list[Tensor]:
    """Values and (``order`` = 1, 2) derivatives of every edge spline at located points, by Horner's rule.

    One row gather per point and input, then elementwise work only: the cost per point does not depend on the
    grid size.

    Shapes:
        table: ``(in_dim, n_rows, k+1, out_dim)`` from :func:`spline_pieces`; returns ``order + 1`` tensors of
        shape ``(n_points, in_dim, out_dim)``.
    """
    in_dim, n_rows, n_coef, out_dim = table.shape
    k = n_coef - 1
    flat = table.reshape(in_dim * n_rows, n_coef * out_dim)
    rows = location.piece + torch.arange(in_dim, device=table.device) * n_rows
    gathered = flat[rows].reshape(*rows.shape, n_coef, out_dim)  # (n, in, k+1, out)
    p = gathered.unbind(dim=2)
    u = location.u.unsqueeze(-1)
    value = p[k]
    for power in range(k - 1, -1, -1):
        value = value * u + p[power]
    out = [value]
    if order >= 1:
        d1 = k * p[k]
        for power in range(k - 1, 0, -1):
            d1 = d1 * u + power * p[power]
        out.append(d1 * location.inv_h.unsqueeze(-1))
    if order >= 2:
        if k < 2:
            out.append(torch.zeros_like(value))
        else:
            d2 = k * (k - 1) * p[k]
            for power in range(k - 1, 1, -1):
                d2 = d2 * u + power * (power - 1) * p[power]
            out.append(d2 * (location.inv_h * location.inv_h).unsqueeze(-1))
    return out


class _PiecewiseJet(torch.autograd.Function):
    """``S, S', S''`` of every edge spline at located points, with a hand-written backward pass.

    Forward: one gather of the ``k+1`` piece coefficients per point and edge, then the value and three
    derivatives together by repeated synthetic division (Horner) with fused multiply-adds. Backward:
    ``dL/dx = sum_o (g0 S' + g1 S'' + g2 S''')`` and, for the pieces, ``d S^(f) / d p_r`` (powers of ``u``)
    times the output gradients, scattered back to the table rows. Autograd through the same arithmetic records
    about three times as many operations. Once differentiable: :func:`evaluate_pieces` serves nested autograd.
    """

    @staticmethod
    def forward(ctx, flat: Tensor, rows: Tensor, u: Tensor, inv_h: Tensor, x: Tensor, k: int):  # type: ignore[override]
        n_points, in_dim = rows.shape
        ctx.k = k
        gathered = flat[rows].reshape(n_points, in_dim, k + 1, -1)
        uu = u.unsqueeze(-1)
        ih = inv_h.unsqueeze(-1)
        # Repeated synthetic division: taylor[m] = (1/m!) d^m S/du^m for m = 0..3.
        taylor: list[Tensor | None] = [gathered[:, :, k], None, None, None]
        for j in range(k - 1, -1, -1):
            for m in range(min(3, k - j), 0, -1):
                previous = taylor[m - 1]
                assert previous is not None
                current = taylor[m]
                taylor[m] = previous if current is None else torch.addcmul(previous, current, uu)
            assert taylor[0] is not None
            taylor[0] = torch.addcmul(gathered[:, :, j], taylor[0], uu)
        value = taylor[0]
        assert value is not None
        derivs = [t if t is not None else torch.zeros_like(value) for t in taylor[1:]]
        s1 = derivs[0] * ih
        s2 = derivs[1] * (2 * ih * ih)
        s3 = derivs[2] * (6 * ih * ih * ih)
        ctx.save_for_backward(rows, u, inv_h, s1, s2, s3)
        ctx.flat_shape = flat.shape
        return value, s1, s2

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g0: Tensor, g1: Tensor, g2: Tensor):  # type: ignore[override]
        rows, u, inv_h, s1, s2, s3 = ctx.saved_tensors
        k = ctx.k
        grad_flat = grad_x = None
        if ctx.needs_input_grad[0]:
            uu, ih = u.unsqueeze(-1), inv_h.unsqueeze(-1)
            powers = [torch.ones_like(uu)]
            for _ in range(k):
                powers.append(powers[-1] * uu)
            grad_rows = g0.new_empty(*g0.shape[:2], k + 1, g0.shape[-1])
            for r in range(k + 1):
                # d/dp_r of S = u^r, of S' = r u^(r-1)/h, of S'' = r(r-1) u^(r-2)/h^2
                slot = grad_rows[:, :, r]
                if r == 0:
                    slot.copy_(g0)
                    continue
                torch.mul(g0, powers[r], out=slot)
                slot.addcmul_(g1, powers[r - 1] * (r * ih))
                if r >= 2:
                    slot.addcmul_(g2, powers[r - 2] * (r * (r - 1) * ih * ih))
            grad_flat = torch.zeros(ctx.flat_shape, dtype=g0.dtype, device=g0.device)
            grad_flat.index_add_(0, rows.reshape(-1), grad_rows.reshape(rows.numel(), -1))
        if ctx.needs_input_grad[4]:
            grad_x = torch.addcmul(torch.addcmul(g0 * s1, g1, s2), g2, s3).sum(dim=-1)
        return grad_flat, None, None, None, grad_x, None


def evaluate_pieces_jet(pieces: Tensor, location: Location, x: Tensor) -> list[Tensor]:
    """``[S, S', S'']``, as ``evaluate_pieces(pieces, location, 2)``, fast, with a once-differentiable backward.

    Args:
        pieces: from :func:`spline_pieces`.
        location: from :func:`locate` on ``x``.
        x: the points (the gradient with respect to them flows through here).

    Shapes:
        pieces: ``(in_dim, n_rows, k+1, out_dim)``; x: ``(n_points, in_dim)``;
        returns three tensors ``(n_points, in_dim, out_dim)``.
    """
    in_dim, n_rows, n_coef, out_dim = pieces.shape
    flat = pieces.reshape(in_dim * n_rows, n_coef * out_dim)
    rows = location.piece + torch.arange(in_dim, device=pieces.device) * n_rows
    return list(_PiecewiseJet.apply(flat, rows, location.u.detach(), location.inv_h, x, n_coef - 1))
