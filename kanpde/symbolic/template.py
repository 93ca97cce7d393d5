"""Formulas with free constants: a small expression tree evaluated in torch and printed in sympy.

A :class:`Template` is built from library functions (``f(a*x_i + b)``, or of another node), constants, sums and
products; its constants ``theta`` are fitted to data by Levenberg-Marquardt (the Jacobian by forward-mode
autodiff, :func:`torch.func.jacfwd`: templates have a few dozen constants at most) and then snapped to simple exact
values (integers, rationals, multiples of pi, pi^2, e, sqrt(2), sqrt(3)) where that does not raise the error. It
is what :mod:`kanpde.symbolic.recover` assembles from the separable pieces of a function; unlike a
:class:`~kanpde.symbolic.network.SymbolicNetwork` it can multiply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import sympy
import torch
from torch import Tensor

from .constants import SimpleValue, nearest_distance, simple_values
from .library import get_function
from .simplify import rationalize_floats, simplify_expression

__all__ = ["Apply", "Param", "Add", "Mul", "Node", "Template", "least_squares", "levenberg_marquardt"]


@dataclass(frozen=True)
class Param:
    """The constant ``theta[index]``."""

    index: int


@dataclass(frozen=True)
class Apply:
    """``f(theta[a] * arg + theta[b])`` for the library function ``name``; ``arg`` is the coordinate ``x[:, arg]``
    when an int, else a node (a composition)."""

    name: str
    arg: int | Node
    a: int
    b: int


@dataclass(frozen=True)
class Add:
    """The sum of the children."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Mul:
    """The product of the children."""

    children: tuple[Node, ...]


Node = Param | Apply | Add | Mul


def _torch(node: Node, x: Tensor, theta: Tensor) -> Tensor:
    if isinstance(node, Param):
        return theta[node.index].expand(x.shape[0])
    if isinstance(node, Apply):
        arg = x[:, node.arg] if isinstance(node.arg, int) else _torch(node.arg, x, theta)
        return get_function(node.name).torch_fn(theta[node.a] * arg + theta[node.b])
    parts = [_torch(child, x, theta) for child in node.children]
    out = parts[0]
    for part in parts[1:]:
        out = out + part if isinstance(node, Add) else out * part
    return out


def _sympy(node: Node, symbols: Sequence[sympy.Expr], constants: Sequence[sympy.Expr]) -> sympy.Expr:
    if isinstance(node, Param):
        return constants[node.index]
    if isinstance(node, Apply):
        inner = symbols[node.arg] if isinstance(node.arg, int) else _sympy(node.arg, symbols, constants)
        return get_function(node.name).sympy_fn(constants[node.a] * inner + constants[node.b])
    parts = [_sympy(child, symbols, constants) for child in node.children]
    return sympy.Add(*parts) if isinstance(node, Add) else sympy.Mul(*parts)


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Apply) and not isinstance(node.arg, int):
        yield from _nodes(node.arg)
    elif isinstance(node, (Add, Mul)):
        for child in node.children:
            yield from _nodes(child)


def least_squares(a: Tensor, b: Tensor) -> Tensor:
    """The least-squares solution of ``a @ x = b`` (minimum norm where ``a`` is rank deficient), the same bits
    on every run.

    On the CPU this is LAPACK's SVD-based ``gelsd``: the default ``gelsy`` of MKL returns results that differ in
    the last bits from call to call on the same input, and those differences decided snapping (a constant fixed
    or not) and with it the recovered formula. CUDA offers only ``gels`` (QR, full rank).

    Shapes:
        a: ``(m, n)``; b: ``(m, k)``; returns ``(n, k)``.
    """
    driver = "gelsd" if a.device.type == "cpu" else None
    return torch.linalg.lstsq(a, b, driver=driver).solution


def levenberg_marquardt(
    residual: Callable[[Tensor], Tensor],
    jacobian: Callable[[Tensor], Tensor],
    theta: Tensor,
    free: Tensor,
    steps: int,
    *,
    floor: float = 0.0,
    stall: float = 1e-12,
) -> tuple[Tensor, float]:
    """Minimise ``sum(residual(theta)^2)`` over the ``free`` entries of ``theta``; returns ``(theta, sse)``.

    Marquardt-scaled damping; only steps that lower the sum are taken (so it cannot diverge). Stops after
    ``steps`` iterations, when the sum is at most ``floor``, when an iteration gains less than the fraction
    ``stall``, or when no damping gives a decrease.

    Shapes:
        theta, free: ``(n_params,)``; residual: ``-> (n_points,)``; jacobian: ``-> (n_points, n_params)``.
    """

    def sse_of(values: Tensor) -> float:
        with torch.no_grad():
            value = float(residual(values).square().sum())
        return value if math.isfinite(value) else math.inf

    sse = sse_of(theta)
    if not bool(free.any()):
        return theta, sse
    damping = 1e-3
    for _ in range(steps if math.isfinite(sse) else 0):
        if sse <= floor:
            break
        r = residual(theta).detach()
        jac = jacobian(theta).detach()[:, free]
        jtj, grad = jac.T @ jac, jac.T @ r
        if not bool(torch.isfinite(jtj).all() & torch.isfinite(grad).all()):
            break
        scaling = torch.diag(jtj.diagonal().clamp(min=1e-30))
        previous = sse
        while damping < 1e12:
            step = least_squares(jtj + damping * scaling, -grad[:, None])[:, 0]
            trial = theta.clone()
            trial[free] += step
            trial_sse = sse_of(trial)
            if trial_sse < sse:
                theta, sse, damping = trial, trial_sse, max(damping / 3, 1e-12)
                break
            damping *= 4
        if sse == previous or previous - sse <= stall * previous:
            break
    return theta, sse


class Template:
    """A formula tree with constants ``theta``, some of them fixed at exact sympy values.

    Args:
        root: the tree.
        values: initial values of the constants (``theta``).
        exact: exact values of the fixed constants, by index (they are never fitted).

    Shapes:
        ``template(x)``: ``(n_points, n_coords) -> (n_points,)``.
    """

    def __init__(self, root: Node, values: Sequence[float], exact: dict[int, sympy.Expr] | None = None) -> None:
        self.root = root
        self.theta = torch.tensor([float(v) for v in values], dtype=torch.float64)
        self.exact: dict[int, sympy.Expr] = {}
        for index, value in (exact or {}).items():
            self.fix(index, value)

    @property
    def free(self) -> Tensor:
        """Which constants are fitted."""
        mask = torch.ones(self.theta.numel(), dtype=torch.bool)
        mask[list(self.exact)] = False
        return mask

    def fix(self, index: int, value: sympy.Expr) -> None:
        """Fix constant ``index`` at the exact ``value`` (a sympy number, a real number or a string such as
        ``"sqrt(2)/2"``, read by the whitelist parser of :mod:`kanpde.pde.safe_expr`).

        Raises:
            TypeError: ``value`` is of another kind.
            ValueError: ``value`` is a string outside the grammar, or not a finite real constant.
        """
        from ..pde.safe_expr import to_sympy

        exact = to_sympy(value, what=f"value of constant {index}")
        try:
            number = float(exact)
        except (TypeError, ValueError) as err:
            raise ValueError(f"value of constant {index} must be a real constant, got {exact} ({err})") from None
        if not math.isfinite(number):
            raise ValueError(f"value of constant {index} must be finite, got {exact}")
        self.exact[index] = exact
        self.theta[index] = number

    def copy(self) -> Template:
        """An independent copy (same tree, copied constants)."""
        return Template(self.root, self.theta.tolist(), dict(self.exact))

    def __call__(self, x: Tensor, theta: Tensor | None = None) -> Tensor:
        return _torch(self.root, x.to(torch.float64), self.theta if theta is None else theta)

    def rmse(self, x: Tensor, y: Tensor) -> float:
        """Root mean squared error against ``y`` (inf when the formula is not finite on ``x``)."""
        with torch.no_grad():
            value = float(torch.sqrt(torch.mean((self(x) - y) ** 2)))
        return value if math.isfinite(value) else math.inf

    def fit(self, x: Tensor, y: Tensor, *, steps: int = 100, good_enough: float = 0.0, stall: float = 1e-12) -> float:
        """Fit the free constants to ``(x, y)`` in place by Levenberg-Marquardt; returns the RMSE."""
        x, y = x.to(torch.float64), y.to(torch.float64)

        def residual(theta: Tensor) -> Tensor:
            return self(x, theta) - y

        def jacobian(theta: Tensor) -> Tensor:
            return torch.func.jacfwd(residual)(theta)

        floor = max(1e-30 * float((y * y).sum()), good_enough**2 * y.numel())
        self.theta, _ = levenberg_marquardt(residual, jacobian, self.theta, self.free, steps, floor=floor, stall=stall)
        return self.rmse(x, y)

    def snap(
        self,
        x: Tensor,
        y: Tensor,
        *,
        rtol: float = 0.1,
        limit: float | None = None,
        window: float = 0.05,
        steps: int = 30,
        extra: Sequence[SimpleValue] = (),
    ) -> list[str]:
        """Fix free constants at simple exact values where the RMSE stays within ``limit`` (in place).

        The default limit is ``min((1 + rtol) * rmse_before, rmse_before + 0.01 * std(y)) + 1e-8 * max|y|``; data
        that are themselves approximate (a trained network) need a looser one, e.g. ``rmse_before + 1e-4 *
        rms(y)``: the free constants absorb part of the data's error, so the exact formula fits it worse.
        First 0 and +-1 for every constant (the gauge of products and sums: fixing it lets the others take their
        natural values), then the other candidates near each constant (twice); nearest-to-a-simple-value first.
        Each trial refits the other constants. ``extra`` adds candidates (such as ``1/sinh(pi)``, see
        :meth:`boundary_values`) to the second phase. Returns the snapped constants, e.g. ``["theta[3] = pi"]``.
        """
        x, y = x.to(torch.float64), y.to(torch.float64)
        if limit is None:
            before = self.rmse(x, y)
            spread = float(y.std()) if y.numel() > 1 else 0.0
            limit = min((1 + rtol) * before, before + 1e-2 * spread) + 1e-8 * max(float(y.abs().max()), 1e-300)
        snapped: list[str] = []
        for phase in (1, 2, 2):
            order = sorted(
                (nearest_distance(float(self.theta[i])), i) for i in range(self.theta.numel()) if i not in self.exact
            )
            changed = False
            for _, i in order:
                value = float(self.theta[i])
                candidates = simple_values(value, window=window)
                near = [c for c in extra if abs(c.value - value) <= window * max(abs(value), 1e-3)]
                candidates += sorted(near, key=lambda c: abs(c.value - value))
                for candidate in candidates[:2] if phase == 1 else candidates[2:]:
                    saved, saved_exact = self.theta.clone(), dict(self.exact)
                    self.fix(i, candidate.expr)
                    if self.fit(x, y, steps=steps, good_enough=limit, stall=1e-3) <= limit:
                        snapped.append(f"theta[{i}] = {candidate.expr}")
                        changed = True
                        break
                    self.theta, self.exact = saved, saved_exact
            if phase == 2 and not changed:
                break
        if snapped:
            self.fit(x, y, steps=steps)
        return snapped

    def boundary_values(self, lower: Sequence[float], upper: Sequence[float]) -> list[SimpleValue]:
        """Snapping candidates from the formula itself: ``+-f(a s + b)`` and ``+-1/f(a s + b)`` for every term
        ``f(a x_i + b)`` with exact ``a, b`` and ``s`` an end of coordinate ``i``'s range, when that is not a plain
        number (a solution normalised by its boundary data: ``sinh(pi y)/sinh(pi)``)."""
        out: dict[float, SimpleValue] = {}
        for node in _nodes(self.root):
            if not isinstance(node, Apply) or not isinstance(node.arg, int):
                continue
            if node.a not in self.exact or node.b not in self.exact:
                continue
            for end in (lower[node.arg], upper[node.arg]):
                arg = self.exact[node.a] * sympy.nsimplify(end, rational=True) + self.exact[node.b]
                value = get_function(node.name).sympy_fn(arg)
                if value.is_Rational or not value.is_finite or value == 0 or value.has(sympy.zoo, sympy.nan):
                    continue
                for candidate in (value, -value, 1 / value, -1 / value):
                    number = float(candidate)
                    if math.isfinite(number):
                        out.setdefault(number, SimpleValue(number, candidate))
        return list(out.values())

    def expr(self, symbols: Sequence[sympy.Expr]) -> sympy.Expr:
        """The formula in ``symbols`` (one per coordinate): fixed constants exact, the others floats."""
        constants = [self.exact.get(i, sympy.Float(float(v))) for i, v in enumerate(self.theta)]
        return _sympy(self.root, symbols, constants)

    def formula(self, symbols: Sequence[sympy.Expr]) -> sympy.Expr:
        """:meth:`expr`, with floats near simple values made exact and the result simplified."""
        return simplify_expression(rationalize_floats(sympy.sympify(self.expr(symbols))))
