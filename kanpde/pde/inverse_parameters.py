"""The trained parameters of a problem's unknowns (:class:`InverseParameters`), a submodule of the approximation.

One number per :class:`~kanpde.pde.unknowns.Unknown` (the reparametrised value, see
:meth:`~kanpde.pde.unknowns.Unknown.transform`) and one KAN per :class:`~kanpde.pde.unknowns.UnknownField`. Being
a submodule of the approximation, they are optimised with the network's parameters by L-BFGS/Adam and get their
columns in the Levenberg-Marquardt Jacobian.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..kan import KAN
from .fields import FieldJet
from .unknowns import Unknown, UnknownField

__all__ = ["InverseParameters"]


def _pad(tensor: Tensor, n: int, dims: int) -> Tensor:
    """Zero-pad the last ``dims`` axes of ``tensor`` to size ``n`` (derivatives in the coordinates it ignores)."""
    extra = n - tensor.shape[-1]
    if extra == 0:
        return tensor
    pad = []
    for _ in range(dims):
        pad += [0, extra]
    return nn.functional.pad(tensor, pad)


def _softplus_jet(jet: FieldJet, dims: Sequence[int]) -> FieldJet:
    """Jet of ``softplus(z)`` from the jet of ``z``."""
    s = torch.sigmoid(jet.value)
    value = nn.functional.softplus(jet.value)
    grad = None if jet.grad is None else s.unsqueeze(-1) * jet.grad
    lap = hess = None
    if jet.lap is not None and jet.grad is not None:
        lap = s * jet.lap + s * (1 - s) * jet.grad[..., list(dims)].square().sum(-1)
    if jet.hess is not None and jet.grad is not None:
        outer = jet.grad.unsqueeze(-1) * jet.grad.unsqueeze(-2)
        hess = s[..., None, None] * jet.hess + (s * (1 - s))[..., None, None] * outer
    return FieldJet(value, grad, lap, hess, jet.laplacian_dims)


class InverseParameters(nn.Module):
    """The trained parameters of a problem's unknowns: one number per :class:`Unknown`, one KAN per
    :class:`UnknownField` (on the field's coordinates scaled to ``[-1, 1]`` like the solution's).

    ``forward(name)`` is the value of constant ``name`` (0-d); ``forward(name, points, like)`` the jet of field
    ``name`` at ``points`` ``(n_points, n_coords)`` with the derivatives ``like`` (a FieldJet) carries.
    """

    center: Tensor  # buffer (n_coords,): the middle of the problem's bounding box
    scale: Tensor  # buffer (n_coords,): 2 / (upper - lower), maps the box onto [-1, 1]

    def __init__(
        self,
        unknowns: Sequence[Unknown | UnknownField],
        coords: Sequence[str],
        lower: Sequence[float],
        upper: Sequence[float],
        *,
        grid: int,
        k: int,
        seed: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        super().__init__()
        self.coords = tuple(coords)
        self.constants = {u.name: u for u in unknowns if isinstance(u, Unknown)}
        self.field_specs = {u.name: u for u in unknowns if isinstance(u, UnknownField)}
        self.raw = nn.ParameterDict(
            {
                n: nn.Parameter(torch.tensor(u.raw_of(u.init), dtype=dtype, device=device))
                for n, u in self.constants.items()
            }
        )
        self.fields = nn.ModuleDict()
        for i, (name, spec) in enumerate(self.field_specs.items()):
            n_in = spec.n_inputs(self.coords)
            width = spec.width or [n_in, 5, 1]
            if width[0] != n_in:
                raise ValueError(
                    f"UnknownField {name!r}: width[0] must be {n_in} (its coordinates "
                    f"{self.field_coords(name)}), got {list(width)}"
                )
            self.fields[name] = KAN(
                width, grid=spec.grid or grid, k=spec.k or k, seed=seed + 1 + i, dtype=dtype, device=device
            )
        lo = torch.as_tensor(lower, dtype=dtype, device=device)
        hi = torch.as_tensor(upper, dtype=dtype, device=device)
        self.register_buffer("center", (lo + hi) / 2)
        self.register_buffer("scale", 2 / (hi - lo))

    def field_network(self, name: str) -> KAN:
        """The KAN of field ``name``."""
        model = self.fields[name]
        assert isinstance(model, KAN)
        return model

    def field_coords(self, name: str) -> tuple[str, ...]:
        """The coordinates field ``name`` depends on."""
        return self.coords[: self.field_specs[name].n_inputs(self.coords)]

    def field_inputs(self, name: str, points: Tensor) -> Tensor:
        """The field network's (scaled) inputs at ``points`` ``(n_points, n_coords)``."""
        n_in = self.field_specs[name].n_inputs(self.coords)
        return (points[:, :n_in] - self.center[:n_in]) * self.scale[:n_in]

    def values(self) -> dict[str, Tensor]:
        """The constants' current values (0-d tensors, differentiable in the parameters)."""
        return {name: u.transform(self.raw[name]) for name, u in self.constants.items()}

    def forward(
        self, name: str, points: Tensor | None = None, like: FieldJet | None = None, composable: bool = False
    ) -> Tensor | FieldJet:
        if points is None:
            return self.constants[name].transform(self.raw[name])
        spec, model = self.field_specs[name], self.field_network(name)
        n_in, n_coords = spec.n_inputs(self.coords), points.shape[1]
        x = self.field_inputs(name, points)
        like = like if like is not None else FieldJet(points)
        if like.grad is None:
            jet = FieldJet(model(x))
            return _softplus_jet(jet, ()) if spec.positive else jet
        dims = like.laplacian_dims if like.laplacian_dims is not None else tuple(range(n_coords))
        own = tuple(d for d in dims if d < n_in)
        second = like.lap is not None or like.hess is not None
        raw = model.jet(x, laplacian=False, hessian=second, input_scale=self.scale[:n_in], composable=composable)
        grad = _pad(raw.grad, n_coords, 1)
        hess = None if raw.hess is None else _pad(raw.hess, n_coords, 2)
        lap = None
        if hess is not None:
            lap = sum((hess[..., d, d] for d in own), torch.zeros_like(raw.value))
        jet = FieldJet(raw.value, grad, lap, hess, like.laplacian_dims)
        return _softplus_jet(jet, own) if spec.positive else jet

    def refine(self, grid: int, points: Tensor) -> None:
        """Grid extension of every field network to at least ``grid``, keeping the field where it was used
        (``points`` ``(n_points, n_coords)``, the solver's stage points) and on its knot range."""
        for name in list(self.fields):
            model = self.field_network(name)
            model.record_ranges(self.field_inputs(name, points).to(model.dtype))
            if grid > model.grid_size:
                self.fields[name] = model.refine(grid)

    def rebuild_fields(self, state: Mapping[str, object]) -> None:
        """Rebuild every field network on the grids of the coefficients in ``state`` (a saved state dict of the
        approximation), so that the state loads; entries that do not fit are left to the state check."""
        from ..kan.layer import KANLayer

        for name in list(self.fields):
            model, layers = self.field_network(name), []
            for i, layer in enumerate(model.layers):
                coef = state.get(f"inverse.fields.{name}.layers.{i}.coef")
                if (
                    isinstance(coef, Tensor)
                    and coef.ndim == 3
                    and tuple(coef.shape[:2]) == (layer.in_dim, layer.out_dim)
                ):
                    grid = int(coef.shape[2]) - layer.spline_order
                else:
                    grid = layer.grid_size
                layers.append(
                    KANLayer(
                        layer.in_dim,
                        layer.out_dim,
                        grid_size=max(grid, 1),
                        spline_order=layer.spline_order,
                        dtype=model.dtype,
                        device=model.device,
                    )
                )
            self.fields[name] = KAN.from_layers(layers, seed=model.seed)

    def evaluator(self, params: Mapping[str, Tensor] | None = None, composable: bool = False) -> Callable[..., Any]:
        """What :func:`bound` binds: this module's values, or with the parameters ``params`` swapped in (names
        relative to this module; for ``torch.func`` transforms)."""
        if params is None:

            def direct(name: str, points: Tensor | None = None, like: FieldJet | None = None) -> Any:
                return self(name, points, like, composable)

            return direct

        def swapped(name: str, points: Tensor | None = None, like: FieldJet | None = None) -> Any:
            return torch.func.functional_call(self, dict(params), (name, points, like, True))

        return swapped
