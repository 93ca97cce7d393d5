"""The candidate functions that an edge activation is matched against.

Each :class:`SymbolicFunction` pairs a torch function with its sympy counterpart, a complexity score (used to
prefer simple formulas), the argument domain, and how the affine form ``c*f(a*x + b) + d`` is made unique for it
(which of ``a``, ``b`` are fixed, its symmetry). The table below is the default library; users add entries with
:func:`register_function`. Entries are looked up, and serialised, by name.

This is a data module: the table is exempt from the module size limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import sympy
import torch
from torch import Tensor

__all__ = [
    "SymbolicFunction",
    "DomainCheck",
    "register_function",
    "unregister_function",
    "get_function",
    "resolve_library",
    "function_names",
    "DEFAULT_LIBRARY",
]

#: ``domain(lo, hi)`` -> bool tensor: may the argument ``u = a*x + b`` take every value in ``[lo, hi]``?
DomainCheck = Callable[[Tensor, Tensor], Tensor]

AMode = Literal["free", "positive", "sign", "one"]
BMode = Literal["free", "zero"]
Parity = Literal["odd", "even"]


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry: ``f`` in ``c*f(a*x + b) + d``.

    Attributes:
        name: unique key (also what a fitted edge stores, so networks serialise by name).
        torch_fn: elementwise torch function (must be differentiable by autograd).
        sympy_fn: the same function of a sympy expression.
        complexity: simplicity score (x: 1, x^2 / sin / exp: 2, ...); lower is preferred.
        domain: which argument ranges are allowed (``None``: every real argument); candidates whose argument
            leaves the domain on the sample range are skipped, so log, sqrt and 1/x never produce NaN.
        a_mode: how ``a`` is constrained: ``"free"``; ``"positive"`` (the sign is absorbed by symmetry);
            ``"sign"`` (``a`` is -1 or +1: scaling is absorbed by ``c`` and ``d``, as for sqrt and log);
            ``"one"`` (``a = 1``: ``f(a u) = g(a) f(u)``, as for powers and 1/x).
        b_mode: ``"free"`` or ``"zero"`` (``b = 0``: a shift is a factor absorbed by ``c``, as for exp).
        parity: ``"odd"``/``"even"`` when ``f(-u) = -f(u)`` / ``f(u)``: used to make ``a`` positive.
        period: ``f(u + period) = f(u)``: ``b`` is reduced to one period around 0.
        antiperiod: ``f(u + antiperiod) = -f(u)``: used to make ``c`` positive.
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: float
    domain: DomainCheck | None = None
    a_mode: AMode = "free"
    b_mode: BMode = "free"
    parity: Parity | None = None
    period: float | None = None
    antiperiod: float | None = None

    def canonical(self, a: float, b: float, c: float, d: float) -> tuple[float, float, float, float]:
        """An equivalent ``(a, b, c, d)`` in this function's canonical form (a > 0 by parity, b in one period)."""
        if self.parity is not None and a < 0 and self.a_mode in ("free", "positive"):
            a, b = -a, -b
            if self.parity == "odd":
                c = -c
        if self.antiperiod is not None and c < 0:
            c, b = -c, b + self.antiperiod
        if self.period is not None:
            p = self.period
            b = b - p * math.floor(b / p + 0.5)  # into [-p/2, p/2)
            if b < -p / 2 + 1e-12 * p:
                b += p
        return a, b, c, d


# --- domains: checked on the whole argument range [lo, hi] (vectorised over candidates) -------------------------

_MARGIN = 1e-6  # keep arguments this far from a singularity, relative to the argument spread


def _positive(lo: Tensor, hi: Tensor) -> Tensor:
    return lo > _MARGIN * (hi - lo).clamp(min=1.0)


def _nonnegative(lo: Tensor, hi: Tensor) -> Tensor:
    return lo >= 0


def _nonzero(lo: Tensor, hi: Tensor) -> Tensor:
    gap = _MARGIN * (hi - lo).clamp(min=1.0)
    return (lo > gap) | (hi < -gap)


def _no_tan_pole(lo: Tensor, hi: Tensor) -> Tensor:
    # tan has poles at pi/2 + k pi: the argument range must stay inside one branch, away from its ends
    branch_lo = torch.floor((lo + math.pi / 2) / math.pi)
    branch_hi = torch.floor((hi + math.pi / 2) / math.pi)
    inner = (lo + math.pi / 2 - branch_lo * math.pi > 1e-3) & ((branch_hi + 1) * math.pi - hi - math.pi / 2 > 1e-3)
    return (branch_lo == branch_hi) & inner


def _zero(u: Tensor) -> Tensor:
    return torch.zeros_like(u)


def _sympy_zero(u: sympy.Expr) -> sympy.Expr:
    return sympy.Integer(0)


_REGISTRY: dict[str, SymbolicFunction] = {}


def _add(entry: SymbolicFunction) -> SymbolicFunction:
    _REGISTRY[entry.name] = entry
    return entry


# fmt: off
_add(SymbolicFunction("0", _zero, _sympy_zero, 0, a_mode="one", b_mode="zero"))
_add(SymbolicFunction("x", lambda u: u, lambda u: u, 1, a_mode="one", b_mode="zero"))
_add(SymbolicFunction("x^2", lambda u: u**2, lambda u: u**2, 2, a_mode="one"))
_add(SymbolicFunction("x^3", lambda u: u**3, lambda u: u**3, 3, a_mode="one"))
_add(SymbolicFunction("x^4", lambda u: u**4, lambda u: u**4, 3, a_mode="one"))
_add(SymbolicFunction("1/x", torch.reciprocal, lambda u: 1 / u, 2, domain=_nonzero, a_mode="one"))
_add(SymbolicFunction("1/x^2", lambda u: u**-2, lambda u: u**-2, 3, domain=_nonzero, a_mode="one"))
_add(SymbolicFunction("sqrt", torch.sqrt, sympy.sqrt, 2, domain=_positive, a_mode="sign"))
_add(SymbolicFunction("exp", torch.exp, sympy.exp, 2, b_mode="zero"))
_add(SymbolicFunction("log", torch.log, sympy.log, 2, domain=_positive, a_mode="sign"))
_add(SymbolicFunction("sin", torch.sin, sympy.sin, 2, a_mode="positive", parity="odd",
                      period=2 * math.pi, antiperiod=math.pi))
_add(SymbolicFunction("cos", torch.cos, sympy.cos, 2, a_mode="positive", parity="even",
                      period=2 * math.pi, antiperiod=math.pi))
_add(SymbolicFunction("tan", torch.tan, sympy.tan, 3, domain=_no_tan_pole, a_mode="positive", parity="odd",
                      period=math.pi))
_add(SymbolicFunction("tanh", torch.tanh, sympy.tanh, 3, a_mode="positive", parity="odd"))
_add(SymbolicFunction("gaussian", lambda u: torch.exp(-(u**2)), lambda u: sympy.exp(-(u**2)), 3,
                      a_mode="positive", parity="even"))
_add(SymbolicFunction("abs", torch.abs, sympy.Abs, 3, a_mode="one"))
_add(SymbolicFunction("sinh", torch.sinh, sympy.sinh, 3, a_mode="positive", parity="odd"))
_add(SymbolicFunction("cosh", torch.cosh, sympy.cosh, 3, a_mode="positive", parity="even"))
_add(SymbolicFunction("arctan", torch.arctan, sympy.atan, 4, a_mode="positive", parity="odd"))
# fmt: on

#: Names of the built-in entries, in table order.
DEFAULT_LIBRARY: tuple[str, ...] = tuple(_REGISTRY)


def register_function(
    name: str,
    torch_fn: Callable[[Tensor], Tensor],
    sympy_fn: Callable[[sympy.Expr], sympy.Expr],
    complexity: float,
    *,
    domain: DomainCheck | None = None,
    a_mode: AMode = "free",
    b_mode: BMode = "free",
    parity: Parity | None = None,
    period: float | None = None,
    antiperiod: float | None = None,
    overwrite: bool = False,
) -> SymbolicFunction:
    """Add a candidate function to the registry, so every later fit (and every saved network) can use it by name.

    Args:
        name: unique key.
        torch_fn: elementwise torch function, differentiable by autograd.
        sympy_fn: the same function of a sympy expression.
        complexity: simplicity score (built-ins: x 1, x^2/sin/exp 2, tanh/x^3 3, arctan 4).
        domain: allowed argument ranges (default: every real argument); see :class:`SymbolicFunction`.
        a_mode: constraint on ``a`` (default ``"free"``); see :class:`SymbolicFunction`.
        b_mode: constraint on ``b`` (default ``"free"``); see :class:`SymbolicFunction`.
        parity: ``"odd"``, ``"even"`` or None; see :class:`SymbolicFunction`.
        period: the period of ``f``, or None; see :class:`SymbolicFunction`.
        antiperiod: the antiperiod of ``f``, or None; see :class:`SymbolicFunction`.
        overwrite: replace an existing entry of that name (built-ins included) instead of raising.

    Returns:
        The new entry.

    Raises:
        ValueError: the name is taken (pass ``overwrite=True``) or the complexity is negative.

    Example:
        >>> import torch, sympy
        >>> from kanpde.symbolic import fit_edge, register_function, unregister_function
        >>> _ = register_function("x^5", lambda u: u**5, lambda u: u**5, 3)
        >>> x = torch.linspace(-1, 1, 200, dtype=torch.float64)
        >>> fit_edge(x, 2 * x**5 + 1, library=["x^3", "x^5"])[0].name
        'x^5'
        >>> unregister_function("x^5")
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a symbolic function named {name!r} exists; pass overwrite=True to replace it")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables of one argument")
    if not isinstance(complexity, (int, float)) or complexity < 0:
        raise ValueError(f"complexity must be a number >= 0, got {complexity!r}")
    entry = SymbolicFunction(
        name, torch_fn, sympy_fn, float(complexity), domain, a_mode, b_mode, parity, period, antiperiod
    )
    return _add(entry)


def unregister_function(name: str) -> None:
    """Remove a user entry added by :func:`register_function`.

    Raises:
        KeyError: unknown name.
        ValueError: a built-in entry (they cannot be removed; ``register_function(..., overwrite=True)`` replaces
            one).
    """
    if name not in _REGISTRY:
        raise KeyError(f"no symbolic function named {name!r}; registered: {sorted(_REGISTRY)}")
    if name in DEFAULT_LIBRARY:
        raise ValueError(f"{name!r} is a built-in entry and cannot be removed")
    del _REGISTRY[name]


def get_function(name: str) -> SymbolicFunction:
    """The registered entry called ``name``.

    Raises:
        KeyError: unknown name (the message lists the registered ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no symbolic function named {name!r}; registered: {sorted(_REGISTRY)}") from None


def function_names() -> list[str]:
    """Names of every registered entry (built-ins first, then user entries in registration order)."""
    return list(_REGISTRY)


def resolve_library(library: Iterable[str | SymbolicFunction] | None) -> list[SymbolicFunction]:
    """Entries from names or entries (``None``: every registered entry). ``"0"`` is always included.

    Raises:
        KeyError: an unknown name.
        ValueError: an empty library.
    """
    if library is None:
        items: Sequence[str | SymbolicFunction] = list(_REGISTRY)
    elif isinstance(library, str):
        items = [library]
    else:
        items = list(library)
    entries = [item if isinstance(item, SymbolicFunction) else get_function(item) for item in items]
    if not entries:
        raise ValueError("library must name at least one function, e.g. library=['x', 'x^2', 'sin']")
    if all(entry.name != "0" for entry in entries):
        entries.insert(0, _REGISTRY["0"])
    seen: dict[str, SymbolicFunction] = {}
    for entry in entries:
        seen.setdefault(entry.name, entry)
    return list(seen.values())
