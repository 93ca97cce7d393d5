"""KANLayer: ``in_dim * out_dim`` learnable edge functions whose outputs are summed at each output node.

Each edge ``i -> j`` carries ``phi_ij(t) = mask_ij * (scale_base_ij * silu(t) + scale_spline_ij * S_ij(t))`` with
``S_ij(t) = sum_m coef[i, j, m] B_m(t)`` a B-spline on the knots of input ``i``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from . import pieces, spline
from .jet import EdgeDerivatives

__all__ = ["KANLayer", "EdgeActivations"]


class EdgeActivations(NamedTuple):
    """What every edge of a layer does to a batch.

    Attributes:
        inputs: the layer inputs.
        activations: ``phi_ij(x_i)``, masked.
        spline: ``S_ij(x_i)`` (unscaled spline part).
        base: ``silu(x_i)``.

    Shapes:
        inputs, base: ``(n_points, in_dim)``; activations, spline: ``(n_points, in_dim, out_dim)``.
    """

    inputs: Tensor
    activations: Tensor
    spline: Tensor
    base: Tensor


def _silu_derivatives(t: Tensor, order: int) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """silu(t) = t*s(t) and its derivatives: silu' = s(1 + t(1-s)), silu'' = s(1-s)(2 + t(1-2s))."""
    s = torch.sigmoid(t)
    value = t * s
    d1 = s * (1 + t * (1 - s)) if order >= 1 else None
    d2 = s * (1 - s) * (2 + t * (1 - 2 * s)) if order >= 2 else None
    return value, d1, d2


def _default_input_range(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """State dicts written before layers recorded their input range load with an empty range."""
    key = prefix + "input_range"
    if key not in state and any(name.startswith(prefix) for name in state):
        state[key] = module.get_buffer("input_range").clone()


class KANLayer(nn.Module):
    """A fully connected layer of B-spline + SiLU edge functions.

    Args:
        in_dim: number of inputs.
        out_dim: number of outputs.
        grid_size: intervals of each input's spline grid on ``grid_range``.
        spline_order: B-spline degree k.
        grid_range: ``(lower, upper)`` of the initial uniform grid.
        noise_scale: standard deviation of the initial spline coefficients.
        generator: random source for the initialisation.
        dtype: of the parameters and buffers.
        device: of the parameters and buffers.

    Shapes:
        forward: ``(n_points, in_dim) -> (n_points, out_dim)``.

    Raises:
        ValueError: ``in_dim``, ``out_dim``, ``grid_size`` or ``spline_order`` is not an integer >= 1.
    """

    grid: Tensor  # buffer (in_dim, grid_size + 2k + 1): the knots of each input's spline
    mask: Tensor  # buffer (in_dim, out_dim): 1 for a live edge, 0 for a pruned one
    input_range: Tensor  # buffer (in_dim, 2): lower, upper of the inputs seen; (+inf, -inf) when none

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.1,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("grid_size", grid_size),
                            ("spline_order", spline_order)):  # fmt: skip
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        dtype = dtype or torch.get_default_dtype()
        self.in_dim = int(in_dim)
        self.out_dim = int(out_dim)
        self.spline_order = int(spline_order)
        knots = spline.uniform_knots(
            grid_size, spline_order, grid_range[0], grid_range[1], in_dim=in_dim, dtype=dtype, device=device
        )
        self.register_buffer("grid", knots)
        self.register_buffer("mask", torch.ones(in_dim, out_dim, dtype=dtype, device=device))
        # The range each input has taken (lower, upper): grid extension keeps the function on it. Empty
        # (+inf, -inf) until something is recorded; saved with the model.
        empty = torch.tensor([math.inf, -math.inf], dtype=dtype, device=device)
        self.register_buffer("input_range", empty.repeat(in_dim, 1))
        self._register_load_state_dict_pre_hook(_default_input_range, with_module=True)
        self.grid_is_uniform = True
        n_basis = grid_size + spline_order
        # drawn in float64 whatever the dtype: the same seed gives the same network in float32 and float64
        noise = torch.randn(in_dim, out_dim, n_basis, generator=generator, dtype=torch.float64).to(dtype) * noise_scale
        self.coef = nn.Parameter(noise.to(device))
        # A positive, deterministic base scale: with pykan's random-sign scales, small networks such as [2,1,1]
        # land in a poor local minimum for about half the seeds; with 1/sqrt(in_dim) they did not (8/8 seeds).
        self.scale_base = nn.Parameter(torch.full((in_dim, out_dim), 1 / in_dim**0.5, dtype=dtype, device=device))
        self.scale_spline = nn.Parameter(torch.full((in_dim, out_dim), 1 / in_dim**0.5, dtype=dtype, device=device))

    @property
    def grid_size(self) -> int:
        """Number of grid intervals of each input's spline."""
        return self.grid.shape[1] - 2 * self.spline_order - 1

    @property
    def has_recorded_range(self) -> bool:
        """Whether any input has been recorded (see :meth:`record_range_`)."""
        return bool((self.input_range[:, 0] <= self.input_range[:, 1]).any())

    def record_range_(self, x: Tensor) -> None:
        """Widen :attr:`input_range` to cover the finite values of the layer inputs ``x`` (in place).

        Shapes:
            x: ``(n_points, in_dim)``.
        """
        self._check_input(x)
        with torch.no_grad():
            x = x.detach().to(self.input_range)
            finite = torch.isfinite(x)
            lo = torch.where(finite, x, math.inf).amin(dim=0) if len(x) else self.input_range[:, 0]
            hi = torch.where(finite, x, -math.inf).amax(dim=0) if len(x) else self.input_range[:, 1]
            self.input_range[:, 0] = torch.minimum(self.input_range[:, 0], lo)
            self.input_range[:, 1] = torch.maximum(self.input_range[:, 1], hi)

    @property
    def grid_range(self) -> Tensor:
        """Ends of each input's interior grid, shape ``(in_dim, 2)``."""
        k = self.spline_order
        return torch.stack([self.grid[:, k], self.grid[:, -k - 1]], dim=1)

    def get_extra_state(self) -> dict[str, Any]:
        return {"grid_is_uniform": self.grid_is_uniform}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.grid_is_uniform = bool(state["grid_is_uniform"])

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, grid_size={self.grid_size}, k={self.spline_order}"

    def _check_input(self, x: Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"layer input must have shape (n_points, {self.in_dim}), got {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        """Sum of the edge functions at ``x``. Shapes: ``(n_points, in_dim) -> (n_points, out_dim)``."""
        return self.edge_derivatives(x, order=0).node_sum(0)

    def edge_derivatives(self, x: Tensor, *, order: int = 2, composable: bool = False) -> EdgeDerivatives:
        """Every edge function and (for ``order`` >= 1, 2) its derivatives at the layer input.

        Args:
            x: layer inputs.
            order: 0 (values only), 1 or 2: the highest derivative computed.
            composable: use plain autograd operations only, so that ``torch.func`` transforms (vmap, jacrev) and
                nested autograd work; otherwise second-order jets use a faster hand-written backward pass.

        Shapes:
            x: ``(n_points, in_dim)``; see :class:`~kanpde.kan.jet.EdgeDerivatives`.
        """
        self._check_input(x)
        table = pieces.spline_pieces(
            self.coef * (self.scale_spline * self.mask).unsqueeze(-1),
            self.grid,
            self.spline_order,
            uniform=self.grid_is_uniform,
        )
        location = pieces.locate(x, self.grid, uniform=self.grid_is_uniform)
        if order == 2 and not composable:  # the jet path: a hand-written backward (once differentiable)
            splines = pieces.evaluate_pieces_jet(table, location, x)
        else:
            splines = pieces.evaluate_pieces(table, location, order)
        padded = (list(splines) + [None, None])[:3]
        return EdgeDerivatives(tuple(padded), _silu_derivatives(x, order), self.scale_base * self.mask)  # type: ignore[arg-type]

    def edge_activations(self, x: Tensor) -> EdgeActivations:
        """Per-edge activations with their spline and base parts (for regularisation, pruning, plots, symbolic)."""
        self._check_input(x)
        k = self.spline_order
        local = spline.local_basis(x, self.grid, k, uniform=self.grid_is_uniform)
        spline_values = spline.evaluate_spline(local, self.coef, k)
        base = nn.functional.silu(x)
        acts = (self.scale_base * base.unsqueeze(-1) + self.scale_spline * spline_values) * self.mask
        return EdgeActivations(x, acts, spline_values, base)
