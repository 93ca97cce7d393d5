"""KAN: a stack of :class:`~kanpde.kan.layer.KANLayer` with plain and jet forward passes."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import torch
from torch import Tensor, nn

from . import grid as grid_ops
from .jet import Jet, input_jet_step, propagate_jet
from .layer import EdgeActivations, KANLayer

if TYPE_CHECKING:
    from .training import FitHistory

__all__ = ["KAN", "validate_width", "validate_seed"]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def validate_width(width: object) -> list[int]:
    """Check a KAN width (a list of at least two positive integers) and return it as a list of ints."""
    if isinstance(width, (str, bytes)) or not isinstance(width, Sequence):
        raise TypeError(f"width must be a list of layer sizes such as [2, 10, 1], got {width!r}")
    if len(width) < 2:
        raise ValueError(f"width must name at least an input and an output size, e.g. [2, 10, 1]; got {list(width)}")
    bad = [w for w in width if not _is_int(w) or int(w) < 1]
    if bad:
        raise ValueError(f"width must contain positive integers, got {list(width)} (bad entries: {bad})")
    return [int(w) for w in width]


MAX_SEED = 2**62
"""Largest seed (torch generators take 64-bit seeds; the solver derives further seeds by adding to it)."""


def validate_seed(seed: object, name: str = "seed") -> int:
    """An integer seed in ``0 ... MAX_SEED`` (TypeError for non-integers, ValueError out of range)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in 0 ... 2**62, got {seed!r}")
    return int(seed)


def _validate_int(name: str, value: object, minimum: int) -> int:
    if not _is_int(value) or int(value) < minimum:  # type: ignore[call-overload]
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


class LayerList(nn.ModuleList):
    """The layers of a :class:`KAN`: an ``nn.ModuleList`` whose items are :class:`KANLayer` (typed as such)."""

    def __iter__(self) -> Iterator[KANLayer]:
        return super().__iter__()  # type: ignore[return-value]

    @overload
    def __getitem__(self, index: slice) -> LayerList: ...

    @overload
    def __getitem__(self, index: int) -> KANLayer: ...

    def __getitem__(self, index: int | slice) -> KANLayer | LayerList:
        return super().__getitem__(index)  # type: ignore[return-value]


class KAN(nn.Module):
    """A Kolmogorov-Arnold network: edges carry learnable 1-D functions (B-spline + SiLU), nodes sum.

    Args:
        width: layer sizes, e.g. ``[2, 10, 1]`` (at least two entries).
        grid: grid intervals of every spline on ``grid_range``.
        k: B-spline degree.
        grid_range: ``(lower, upper)`` of the initial uniform grids (inputs of the first layer should lie in it;
            :meth:`update_grid` adapts the grids to data).
        seed: seed of the initialisation, an integer in ``0 ... 2**62`` (a private generator; the global RNG is
            untouched).
        noise_scale: standard deviation of the initial spline coefficients (finite, >= 0).
        dtype: of parameters and buffers (default: torch's default dtype). Inputs must have this dtype: an
            integer or other floating dtype (e.g. float32 points for a float64 model) is a TypeError that says how
            to convert, never a silent conversion.
        device: of parameters and buffers (default: CPU).

    Shapes:
        forward: ``(n_points, width[0]) -> (n_points, width[-1])``.

    Example:
        >>> import torch, kanpde as kp
        >>> model = kp.KAN(width=[2, 5, 1], grid=5, k=3, seed=0, dtype=torch.float64)
        >>> model(torch.zeros(4, 2, dtype=torch.float64)).shape
        torch.Size([4, 1])
    """

    width: list[int]
    seed: int
    refine_error: float
    layers: LayerList

    def __init__(
        self,
        width: Sequence[int],
        grid: int = 5,
        k: int = 3,
        *,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        seed: int = 0,
        noise_scale: float = 0.1,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.width = validate_width(width)
        grid = _validate_int("grid", grid, 1)
        k = _validate_int("k", k, 1)
        lower, upper = (float(v) for v in grid_range)
        if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
            raise ValueError(f"grid_range must be finite (lower, upper) with lower < upper, got {grid_range!r}")
        if isinstance(noise_scale, bool) or not isinstance(noise_scale, numbers.Real):
            raise TypeError(f"noise_scale must be a real number >= 0, got {noise_scale!r}")
        if not (math.isfinite(noise_scale) and noise_scale >= 0):
            raise ValueError(f"noise_scale must be a finite number >= 0, got {noise_scale!r}")
        self.seed = validate_seed(seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.refine_error = 0.0  # set by refine/update_grid: the largest change of an edge function
        self.layers = LayerList(
            KANLayer(
                n_in,
                n_out,
                grid_size=grid,
                spline_order=k,
                grid_range=(lower, upper),
                noise_scale=noise_scale,
                generator=generator,
                dtype=dtype,
                device=device,
            )
            for n_in, n_out in zip(self.width[:-1], self.width[1:])
        )

    @classmethod
    def from_layers(cls, layers: Sequence[KANLayer], *, seed: int = 0) -> KAN:
        """A KAN made of existing layers (used by :meth:`refine` and :meth:`prune`)."""
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.width = [layers[0].in_dim] + [layer.out_dim for layer in layers]
        model.seed = seed
        model.refine_error = 0.0
        model.layers = LayerList(layers)
        return model

    @property
    def grid_size(self) -> int:
        """Grid intervals of the splines (that of the first layer; all layers share it unless edited)."""
        return self.layers[0].grid_size

    @property
    def spline_order(self) -> int:
        return self.layers[0].spline_order

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].coef.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].coef.device

    def _check_input(self, x: Tensor, name: str = "x") -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (n_points, {self.width[0]}), got {type(x)}")
        if x.ndim != 2 or x.shape[1] != self.width[0]:
            raise ValueError(f"{name} must have shape (n_points, {self.width[0]}), got {tuple(x.shape)}")
        if x.dtype != self.dtype:  # no silent conversion: an integer or a lower precision input is a mistake
            raise TypeError(
                f"{name} must have the model's dtype {self.dtype}, got {x.dtype}; convert it with "
                f"{name}.to({self.dtype}) (or build the KAN with dtype={x.dtype} for floating inputs)"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Network output. Shapes: ``(n_points, width[0]) -> (n_points, width[-1])``."""
        self._check_input(x)
        for layer in self.layers:
            x = layer(x)
        return x

    def jet(
        self,
        x: Tensor,
        *,
        laplacian: bool = True,
        hessian: bool = False,
        laplacian_dims: Sequence[int] | None = None,
        input_scale: Tensor | None = None,
        composable: bool = False,
    ) -> Jet:
        """Outputs with their input gradients and Laplacians (and Hessians on request), in closed form.

        One forward sweep; differentiable in the parameters, so ``loss(jet).backward()`` is the only reverse
        pass a PDE loss needs.

        Args:
            x: input points.
            laplacian: propagate the Laplacian over ``laplacian_dims``.
            hessian: propagate the full Hessian.
            laplacian_dims: input columns the Laplacian sums over (default: all), e.g. the spatial ones.
            input_scale: when the inputs are ``s * x + c`` for coordinates ``x``, the factors ``s`` (shape
                ``(n_in,)``): derivatives are then taken with respect to ``x``.
            composable: plain autograd operations only (for ``torch.func`` transforms and nested autograd).

        Shapes:
            x: ``(n_points, n_in)``; returns a :class:`~kanpde.kan.jet.Jet` with value ``(n_points, n_out)``,
            grad ``(n_points, n_out, n_in)``, lap ``(n_points, n_out)``, hess ``(n_points, n_out, n_in, n_in)``.
        """
        self._check_input(x)
        order = 2 if (laplacian or hessian) else 1
        first, *rest = self.layers
        jet = input_jet_step(
            first.edge_derivatives(x, order=order, composable=composable),
            laplacian=laplacian,
            hessian=hessian,
            laplacian_dims=laplacian_dims,
            input_scale=input_scale,
        )
        for layer in rest:
            edges = layer.edge_derivatives(jet.value, order=order, composable=composable)
            jet = propagate_jet(jet, edges, laplacian_dims=laplacian_dims)
        return jet

    def trace(self, x: Tensor) -> list[EdgeActivations]:
        """Every layer's edge activations on ``x`` (inputs, per-edge outputs, spline and base parts)."""
        self._check_input(x)
        out = []
        for layer in self.layers:
            acts = layer.edge_activations(x)
            out.append(acts)
            x = acts.activations.sum(dim=1)
        return out

    def record_ranges(self, x: Tensor) -> KAN:
        """Record the range every layer's inputs take on ``x`` (in place; returns self).

        :meth:`refine` keeps the function on the recorded ranges. :meth:`fit` and :meth:`update_grid` record their
        data themselves, and so does the PDE solver with its points; call this after training the model any other
        way. Non-finite values are ignored.

        Shapes:
            x: ``(n_points, width[0])``.
        """
        self._check_input(x)
        with torch.no_grad():
            for layer in self.layers:
                layer.record_range_(x)
                x = layer(x)
        return self

    def used_ranges(self) -> list[Tensor]:
        """Where each layer's function is kept by :meth:`refine`: its knot range and recorded inputs, ``(in_dim, 2)``.

        A layer that has recorded nothing (a fresh model) uses the bounds of what the layer before it can
        produce on that layer's used range.
        """
        ranges: list[Tensor] = []
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                fallback = grid_ops.image_range(self.layers[i - 1], ranges[-1]) if i else None
                ranges.append(grid_ops.used_range(layer, fallback))
        return ranges

    def refine(self, grid: int, x: Tensor | None = None, *, allow_coarser: bool = False, k: int | None = None) -> KAN:
        """Grid extension: a NEW model on a finer grid that computes the SAME function where the model was used.

        Every layer keeps the function on its knot range and on every input it has recorded (by :meth:`fit`,
        :meth:`update_grid`, :meth:`record_ranges`, the PDE solver, or ``x`` given here). Each old interval is cut
        into ``grid // current grid`` equal parts, and where the recorded inputs leave the old grid, cells of the
        same width continue it as far as the old spline reaches, then cells doubling in width; the old spline lies
        in the new space, so the refit is exact to rounding (``refine_error`` of the result: the largest change of
        an edge function). A layer may therefore get a
        few more than ``grid`` intervals (each layer's ``grid_size`` says how many). See
        :func:`~kanpde.kan.grid.refined_layer`.

        Args:
            grid: the number of intervals asked for (>= the current grid size).
            x: inputs to record before refining (optional), e.g. new training points.
            allow_coarser: allow ``grid`` below the current size: a uniform grid of ``grid`` intervals over the
                used range, by least squares (not exact: ``refine_error`` says how much changed, and a warning).
            k: a higher spline degree for the new model (degree elevation, e.g. ``k=5`` after training cubic
                splines on a coarse grid): the L2 projection onto the smoother splines, close but not exact
                (``refine_error`` says how much changed). Default: keep the degree.

        Raises:
            ValueError: ``grid`` is not a positive integer, or is coarser than the current grid without
                ``allow_coarser=True``; ``k`` is not an integer from the current degree to 20.

        Shapes:
            x: ``(n_points, width[0])`` or None.

        Example:
            >>> import torch, kanpde as kp
            >>> model = kp.KAN(width=[2, 3, 1], grid=5, seed=0, dtype=torch.float64)
            >>> x = torch.rand(100, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
            >>> fine = model.refine(10)
            >>> bool((fine(x) - model(x)).abs().max() < 1e-12)
            True
        """
        grid = _validate_int("grid", grid, 1)
        coarser = grid < min(layer.grid_size for layer in self.layers)
        if coarser and not allow_coarser:
            raise ValueError(
                f"grid={grid} is coarser than the current grid ({self.grid_size}): refine extends grids; pass "
                "allow_coarser=True to project onto a coarser grid (the function is then only approximated)"
            )
        current_k = self.spline_order
        if k is not None:
            k = _validate_int("k", k, 1)
            if not current_k <= k <= 20:
                raise ValueError(f"k must be an integer from the current spline degree {current_k} to 20, got {k}")
        if x is not None:
            self.record_ranges(x)
        covers = self.used_ranges()
        layers, change = [], 0.0
        for layer, cover in zip(self.layers, covers):
            if coarser:
                new_layer, layer_change = grid_ops.coarsened_layer(layer, grid, cover, spline_order=k)
            else:
                new_layer, layer_change = grid_ops.refined_layer(layer, grid, cover, spline_order=k)
            layers.append(new_layer)
            change = max(change, layer_change)
        refined = KAN.from_layers(layers, seed=self.seed)
        refined.refine_error = change
        if coarser:
            warnings.warn(
                f"refine to the coarser grid {grid}: edge functions changed by up to {change:.3g}", stacklevel=2
            )
        return refined

    def update_grid(self, x: Tensor, *, grid_eps: float = 0.02) -> KAN:
        """Move every layer's knots to follow the distribution of its inputs on ``x`` (in place); returns self.

        Layer by layer: the inputs of layer ``l`` are computed with the already-updated layers before it. The
        splines are refit by least squares on the hull of the inputs and the range recorded before, so the function
        is kept there to the accuracy of the new knots (``refine_error`` says how much it changed); then ``x`` is
        recorded.

        Raises:
            ValueError: ``x`` holds NaN or inf (the model is left unchanged).
        """
        self._adapt_grids(x, grid_eps=grid_eps, keep=[layer.input_range.clone() for layer in self.layers])
        return self.record_ranges(x)

    def _adapt_grids(self, x: Tensor, *, grid_eps: float, keep: Sequence[Tensor] | None) -> None:
        """Move the knots to follow ``x``, keeping the function on ``keep[l]`` too (nothing is recorded)."""
        self._check_input(x)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite for update_grid: it holds NaN or inf (the model was not changed)")
        change = 0.0
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                kept = None if keep is None else keep[i]
                change = max(change, grid_ops.adapt_layer_grid_(layer, x, grid_eps=grid_eps, keep=kept))
                x = layer(x)
        self.refine_error = change

    def fit(self, x: Tensor, y: Tensor, *, steps: int = 100, **options: Any) -> FitHistory:
        """Train on ``(x, y)`` (L-BFGS by default). See :func:`kanpde.kan.training.fit` for the options."""
        from .training import fit

        return fit(self, x, y, steps=steps, **options)

    def prune(self, *, threshold: float = 1e-2, x: Tensor | None = None) -> KAN:
        """A NEW, smaller KAN without the hidden nodes whose incoming and outgoing edges are all weak.

        See :func:`kanpde.kan.prune.pruned`.
        """
        from .prune import pruned

        return pruned(self, threshold=threshold, x=x)

    def plot(self, x: Tensor | None = None, **options: Any) -> Any:
        """Draw the network with each edge's activation curve; returns a matplotlib Figure."""
        from ..plot.network import plot_network

        return plot_network(self, x=x, **options)

    def auto_symbolic(self, x: Tensor | None = None, **options: Any) -> Any:
        """Fit every edge with a library function; returns a :class:`~kanpde.symbolic.SymbolicNetwork`.

        ``x`` defaults to points on the first layer's grid range. See :func:`kanpde.symbolic.auto_symbolic` for
        the options (``y``, ``library``, ``exact_rtol``, ...); the result's ``report`` says how exact it is.
        """
        from ..symbolic import auto_symbolic

        return auto_symbolic(self, x, **options)

    def symbolic_formula(self, x: Tensor | None = None, variables: Sequence[str] | None = None, **options: Any) -> Any:
        """The network as one simplified sympy expression (via :meth:`auto_symbolic`; check its ``report``)."""
        return self.auto_symbolic(x, **options).formula(variables)
