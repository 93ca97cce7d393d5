"""A closed form of a black-box function on a box, found through its separable structure (distillation).

A trained PDE solution ``u(x)`` is a function we can evaluate anywhere, which makes its structure testable (the
separability tests of AI Feynman, Udrescu & Tegmark, Sci. Adv. 2020). With ``a`` an anchor point (the sample of
largest ``|u|`` whose axis lines lie in the domain) and a split of the coordinates into groups ``A``, ``B``,
tried in this order:

- additive: ``u(x_A, x_B) = u(x_A, a_B) + u(a_A, x_B) - u(a)``;
- multiplicative: ``u(x_A, x_B) u(a) = u(x_A, a_B) u(a_A, x_B)`` (both checked on random points, relative to the
  size of ``u``; the smaller violation wins when below ``separable_tol``);
- a transform: ``u = f(h)`` with ``h = f^-1(u)`` additive or multiplicative (``f`` = sqrt, exp, x^2, 1/x, for
  ``u`` of one sign: ``sqrt(1 + x^2 + y^2)``);
- a sum of ``r <= 3`` products (``exp(-pi^2 t) sin(pi x) + exp(-9 pi^2 t) sin(3 pi x)/2``): the matrix
  ``u(x_i, y_j)`` has numerical rank ``r``; the library terms spanning its columns are found
  (:func:`~kanpde.symbolic.terms.span_terms`) and the coefficient of each, a function of the other coordinates,
  is recovered in turn.

The pieces are split recursively down to functions of one coordinate, fitted on a line through the anchor by a
sum of up to three library terms ``c f(a x + b)`` (:func:`~kanpde.symbolic.terms.fit_terms`), or, when that
misses, by a composition ``f2(f1(x))`` (:func:`~kanpde.symbolic.terms.fit_transformed`, then a distilled [1, 1, 1]
KAN, :func:`~kanpde.symbolic.terms.fit_composition`). The pieces are assembled into a
:class:`~kanpde.symbolic.template.Template` whose constants are fitted to ``u`` on points of the whole domain and
snapped to simple values.

Measured on the suite (``python -m kanpde.bench.symbolic_recovery``): this recovers the exact solutions that a
composition of the trained network's edges does not (with a hard constraint the network ``N = (u - g)/b`` is
rarely elementary even when ``u`` is). What it misses: functions of one coordinate that are neither a sum of
up to three library terms nor a composition of two, and functions that no split, transform or low-rank sum
reduces to one coordinate (``sin(pi (x^2 + y^2))``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sympy
import torch
from torch import Tensor

from .library import SymbolicFunction, get_function, resolving_in_library
from .template import Add, Apply, Mul, Node, Template, least_squares
from .terms import Builder, fit_composition, fit_terms, fit_transformed, span_terms

__all__ = ["Recovery", "RecoveryError", "recover_formula"]

Function = Callable[[Tensor], Tensor]


class RecoveryError(ValueError):
    """The function has no structure that this method recovers (the message says which test failed)."""


@dataclass(frozen=True)
class Recovery:
    """A recovered formula and how well it fits.

    Attributes:
        expr: sympy expression in the coordinate symbols.
        relative_rmse: RMSE of the formula against the function on points of the domain, divided by the RMS of
            the function there.
        structure: how the function was split, e.g. ``"x * y"`` or ``"sum of 2 products over x"``.
        snapped: the constants fixed at simple values.
        seconds: wall time.
        snap_tol: the snapping tolerance of ``expr``.
        accepted: what the ``accept`` test said of ``expr`` (None without one).
    """

    expr: sympy.Expr
    relative_rmse: float
    structure: str
    snapped: tuple[str, ...]
    seconds: float
    snap_tol: float = 0.0
    accepted: bool | None = None


@dataclass
class _Part:
    """``g ~ gain * node + offset`` (``node`` None: a constant); ``text`` names the structure."""

    node: Node | None
    gain: float
    offset: float
    text: str


#: Output transforms tried when a function does not split: ``u = f(h)`` with ``h = f^-1(u)`` (u of one sign).
_TRANSFORMS: tuple[tuple[str, Function], ...] = (
    ("sqrt", torch.square),
    ("exp", torch.log),
    ("x^2", torch.sqrt),
    ("1/x", torch.reciprocal),
)


class _Domain:
    """Sampling in the box (restricted to the domain by ``contains``) with some coordinates fixed."""

    def __init__(
        self, lower: Sequence[float], upper: Sequence[float], contains: Function | None, generator: torch.Generator
    ) -> None:
        self.lower = torch.as_tensor(lower, dtype=torch.float64)
        self.upper = torch.as_tensor(upper, dtype=torch.float64)
        self.contains, self.generator = contains, generator
        self.dim = self.lower.numel()

    def inside(self, points: Tensor) -> Tensor:
        if self.contains is None:
            return torch.ones(points.shape[0], dtype=torch.bool)
        return self.contains(points).bool()

    def random(self, n: int, vars: Sequence[int], anchor: Tensor) -> Tensor:
        """Up to ``n`` points inside the domain, coordinates ``vars`` uniform, the others at ``anchor``."""
        out: list[Tensor] = []
        have = 0
        for _ in range(20):
            points = anchor.repeat(4 * n, 1)
            u = torch.rand(4 * n, len(vars), generator=self.generator, dtype=torch.float64)
            idx = list(vars)
            points[:, idx] = self.lower[idx] + u * (self.upper[idx] - self.lower[idx])
            points = points[self.inside(points)]
            out.append(points)
            have += points.shape[0]
            if have >= n:
                break
        points = torch.cat(out)[:n]
        if points.shape[0] < 8:
            raise RecoveryError("too few sample points inside the domain")
        return points

    def line(self, var: int, anchor: Tensor, n: int) -> Tensor:
        """``n`` evenly spaced points along coordinate ``var`` through ``anchor``, those inside the domain."""
        points = anchor.repeat(n, 1)
        points[:, var] = torch.linspace(float(self.lower[var]), float(self.upper[var]), n, dtype=torch.float64)
        return points[self.inside(points)]


def _rms(v: Tensor) -> float:
    return float(v.square().mean().sqrt()) if v.numel() else 0.0


def _proper_splits(vars: Sequence[int]) -> Iterable[tuple[list[int], list[int]]]:
    """Every split of ``vars`` into two non-empty groups (each once: the first group holds ``vars[0]``)."""
    first, rest = vars[0], list(vars[1:])
    for k in range(len(rest)):
        for chosen in itertools.combinations(rest, k):
            a = [first, *chosen]
            yield a, [v for v in vars if v not in a]


class _Recoverer:
    def __init__(
        self,
        domain: _Domain,
        anchor: Tensor,
        scale: float,
        library: Iterable[str | SymbolicFunction] | None,
        separable_tol: float,
        max_terms: int,
        max_rank: int,
    ) -> None:
        self.domain, self.anchor, self.scale = domain, anchor, scale
        self.library = None if library is None else list(library)
        self.separable_tol, self.max_terms, self.max_rank = separable_tol, max_terms, max_rank
        self.builder = Builder()
        self.names = [f"x{i}" for i in range(domain.dim)]

    # -- one coordinate ------------------------------------------------------------------------------------
    def leaf(self, g: Function, var: int) -> _Part:
        points = self.domain.line(var, self.anchor, 256)
        if points.shape[0] < 8:
            raise RecoveryError(f"the line along {self.names[var]} through the anchor leaves the domain")
        x, y = points[:, var], g(points).detach()
        if float(y.std()) <= 1e-6 * self.scale:
            return _Part(None, 0.0, float(y.mean()), "const")
        terms, d, error = fit_terms(x, y, library=self.library, max_terms=self.max_terms)
        if error > 1e-5:  # perhaps a composition f2(f1(x)): first by inverting f2 (cheap) ...
            edges, composed_error = fit_transformed(x, y, library=self.library)
            # ... then distilled into a [1, 1, 1] KAN (seconds), when the miss matters on the scale of the function
            if min(error, composed_error) * float(y.std()) > 1e-3 * self.scale:
                distilled = fit_composition(x, y, library=self.library)
                edges, composed_error = min((edges, composed_error), distilled, key=lambda e: e[1])
            if composed_error < 0.1 * error:
                return self.composition(edges, var)
        c0 = terms[0][3]
        nodes: list[Node] = []
        for k, (name, a, b, c) in enumerate(terms):
            apply = self.builder.apply(name, var, a, b)
            nodes.append(apply if k == 0 else Mul((self.builder.param(c / c0), apply)))
        text = " + ".join(f"{name}({self.names[var]})" for name, *_ in terms)
        return _Part(nodes[0] if len(nodes) == 1 else Add(tuple(nodes)), c0, d, text)

    def composition(self, edges: list[tuple[str, float, float, float, float]], var: int) -> _Part:
        """``c2 f2(a2 (c1 f1(a1 x + b1) + d1) + b2) + d2`` as a part (gain ``c2``, offset ``d2``)."""
        (name1, a1, b1, c1, d1), (name2, a2, b2, c2, d2) = edges
        inner = Add((Mul((self.builder.param(c1), self.builder.apply(name1, var, a1, b1))), self.builder.param(d1)))
        return _Part(self.builder.apply(name2, inner, a2, b2), c2, d2, f"{name2}({name1}({self.names[var]}))")

    # -- several coordinates -------------------------------------------------------------------------------
    def split(self, g: Function, vars: list[int], transform: bool = True, products: bool = True) -> _Part:
        if len(vars) == 1:
            return self.leaf(g, vars[0])
        points = self.domain.random(256, vars, self.anchor)
        values = g(points).detach()
        size = _rms(values)
        if size <= 1e-6 * self.scale:
            return _Part(None, 0.0, float(values.mean()), "const")
        g_anchor = float(g(self.anchor[None])[0])
        best: tuple[float, str, list[int], list[int]] | None = None
        for a_vars, b_vars in _proper_splits(vars):
            on_a, on_b = points.clone(), points.clone()
            on_a[:, b_vars] = self.anchor[b_vars]  # (x_A, a_B)
            on_b[:, a_vars] = self.anchor[a_vars]  # (a_A, x_B)
            keep = self.domain.inside(on_a) & self.domain.inside(on_b)
            if int(keep.sum()) < 16:
                continue
            g_xy, g_xa, g_ay = values[keep], g(on_a[keep]).detach(), g(on_b[keep]).detach()
            additive = _rms(g_xy - g_xa - g_ay + g_anchor) / size
            tests = [(additive, "+", a_vars, b_vars)]
            if abs(g_anchor) > 1e-3 * size:
                multiplicative = _rms(g_xy * g_anchor - g_xa * g_ay) / (abs(g_anchor) * size)
                tests.append((multiplicative, "*", a_vars, b_vars))
            for test in tests:
                if best is None or test[0] < best[0]:
                    best = test
        if best is not None and best[0] <= self.separable_tol:
            _, kind, a_vars, b_vars = best
            part_a, part_b = self.split(g, a_vars), self.split(g, b_vars)
            return self.added(part_a, part_b, g_anchor) if kind == "+" else self.multiplied(part_a, part_b, g_anchor)
        failures = []
        if transform:  # u = f(h) with h separable (sqrt(1 + x^2 + y^2)): exact, so before a sum of products
            sign = 1.0 if float(values.min()) > 0 else (-1.0 if float(values.max()) < 0 else 0.0)
            definite = sign != 0.0 and float((sign * values).min()) > 1e-6 * float(values.abs().max())
            for outer, inverse in _TRANSFORMS if definite else ():

                def inner(p: Tensor, inverse: Function = inverse, sign: float = sign) -> Tensor:
                    return inverse(sign * g(p))

                try:
                    part = self.split(inner, vars, transform=False, products=False)
                except RecoveryError as err:
                    failures.append(f"{outer} of it: {err}")
                    continue
                return self.transformed(outer, part, sign)
        for var in vars if products else ():
            try:
                return self.sum_of_products(g, var, [v for v in vars if v != var])
            except RecoveryError as err:
                failures.append(str(err))
        violation = "no split tested" if best is None else f"best split violates its identity by {best[0]:.1e}"
        names = ", ".join(self.names[v] for v in vars)
        raise RecoveryError(f"not separable in ({names}) ({violation}); {failures[0] if failures else ''}".rstrip())

    def transformed(self, outer: str, part: _Part, sign: float) -> _Part:
        """``g = sign * f(h)`` with ``h ~ gain * node + offset``."""
        if part.node is None:
            raise RecoveryError("a constant")
        inner = Add((Mul((self.builder.param(part.gain), part.node)), self.builder.param(part.offset)))
        one, zero = self.builder.param(1.0, sympy.Integer(1)), self.builder.param(0.0, sympy.Integer(0))
        return _Part(Apply(outer, inner, one.index, zero.index), sign, 0.0, f"{outer}({part.text})")

    def added(self, a: _Part, b: _Part, g_anchor: float) -> _Part:
        """``g = G_A + G_B - g(anchor)``."""
        offset = a.offset + b.offset - g_anchor
        live = [p for p in (a, b) if p.node is not None]
        if not live:
            return _Part(None, 0.0, offset, "const")
        first = live[0]
        assert first.node is not None
        node: Node = first.node
        for other in live[1:]:
            assert other.node is not None
            node = Add((node, Mul((self.builder.param(other.gain / first.gain), other.node))))
        return _Part(node, first.gain, offset, " + ".join(f"({p.text})" for p in live))

    def multiplied(self, a: _Part, b: _Part, g_anchor: float) -> _Part:
        """``g = G_A G_B / g(anchor)``."""
        if a.node is None or b.node is None:
            const, other = (a, b) if a.node is None else (b, a)
            factor = const.offset / g_anchor
            return _Part(other.node, other.gain * factor, other.offset * factor, other.text)
        factors = [Add((p.node, self.builder.param(p.offset / p.gain))) for p in (a, b)]  # type: ignore[arg-type]
        return _Part(Mul(tuple(factors)), a.gain * b.gain / g_anchor, 0.0, f"({a.text}) * ({b.text})")

    def sum_of_products(self, g: Function, var: int, rest: list[int]) -> _Part:
        """``g = sum_m h_m(rest) phi_m(x_var) + h_0(rest)`` with ``phi_m`` library functions."""
        line = self.domain.line(var, self.anchor, 96)
        if line.shape[0] < 96:
            raise RecoveryError("a sum of products needs whole lines inside the domain")
        xs = line[:, var]
        others = self.domain.random(64, rest, self.anchor)
        grid = others.repeat_interleave(xs.numel(), dim=0)
        grid[:, var] = xs.repeat(others.shape[0])
        if not bool(self.domain.inside(grid).all()):
            raise RecoveryError("a sum of products needs whole lines inside the domain")
        matrix = g(grid).detach().reshape(others.shape[0], xs.numel()).T  # (n_x, n_rest)
        sigma = torch.linalg.svdvals(matrix)
        rank = int((sigma > 3e-3 * sigma[0]).sum())
        if rank > self.max_rank:
            raise RecoveryError(f"rank {rank} in {self.names[var]} (more than {self.max_rank} products)")
        vectors = torch.linalg.svd(matrix, full_matrices=False).U[:, :rank]
        terms = span_terms(xs, vectors, library=self.library, count=rank)
        basis = torch.stack([get_function(n).torch_fn(a * xs + b) for n, a, b, _ in terms] + [torch.ones_like(xs)], 1)
        coefficients = least_squares(basis, matrix)
        missed = _rms(matrix - basis @ coefficients) / _rms(matrix)
        if missed > self.separable_tol:
            raise RecoveryError(f"the functions of {self.names[var]} on one slice miss {missed:.1e} of the others")

        def coefficient(m: int) -> Function:
            def h(points: Tensor) -> Tensor:
                full = points.repeat_interleave(xs.numel(), dim=0)
                full[:, var] = xs.repeat(points.shape[0])
                values = g(full).detach().reshape(points.shape[0], xs.numel()).T
                return least_squares(basis, values)[m]

            return h

        parts = [self.split(coefficient(m), rest) for m in range(len(terms))]
        constant = coefficient(len(terms))
        constant_part = None
        if _rms(constant(others)) > 1e-4 * _rms(matrix):
            constant_part = self.split(constant, rest)
        nodes: list[Node] = []
        live = [m for m, p in enumerate(parts) if p.node is not None]
        lead_index = live[0] if live else 0
        lead = (parts[lead_index].gain if live else parts[0].offset) or 1.0
        for m, ((name, a, b, _), part) in enumerate(zip(terms, parts)):
            phi = self.builder.apply(name, var, a, b)
            if part.node is None:  # a constant weight (1, exactly, for the lead)
                exact = sympy.Integer(1) if m == lead_index else None
                nodes.append(Mul((self.builder.param(part.offset / lead, exact), phi)))
                continue
            inner = Add((part.node, self.builder.param(part.offset / part.gain)))
            weight: Node = inner if m == lead_index else Mul((self.builder.param(part.gain / lead), inner))
            nodes.append(Mul((weight, phi)))
        offset = 0.0
        if constant_part is not None:
            offset = constant_part.offset
            if constant_part.node is not None:
                nodes.append(Mul((self.builder.param(constant_part.gain / lead), constant_part.node)))
        text = f"sum of {len(terms)} products over {self.names[var]}: " + " + ".join(
            f"[{p.text}]*{name}({self.names[var]})" for (name, *_), p in zip(terms, parts)
        )
        return _Part(Add(tuple(nodes)), lead, offset, text)


def _anchor(domain: _Domain, fn: Function, n_candidates: int = 256) -> tuple[Tensor, float]:
    """The sample point with the largest ``|u|`` whose axis lines lie in the domain (and the RMS of ``u``)."""
    points = domain.random(n_candidates, list(range(domain.dim)), domain.lower.clone())
    values = fn(points).detach()
    scale = _rms(values)
    for index in torch.argsort(values.abs(), descending=True).tolist():
        candidate = points[index]
        if all(domain.line(v, candidate, 64).shape[0] == 64 for v in range(domain.dim)):
            return candidate, scale
    return points[int(values.abs().argmax())], scale


@resolving_in_library
def recover_formula(
    fn: Function,
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    coords: Sequence[str] | None = None,
    contains: Function | None = None,
    library: Iterable[str | SymbolicFunction] | None = None,
    n_points: int = 2000,
    separable_tol: float = 1e-2,
    max_terms: int = 3,
    max_rank: int = 3,
    snap_tols: Sequence[float] = (1e-3,),
    max_error: float = 1e-2,
    accept: Callable[[sympy.Expr], bool | None] | None = None,
    seed: int = 0,
) -> Recovery:
    """A formula of ``fn`` on the box ``[lower, upper]`` (within the domain ``contains``), by separability.

    The constants are snapped to simple values (:meth:`~kanpde.symbolic.template.Template.snap`) with the RMSE
    allowed to grow by ``tol * rms(fn)`` over the free fit, for each ``tol`` of ``snap_tols`` in turn (snaps
    accumulate). The free constants absorb part of the error of an approximate ``fn`` (a trained network), so
    the exact formula fits it worse: the tolerance should be about the relative error of ``fn``. With
    ``accept`` (e.g. "satisfies the PDE exactly"), the first formula it accepts is returned; otherwise (or when it
    accepts none) the formula after the last tolerance.

    Args:
        fn: the function, ``(n_points, n_coords) -> (n_points,)`` (e.g. a trained solver's ``predict``).
        lower: lower corner of the box.
        upper: upper corner.
        coords: names of the coordinates (default x, y, z, t, ...).
        contains: ``points -> bool mask`` of the domain inside the box (None: the whole box).
        library: candidate functions (default: every registered one).
        n_points: points of the final fit of all constants together.
        separable_tol: largest relative violation of a separability identity that still counts as separable.
        max_terms: most library terms in a function of one coordinate.
        max_rank: most products in a sum of products.
        snap_tols: the snapping tolerances, tightest first (empty: no snapping).
        max_error: largest relative RMSE of the fitted structure (before snapping) that counts as recovered.
        accept: a test of each snapped formula (True accepts it; False or None goes on).
        seed: seeds the sampling.

    Returns:
        The :class:`Recovery`.

    Raises:
        RecoveryError: the function is not split down to functions of one coordinate, or the assembled formula
            misses it by more than ``max_error`` (the message says where).
    """
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    domain = _Domain(lower, upper, contains, generator)
    default_names = [("x", "y", "z", "t")[i] if i < 4 else f"x{i}" for i in range(domain.dim)]
    names = list(coords) if coords is not None else default_names
    anchor, scale = _anchor(domain, fn)
    if scale == 0.0:
        raise RecoveryError("the function is zero on the sample points")
    worker = _Recoverer(domain, anchor, scale, library, separable_tol, max_terms, max_rank)
    worker.names = names
    part = worker.split(fn, list(range(domain.dim)))
    builder = worker.builder
    if part.node is None:
        root: Node = builder.param(part.offset)
    else:
        root = Add((Mul((builder.param(part.gain), part.node)), builder.param(part.offset)))
    template = Template(root, builder.values, builder.exact)
    x = domain.random(n_points, list(range(domain.dim)), anchor)
    y = fn(x).detach().to(torch.float64)
    size = max(_rms(y), 1e-300)
    before = template.fit(x, y, steps=200)
    if not before <= max_error * size:
        raise RecoveryError(
            f"the recovered structure {part.text} misses the function by {before / size:.1e} (relative RMSE); "
            f"it is not a sum, product or sum of products of library terms and their compositions"
        )
    symbols = [sympy.Symbol(n) for n in names]
    snapped: list[str] = []
    expr, tol, accepted = template.formula(symbols), 0.0, None
    for tol in snap_tols:
        limit = 1.1 * before + tol * size
        snapped += template.snap(x, y, limit=limit)
        extra = template.boundary_values(domain.lower.tolist(), domain.upper.tolist())
        if extra and bool(template.free.any()):
            snapped += template.snap(x, y, limit=limit, extra=extra)
        expr = template.formula(symbols)
        accepted = None if accept is None else accept(expr)
        if accepted:
            break
    relative = template.rmse(x, y) / size
    return Recovery(expr, relative, part.text, tuple(snapped), time.perf_counter() - start, tol, accepted)
