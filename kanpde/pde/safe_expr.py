"""Expression strings parsed by a whitelist: data in, a sympy expression out, no code run.

Every string that kanpde turns into a formula (``f=``, ``exact=``, boundary and initial values, ``diffusivity=``,
the formulas given to :func:`kanpde.symbolic.verify_formula`, strings held in checkpoints and state dicts) goes
through :func:`parse_expression`. The string is read by Python's ``ast`` module (which builds a syntax tree and
runs nothing); each node is checked against the grammar below and the sympy expression is built from the tree by
this module, node by node. Neither ``eval``, ``exec``, ``sympify`` nor ``parse_expr`` ever sees the string.

Grammar (anything else is refused with a ``ValueError`` that names the argument and what is allowed):

- numbers: integer and decimal literals (``2``, ``0.5``, ``1e-3``); no complex (``1j``), no strings;
- names: the ones the caller allows (coordinates such as ``x``, ``y``, ``t``; parameter or unknown names), the
  constants ``pi``, ``E`` and ``e`` (both Euler's number), ``True`` and ``False`` (in conditions);
- operators: ``+ - * / ** ^`` (``^`` is a power, as ``**``), unary ``-`` and ``+``, parentheses;
- comparisons ``< <= > >=`` (one per comparison) and ``&``, ``|``, ``~`` on them, for the conditions of
  ``Piecewise((value, condition), ...)`` and alike;
- calls of the listed functions only (:data:`FUNCTIONS`), with positional arguments; ``(value, condition)``
  pairs only as arguments of ``Piecewise``.

Refused: attributes (``a.b``), subscripts (``a[0]``), names that start with ``_`` (dunders), lambdas,
comprehensions, keyword arguments, ``*args``, strings, calls of anything but a listed function name, ``and``/
``or``/``not``/``if``, chained comparisons, ``==``. Limits that keep time and memory small:
:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting, numeric exponents of at most
:data:`MAX_EXPONENT` in size, numbers built by powers of at most :data:`MAX_NUMBER_BITS` bits (so ``9**9**8`` is
refused at once instead of computing a number with 41 million digits), at most :data:`MAX_ROOTS` fractional
powers of numbers of at most :data:`MAX_ROOT_BITS` bits (sympy factors them), :data:`MAX_ARGUMENTS` arguments per
call, and, as a backstop for sympy's automatic simplifications, :data:`MAX_SECONDS` seconds per expression.

:func:`expression_text` writes a sympy expression back in this grammar (floats exactly, by ``repr``), so that
formulas can be stored as data and read again by :func:`parse_expression`.

Example:
    >>> parse_expression("2*pi**2*sin(pi*x)*sin(pi*y)", names=("x", "y"), what="f")
    2*pi**2*sin(pi*x)*sin(pi*y)
    >>> parse_expression("x^2 + y", names=("x", "y"), what="exact")
    x**2 + y
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sympy

from .._timeout import Timeout, time_limit

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_ARGUMENTS",
    "MAX_NUMBER_BITS",
    "MAX_ROOTS",
    "MAX_ROOT_BITS",
    "MAX_SECONDS",
    "expression_text",
    "parse_expression",
    "to_sympy",
]

MAX_LENGTH = 10_000
"""Most characters in an expression string."""
MAX_DEPTH = 100
"""Most levels of nesting (parentheses, calls, operators of different kinds); a long sum or product is one level."""
MAX_EXPONENT = 1000
"""Largest size of a numeric exponent (``x**1000`` is accepted, ``x**1001`` is not)."""
MAX_NUMBER_BITS = 10_000
"""Largest size, in bits (about 3000 decimal digits), of a number computed from a power of numbers."""
MAX_ROOT_BITS = 64
"""Largest size, in bits, of a rational number raised to a fractional power (``sqrt(n)``, ``n**(1/3)``): sympy
factors such numbers, which takes long for large ones."""
MAX_ROOTS = 20
"""Most fractional powers of rational numbers in one expression (sympy combines them, in quadratic time)."""
MAX_ARGUMENTS = 100
"""Most arguments of one function call (``Min``, ``Max``, ``Piecewise`` pieces)."""
MAX_SECONDS = 5.0
"""Longest time building one expression may take (enforced where a timer can interrupt: the main thread on Unix)."""

FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc, sympy.asin, sympy.acos, sympy.atan,
        sympy.atan2, sympy.sinh, sympy.cosh, sympy.tanh, sympy.asinh, sympy.acosh, sympy.atanh, sympy.exp, sympy.log,
        sympy.sqrt, sympy.erf, sympy.erfc, sympy.floor, sympy.ceiling, sympy.sign, sympy.sinc, sympy.Heaviside,
        sympy.Piecewise, sympy.Abs, sympy.Min, sympy.Max,
    )
} | {"abs": sympy.Abs, "min": sympy.Min, "max": sympy.Max, "ln": sympy.log, "ceil": sympy.ceiling,
     "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan}  # fmt: skip
"""The functions strings may call: sympy's names plus a few numpy-style aliases."""
CONSTANTS: dict[str, sympy.Basic] = {"pi": sympy.pi, "E": sympy.E, "e": sympy.E, "True": sympy.true,
                                     "False": sympy.false}  # fmt: skip
"""Names with a fixed meaning (a coordinate of the same name takes precedence over ``e``, ``E``, ``pi``)."""

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|"}
_COMPARE = {ast.Lt: sympy.StrictLessThan, ast.LtE: sympy.LessThan, ast.Gt: sympy.StrictGreaterThan,
            ast.GtE: sympy.GreaterThan}  # fmt: skip
# Node kinds that are refused, with the words the error uses.
_REFUSED = {
    ast.Attribute: "attribute access (a.b)", ast.Subscript: "a subscript (a[i])", ast.Lambda: "lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.IfExp: "an 'if' expression", ast.BoolOp: "'and'/'or' (use & and |)",
    ast.NamedExpr: "assignment (:=)", ast.Starred: "a starred argument", ast.JoinedStr: "a string",
    ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "a slice",
}  # fmt: skip


class _Refused(ValueError):
    """Raised inside the builder; :func:`parse_expression` adds the argument name and the text."""


def _grammar_hint(functions: Iterable[str]) -> str:
    return (
        "allowed: numbers, the names given, pi, E, + - * / ** ^, unary minus, parentheses, comparisons with & | ~ "
        f"in Piecewise conditions, and calls of {', '.join(sorted(functions))}"
    )


def parse_expression(
    text: str,
    *,
    names: Iterable[str] | Mapping[str, sympy.Basic] = (),
    what: str = "expression",
    unknown_names: bool = False,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> sympy.Basic:
    """The sympy expression that ``text`` writes, read by the whitelist grammar of this module.

    Args:
        text: The expression, e.g. ``"exp(-pi**2*t)*sin(pi*x)"``.
        names: The names the text may use (coordinates, parameters, unknowns): an iterable of names, each read as
            a plain ``sympy.Symbol``, or a mapping from name to the sympy object it stands for. They take
            precedence over the constants ``pi``, ``E``, ``e``.
        what: What the text is (``"exact"``, ``"f"``, ...), named in error messages.
        unknown_names: Whether other identifiers become plain ``sympy.Symbol`` objects (for callers that report
            unknown symbols themselves, with their own hints) instead of an error. Names starting with ``_``
            are refused either way.
        functions: The callable names and the sympy functions they build (default :data:`FUNCTIONS`).

    Returns:
        The sympy object (an expression; a relation or boolean when the text is one, e.g. ``"x > 0"``).

    Raises:
        TypeError: ``text`` is not a string.
        ValueError: the text is empty, too long, too deeply nested, does not parse, or uses anything outside the
            grammar (an attribute, a subscript, an unlisted name or function, a string, a huge exponent, ...);
            the message starts with ``what`` and says what is allowed.

    Example:
        >>> parse_expression("Piecewise((x, x > 0.5), (0, True))", names=("x",), what="initial")
        Piecewise((x, x > 0.5), (0, True))
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string expression such as 'sin(pi*x)', got {type(text).__name__}")
    functions = FUNCTIONS if functions is None else functions
    symbols = dict(names) if isinstance(names, Mapping) else {n: sympy.Symbol(n) for n in names}
    hint = _grammar_hint(functions)
    shown = repr(text) if len(text) <= 200 else repr(text[:200]) + f"... ({len(text)} characters)"
    if len(text) > MAX_LENGTH:
        raise ValueError(f"{what}: the expression string has {len(text)} characters; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise ValueError(f"{what}: could not parse {shown}: the expression is empty. Write e.g. '2*pi**2*sin(pi*x)'")
    depth = _bracket_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"{what}: {shown} nests {depth} brackets deep; at most {MAX_DEPTH} levels are allowed")
    source = text.replace("^", "**")  # ^ is a power (strings, where it could mean anything else, are refused)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        detail = error.msg if isinstance(error, SyntaxError) else str(error) or type(error).__name__
        if isinstance(error, (MemoryError, RecursionError)):
            detail = "too many terms or operators in one chain, or nested too deeply"
        raise ValueError(
            f"{what}: could not parse {shown} ({type(error).__name__}: {detail}). Write e.g. '2*pi**2*sin(pi*x)'; "
            "** or ^ is a power, multiplication needs *"
        ) from None
    builder = _Builder(symbols, functions, unknown_names)
    limit = time_limit(MAX_SECONDS)
    try:
        with limit:
            return builder.build(tree.body, 0)
    except Timeout:
        if not limit.fired or limit.enclosing_fired:  # an enclosing limit ran out: its owner handles it
            raise
        raise ValueError(
            f"{what}: building {shown} took longer than {MAX_SECONDS:g} s; simplify the expression"
        ) from None
    except _Refused as error:
        raise ValueError(f"{what}: {shown} is not an allowed expression: {error}. {hint}") from None
    except RecursionError:
        raise ValueError(f"{what}: {shown} nests too deeply; at most {MAX_DEPTH} levels are allowed") from None
    except MemoryError:
        raise ValueError(f"{what}: {shown} needs too much memory to build") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError) as error:  # sympy refusing its arguments
        raise ValueError(f"{what}: could not build {shown} ({type(error).__name__}: {error})") from None


def to_sympy(
    value: object,
    *,
    names: Iterable[str] | Mapping[str, sympy.Basic] = (),
    what: str = "expression",
    unknown_names: bool = False,
) -> sympy.Basic:
    """``value`` as a sympy object without running code: sympy objects as they are, real numbers converted, strings
    read by :func:`parse_expression` (with ``names``, ``what`` and ``unknown_names``).

    Unlike ``sympy.sympify``, no other kind of object is converted (``sympify`` falls back to evaluating the
    object's ``str``).

    Raises:
        TypeError: ``value`` is neither a sympy object, a real number nor a string.
        ValueError: a string outside the grammar, or a number that is not finite.

    Example:
        >>> to_sympy("sqrt(2)/2", what="value")
        sqrt(2)/2
    """
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, str):
        return parse_expression(value, names=names, what=what, unknown_names=unknown_names)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if isinstance(value, numbers.Integral):
            return sympy.Integer(int(value))
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{what} must be a finite number, got {value!r}")
        return sympy.Float(number)
    raise TypeError(f"{what} must be a sympy expression, a real number or a string, got {type(value).__name__}")


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


class _Builder:
    """Builds sympy objects from checked ``ast`` nodes (recursion bounded by ``MAX_DEPTH``)."""

    def __init__(
        self, symbols: dict[str, sympy.Basic], functions: Mapping[str, Callable[..., Any]], unknown: bool
    ) -> None:
        self.symbols, self.functions, self.unknown = symbols, functions, unknown
        self.roots = 0  # fractional powers of rational numbers so far

    def power(self, base: sympy.Basic, exponent: sympy.Basic) -> sympy.Basic:
        if base.is_Rational and exponent.is_Rational and not exponent.is_Integer:
            self.roots += 1
            if _bits(base) > MAX_ROOT_BITS or self.roots > MAX_ROOTS:
                raise _Refused(
                    f"fractional powers of numbers are limited to {MAX_ROOTS} per expression, of numbers of at most "
                    f"{MAX_ROOT_BITS} bits (about 19 digits); {base}**({exponent}) goes beyond"
                )
        return _power(base, exponent)

    def build(self, node: ast.AST, depth: int) -> sympy.Basic:
        if depth > MAX_DEPTH:
            raise _Refused(f"it nests more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if kind in _REFUSED:
            raise _Refused(f"{_REFUSED[kind]} is not allowed")
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Tuple):
            raise _Refused("tuples are allowed only as (value, condition) arguments of Piecewise")
        raise _Refused(f"{type(node).__name__} is not part of the grammar")

    def _constant(self, value: object) -> sympy.Basic:
        if isinstance(value, bool):
            return sympy.true if value else sympy.false
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _Refused(f"the number {value} is not finite")
            return sympy.Float(value)
        if isinstance(value, (str, bytes)):
            raise _Refused("a string is not allowed")
        raise _Refused(f"the constant {value!r} is not a real number")

    def _name(self, name: str) -> sympy.Basic:
        if name.startswith("_"):
            raise _Refused(f"the name {name!r} is not allowed (names starting with '_' never are)")
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.functions:
            raise _Refused(f"the function {name!r} must be called, e.g. {name}(x)")
        if self.unknown:
            return sympy.Symbol(name)
        allowed = ", ".join([*self.symbols, "pi", "E", "e"])
        raise _Refused(f"unknown name {name!r} (the names allowed here are {allowed})")

    def _unary(self, node: ast.UnaryOp, depth: int) -> sympy.Basic:
        operand = self.build(node.operand, depth + 1)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert):
            return sympy.Not(operand)
        raise _Refused("'not' is not allowed (use ~ on a comparison)")

    def _binary(self, node: ast.BinOp, depth: int) -> sympy.Basic:
        op = type(node.op)
        if op not in _BINARY:
            raise _Refused(f"the operator {type(node.op).__name__} is not allowed (only + - * / ** ^ & |)")
        if op in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            return self._chain(node, depth)
        left, right = self.build(node.left, depth + 1), self.build(node.right, depth + 1)
        if op is ast.BitAnd:
            return sympy.And(left, right)
        if op is ast.BitOr:
            return sympy.Or(left, right)
        return self.power(left, right)

    def _chain(self, node: ast.BinOp, depth: int) -> sympy.Basic:
        """A sum or product of many terms (``a + b - c + ...``) without recursing once per term."""
        additive = isinstance(node.op, (ast.Add, ast.Sub))
        kinds = (ast.Add, ast.Sub) if additive else (ast.Mult, ast.Div)
        operands: list[tuple[type[ast.operator], ast.expr]] = []
        current: ast.expr = node
        while isinstance(current, ast.BinOp) and isinstance(current.op, kinds):
            operands.append((type(current.op), current.right))
            current = current.left
        values = [self.build(current, depth + 1)]
        for op, right in reversed(operands):
            value = self.build(right, depth + 1)
            if op is ast.Sub:
                value = -value
            elif op is ast.Div:
                value = self.power(value, sympy.Integer(-1))
            values.append(value)
        return sympy.Add(*values) if additive else sympy.Mul(*values)

    def _compare(self, node: ast.Compare, depth: int) -> sympy.Basic:
        if len(node.ops) != 1:
            raise _Refused("chained comparisons (a < b < c) are not allowed; write (a < b) & (b < c)")
        relation = _COMPARE.get(type(node.ops[0]))
        if relation is None:
            raise _Refused("only the comparisons < <= > >= are allowed")
        return relation(self.build(node.left, depth + 1), self.build(node.comparators[0], depth + 1))

    def _call(self, node: ast.Call, depth: int) -> sympy.Basic:
        if not isinstance(node.func, ast.Name):
            raise _Refused("only listed function names may be called, e.g. sin(x)")
        name = node.func.id
        if name.startswith("_") or name not in self.functions:
            raise _Refused(f"unknown function(s) {name}; supported: {', '.join(sorted(self.functions))}")
        if node.keywords:
            raise _Refused(f"keyword arguments are not allowed (in the call of {name})")
        function = self.functions[name]
        if len(node.args) > MAX_ARGUMENTS:
            raise _Refused(f"{name} is called with {len(node.args)} arguments; at most {MAX_ARGUMENTS} are allowed")
        if function is sympy.Piecewise:
            pieces = []
            for arg in node.args:
                if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                    raise _Refused("Piecewise takes (value, condition) pairs, e.g. Piecewise((x, x > 0), (0, True))")
                pieces.append(tuple(self.build(e, depth + 1) for e in arg.elts))
            return sympy.Piecewise(*pieces)
        args = [self.build(arg, depth + 1) for arg in node.args]
        if function is sympy.sqrt and len(args) == 1:
            return self.power(args[0], sympy.Rational(1, 2))
        return function(*args)


def _bits(number: sympy.Basic) -> float:
    """About how many bits a number takes (its numerator and denominator, or a float's exponent)."""
    if isinstance(number, sympy.Rational):
        return max(int(number.p).bit_length() + int(number.q).bit_length(), 1)
    if isinstance(number, sympy.Float):
        value = abs(float(number))
        return abs(math.log2(value)) + 1 if value not in (0.0, math.inf) else 1
    return 1


def _power(base: sympy.Basic, exponent: sympy.Basic) -> sympy.Basic:
    if exponent.is_number:
        try:
            size = abs(complex(exponent.evalf(15)))
        except (TypeError, ValueError, ArithmeticError):
            size = math.inf
        if not size <= MAX_EXPONENT:
            raise _Refused(f"the exponent {exponent} is too large (at most {MAX_EXPONENT} in size)")
        if base.is_Number and exponent.is_Number and _bits(base) * size > MAX_NUMBER_BITS:
            raise _Refused(f"{base}**{exponent} is too large a number (more than {MAX_NUMBER_BITS} bits)")
    return base**exponent


# -- writing expressions back -------------------------------------------------------------------------------------
_NAME_OF = {f: name for name, f in FUNCTIONS.items() if isinstance(f, type) and name not in
            ("abs", "min", "max", "ln", "ceil", "arcsin", "arccos", "arctan")}  # fmt: skip
_RELATION_TEXT = {sympy.StrictLessThan: "<", sympy.LessThan: "<=", sympy.StrictGreaterThan: ">",
                  sympy.GreaterThan: ">="}  # fmt: skip


def expression_text(expr: sympy.Basic) -> str:
    """``expr`` written in the grammar of :func:`parse_expression`, which reads it back equal.

    Floats are written by ``repr`` of the double (exact for sympy's default 53-bit precision), rationals as
    ``(p/q)``; symbols by name (their assumptions are not kept).

    Raises:
        ValueError: ``expr`` holds something the grammar cannot write (an unlisted function, ``nan``, ``oo``, ``I``,
            ``Eq``, a symbol whose name is not an identifier, ...).

    Example:
        >>> x = sympy.Symbol("x")
        >>> expression_text(sympy.Rational(1, 3) * sympy.sin(sympy.pi * x) + 0.1)
        '(0.1 + ((1/3)*sin((pi*x))))'
    """
    if not isinstance(expr, sympy.Basic):
        raise ValueError(f"expected a sympy expression, got {type(expr).__name__}")
    return _text(expr)


def _text(expr: sympy.Basic) -> str:
    if expr is sympy.true or expr is sympy.false:
        return str(bool(expr))
    if expr.is_Integer:
        return str(int(expr)) if expr >= 0 else f"({int(expr)})"
    if expr.is_Rational:
        return f"({expr.p}/{expr.q})"
    if expr.is_Float:
        value = float(expr)
        if not math.isfinite(value):
            raise ValueError(f"the number {expr} is not finite")
        text = repr(value) if expr._prec <= 53 else sympy.Float.__str__(expr)
        return text if value >= 0 else f"({text})"
    if expr is sympy.pi:
        return "pi"
    if expr is sympy.E:
        return "E"
    if expr.is_Symbol:
        name = expr.name
        if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS or name in CONSTANTS:
            raise ValueError(f"the symbol name {name!r} cannot be written in an expression string")
        return name
    if expr.is_Add:
        return "(" + " + ".join(_text(a) for a in expr.args) + ")"
    if expr.is_Mul:
        return "(" + "*".join(_text(a) for a in expr.args) + ")"
    if expr.is_Pow:
        return f"({_text(expr.base)}**{_text(expr.exp)})"
    if isinstance(expr, sympy.Piecewise):
        return "Piecewise(" + ", ".join(f"({_text(v)}, {_text(c)})" for v, c in expr.args) + ")"
    if type(expr) in _RELATION_TEXT:
        return f"({_text(expr.lhs)} {_RELATION_TEXT[type(expr)]} {_text(expr.rhs)})"
    if isinstance(expr, sympy.And):
        return "(" + " & ".join(_text(a) for a in expr.args) + ")"
    if isinstance(expr, sympy.Or):
        return "(" + " | ".join(_text(a) for a in expr.args) + ")"
    if isinstance(expr, sympy.Not):
        return f"(~{_text(expr.args[0])})"
    if type(expr) in _NAME_OF:
        return f"{_NAME_OF[type(expr)]}(" + ", ".join(_text(a) for a in expr.args) + ")"
    raise ValueError(f"{expr} ({type(expr).__name__}) cannot be written as an expression string")
