"""Functions of one coordinate as short sums of library terms ``c f(a x + b)``.

- :func:`fit_terms`: a sum fitted to one function, a term at a time (each the best single fit to what the previous
  ones leave, then all refitted together), restarted from the next best first terms when that misses: a single
  term can imitate a whole sum (``sin(2 pi x) + cos(4 pi x)/2`` by a Gaussian) and lead the greedy sum astray.
- :func:`span_terms`: the library terms that span a given space of functions (the columns of an SVD factor):
  for each candidate ``f(a x + b)`` the part outside the space, relative to its part not already spanned by the
  terms found so far, is minimised over ``(a, b)`` (a grid search, then Levenberg-Marquardt); the best is kept,
  and so on. This separates modes that a single
  function mixes: ``exp(-t) sin(pi x) + exp(-9 t) sin(3 pi x)`` sampled at many ``t`` spans exactly
  ``{sin(pi x), sin(3 pi x)}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import sympy
import torch
from torch import Tensor

from .fit import SymbolicFit, _grid, _valid, fit_edge
from .library import SymbolicFunction, get_function, resolve_library, resolving_in_library
from .template import Add, Apply, Mul, Node, Param, Template, levenberg_marquardt

__all__ = ["Builder", "fit_terms", "fit_composition", "fit_transformed", "span_terms"]


@dataclass
class Builder:
    """Allocates the template's constants."""

    values: list[float] = field(default_factory=list)
    exact: dict[int, sympy.Expr] = field(default_factory=dict)

    def param(self, value: float, exact: sympy.Expr | None = None) -> Param:
        self.values.append(float(value))
        if exact is not None:
            self.exact[len(self.values) - 1] = exact
        return Param(len(self.values) - 1)

    def apply(self, name: str, var: int | Node, a: float, b: float) -> Apply:
        """``f(a x_var + b)`` (or ``f(a node + b)``), the constants that ``f`` fixes exact (``a = 1`` for powers,
        ``b = 0`` for exp)."""
        entry = get_function(name)
        a_exact = None
        if entry.a_mode == "one":
            a_exact = sympy.Integer(1)
        elif entry.a_mode == "sign":
            a_exact = sympy.Integer(1 if a >= 0 else -1)
        b_exact = sympy.Integer(0) if entry.b_mode == "zero" else None
        pa = self.param(a if a_exact is None else float(a_exact), a_exact)
        pb = self.param(b if b_exact is None else 0.0, b_exact)
        return Apply(name, var, pa.index, pb.index)


Term = tuple[str, float, float, float]


def _fit_sum(points: Tensor, y: Tensor, terms: list[Term], d: float) -> tuple[list[Term], float, float]:
    """All constants of ``sum_k c_k f_k(a_k x + b_k) + d`` refitted together: ``(terms, d, rmse)``."""
    builder = Builder()
    nodes = [Mul((builder.param(c), builder.apply(name, 0, a, b))) for name, a, b, c in terms]
    template = Template(Add((*nodes, builder.param(d))), builder.values, builder.exact)
    error = template.fit(points, y, steps=100)
    theta = template.theta.tolist()
    fitted = [(name, theta[3 * k + 1], theta[3 * k + 2], theta[3 * k]) for k, (name, *_) in enumerate(terms)]
    return fitted, theta[-1], error


def _evaluate_terms(x: Tensor, terms: list[Term]) -> Tensor:
    return sum((c * get_function(name).torch_fn(a * x + b) for name, a, b, c in terms), torch.zeros_like(x))


def _novelty(x: Tensor, terms: list[Term], new: SymbolicFit) -> float:
    """The part of the new term outside the span of the constant and the other terms, relative to its size."""
    columns = [torch.ones_like(x)] + [get_function(name).torch_fn(a * x + b) for name, a, b, _ in terms]
    basis = torch.linalg.qr(torch.stack(columns, dim=1)).Q
    with torch.no_grad():
        values = get_function(new.name).torch_fn(new.a * x + new.b)
    centred = values - values.mean()
    rest = values - basis @ (basis.T @ values)
    return float(rest.norm() / centred.norm().clamp(min=1e-300))


@resolving_in_library
def fit_terms(
    x: Tensor,
    y: Tensor,
    *,
    library: Iterable[str | SymbolicFunction] | None = None,
    max_terms: int = 3,
    beam: int = 4,
) -> tuple[list[Term], float, float]:
    """``y ~ sum_k c_k f_k(a_k x + b_k) + d`` with up to ``max_terms`` library terms, added one at a time.

    Each new term is the best fit (:func:`~kanpde.symbolic.fit.fit_edge`) to what the previous terms leave; then
    all constants are refitted together. A term is kept when it lowers the RMSE at least tenfold and is not
    nearly (90%) a combination of the terms before it (on approximate data such a term fits the noise, and makes
    the constants ill-determined: ``sin(pi x) + 0.01 sin(2.96 x)``). The greedy choice of the first term can be
    wrong: one term may imitate the whole sum (``sin(2 pi x) + cos(4 pi x)/2`` on [0, 1] is fitted by a
    Gaussian to R^2 = 0.99, and nothing then improves on it tenfold). So when the greedy sum misses ``y`` by more
    than 1e-5 (relative to its standard deviation), the next ``beam - 1`` best single terms are tried first in
    turn, and one of those sums replaces the greedy one only when it fits at least ten times better.

    Returns:
        ``[(name, a, b, c), ...]``, ``d`` and the RMSE relative to the standard deviation of ``y``.

    Shapes:
        x, y: ``(n_points,)``.
    """
    x, y = x.to(torch.float64), y.to(torch.float64)
    spread = max(float(y.std()), 1e-300)
    fits = fit_edge(x, y, library=library)
    if fits[0].name == "0":  # y is constant
        return [("x", 1.0, 0.0, 0.0)], float(y.mean()), 1.0
    firsts = [f for f in fits if f.name != "0"]
    terms, d, error = _greedy_sum(x, y, firsts[0], library, max_terms, 1e-9 * spread)
    for first in firsts[1:beam] if error > 1e-5 * spread else ():
        other_terms, other_d, other_error = _greedy_sum(x, y, first, library, max_terms, 1e-9 * spread)
        if other_error < 0.1 * error:
            terms, d, error = other_terms, other_d, other_error
    return terms, d, error / spread


def _greedy_sum(
    x: Tensor,
    y: Tensor,
    first: SymbolicFit,
    library: Iterable[str | SymbolicFunction] | None,
    max_terms: int,
    exact: float,
) -> tuple[list[Term], float, float]:
    """The sum :func:`fit_terms` builds from the single-term fit ``first``, adding terms while the RMSE is above
    ``exact``: ``(terms, d, RMSE)``."""
    points = x[:, None]
    terms, d, error = _fit_sum(points, y, [(first.name, first.a, first.b, first.c)], first.d)
    while len(terms) < max_terms and error > exact:
        best = fit_edge(x, y - d - _evaluate_terms(x, terms), library=library)[0]
        if best.name == "0" or _novelty(x, terms, best) < 0.1:
            break  # nothing left, or nearly a combination of the terms already there: it would fit noise
        trial = [*terms, (best.name, best.a, best.b, best.c)]
        trial_terms, trial_d, trial_error = _fit_sum(points, y, trial, d + best.d)
        if not trial_error < 0.1 * error:
            break
        terms, d, error = trial_terms, trial_d, trial_error
    return terms, d, error


def _outside(values: Tensor, space: Tensor, known: Tensor) -> Tensor:
    """Per row of ``values``: its part outside the span of ``space`` relative to its part outside the span of
    ``known`` (the constant and the terms found so far), so that a term already found scores badly.

    Shapes: values ``(S, n)``; space, known: orthonormal columns ``(n, k)`` -> ``(S,)``.
    """
    rest = values - (values @ space) @ space.T
    novel = values - (values @ known) @ known.T
    size = novel.norm(dim=-1)
    fraction = rest.norm(dim=-1) / size.clamp(min=1e-300)
    ok = torch.isfinite(fraction) & (size > 1e-6 * values.norm(dim=-1).clamp(min=1e-300))
    return torch.where(ok, fraction, torch.full_like(fraction, math.inf))


def _best_in_span(
    entry: SymbolicFunction, x: Tensor, space: Tensor, known: Tensor, n_grid: int, n_starts: int
) -> tuple[float, float, float] | None:
    """``(fraction outside, a, b)`` of the best new ``entry(a x + b)`` in ``space`` (None: no valid one)."""
    lo, hi = float(x.min()), float(x.max())
    a, b = _grid(entry, (hi + lo) / 2, (hi - lo) / 2, n_grid)
    valid = _valid(entry, a, b, lo, hi)
    scores = torch.full_like(a, math.inf)
    rows = max(1, 2**15 // x.numel())
    for start in range(0, a.numel(), rows):
        sl = slice(start, start + rows)
        with torch.no_grad():
            values = entry.torch_fn(a[sl, None] * x[None, :] + b[sl, None])
        scores[sl] = torch.where(valid[sl], _outside(values, space, known), torch.full_like(scores[sl], math.inf))
    order = torch.sort(scores, stable=True).indices[:n_starts]
    order = order[torch.isfinite(scores[order])]
    if order.numel() == 0:
        return None
    free = torch.tensor([entry.a_mode not in ("one", "sign"), entry.b_mode != "zero"])

    def project(values: Tensor) -> tuple[Tensor, Tensor]:
        return values - (values @ space) @ space.T, values - (values @ known) @ known.T

    def residual(theta: Tensor) -> Tensor:
        rest, novel = project(entry.torch_fn(theta[0] * x + theta[1]))
        return rest / novel.norm()

    def jacobian(theta: Tensor) -> Tensor:  # of rest(f)/|novel(f)|, both linear in f; df/d(a, b) = f' (x, 1)
        u = (theta[0] * x + theta[1]).requires_grad_(True)
        with torch.enable_grad():
            values = entry.torch_fn(u)
            (slope,) = torch.autograd.grad(values.sum(), u)
        rest, novel = project(values.detach())
        size = novel.norm()
        columns = []
        for d_values in (slope * x, slope):
            d_rest, d_novel = project(d_values)
            columns.append(d_rest / size - rest * (novel @ d_novel) / size**3)
        return torch.stack(columns, dim=1)

    best: tuple[float, float, float] | None = None
    for index in order.tolist():
        theta = torch.stack([a[index], b[index]])
        theta, _ = levenberg_marquardt(residual, jacobian, theta, free, 50, stall=1e-10)
        with torch.no_grad():
            fraction = float(_outside(entry.torch_fn(theta[0] * x + theta[1])[None, :], space, known)[0])
        inside = bool(_valid(entry, theta[:1], theta[1:], lo, hi)[0])
        if inside and math.isfinite(fraction) and (best is None or fraction < best[0]):
            best = (fraction, float(theta[0]), float(theta[1]))
    return best


@resolving_in_library
def span_terms(
    x: Tensor,
    vectors: Tensor,
    *,
    library: Iterable[str | SymbolicFunction] | None = None,
    count: int | None = None,
    n_grid: int = 24,
    n_starts: int = 3,
) -> list[tuple[str, float, float, float]]:
    """``count`` library terms ``f(a x + b)`` whose span (with the constants) holds the columns of ``vectors``.

    One term at a time: every candidate is fitted to the space (the part of ``f(a x + b)`` outside it, relative to
    its part that the constant and the terms found so far do not span, minimised over ``(a, b)``), and the simplest
    of those within ten times the best (as :func:`~kanpde.symbolic.fit.select` chooses) is kept.

    Returns:
        ``[(name, a, b, fraction), ...]``: ``fraction`` is the part of the term outside the space when it was
        chosen (0 for an exact member). Fewer than ``count`` when the constant and the terms found already span
        the space (``x y + c`` has rank 2 in ``x`` but needs one term).

    Shapes:
        x: ``(n_points,)``; vectors: ``(n_points, r)``.
    """
    x = x.to(torch.float64)
    vectors = vectors.to(torch.float64)
    count = vectors.shape[1] if count is None else count
    ones = torch.ones(x.numel(), 1, dtype=torch.float64)
    basis, sigma, _ = torch.linalg.svd(torch.cat([ones, vectors], dim=1), full_matrices=False)
    space = basis[:, sigma > 1e-8 * sigma[0]]  # the columns of numerically zero weight are arbitrary directions
    known = ones / ones.norm()
    entries = [e for e in resolve_library(library) if e.name != "0"]
    found: list[tuple[str, float, float, float]] = []
    for _ in range(count):
        if float((space - known @ (known.T @ space)).norm()) < 1e-8:  # the constant and terms found span it
            break
        scored = []
        for entry in entries:
            best = _best_in_span(entry, x, space, known, n_grid, n_starts)
            if best is not None:
                scored.append((best[0], entry, best[1], best[2]))
        if not scored:
            break
        least = min(s[0] for s in scored)
        limit = min(10 * least, least + 1e-3) + 1e-9
        fraction, entry, a, b = min((s for s in scored if s[0] <= limit), key=lambda s: (s[1].complexity, s[0]))
        found.append((entry.name, a, b, fraction))
        with torch.no_grad():
            phi = entry.torch_fn(a * x + b)
        known = torch.linalg.qr(torch.cat([known, phi[:, None]], dim=1)).Q
    return found


@resolving_in_library
def fit_composition(
    x: Tensor, y: Tensor, *, library: Iterable[str | SymbolicFunction] | None = None, seeds: Iterable[int] = (0, 1, 2)
) -> tuple[list[tuple[str, float, float, float, float]], float]:
    """``y ~ c2 f2(a2 (c1 f1(a1 x + b1) + d1) + b2) + d2`` by distillation: a [1, 1, 1] KAN is fitted to ``(x, y)``
    and its two edges replaced by library functions (:func:`~kanpde.symbolic.extract.auto_symbolic`), from a
    few seeds (the fit depends on the start); the best is kept. A start whose KAN misses ``y`` by more than 1%
    is not converted.

    Returns:
        ``[(name1, a1, b1, c1, d1), (name2, a2, b2, c2, d2)]`` and the RMSE relative to the standard deviation of
        ``y`` (``([], inf)`` when every start failed).

    Shapes:
        x, y: ``(n_points,)``.
    """
    from ..kan.network import KAN
    from .extract import auto_symbolic

    points, target = x.to(torch.float64)[:, None], y.to(torch.float64)[:, None]
    spread = max(float(target.std()), 1e-300)
    best: tuple[list[tuple[str, float, float, float, float]], float] = ([], math.inf)
    for seed in seeds:
        model = KAN([1, 1, 1], grid=10, k=3, seed=seed, dtype=torch.float64)
        model.fit(points, target, steps=100, progress=False)
        with torch.no_grad():
            if float((model(points) - target).square().mean().sqrt()) > 1e-2 * spread:
                continue  # the KAN itself misses: its edges would not give a better formula
        network = auto_symbolic(model, points, target, library=library, exact_rtol=1e-3)
        error = network.rmse(points, target) / spread
        if error < best[1]:
            edges = []
            for layer in network.symbolic_layers():
                constants = [float(layer.parameter(k).detach()[0, 0]) for k in range(4)]
                edges.append((layer.functions[0][0], *constants))
            best = (edges, error)  # type: ignore[assignment]
        if best[1] <= 1e-6:
            break
    return best


@resolving_in_library
def fit_transformed(
    x: Tensor, y: Tensor, *, library: Iterable[str | SymbolicFunction] | None = None
) -> tuple[list[tuple[str, float, float, float, float]], float]:
    """``y ~ f2(c1 f1(a1 x + b1) + d1)`` for an invertible outer ``f2`` (exp, x^2, 1/x): ``f2^-1(y)`` is fitted by
    one library term (:func:`~kanpde.symbolic.fit.fit_edge`). Cheap, and exact for ``exp(y^2)``, which a single
    term, a short sum, and often a distilled [1, 1, 1] KAN miss. Only where ``y`` keeps one sign.

    Returns:
        the edges as :func:`fit_composition` gives them, and the RMSE relative to the standard deviation of ``y``.
    """
    x, y = x.to(torch.float64), y.to(torch.float64)
    spread = max(float(y.std()), 1e-300)
    best: tuple[list[tuple[str, float, float, float, float]], float] = ([], math.inf)
    sign = 1.0 if float(y.min()) > 0 else (-1.0 if float(y.max()) < 0 else 0.0)
    if sign == 0.0 or float((sign * y).min()) <= 1e-6 * float(y.abs().max()):
        return best
    for outer, inverse in (("exp", torch.log), ("x^2", torch.sqrt), ("1/x", torch.reciprocal)):
        fit = fit_edge(x, inverse(sign * y), library=library)[0]
        with torch.no_grad():
            values = sign * get_function(outer).torch_fn(fit(x))
        error = float((values - y).square().mean().sqrt()) / spread
        if math.isfinite(error) and error < best[1]:
            best = ([(fit.name, fit.a, fit.b, fit.c, fit.d), (outer, 1.0, 0.0, sign, 0.0)], error)
    return best
