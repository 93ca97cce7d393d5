"""The Jacobian of residual rows with respect to the KAN's parameters, in closed form from a tapped jet.

Levenberg-Marquardt needs ``J = d r / d theta`` row by row. ``vmap(jacrev)`` gets it with one batched reverse
pass per residual row through the whole jet, which is general but slow (``python -m kanpde.bench.lm_step
--compare`` times both ways). Here the structure of a KAN does most of the work instead.

Every parameter acts through the edge functions of its own layer only: at each point, layer ``l`` turns its
inputs ``z_i`` into the edge values and input derivatives ``E_f[i, j] = phi_ij^(f)(z_i)`` (``f = 0, 1, 2``:
value, slope, curvature; ``(n_points, in_dim, out_dim)`` each), and the jet of the output (values, gradients,
Laplacians or Hessians) is built from these tensors alone. So

    d r_n / d theta = sum_f  (d r_n / d E_f[n])  *  (d E_f[n] / d theta),

where the second factor is local and known in closed form (``phi = mask * (scale_base * silu(z) + scale_spline
* sum_m coef_m B_m(z))``: B-spline basis functions and their derivatives for a coefficient, ``silu^(f)`` for a
base scale, the unscaled spline ``S^(f)`` for a spline scale), and the first factor, the adjoint of the tapped
edge tensors, is the gradient of ``sum_n r_n`` with respect to ``E_f``: since row ``n`` depends on the data of row
``n`` only, the gradient of the sum holds every row's own derivative. One forward jet with the tape, one reverse
pass per residual component, then the Jacobian is assembled by scattering ``k+1`` local basis values per edge.

It applies to a plain :class:`~kanpde.pde.approximation.Approximation` (a KAN with or without a hard constraint;
no unknown fields or constants, no residual of order >= 3 that needs nested autograd); :func:`supports` says so,
and :class:`~kanpde.pde.gauss_newton.ResidualSystem` falls back on ``vmap(jacrev)`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..kan import spline
from ..kan.layer import KANLayer, _silu_derivatives
from .approximation import Approximation, _product_plus
from .fields import FieldJet, JetRequest
from .residuals import AbstractTerm, residual_rows

__all__ = ["supports", "rows_and_jacobian"]

_PREFIX = "a.model.layers."  # parameter names as ResidualSystem's caller sees them


def supports(approx: object, term: AbstractTerm, names: list[str]) -> bool:
    """Whether :func:`rows_and_jacobian` applies: a KAN trial function whose parameters are all of ``names``,
    and a term whose needs are jets (no nested autograd)."""
    if not isinstance(approx, Approximation) or getattr(approx, "inverse", None) is not None:
        return False
    if any(need.request.autograd for need in term.needs()):
        return False
    layers = list(approx.model.layers)
    if not all(type(layer) is KANLayer for layer in layers):
        return False
    expected = [f"{_PREFIX}{i}.{p}" for i in range(len(layers)) for p in ("coef", "scale_base", "scale_spline")]
    return sorted(expected) == sorted(names)


@dataclass
class _LayerTap:
    """One layer's evaluation on a batch: what the Jacobian's local factor needs, and the tapped edge tensors."""

    index: int
    start: Tensor  # (n, in) first basis index of each point
    basis: list[Tensor]  # B^(f) of the k+1 local basis functions, (n, in, k+1) each
    silu: list[Tensor]  # silu^(f)(z), (n, in) each
    raw: list[Tensor]  # unscaled splines S^(f), (n, in, out) each
    edges: list[Tensor]  # E_f, in the graph: the tape


@dataclass
class _Tape:
    taps: list[_LayerTap] = field(default_factory=list)


def _layer_edges(layer: KANLayer, index: int, z: Tensor, order: int, params: Mapping[str, Tensor]) -> _LayerTap:
    """Edge values and input derivatives of ``layer`` at ``z`` (differentiable in ``z``, constant in the
    parameters)."""
    k = layer.spline_order
    coef = params[f"{_PREFIX}{index}.coef"].detach()
    spline_weight = params[f"{_PREFIX}{index}.scale_spline"].detach() * layer.mask  # (in, out)
    base_weight = params[f"{_PREFIX}{index}.scale_base"].detach() * layer.mask  # (in, out)
    local = spline.local_basis(z, layer.grid, k, derivatives=min(order, 2), uniform=layer.grid_is_uniform)
    basis = [b for b in (local.values, local.d1, local.d2)[: order + 1] if b is not None]
    raw = spline.contract_local(local, basis, coef, k)  # (n, in, out) each
    silu = [d for d in _silu_derivatives(z, order)[: order + 1] if d is not None]  # value, then each derivative
    edges = [s * spline_weight + b.unsqueeze(-1) * base_weight for s, b in zip(raw, silu)]
    return _LayerTap(index, local.start, [b.detach() for b in basis], [s.detach() for s in silu],
                     [r.detach() for r in raw], edges)  # fmt: skip


def _tapped_jet(
    approx: Approximation, points: Tensor, request: JetRequest, params: Mapping[str, Tensor], tape: _Tape
) -> FieldJet:
    """The network's jet at ``points`` (physical coordinates), every layer's edge tensors recorded on ``tape``."""
    order = 0 if request.level == 0 else (1 if request.level == 1 else 2)
    dims = request.laplacian_dims
    s = approx.scale
    z = approx.normalized(points).detach()
    value = grad = lap = hess = None
    for index, layer in enumerate(approx.model.layers):
        tap = _layer_edges(layer, index, z, order, params)
        if index == 0:  # inputs are the scaled coordinates: nothing upstream to differentiate
            tap.edges = [e.detach().requires_grad_(True) for e in tap.edges]
        tape.taps.append(tap)
        e = tap.edges
        if index == 0:
            value = e[0].sum(dim=1)
            if order >= 1:
                grad = e[1].transpose(1, 2) * s  # (n, out, n_in)
            if order >= 2 and request.level == 2:
                mask = torch.zeros_like(s)
                mask[list(range(len(s))) if dims is None else list(dims)] = 1.0
                lap = torch.einsum("nio,i->no", e[2], s * s * mask)
            if order >= 2 and request.level >= 3:
                hess = torch.diag_embed(e[2].transpose(1, 2) * (s * s))
        else:
            new_value = e[0].sum(dim=1)
            if order >= 1:
                assert grad is not None
                new_grad = torch.einsum("nio,nid->nod", e[1], grad)
                if lap is not None:
                    g = grad if dims is None else grad[..., list(dims)]
                    lap = torch.einsum("nio,ni->no", e[2], (g * g).sum(-1)) + torch.einsum("nio,ni->no", e[1], lap)
                if hess is not None:
                    outer = grad.unsqueeze(-1) * grad.unsqueeze(-2)
                    hess = torch.einsum("nio,nide->node", e[2], outer) + torch.einsum("nio,nide->node", e[1], hess)
                grad = new_grad
            value = new_value
        z = value
    assert value is not None
    return FieldJet(value, grad, lap, hess, dims if request.level == 2 else None)


class _TappedSource:
    """A :class:`~kanpde.pde.residuals.FieldSource` that records the edge tensors of every jet it evaluates."""

    def __init__(self, approx: Approximation, params: Mapping[str, Tensor], tape: _Tape) -> None:
        self.approx, self.params, self.tape = approx, params, tape

    def jet(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        out = _tapped_jet(self.approx, points, request, self.params, self.tape)
        hard = self.approx.constraint
        if hard is None:
            return out
        if request.level == 0:
            if constraint is not None:
                b, g = constraint[0].value, constraint[1].value
            else:
                b, g = hard.vanishing(points).unsqueeze(1), hard.lift(points).unsqueeze(1)
            return FieldJet(b.detach() * out.value + g.detach())
        b_jet, g_jet = constraint if constraint is not None else hard.jets(points, request)
        return _product_plus(b_jet, out, g_jet, request)

    def values(self, points: Tensor) -> Tensor:  # pragma: no cover - autograd needs are not supported here
        raise RuntimeError("the closed-form Jacobian does not serve derivatives of order >= 3")

    def unknown_evaluator(self) -> None:
        return None


def _layer_columns(tap: _LayerTap, adjoint: list[Tensor | None], layer: KANLayer, params: Mapping[str, Tensor],
                   ) -> dict[str, Tensor]:  # fmt: skip
    """``d r_n / d theta`` for the parameters of one layer from the adjoints of its edge tensors.

    Shapes:
        adjoint: ``(n, in, out)`` each (None: the residual does not read that derivative); returns per parameter
        name ``(n, numel)``.
    """
    k, n = layer.spline_order, tap.start.shape[0]
    in_dim, out_dim, n_basis = layer.coef.shape
    mask = layer.mask
    spline_weight = params[f"{_PREFIX}{tap.index}.scale_spline"].detach() * mask  # (in, out)
    local: Tensor | None = None
    d_base = tap.start.new_zeros(0)
    d_scale = d_base
    for a, basis, silu, raw in zip(adjoint, tap.basis, tap.silu, tap.raw):
        if a is None:
            continue
        part = a.unsqueeze(-1) * basis.unsqueeze(2)  # (n, in, out, k+1)
        base_part = a * silu.unsqueeze(-1)
        scale_part = a * raw
        if local is None:
            local, d_base, d_scale = part, base_part, scale_part
        else:
            local, d_base, d_scale = local + part, d_base + base_part, d_scale + scale_part
    name = f"{_PREFIX}{tap.index}."
    if local is None:  # the residual does not depend on this evaluation
        zeros = layer.coef.new_zeros
        return {name + "coef": zeros(n, in_dim * out_dim * n_basis), name + "scale_base": zeros(n, in_dim * out_dim),
                name + "scale_spline": zeros(n, in_dim * out_dim)}  # fmt: skip
    local = local * spline_weight.unsqueeze(-1)
    dense = local.new_zeros(n, in_dim, out_dim, n_basis + 2 * k)  # padded: out-of-range starts land outside
    index = (tap.start.unsqueeze(-1) + k + torch.arange(k + 1, device=local.device)).unsqueeze(2)
    dense.scatter_add_(-1, index.expand(-1, -1, out_dim, -1), local)
    coef_columns = dense[..., k : k + n_basis].reshape(n, -1)
    return {name + "coef": coef_columns, name + "scale_base": (d_base * mask).reshape(n, -1),
            name + "scale_spline": (d_scale * mask).reshape(n, -1)}  # fmt: skip


def rows_and_jacobian(
    approx: Approximation, term: AbstractTerm, params: Mapping[str, Tensor], names: list[str]
) -> tuple[Tensor, Tensor]:
    """The residual rows of ``term`` and their Jacobian with respect to ``params`` (see the module docstring).

    Args:
        approx: the trial function (:func:`supports` must hold).
        term: the rows.
        params: parameter values by name (``"a.model.layers.0.coef"``, ...), as in
            :class:`~kanpde.pde.gauss_newton.ResidualSystem`.
        names: the column order.

    Returns:
        ``(r, J)``: ``r`` of shape ``(n_rows * m,)`` (row-major over rows and components), detached; ``J`` of shape
        ``(n_rows * m, n_parameters)``.
    """
    tape = _Tape()
    with torch.enable_grad():
        r = residual_rows(term, _TappedSource(approx, params, tape))
        n, m = r.shape
        leaves = [e for tap in tape.taps for e in tap.edges]
        layers = list(approx.model.layers)
        blocks = []
        for c in range(m):
            column = r[:, c]
            if not column.requires_grad:  # the residual does not depend on the network
                adjoints: list[Tensor | None] = [None] * len(leaves)
            else:
                adjoints = list(torch.autograd.grad(column.sum(), leaves, retain_graph=c < m - 1, allow_unused=True))
            by_name: dict[str, Tensor] = {}
            position = 0
            for tap in tape.taps:
                own = adjoints[position : position + len(tap.edges)]
                position += len(tap.edges)
                for key, value in _layer_columns(tap, own, layers[tap.index], params).items():
                    by_name[key] = by_name[key] + value if key in by_name else value
            blocks.append(torch.cat([by_name[name] for name in names], dim=1))
    jac = torch.stack(blocks, dim=1).reshape(n * m, -1)
    return r.detach().reshape(-1), jac
