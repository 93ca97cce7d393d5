"""From a trained KAN to a formula: fit every edge, retrain the affine constants, snap them, assess.

:func:`auto_symbolic` returns a :class:`~kanpde.symbolic.network.SymbolicNetwork`: the KAN's structure with each
edge replaced by ``c*f(a*x + b) + d`` (trainable ``a, b, c, d``), whose ``report`` says, truthfully, how well each
edge and the whole formula fit. ``report.exact_fit`` is True only when the formula reproduces the target (the data
when given, else the network) to ``exact_rtol``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .fit import MAX_DEGENERACY, SymbolicFit, fit_edge
from .library import Library, SymbolicFunction, resolving_in_library
from .network import SymbolicNetwork
from .refit import RetrainMethod, retrain_lm
from .report import SymbolicReport

if TYPE_CHECKING:
    from ..kan.network import KAN

__all__ = ["auto_symbolic", "SymbolicNetwork", "SymbolicReport", "LibrarySpec"]

Candidates = Iterable[str | SymbolicFunction]
#: Candidates for every edge, or per layer index / per edge ``(layer, i, j)``.
LibrarySpec = Candidates | Mapping[Any, Candidates] | None


def _edge_library(library: LibrarySpec, l: int, i: int, j: int) -> Candidates | None:
    """The candidates of edge ``(l, i, j)``: a mapping is looked up by ``(l, i, j)``, then by ``l`` (default: all)."""
    if isinstance(library, Mapping) and not isinstance(library, Library):
        return library.get((l, i, j), library.get(l))
    return library


Edge = tuple[int, int, int]


def _fit_edges(
    model: KAN, x: Tensor, library: LibrarySpec, zero_tol: float, fit_options: dict[str, Any]
) -> dict[Edge, list[SymbolicFit]]:
    """The ranked candidate fits of every edge, keyed by ``(layer, i, j)``."""
    with torch.no_grad():
        trace = model.trace(x)
    fits: dict[Edge, list[SymbolicFit]] = {}
    for l, (layer, acts) in enumerate(zip(model.layers, trace)):
        spread = acts.activations.amax(dim=0) - acts.activations.amin(dim=0)
        scale = float(spread.max())
        for i in range(acts.activations.shape[1]):
            for j in range(acts.activations.shape[2]):
                if float(layer.mask[i, j]) == 0.0:  # type: ignore[index]  # a pruned edge is exactly zero
                    fits[(l, i, j)] = [SymbolicFit("0", 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)]
                    continue
                options: dict[str, Any] = dict(library=_edge_library(library, l, i, j), scale=scale, zero_tol=zero_tol)
                options.update(fit_options)
                fits[(l, i, j)] = fit_edge(acts.inputs[:, i], acts.activations[:, i, j], **options)
    return fits


def _build(width: list[int], chosen: dict[Edge, SymbolicFit]) -> SymbolicNetwork:
    functions = [
        [[chosen[(l, i, j)].name for j in range(n_out)] for i in range(n_in)]
        for l, (n_in, n_out) in enumerate(zip(width[:-1], width[1:]))
    ]
    network = SymbolicNetwork(functions)
    for (l, i, j), fit in chosen.items():
        network.symbolic_layers()[l].set_edge(i, j, fit)
    network.fits = dict(chosen)
    return network


def _score(network: SymbolicNetwork, x: Tensor, y: Tensor) -> tuple[int, float]:
    """(how many edges degenerate on the data, relative RMSE)."""
    spread = float(y.std()) if y.numel() > 1 else 0.0
    error = network.rmse(x, y) / spread if spread > 0 else network.rmse(x, y)
    degenerate = sum(v > MAX_DEGENERACY for v in network.degeneracy(x.to(torch.float64)).values())
    return degenerate, error


def _alternatives(fits: list[SymbolicFit], current: SymbolicFit, count: int) -> list[SymbolicFit]:
    """The next ``count`` ranked candidates, then the two best simpler ones; without the current choice and without
    candidates that fit exactly as well as it (such as cos for sin: the same family)."""
    if count <= 0:
        return []
    same = [f for f in fits if f is current or abs(f.r2 - current.r2) <= 1e-9 * max(1.0 - current.r2, 1e-12)]
    others = [f for f in fits if f not in same]
    simpler = [f for f in others[count:] if f.complexity < current.complexity]
    return others[:count] + simpler[:2]


def _search_structure(
    width: list[int],
    ranked: dict[Edge, list[SymbolicFit]],
    x: Tensor,
    y: Tensor,
    *,
    alternatives: int,
    exact_rtol: float,
    retrain: dict[str, Any],
) -> SymbolicNetwork:
    """Each edge's first choice, then, while the formula is not exact, a greedy search over the next
    ``alternatives`` candidates and the two best simpler ones of each edge (worst-fitted edges first): a swap is
    kept when the retrained network's error at least halves, or when it leaves fewer degenerate edges (edges that
    retraining has turned into a sliver of their function, see :meth:`SymbolicNetwork.degeneracy`) at most
    doubling the error. Every trial starts from the edge fits, so the constants are consistent."""
    chosen = {edge: fits[0] for edge, fits in ranked.items()}
    best = _build(width, chosen)
    best.retrain(x, y, **retrain)
    degenerate, error = _score(best, x, y)
    for _ in range(2):
        improved = False
        for edge in sorted(ranked, key=lambda e: ranked[e][0].r2):
            if error <= exact_rtol:
                return best
            for alternative in _alternatives(ranked[edge], chosen[edge], alternatives):
                trial_choice = {**chosen, edge: alternative}
                trial = _build(width, trial_choice)
                _quick_retrain(trial, x, y, retrain)
                trial_degenerate, trial_error = _score(trial, x, y)
                if trial_error < 0.5 * error or (trial_degenerate < degenerate and trial_error <= 2 * error):
                    chosen, best, improved = trial_choice, trial, True
                    degenerate, error = trial_degenerate, trial_error
        if not improved:
            break
    best.retrain(x, y, **retrain)  # trials were retrained briefly
    return best


def _quick_retrain(network: SymbolicNetwork, x: Tensor, y: Tensor, retrain: dict[str, Any]) -> None:
    """A trial's retraining: Levenberg-Marquardt stops at 60 iterations or 1e-8 relative progress (a wrong
    structure creeps; a right one converges in a few iterations)."""
    if retrain["method"] == "lm":
        x64, y64 = network._data(x, y)
        retrain_lm(network, x64, y64, min(60, retrain["steps"]), stall=1e-8)
    else:
        network.retrain(x, y, **retrain)


@resolving_in_library
def auto_symbolic(
    model: KAN,
    x: Tensor | None = None,
    y: Tensor | None = None,
    *,
    library: LibrarySpec = None,
    r2_threshold: float = 0.9999,
    exact_rtol: float | None = None,
    zero_tol: float = 1e-3,
    retrain_steps: int = 100,
    snap: bool = True,
    snap_rtol: float = 0.1,
    method: RetrainMethod = "lm",
    alternatives: int = 2,
    fit_options: dict[str, Any] | None = None,
) -> SymbolicNetwork:
    """Replace every edge of a trained KAN by its best library function; retrain, snap and assess the result.

    Each live edge is fitted on its traced inputs (:func:`~kanpde.symbolic.fit.fit_edge`); masked edges, and
    edges whose activation range is below ``zero_tol`` times the largest one of their layer, become "0". The
    affine constants are then retrained on ``(x, target)``; while the result is not exact, runner-up candidates
    of each edge are tried (a noisy edge can fit ``13 - 13*cos(0.4*y)`` better than ``y^2``); finally the
    constants are snapped to simple values
    (:meth:`~kanpde.symbolic.network.SymbolicNetwork.snap_constants`). The target is ``y`` when given (the truth:
    pass the training data when you have it), else the KAN's output.

    Args:
        model: the trained KAN.
        x: sample inputs (default: 1024 points on the first layer's grid range).
        y: target values at ``x`` (default: ``model(x)``).
        library: candidate names or entries for every edge (default: all registered), or a mapping from a layer
            index or an edge ``(layer, i, j)`` to the candidates there (edges not in it: all registered), e.g.
            ``{0: ["x"], 1: ["x^2"]}``; a single candidate fixes the edge's function.
        r2_threshold: edges fitted worse are listed as poor in the report.
        exact_rtol: ``report.exact_fit`` needs the formula's RMSE below this times the target's std (default:
            1e-6 against data ``y``, which an exact formula meets to rounding; 1e-3 against the network's output,
            which is itself only an approximation).
        zero_tol: relative size below which an edge is dropped.
        retrain_steps: iterations of the retraining after fitting the edges.
        snap: snap constants to simple values.
        snap_rtol: relative error increase a snap may cause.
        method: optimiser of the retraining, ``"lm"`` or ``"lbfgs"`` (see :mod:`kanpde.symbolic.refit`).
        alternatives: when the retrained formula is not exact, also try this many runner-up candidates, and the
            two best simpler candidates, per edge (a greedy search: a swap is kept when the error at least halves; 0
            disables it).
        fit_options: more keyword arguments for :func:`~kanpde.symbolic.fit.fit_edge`.

    Returns:
        The :class:`~kanpde.symbolic.network.SymbolicNetwork`; ``report`` holds the assessment and
        ``formula()`` gives the expression.

    Shapes:
        x: ``(n_points, width[0])``; y: ``(n_points, width[-1])`` or ``(n_points,)`` for one output.

    Example:
        >>> import torch, kanpde as kp
        >>> x = torch.rand(500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
        >>> y = torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2
        >>> model = kp.KAN([2, 1, 1], grid=5, seed=1, dtype=torch.float64)
        >>> _ = model.fit(x, y, steps=5, optimizer="lm", progress=False)
        >>> sym = auto_symbolic(model, x, y, library=["x", "x^2", "sin"])  # (a short list: fast)
        >>> sym.formula(), sym.report.exact_fit
        (y**2 + sin(pi*x), True)
    """
    from ..kan.prune import sample_inputs

    if x is None:
        x = sample_inputs(model)
    model._check_input(x)
    x = x.detach().to(model.dtype)
    ranked = _fit_edges(model, x, library, zero_tol, dict(fit_options or {}))
    if exact_rtol is None:
        exact_rtol = 1e-3 if y is None else 1e-6
    if y is None:
        with torch.no_grad():
            y = model(x)
    retrain = dict(steps=retrain_steps, method=method)
    network = _search_structure(
        model.width, ranked, x, y.detach().to(torch.float64), alternatives=alternatives, exact_rtol=exact_rtol,
        retrain=retrain,
    )  # fmt: skip
    if snap:
        network.snap_constants(x, y, rtol=snap_rtol, method=method)
    network.report = network.assess(x, y, network=model, exact_rtol=exact_rtol, r2_threshold=r2_threshold)
    return network
