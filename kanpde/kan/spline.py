"""B-spline kernels: knot vectors, the *local* basis with its derivatives, and least-squares refits.

Pure functions on tensors. Conventions (efficient-kan's names):

- ``grid_size`` is the number of intervals of the interior grid on ``[lower, upper]``;
- ``spline_order`` is the polynomial degree ``k`` (3 = cubic);
- a knot vector carries ``k`` extra knots on each side, so ``n_knots = grid_size + 2k + 1`` and
  ``n_basis = grid_size + k`` basis functions ``B_m``, ``m = 0 .. n_basis-1``; ``B_m`` is supported on
  ``[t_m, t_{m+k+1}]``. As in pykan, the spline is defined on the whole extended range ``[t_0, t_{-1}]`` and is
  zero outside it.

Only ``k+1`` basis functions are non-zero at a point. :func:`local_basis` finds the knot interval of each point
(index arithmetic on uniform knots, a search otherwise) and returns those ``k+1`` values and, on request, their
first and second derivatives in closed form, so the cost per point does not depend on ``grid_size``.

Knot tensors have shape ``(in_dim, n_knots)``: each input of a KAN layer has its own knots.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "LocalBasis",
    "uniform_knots",
    "extend_knots",
    "knots_are_uniform",
    "local_basis",
    "dense_basis",
    "dense_basis_cox_de_boor",
    "evaluate_spline",
    "gather_coefficients",
    "contract_local",
    "fit_coefficients",
]


class LocalBasis(NamedTuple):
    """The ``k+1`` non-zero B-spline functions at each point.

    Attributes:
        start: index ``m0`` of the first non-zero basis function; the values belong to ``B_{m0}, ..., B_{m0+k}``.
            Can be negative or exceed ``n_basis-k-1`` near the ends of the extended grid: those entries have no
            coefficient and count as zero (see :func:`evaluate_spline`).
        values: ``B_{m0+r}(x)``.
        d1: first derivatives ``B'_{m0+r}(x)`` (or ``None`` when not asked for).
        d2: second derivatives ``B''_{m0+r}(x)`` (or ``None``).

    Shapes:
        start: ``(n_points, in_dim)`` int64; values, d1, d2: ``(n_points, in_dim, k+1)``.
    """

    start: Tensor
    values: Tensor
    d1: Tensor | None
    d2: Tensor | None


def uniform_knots(
    grid_size: int,
    spline_order: int,
    lower: float | Tensor = -1.0,
    upper: float | Tensor = 1.0,
    *,
    in_dim: int = 1,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Uniform knots on ``[lower, upper]`` with ``spline_order`` extra knots on each side.

    Args:
        grid_size: number of intervals on ``[lower, upper]`` (>= 1).
        spline_order: polynomial degree k (>= 1).
        lower: lower end of the interior grid; a float, or a tensor of shape ``(in_dim,)`` for per-input ranges.
        upper: upper end of the interior grid, as ``lower``.
        in_dim: number of knot rows.

    Returns:
        Knots, ascending along the last axis.

    Shapes:
        return: ``(in_dim, grid_size + 2*spline_order + 1)``.
    """
    if grid_size < 1 or spline_order < 1:
        raise ValueError(f"grid_size and spline_order must be >= 1, got {grid_size} and {spline_order}")
    lo = torch.as_tensor(lower, dtype=dtype, device=device).reshape(-1, 1).expand(in_dim, 1)
    hi = torch.as_tensor(upper, dtype=dtype, device=device).reshape(-1, 1).expand(in_dim, 1)
    steps = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=dtype, device=device)
    return lo + (hi - lo) / grid_size * steps


def extend_knots(interior: Tensor, spline_order: int) -> Tensor:
    """Add ``spline_order`` knots on each side of an interior grid, spaced like its end intervals.

    Shapes:
        interior: ``(in_dim, grid_size + 1)`` ascending; return: ``(in_dim, grid_size + 2*spline_order + 1)``.
    """
    h_left = interior[:, 1:2] - interior[:, 0:1]
    h_right = interior[:, -1:] - interior[:, -2:-1]
    steps = torch.arange(1, spline_order + 1, dtype=interior.dtype, device=interior.device)
    left = interior[:, 0:1] - h_left * steps.flip(0)
    right = interior[:, -1:] + h_right * steps
    return torch.cat([left, interior, right], dim=1)


def knots_are_uniform(knots: Tensor, *, rtol: float = 1e-9) -> bool:
    """Whether every row of ``knots`` is equally spaced (to ``rtol`` of its spacing, or to rounding in the knots'
    precision when that is coarser: float32 knots of a refined grid differ from uniform by ~1e-7).

    Shapes:
        knots: ``(in_dim, n_knots)``.
    """
    rtol = max(rtol, 64 * torch.finfo(knots.dtype).eps)
    spacing = knots.diff(dim=1)
    h = (knots[:, -1:] - knots[:, :1]) / (knots.shape[1] - 1)
    return bool(((spacing - h).abs() <= rtol * h.abs()).all())


@functools.cache
def _cardinal_piece_matrix(spline_order: int) -> np.ndarray:
    """Polynomial pieces of the uniform B-spline on one interval, exactly (rational arithmetic).

    On the knot interval ``[t_i, t_i + h)`` with local coordinate ``u = (x - t_i)/h`` in ``[0, 1)``, the non-zero
    functions are ``B_{i-k+r}(x) = sum_p M[p, r] u^p`` for ``r = 0..k``.

    Shapes:
        return: ``(k+1, k+1)`` float64, rows = powers ``u^0..u^k``, columns = ``r``.
    """
    k = spline_order

    # Knots 0, 1, ..., 2k+1 in units of h; the interval of interest is [k, k+1); x = k + u.
    # A polynomial in u is a list of Fractions, lowest power first.
    def add(p: list[Fraction], q: list[Fraction]) -> list[Fraction]:
        n = max(len(p), len(q))
        return [(p[i] if i < len(p) else Fraction(0)) + (q[i] if i < len(q) else Fraction(0)) for i in range(n)]

    def mul_linear(p: list[Fraction], c0: Fraction, c1: Fraction) -> list[Fraction]:
        # p(u) * (c0 + c1 u)
        out = [Fraction(0)] * (len(p) + 1)
        for i, a in enumerate(p):
            out[i] += a * c0
            out[i + 1] += a * c1
        return out

    # Degree 0: only B_k (supported on [k, k+1)) is non-zero.
    pieces: dict[int, list[Fraction]] = {k: [Fraction(1)]}
    for p in range(1, k + 1):
        new: dict[int, list[Fraction]] = {}
        for m in range(k - p, k + 1):
            # B^p_m = (x - m)/p * B^{p-1}_m + (m + p + 1 - x)/p * B^{p-1}_{m+1},   x = k + u
            acc = [Fraction(0)]
            if m in pieces:
                acc = add(acc, mul_linear(pieces[m], Fraction(k - m, p), Fraction(1, p)))
            if m + 1 in pieces:
                acc = add(acc, mul_linear(pieces[m + 1], Fraction(m + p + 1 - k, p), Fraction(-1, p)))
            new[m] = acc
        pieces = new
    matrix = np.zeros((k + 1, k + 1))
    for r in range(k + 1):
        for power, coef in enumerate(pieces[r]):
            matrix[power, r] = float(coef)
    return matrix


def _interval_index(x: Tensor, knots: Tensor, uniform: bool) -> Tensor:
    """Index ``i`` with ``t_i <= x < t_{i+1}``, clamped to ``[0, n_knots-2]``. Shapes: x ``(n, in_dim)``."""
    n_knots = knots.shape[1]
    if uniform:
        h = (knots[:, -1] - knots[:, 0]) / (n_knots - 1)
        idx = torch.floor((x - knots[:, 0]) / h).long()
    else:
        idx = torch.searchsorted(knots.contiguous(), x.detach().T.contiguous(), right=True).T - 1
    return idx.clamp(0, n_knots - 2)


def _uniform_local(x: Tensor, knots: Tensor, spline_order: int, derivatives: int) -> LocalBasis:
    k = spline_order
    n_knots = knots.shape[1]
    idx = _interval_index(x, knots, uniform=True)
    h = (knots[:, -1] - knots[:, 0]) / (n_knots - 1)  # (in_dim,)
    t_left = knots[:, 0] + h * idx.to(x.dtype)
    u = (x - t_left) / h  # in [0, 1) inside the extended range
    inside = (x >= knots[:, 0]) & (x <= knots[:, -1])
    matrix = torch.as_tensor(_cardinal_piece_matrix(k), dtype=x.dtype, device=x.device)
    powers = [torch.ones_like(u), u]
    for _ in range(2, k + 1):
        powers.append(powers[-1] * u)
    mask = inside.to(x.dtype).unsqueeze(-1)
    values = torch.stack(powers, dim=-1) @ matrix * mask
    d1 = d2 = None
    if derivatives >= 1:
        dpowers = [torch.zeros_like(u)] + [p * powers[p - 1] for p in range(1, k + 1)]
        d1 = torch.stack(dpowers, dim=-1) @ matrix * (mask / h.unsqueeze(-1))
    if derivatives >= 2:
        d2powers = [torch.zeros_like(u), torch.zeros_like(u)] + [p * (p - 1) * powers[p - 2] for p in range(2, k + 1)]
        d2 = torch.stack(d2powers, dim=-1) @ matrix * (mask / (h * h).unsqueeze(-1))
    return LocalBasis(idx - k, values, d1, d2)


def _general_local(x: Tensor, knots: Tensor, spline_order: int, derivatives: int) -> LocalBasis:
    """Cox-de Boor triangle on arbitrary ascending knots (Piegl & Tiller, Algorithm A2.2, vectorised)."""
    k = spline_order
    idx = _interval_index(x, knots, uniform=False)
    padded = extend_knots(knots, k)  # local knots t_{i-k+1..i+k} always exist, also next to the ends
    inside = (x >= knots[:, 0]) & (x <= knots[:, -1])
    rows = torch.arange(knots.shape[0], device=x.device)

    def knot(offset: int) -> Tensor:  # t_{i+offset} in the original numbering, shape (n, in_dim)
        return padded[rows, idx + offset + k]

    # left[j] = x - t_{i+1-j}, right[j] = t_{i+j} - x for j = 1..k (index 0 unused: a copy of x keeps the type)
    left = [x] + [x - knot(1 - j) for j in range(1, k + 1)]
    right = [x] + [knot(j) - x for j in range(1, k + 1)]
    levels: list[list[Tensor]] = [[inside.to(x.dtype)]]  # levels[p][r] = B^p_{i-p+r}(x)
    for j in range(1, k + 1):
        prev = levels[-1]
        cur: list[Tensor] = []
        saved = torch.zeros_like(x)
        for r in range(j):
            temp = prev[r] / (right[r + 1] + left[j - r])
            cur.append(saved + right[r + 1] * temp)
            saved = left[j - r] * temp
        cur.append(saved)
        levels.append(cur)
    values = torch.stack(levels[k], dim=-1)

    def differentiate(lower: list[Tensor], degree: int) -> list[Tensor]:
        # d/dx of degree-`degree` functions B_{i-degree..i} from degree-1 values B^{degree-1}_{i-degree+1..i}:
        # B'_m = degree * (B^{d-1}_m / (t_{m+d} - t_m) - B^{d-1}_{m+1} / (t_{m+d+1} - t_{m+1}))
        out = []
        for r in range(degree + 1):
            m = -degree + r  # relative to i
            term = torch.zeros_like(x)
            if r >= 1:
                term = term + lower[r - 1] / (knot(m + degree) - knot(m))
            if r < degree:
                term = term - lower[r] / (knot(m + degree + 1) - knot(m + 1))
            out.append(degree * term)
        return out

    d1 = d2 = None
    if derivatives >= 1:
        d1 = torch.stack(differentiate(levels[k - 1], k), dim=-1)
    if derivatives >= 2:
        if k < 2:
            d2 = torch.zeros_like(values)
        else:
            d_lower = differentiate(levels[k - 2], k - 1)  # derivatives of degree k-1 functions
            d2 = torch.stack(differentiate(d_lower, k), dim=-1)
    return LocalBasis(idx - k, values, d1, d2)


def local_basis(
    x: Tensor, knots: Tensor, spline_order: int, *, derivatives: int = 0, uniform: bool | None = None
) -> LocalBasis:
    """The ``k+1`` non-zero B-splines at each point, with their first/second derivatives on request.

    Differentiable in ``x`` (autograd), so parameter gradients can flow through inputs computed upstream.

    Args:
        x: points, one column per knot row.
        knots: ascending knot vectors (see the module docstring).
        spline_order: degree k.
        derivatives: 0, 1 or 2: how many derivatives to return.
        uniform: whether every knot row is equally spaced (index arithmetic instead of a search);
            ``None`` checks.

    Returns:
        A :class:`LocalBasis`.

    Shapes:
        x: ``(n_points, in_dim)``; knots: ``(in_dim, n_knots)``; outputs ``(n_points, in_dim, k+1)``.
    """
    if derivatives not in (0, 1, 2):
        raise ValueError(f"derivatives must be 0, 1 or 2, got {derivatives}")
    if uniform is None:
        uniform = knots_are_uniform(knots)
    if uniform:
        return _uniform_local(x, knots, spline_order, derivatives)
    return _general_local(x, knots, spline_order, derivatives)


def dense_basis(x: Tensor, knots: Tensor, spline_order: int, *, uniform: bool | None = None) -> Tensor:
    """All ``n_basis`` B-splines at each point (zeros outside each function's support), from the local basis.

    Shapes:
        x: ``(n_points, in_dim)``; knots: ``(in_dim, n_knots)``; return: ``(n_points, in_dim, n_basis)``.
    """
    k = spline_order
    n_basis = knots.shape[1] - k - 1
    local = local_basis(x, knots, k, uniform=uniform)
    index = local.start.unsqueeze(-1) + torch.arange(k + 1, device=x.device)  # (n, in_dim, k+1)
    # Scatter into a padded row so that out-of-range indices land in discarded columns.
    out = x.new_zeros(*x.shape, n_basis + 2 * k)
    out = out.scatter_add(-1, index + k, local.values)
    return out[..., k : k + n_basis]


def dense_basis_cox_de_boor(x: Tensor, knots: Tensor, spline_order: int) -> Tensor:
    """All B-splines by the textbook dense Cox-de Boor recursion (pykan's ``B_batch``): the reference.

    Cost grows with the number of knots; kept as the independent check of :func:`local_basis` and as the
    baseline of the speed benchmark.

    Shapes:
        x: ``(n_points, in_dim)``; knots: ``(in_dim, n_knots)``; return: ``(n_points, in_dim, n_basis)``.
    """
    t = knots.unsqueeze(0)  # (1, in_dim, n_knots)
    xe = x.unsqueeze(-1)
    basis = ((xe >= t[..., :-1]) & (xe < t[..., 1:])).to(x.dtype)
    for p in range(1, spline_order + 1):
        left = (xe - t[..., : -(p + 1)]) / (t[..., p:-1] - t[..., : -(p + 1)]) * basis[..., :-1]
        right = (t[..., p + 1 :] - xe) / (t[..., p + 1 :] - t[..., 1:-p]) * basis[..., 1:]
        basis = left + right
    return basis


def evaluate_spline(local: LocalBasis, coef: Tensor, spline_order: int, which: str = "values") -> Tensor:
    """Evaluate ``S_ij(x_i) = sum_m coef[i, j, m] B_m(x_i)`` (or its derivatives) from a local basis.

    Args:
        local: from :func:`local_basis` on ``x``.
        coef: spline coefficients of every edge ``i -> j``.
        which: ``"values"``, ``"d1"`` or ``"d2"``: which field of ``local`` to contract with.

    Shapes:
        coef: ``(in_dim, out_dim, n_basis)``; return: ``(n_points, in_dim, out_dim)``.
    """
    return contract_local(local, [getattr(local, which)], coef, spline_order)[0]


def gather_coefficients(start: Tensor, coef: Tensor, spline_order: int) -> Tensor:
    """The ``k+1`` coefficients of every edge that multiply the local basis at each point.

    Out-of-range basis indices (next to the ends of the extended grid) get zero coefficients.

    Shapes:
        start: ``(n_points, in_dim)``; coef: ``(in_dim, out_dim, n_basis)``;
        return: ``(n_points, in_dim, k+1, out_dim)``.
    """
    k = spline_order
    in_dim, out_dim, n_basis = coef.shape
    padded_len = n_basis + 2 * k
    # Rows of a flat (in_dim * padded_len, out_dim) table; the zero padding absorbs out-of-range indices.
    table = torch.nn.functional.pad(coef, (k, k)).permute(0, 2, 1).reshape(in_dim * padded_len, out_dim)
    rows = start + k + torch.arange(in_dim, device=coef.device) * padded_len
    return table[rows.unsqueeze(-1) + torch.arange(k + 1, device=coef.device)]


def contract_local(local: LocalBasis, fields: list[Tensor], coef: Tensor, spline_order: int) -> list[Tensor]:
    """Contract several local-basis tensors with one gather of the coefficients.

    Shapes:
        fields: each ``(n_points, in_dim, k+1)``; coef: ``(in_dim, out_dim, n_basis)``;
        returns: each ``(n_points, in_dim, out_dim)``.
    """
    stacked = torch.stack(fields, dim=2)  # (n, in_dim, F, k+1)
    out = stacked @ gather_coefficients(local.start, coef, spline_order)  # (n, in_dim, F, out_dim)
    return list(out.unbind(dim=2))


def fit_coefficients(
    x: Tensor,
    y: Tensor,
    knots: Tensor,
    spline_order: int,
    *,
    weights: Tensor | None = None,
    ridge: float = 1e-14,
) -> Tensor:
    """Least-squares spline coefficients: ``min_c sum_n w_n (sum_m c_m B_m(x_n) - y_n)^2 + ridge*|c|^2``.

    The normal matrix of a B-spline basis is banded (bandwidth k); it is assembled from the local basis in
    O(n_points * k^2) and solved by a banded Cholesky factorisation, batched over inputs and outputs.
    ``ridge`` is relative to the mean diagonal of the normal matrix, so it does not depend on the number of
    samples; it keeps basis functions that no sample touches at zero.

    Args:
        x: sample locations, one column per input.
        y: target values of every edge ``i -> j`` at the samples of input ``i``.
        knots: knot vectors of the new spline.
        weights: optional non-negative sample weights ``(n_points,)``.
        ridge: relative Tikhonov regularisation.

    Returns:
        coef such that ``evaluate_spline(local_basis(x, knots), coef)`` fits ``y``.

    Shapes:
        x: ``(n_points, in_dim)``; y: ``(n_points, in_dim, out_dim)``; knots: ``(in_dim, n_knots)``;
        return: ``(in_dim, out_dim, n_basis)``.
    """
    k = spline_order
    n_points, in_dim = x.shape
    out_dim = y.shape[-1]
    n_basis = knots.shape[1] - k - 1
    local = local_basis(x, knots, k)
    vals = local.values if weights is None else local.values * weights.reshape(-1, 1, 1).sqrt()
    yw = y if weights is None else y * weights.reshape(-1, 1, 1).sqrt()
    padded = n_basis + 2 * k
    index = local.start + k  # (n, in_dim) position in a padded row
    # Banded normal matrix in "lower" storage: band[i, d, m] = A^T A [m + d, m], d = 0..k.
    band = x.new_zeros(in_dim, k + 1, padded)
    for d in range(k + 1):
        prod = vals[..., d:] * vals[..., : k + 1 - d]  # (n, in_dim, k+1-d): B_{s+r+d} * B_{s+r}
        cols = index.unsqueeze(-1) + torch.arange(k + 1 - d, device=x.device)
        band[:, d].scatter_add_(1, cols.permute(1, 0, 2).reshape(in_dim, -1), prod.permute(1, 0, 2).reshape(in_dim, -1))
    rhs = x.new_zeros(in_dim, padded, out_dim)
    cols = (index.unsqueeze(-1) + torch.arange(k + 1, device=x.device)).permute(1, 0, 2).reshape(in_dim, -1)
    contrib = (vals.unsqueeze(-1) * yw.unsqueeze(2)).permute(1, 0, 2, 3).reshape(in_dim, -1, out_dim)
    rhs.scatter_add_(1, cols.unsqueeze(-1).expand(-1, -1, out_dim), contrib)
    band = band[:, :, k : k + n_basis].clone()
    for d in range(1, k + 1):  # entries A[m+d, m] with m+d past the last basis function belong to the padding
        band[:, d, n_basis - d :] = 0
    rhs = rhs[:, k : k + n_basis]
    scale = band[:, 0].mean(dim=1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    band[:, 0] += ridge * scale
    return _solve_banded_spd(band, rhs).permute(0, 2, 1).contiguous()


def _solve_banded_spd(band: Tensor, rhs: Tensor) -> Tensor:
    """Solve ``A c = rhs`` for SPD banded ``A`` (lower storage ``band[b, d, m] = A[m+d, m]``), batched over b.

    Banded Cholesky ``A = L L^T`` column by column, then forward and back substitution; O(n k^2) per system.

    Shapes:
        band: ``(batch, bandwidth+1, n)``; rhs: ``(batch, n, n_rhs)``; return: ``(batch, n, n_rhs)``.
    """
    batch, width, n = band.shape
    bw = width - 1
    lower = band.clone()  # lower[b, d, m] = L[m+d, m]
    for m in range(n):
        # L[m, m]^2 = A[m, m] - sum_{j<m} L[m, j]^2, and L[m+d, m] = (A[m+d, m] - sum_j L[m+d, j] L[m, j]) / L[m, m]
        for j in range(max(0, m - bw), m):
            for d in range(0, bw - (m - j) + 1):
                lower[:, d, m] -= lower[:, m - j + d, j] * lower[:, m - j, j]
        lower[:, 0, m] = lower[:, 0, m].clamp_min(torch.finfo(band.dtype).tiny).sqrt()
        lower[:, 1:, m] /= lower[:, 0, m : m + 1]
    solution = rhs.clone()
    for m in range(n):  # L z = rhs
        for j in range(max(0, m - bw), m):
            solution[:, m] -= lower[:, m - j, j].unsqueeze(-1) * solution[:, j]
        solution[:, m] /= lower[:, 0, m].unsqueeze(-1)
    for m in range(n - 1, -1, -1):  # L^T c = z
        for j in range(m + 1, min(n, m + bw + 1)):
            solution[:, m] -= lower[:, j - m, m].unsqueeze(-1) * solution[:, j]
        solution[:, m] /= lower[:, 0, m].unsqueeze(-1)
    return solution
