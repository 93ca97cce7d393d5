"""The candidate functions that an edge activation is matched against.

Each :class:`SymbolicFunction` pairs a torch function with its sympy counterpart, a complexity score (used to
prefer simple formulas), the argument domain, and how the affine form ``c*f(a*x + b) + d`` is made unique for it
(which of ``a``, ``b`` are fixed, its symmetry). A :class:`Library` is an immutable set of entries by name; the
table below is the default one (:data:`BUILTINS`). A user extends a copy and passes it per call::

    mine = BUILTINS.with_function("x^5", lambda u: u**5, lambda u: u**5, 3, a_mode="one")
    fit_edge(x, y, library=mine)          # also auto_symbolic(..., library=mine), recover_formula, solver.symbolic

Inside such a call, names resolve in that library (:func:`using_library`, a context variable: other threads and
calls keep theirs); objects that outlive the call (fits, symbolic networks) keep the entries they use.
:func:`register_function` (kept for compatibility) adds to a process-wide list instead.

This is a data module: the table is exempt from the module size limit.
"""

from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, ParamSpec, TypeVar

import sympy
import torch
from torch import Tensor

__all__ = [
    "BUILTINS",
    "Library",
    "current_library",
    "using_library",
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


_TABLE: dict[str, SymbolicFunction] = {}


def _add(entry: SymbolicFunction) -> SymbolicFunction:
    _TABLE[entry.name] = entry
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
DEFAULT_LIBRARY: tuple[str, ...] = tuple(_TABLE)


def _entry(
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
) -> SymbolicFunction:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(torch_fn) or not callable(sympy_fn):
        raise TypeError("torch_fn and sympy_fn must be callables of one argument")
    if not isinstance(complexity, (int, float)) or complexity < 0:
        raise ValueError(f"complexity must be a number >= 0, got {complexity!r}")
    return SymbolicFunction(
        name, torch_fn, sympy_fn, float(complexity), domain, a_mode, b_mode, parity, period, antiperiod
    )


class Library(Mapping[str, SymbolicFunction]):
    """An immutable set of candidate functions by name (``"0"`` always included); extend it into a new one.

    Args:
        entries: the entries, in order (later ones replace earlier ones of the same name).

    Example:
        >>> import torch
        >>> small = Library([BUILTINS["x^3"], BUILTINS["sin"]])
        >>> mine = small.with_function("x^5", lambda u: u**5, lambda u: u**5, 3, a_mode="one")
        >>> x = torch.linspace(-1, 1, 200, dtype=torch.float64)
        >>> from kanpde.symbolic import fit_edge
        >>> fit_edge(x, 2 * x**5 + 1, library=mine)[0].name, "x^5" in BUILTINS
        ('x^5', False)
    """

    def __init__(self, entries: Iterable[SymbolicFunction] = ()) -> None:
        table = {"0": _TABLE["0"]}
        for entry in entries:
            if not isinstance(entry, SymbolicFunction):
                raise TypeError(f"a Library holds SymbolicFunction entries, got {type(entry).__name__}")
            table[entry.name] = entry
        self._entries = table

    def __getitem__(self, name: str) -> SymbolicFunction:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no symbolic function named {name!r}; registered: {sorted(self._entries)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Library({list(self._entries)})"

    def extended(self, *entries: SymbolicFunction, overwrite: bool = False) -> Library:
        """A new library with ``entries`` added (a taken name is a ValueError unless ``overwrite``)."""
        taken = [e.name for e in entries if e.name in self._entries]
        if taken and not overwrite:
            raise ValueError(f"a symbolic function named {taken[0]!r} exists; pass overwrite=True to replace it")
        return Library([*self._entries.values(), *entries])

    def with_function(
        self,
        name: str,
        torch_fn: Callable[[Tensor], Tensor],
        sympy_fn: Callable[[sympy.Expr], sympy.Expr],
        complexity: float,
        *,
        overwrite: bool = False,
        **options: object,
    ) -> Library:
        """A new library with one more entry; arguments as :func:`register_function`'s."""
        entry = _entry(name, torch_fn, sympy_fn, complexity, **options)  # type: ignore[arg-type]
        return self.extended(entry, overwrite=overwrite)

    def without(self, *names: str) -> Library:
        """A new library without ``names`` (``"0"`` stays)."""
        for name in names:
            self[name]  # noqa: B018 - an unknown name is a KeyError that lists the known ones
        return Library(e for n, e in self._entries.items() if n not in names)


#: The built-in library (immutable; extend a copy with :meth:`Library.with_function`).
BUILTINS = Library(_TABLE.values())

# Entries added by register_function (compatibility), and the library of the call in progress, per context.
_REGISTERED: dict[str, SymbolicFunction] = {}
_ACTIVE: contextvars.ContextVar[Library | None] = contextvars.ContextVar("kanpde_symbolic_library", default=None)


def current_library() -> Library:
    """The library names resolve in: the one a call is using (:func:`using_library`), else the built-ins plus
    the entries of :func:`register_function`."""
    active = _ACTIVE.get()
    if active is not None:
        return active
    return BUILTINS.extended(*_REGISTERED.values(), overwrite=True) if _REGISTERED else BUILTINS


@contextmanager
def using_library(library: Library | Iterable[str | SymbolicFunction] | None) -> Iterator[Library]:
    """Resolve names in ``library`` inside the block (this thread / context only); None keeps the current one.

    A list of names and entries counts as the current library extended by its entries.
    """
    if library is None or (isinstance(library, Mapping) and not isinstance(library, Library)):  # per-edge specs
        yield current_library()
        return
    if not isinstance(library, Library):
        entries = [item for item in ([library] if isinstance(library, str) else library)
                   if isinstance(item, SymbolicFunction)]  # fmt: skip
        library = current_library().extended(*entries, overwrite=True)
    token = _ACTIVE.set(library)
    try:
        yield library
    finally:
        _ACTIVE.reset(token)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def resolving_in_library(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with names resolving in its ``library=`` keyword argument (see :func:`using_library`)."""

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with using_library(kwargs.get("library")):  # type: ignore[arg-type]
            return fn(*args, **kwargs)

    return call


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
    """Add a candidate function to the process-wide list, so every later fit can use it by name.

    Prefer a :class:`Library` passed per call (``BUILTINS.with_function(...)``): it changes nothing for other
    callers. This function is kept for compatibility.

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
    entry = _entry(name, torch_fn, sympy_fn, complexity, domain=domain, a_mode=a_mode, b_mode=b_mode,
                   parity=parity, period=period, antiperiod=antiperiod)  # fmt: skip
    if (name in BUILTINS or name in _REGISTERED) and not overwrite:
        raise ValueError(f"a symbolic function named {name!r} exists; pass overwrite=True to replace it")
    _REGISTERED[name] = entry
    return entry


def unregister_function(name: str) -> None:
    """Remove a user entry added by :func:`register_function`.

    Raises:
        KeyError: unknown name.
        ValueError: a built-in entry (they cannot be removed; ``register_function(..., overwrite=True)`` replaces
            one).
    """
    if name in DEFAULT_LIBRARY:
        raise ValueError(f"{name!r} is a built-in entry and cannot be removed")
    if name not in _REGISTERED:
        raise KeyError(f"no symbolic function named {name!r}; registered: {sorted(current_library())}")
    del _REGISTERED[name]


def get_function(name: str) -> SymbolicFunction:
    """The entry called ``name`` in the :func:`current_library`.

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    return current_library()[name]


def function_names() -> list[str]:
    """Names of every entry of the :func:`current_library` (built-ins first, then added entries in order)."""
    return list(current_library())


def resolve_library(library: Library | Iterable[str | SymbolicFunction] | None) -> list[SymbolicFunction]:
    """Entries from a :class:`Library`, or from names or entries (``None``: every entry of the
    :func:`current_library`). ``"0"`` is always included.

    Raises:
        KeyError: an unknown name.
        ValueError: an empty library.
    """
    if library is None:
        items: Sequence[str | SymbolicFunction] = list(current_library().values())
    elif isinstance(library, Library):
        items = list(library.values())
    elif isinstance(library, str):
        items = [library]
    else:
        items = list(library)
    entries = [item if isinstance(item, SymbolicFunction) else get_function(item) for item in items]
    if not entries:
        raise ValueError("library must name at least one function, e.g. library=['x', 'x^2', 'sin']")
    if all(entry.name != "0" for entry in entries):
        entries.insert(0, _TABLE["0"])
    seen: dict[str, SymbolicFunction] = {}
    for entry in entries:
        seen.setdefault(entry.name, entry)
    return list(seen.values())
