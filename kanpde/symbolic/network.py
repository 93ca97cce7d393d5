"""SymbolicNetwork: a KAN's structure with every edge a library function ``c*f(a*x + b) + d``.

The affine constants are trainable parameters; each can be frozen at an exact sympy value (the canonical ones a
function fixes, such as ``a = 1`` for powers, and the snapped ones). :meth:`SymbolicNetwork.formula` composes the
edges and node sums into one sympy expression.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from typing import Any

import sympy
import torch
from torch import Tensor, nn

from ..pde.safe_expr import expression_text, parse_expression
from . import refit
from .fit import SymbolicFit, degeneracy
from .library import current_library
from .report import EdgeReport, SymbolicReport
from .simplify import rationalize_floats, simplify_expression

__all__ = ["SymbolicLayer", "SymbolicNetwork", "default_variables"]

Snapshot = tuple[dict[str, Tensor], list[dict[tuple[int, int, int], sympy.Expr]]]


class SymbolicLayer(nn.Module):
    """Edges ``c_ij*f_ij(a_ij*x_i + b_ij) + d_ij`` summed at each output node.

    ``frozen[k, i, j]`` marks constant ``k`` (a, b, c, d) of edge ``(i, j)`` as fixed (canonical or snapped);
    ``exact`` holds the exact sympy value of fixed constants, keyed by ``(k, i, j)``.

    Shapes:
        forward: ``(n_points, in_dim) -> (n_points, out_dim)``.
    """

    frozen: Tensor
    inverse: Tensor

    def __init__(self, functions: Sequence[Sequence[str]], *, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.functions = [list(row) for row in functions]
        self.library = current_library()  # the entries named here, also after the call that built the layer
        self.in_dim, self.out_dim = len(self.functions), len(self.functions[0])
        shape = (self.in_dim, self.out_dim)
        self.a = nn.Parameter(torch.ones(shape, dtype=dtype))
        self.b = nn.Parameter(torch.zeros(shape, dtype=dtype))
        self.c = nn.Parameter(torch.ones(shape, dtype=dtype))
        self.d = nn.Parameter(torch.zeros(shape, dtype=dtype))
        self.register_buffer("frozen", torch.zeros((4, *shape), dtype=torch.bool))
        self.exact: dict[tuple[int, int, int], sympy.Expr] = {}
        flat = [name for row in self.functions for name in row]
        self.groups = {name: [k for k, n in enumerate(flat) if n == name] for name in dict.fromkeys(flat)}
        order = torch.tensor([k for idx in self.groups.values() for k in idx])
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        for i, j in self.edges():
            entry = self.library[self.functions[i][j]]
            if entry.a_mode in ("one", "sign") or entry.name == "0":
                self.fix(0, i, j, sympy.Integer(1))
            if entry.b_mode == "zero" or entry.name == "0":
                self.fix(1, i, j, sympy.Integer(0))
            if entry.name == "0":
                self.fix(2, i, j, sympy.Integer(0))

    def edges(self) -> Iterable[tuple[int, int]]:
        return ((i, j) for i in range(self.in_dim) for j in range(self.out_dim))

    def parameter(self, k: int) -> nn.Parameter:
        return (self.a, self.b, self.c, self.d)[k]

    def fix(self, k: int, i: int, j: int, value: sympy.Expr) -> None:
        """Set constant ``k`` of edge ``(i, j)`` to the exact ``value`` and freeze it."""
        with torch.no_grad():
            self.parameter(k)[i, j] = float(value)
            self.frozen[k, i, j] = True
        self.exact[(k, i, j)] = value

    def set_edge(self, i: int, j: int, fit: SymbolicFit) -> None:
        """Start edge ``(i, j)`` from a fit (constants that the fit's function fixes stay fixed)."""
        if self.functions[i][j] != fit.name:
            raise ValueError(f"edge ({i}, {j}) holds {self.functions[i][j]!r}, not {fit.name!r}")
        if fit.function.a_mode == "sign":
            self.fix(0, i, j, sympy.Integer(1 if fit.a > 0 else -1))
        with torch.no_grad():
            for k, value in enumerate((fit.a, fit.b, fit.c, fit.d)):
                if not self.frozen[k, i, j]:
                    self.parameter(k)[i, j] = value

    def constant(self, k: int, i: int, j: int) -> sympy.Expr:
        """Constant ``k`` of edge ``(i, j)``: exact when fixed, else a sympy Float."""
        return self.exact.get((k, i, j), sympy.Float(float(self.parameter(k).detach()[i, j])))

    def edge_expr(self, i: int, j: int, arg: sympy.Expr) -> sympy.Expr:
        a, b, c, d = (self.constant(k, i, j) for k in range(4))
        return c * self.library[self.functions[i][j]].sympy_fn(a * arg + b) + d

    def _edge_values(self, u: Tensor, derivative: bool) -> tuple[Tensor, Tensor | None]:
        """``f_ij(u_ij)`` (and ``f_ij'(u_ij)`` by autograd), shapes ``(n_points, in_dim, out_dim)``."""
        flat = u.flatten(1)
        values, slopes = [], []
        for name, idx in self.groups.items():
            piece = flat[:, idx]
            if derivative:
                piece = piece.detach().requires_grad_(True)
                with torch.enable_grad():
                    value = self.library[name].torch_fn(piece)
                    slopes.append(torch.autograd.grad(value.sum(), piece)[0] if value.requires_grad else value * 0)
                value = value.detach()
            else:
                value = self.library[name].torch_fn(piece)
            values.append(value)
        shape = (-1, self.in_dim, self.out_dim)
        phi = torch.cat(values, dim=1)[:, self.inverse].view(shape)
        slope = torch.cat(slopes, dim=1)[:, self.inverse].view(shape) if derivative else None
        return phi, slope

    def forward(self, x: Tensor) -> Tensor:
        phi = self._edge_values(self.a * x.unsqueeze(2) + self.b, derivative=False)[0]
        return (self.c * phi + self.d).sum(dim=1)

    def jacobian_step(self, x: Tensor, dx: Tensor | None) -> tuple[Tensor, Tensor]:
        """Outputs and their Jacobian with respect to all earlier constants and this layer's ``(a, b, c, d)``.

        Shapes:
            x: ``(n_points, in_dim)``; dx: ``(n_points, in_dim, n_before)`` or None; returns
            ``(n_points, out_dim)`` and ``(n_points, out_dim, n_before + 4*in_dim*out_dim)`` (this layer's
            columns ordered as ``torch.cat([a.flatten(), b.flatten(), c.flatten(), d.flatten()])``).
        """
        with torch.no_grad():
            u = self.a * x.unsqueeze(2) + self.b
            phi, slope = self._edge_values(u, derivative=True)
            assert slope is not None
            c_slope = self.c * slope  # d(edge)/du
            parts = [c_slope * x.unsqueeze(2), c_slope, phi, torch.ones_like(phi)]  # d(edge)/d(a, b, c, d)
            # d(out_j)/d(theta_ij) = part_ij, and 0 for the constants of other outputs
            local = torch.stack([torch.diag_embed(p) for p in parts], dim=3)  # (n, in, out, 4, out)
            local = local.permute(0, 4, 3, 1, 2).reshape(x.shape[0], self.out_dim, -1)
            out = (self.c * phi + self.d).sum(dim=1)
            if dx is None:
                return out, local
            chain = torch.einsum("nio,nip->nop", c_slope * self.a, dx)
            return out, torch.cat([chain, local], dim=2)

    def get_extra_state(self) -> dict[str, Any]:
        # Exact constants as strings of the whitelist grammar: data that loads without running code.
        return {"functions": self.functions, "exact": {k: expression_text(v) for k, v in self.exact.items()}}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or set(state) != {"functions", "exact"} or not isinstance(state["exact"], dict):
            raise ValueError("the saved layer state must be a dict with 'functions' and 'exact' (a dict of strings)")
        if state["functions"] != self.functions:
            raise ValueError("the saved layer has other edge functions; build the network from the same functions")
        exact: dict[tuple[int, int, int], sympy.Expr] = {}
        for key, text in state["exact"].items():
            index = tuple(key) if isinstance(key, (tuple, list)) else ()
            shape = (4, self.in_dim, self.out_dim)
            if len(index) != 3 or not all(type(n) is int and 0 <= n < m for n, m in zip(index, shape)):
                raise ValueError(f"the saved layer names constant {key!r}; expected (k, i, j) below {shape}")
            value = parse_expression(text, what=f"exact constant {index} of the saved layer")
            if not value.is_number or not value.is_real:
                raise ValueError(f"exact constant {index} of the saved layer is not a real number: {value}")
            exact[index] = value  # type: ignore[assignment]
        self.exact = exact


def default_variables(n: int) -> tuple[str, ...]:
    """Input names: x, y, z, t (in that order) for up to four inputs, else x1, x2, ..."""
    return ("x", "y", "z", "t")[:n] if n <= 4 else tuple(f"x{i + 1}" for i in range(n))


class SymbolicNetwork(nn.Module):
    """A KAN's structure with every edge a fitted library function ``c*f(a*x + b) + d`` (float64).

    Args:
        functions: ``functions[l][i][j]`` names the function of edge ``i -> j`` of layer ``l``.

    Attributes:
        fits: the chosen :class:`~kanpde.symbolic.fit.SymbolicFit` of each edge, keyed by ``(layer, i, j)``.
        report: the :class:`~kanpde.symbolic.report.SymbolicReport` of
            :func:`~kanpde.symbolic.extract.auto_symbolic` (``None`` until assessed).

    Shapes:
        forward: ``(n_points, width[0]) -> (n_points, width[-1])``.
    """

    width: list[int]

    def __init__(self, functions: Sequence[Sequence[Sequence[str]]]) -> None:
        super().__init__()
        layers = [SymbolicLayer(f) for f in functions]
        self.layers = nn.ModuleList(layers)
        self.width = [layers[0].in_dim] + [layer.out_dim for layer in layers]
        self.fits: dict[tuple[int, int, int], SymbolicFit] = {}
        self.report: SymbolicReport | None = None

    def symbolic_layers(self) -> list[SymbolicLayer]:
        """The layers, typed."""
        return list(self.layers)  # type: ignore[arg-type]

    def forward(self, x: Tensor) -> Tensor:
        """Network output. Shapes: ``(n_points, width[0]) -> (n_points, width[-1])``."""
        if x.ndim != 2 or x.shape[1] != self.width[0]:
            raise ValueError(f"x must have shape (n_points, {self.width[0]}), got {tuple(x.shape)}")
        for layer in self.layers:
            x = layer(x)
        return x

    def flat_constants(self) -> tuple[Tensor, Tensor]:
        """All constants as one vector (layer by layer, a, b, c, d, each row-major) and which are free."""
        layers = self.symbolic_layers()
        values = torch.cat([layer.parameter(k).detach().flatten() for layer in layers for k in range(4)])
        free = torch.cat([~layer.frozen[k].flatten() for layer in layers for k in range(4)])
        return values, free

    def set_flat_constants(self, values: Tensor) -> None:
        """Write a vector laid out as in :meth:`flat_constants` into the parameters."""
        offset = 0
        with torch.no_grad():
            for layer in self.symbolic_layers():
                for k in range(4):
                    p = layer.parameter(k)
                    p.copy_(values[offset : offset + p.numel()].view_as(p))
                    offset += p.numel()

    def jacobian(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs and their Jacobian with respect to :meth:`flat_constants` (in closed form, layer by layer).

        Shapes:
            x: ``(n_points, width[0])``; returns ``(n_points, width[-1])``, ``(n_points, width[-1], n_constants)``.
        """
        dx = None
        for layer in self.symbolic_layers():
            x, dx = layer.jacobian_step(x, dx)
        assert dx is not None
        return x, dx

    def _data(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        x = x.detach().to(torch.float64)
        y = y.detach().to(torch.float64)
        if y.ndim == 1:
            y = y.unsqueeze(1)
        if x.ndim != 2 or x.shape[1] != self.width[0] or y.shape != (x.shape[0], self.width[-1]):
            raise ValueError(
                f"x, y must have shapes (n_points, {self.width[0]}), (n_points, {self.width[-1]}); "
                f"got {tuple(x.shape)}, {tuple(y.shape)}"
            )
        return x, y

    def degeneracy(self, x: Tensor) -> dict[tuple[int, int, int], float]:
        """Each live edge's :func:`~kanpde.symbolic.fit.degeneracy` on the inputs it sees at ``x``: large when the
        edge uses a sliver of its function as a stand-in for a polynomial (``c = 0`` edges are left out)."""
        out = {}
        with torch.no_grad():
            for l, layer in enumerate(self.symbolic_layers()):
                for i, j in layer.edges():
                    if float(layer.c[i, j]) != 0.0:
                        entry = layer.library[layer.functions[i][j]]
                        out[(l, i, j)] = degeneracy(entry, x[:, i], layer.a[i, j], layer.b[i, j])
                x = layer(x)
        return out

    def rmse(self, x: Tensor, y: Tensor) -> float:
        """Root mean squared error against ``y`` on ``x`` (inf when the network is not finite there)."""
        x, y = self._data(x, y)
        with torch.no_grad():
            value = float(torch.sqrt(torch.mean((self(x) - y) ** 2)))
        return value if math.isfinite(value) else math.inf

    def snapshot(self) -> Snapshot:
        """A copy of the constants, frozen flags and exact values (for :meth:`restore`)."""
        return copy.deepcopy(self.state_dict()), [dict(layer.exact) for layer in self.symbolic_layers()]

    def restore(self, state: Snapshot) -> None:
        """Go back to a :meth:`snapshot`."""
        self.load_state_dict(state[0])
        for layer, exact in zip(self.symbolic_layers(), state[1]):
            layer.exact = dict(exact)

    def retrain(self, x: Tensor, y: Tensor, *, steps: int = 100, method: refit.RetrainMethod = "lm") -> float:
        """Refit the free affine constants to ``(x, y)`` in place; returns the RMSE.

        Args:
            x: inputs.
            y: targets at ``x``.
            steps: iterations.
            method: ``"lm"`` (Levenberg-Marquardt, default: converges to rounding in a few iterations) or
                ``"lbfgs"`` (L-BFGS with strong-Wolfe line search, divergence guarded); see
                :mod:`kanpde.symbolic.refit`.

        Shapes:
            x: ``(n_points, width[0])``; y: ``(n_points, width[-1])`` or ``(n_points,)`` for one output.
        """
        x, y = self._data(x, y)
        if method == "lm":
            return refit.retrain_lm(self, x, y, steps)
        if method == "lbfgs":
            return refit.retrain_lbfgs(self, x, y, steps)
        raise ValueError(f"method must be 'lm' or 'lbfgs', got {method!r}")

    def snap_constants(
        self,
        x: Tensor,
        y: Tensor,
        *,
        rtol: float = 0.1,
        atol: float | None = None,
        window: float = 0.05,
        retrain_steps: int = 30,
        method: refit.RetrainMethod = "lm",
    ) -> list[str]:
        """Round free constants to simple exact values where that does not raise the error (in place).

        Candidates (:func:`~kanpde.symbolic.constants.simple_values`): 0 and +-1 first for every constant, then
        integers, ``p/q``, multiples of pi, e, sqrt(2), sqrt(3) within ``window`` of it, nearest first. Each trial
        fixes the constant, retrains the others, and is kept when the RMSE on ``(x, y)`` stays within
        ``min((1 + rtol) * rmse_before, rmse_before + 0.01 * std(y)) + atol`` (a fixed reference, so errors cannot
        creep up snap after snap; the cap keeps a poor fit from snapping wholesale); otherwise the previous state
        is restored.

        Args:
            x: inputs (the KAN's training data).
            y: targets at ``x`` (the training data, or the KAN's outputs).
            rtol: the relative tolerance.
            atol: the absolute tolerance (default: 1e-8 times the larger of ``y``'s std and max).
            window: relative distance within which non-trivial candidates are tried.
            retrain_steps: iterations of the retraining after each trial.
            method: the retraining optimiser (see :meth:`retrain`).

        Returns:
            The snapped constants, e.g. ``["layer 0 edge 0->0 a = pi", ...]``.
        """
        x, y = self._data(x, y)
        options = dict(rtol=rtol, atol=atol, window=window, retrain_steps=retrain_steps, method=method)
        return refit.snap_constants(self, x, y, **options)  # type: ignore[arg-type]

    def formulas(self, variables: Sequence[str | sympy.Symbol] | None = None, *, simplify: bool = True) -> list[Any]:
        """One sympy expression per output (see :meth:`formula`)."""
        names = default_variables(self.width[0]) if variables is None else tuple(variables)
        if len(names) != self.width[0]:
            raise ValueError(f"variables must name {self.width[0]} inputs, got {list(names)}")
        nodes: list[Any] = [sympy.Symbol(v) if isinstance(v, str) else v for v in names]
        for layer in self.symbolic_layers():
            nodes = [sum(layer.edge_expr(i, j, nodes[i]) for i in range(layer.in_dim)) for j in range(layer.out_dim)]
        if simplify:
            nodes = [simplify_expression(rationalize_floats(sympy.sympify(e))) for e in nodes]
        return nodes

    def formula(
        self, variables: Sequence[str | sympy.Symbol] | None = None, *, output: int = 0, simplify: bool = True
    ) -> Any:
        """The network as one sympy expression of ``variables`` (default x, y, z, t), for output ``output``.

        Edges and node sums are composed; fixed constants are exact, the others floats. With ``simplify``, floats
        within 1e-10 of a simple rational (or multiple of pi) become exact and the shortest of several sympy
        rewrites is returned (:func:`~kanpde.symbolic.simplify.simplify_expression`).
        """
        return self.formulas(variables, simplify=simplify)[output]

    def assess(
        self,
        x: Tensor,
        y: Tensor,
        *,
        network: nn.Module | None = None,
        exact_rtol: float = 1e-3,
        r2_threshold: float = 0.9999,
    ) -> SymbolicReport:
        """A :class:`SymbolicReport` of this network against ``y`` (and ``network``) on ``x``."""
        x, y = self._data(x, y)
        rmse = self.rmse(x, y)
        spread = float(y.std()) if y.numel() > 1 else 0.0
        relative = rmse / spread if spread > 0 else (0.0 if rmse == 0 else math.inf)
        rmse_network = None
        if network is not None:
            with torch.no_grad():
                rmse_network = self.rmse(x, network(x.to(next(network.parameters()).dtype)))
        edges = tuple(
            EdgeReport(l, i, j, fit.name, fit.r2, fit.rmse, fit.name == "0")
            for (l, i, j), fit in sorted(self.fits.items())
        )
        exact = math.isfinite(relative) and relative <= exact_rtol
        return SymbolicReport(edges, rmse, relative, rmse_network, exact, exact_rtol, r2_threshold)
