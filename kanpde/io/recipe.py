"""Problems as data: a recipe of numbers, strings, lists and dicts that rebuilds a problem without running code.

A checkpoint never holds a pickled problem: unpickling runs whatever the file names. It holds the problem's
recipe instead, when the problem is made of data only:

- the class: :class:`~kanpde.pde.problem.Poisson`, :class:`~kanpde.pde.problem.Heat` or
  :class:`~kanpde.pde.problem.Wave`;
- the domain: boxes (``Interval``, ``Rectangle``, ``Box`` in any dimension), ``Ball``, ``Disk``, ``Polygon`` and
  their unions, intersections and differences, by their numbers;
- every value (``f``, ``exact``, boundary values, ``initial``, ``initial_velocity``, ``diffusivity``, ``speed``,
  Poisson's ``coefficient`` when it is not 1; a matrix coefficient as a list of rows) as an expression string,
  written by
  :func:`kanpde.pde.safe_expr.expression_text` and read back by the whitelist parser;
- the conditions ``Dirichlet``, ``Neumann``, ``Robin``, ``Periodic`` with ``on`` a side name or None;
- the parameters of a parametric problem, ``[{"name": "mu", "range": [0.5, 2.0]}, ...]`` (expressions use them by
  name).

Anything else (a ``kp.PDE`` residual, a callable value or ``on`` mask, a mesh domain) is code,
which a file must not carry: :func:`problem_recipe` returns None and the caller passes the problem again when loading
(``kp.Solver.load(path, problem=...)``).

Example:
    >>> import kanpde as kp
    >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    >>> recipe = problem_recipe(problem)
    >>> recipe["f"], recipe["domain"]
    ('((pi**2)*sin((pi*x)))', {'kind': 'Box', 'lower': [0.0], 'upper': [1.0]})
    >>> problem_from_recipe(recipe).exact[0].sympy_expr
    sin(pi*x)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..pde.safe_expr import expression_text
from .schema import exact_keys, fail, integer, number

if TYPE_CHECKING:
    from ..pde.geometry import AbstractGeometry
    from ..pde.problem import Problem

__all__ = ["problem_recipe", "problem_from_recipe"]

_MAX_CSG_DEPTH = 32
_MAX_VERTICES = 10_000
_MAX_CONDITIONS = 1000
_MAX_DIM = 1000  # coordinates of a point in a recipe (boxes and balls in any dimension)


class _NotData(Exception):
    """Part of the problem is code (a callable, a mesh): the problem has no recipe."""


# -- problem -> data ----------------------------------------------------------------------------------------------
def problem_recipe(problem: Problem) -> dict[str, Any] | None:
    """The recipe of ``problem`` (numbers, strings, lists, dicts), or None when part of it is code.

    Shapes: none (the recipe holds no tensors).
    """
    from ..pde.conditions import Initial, InitialVelocity
    from ..pde.problem import Heat, Poisson, Wave

    if type(problem) not in (Poisson, Heat, Wave):
        return None
    if getattr(problem, "data", ()) or getattr(problem, "unknowns", ()):  # observations are tensors: pass it again
        return None
    try:
        recipe: dict[str, Any] = {
            "class": type(problem).__name__,
            "domain": _geometry_data(problem.space, 0),
            "f": _value_text(problem.f),  # type: ignore[attr-defined]
            "bcs": [_condition_data(c) for c in problem.conditions if not isinstance(c, (Initial, InitialVelocity))],
            "exact": None if problem.exact is None else _value_text(problem.exact[0]),
            "description": problem.description,
        }
        if problem.parameters:  # written only when there are some, so older readers see no new field
            recipe["parameters"] = [{"name": p.name, "range": [p.low, p.high]} for p in problem.parameters]
        if isinstance(problem, Heat):
            assert problem.time is not None
            initial = [c.value for c in problem.conditions if isinstance(c, Initial)]
            recipe["time"] = [problem.time.t0, problem.time.t1]
            recipe["diffusivity"] = _coefficient_data(problem.diffusivity)
            recipe["initial"] = _value_text(initial[0])
        elif isinstance(problem, Poisson) and not _is_unit(problem.coefficient):
            recipe["coefficient"] = _coefficient_data(problem.coefficient)
        if isinstance(problem, Wave):
            assert problem.time is not None
            initial = [c.value for c in problem.conditions if isinstance(c, Initial)]
            velocity = [c.value for c in problem.conditions if isinstance(c, InitialVelocity)]
            recipe["time"] = [problem.time.t0, problem.time.t1]
            recipe["speed"] = _value_text(problem.speed)
            recipe["initial"] = _value_text(initial[0])
            recipe["initial_velocity"] = _value_text(velocity[0])
    except _NotData:
        return None
    return recipe


def _coefficient_data(value: object) -> str | list[list[str]]:
    """A scalar coefficient as a string, a matrix (tuples of expressions) as a list of rows of strings."""
    if isinstance(value, tuple):
        return [[_value_text(e) for e in row] for row in value]
    return _value_text(value)


def _is_unit(value: object) -> bool:
    from ..pde.expressions import Expression

    return isinstance(value, Expression) and value.constant == 1.0


def _value_text(value: object) -> str:
    from ..pde.expressions import Expression

    if not isinstance(value, Expression) or value.sympy_expr is None:
        raise _NotData
    try:
        return expression_text(value.sympy_expr)
    except ValueError:
        raise _NotData from None


def _geometry_data(geometry: AbstractGeometry, depth: int) -> dict[str, Any]:
    from ..pde.csg import Difference, Intersection, Union
    from ..pde.shapes import Box, Disk, Polygon

    kind = type(geometry)
    if kind is Box:
        return {"kind": "Box", "lower": list(geometry.lower), "upper": list(geometry.upper)}  # type: ignore[attr-defined]
    if kind is Disk:
        return {"kind": "Disk", "center": list(geometry.center), "radius": geometry.radius}  # type: ignore[attr-defined]
    if kind is _ball_class():
        return {"kind": "Ball", "center": list(geometry.center), "radius": geometry.radius}  # type: ignore[attr-defined]
    if kind is Polygon:
        return {"kind": "Polygon", "vertices": [list(v) for v in geometry.vertices]}  # type: ignore[attr-defined]
    if kind in (Union, Intersection, Difference) and depth < _MAX_CSG_DEPTH:
        parts = (geometry.a, geometry.b)  # type: ignore[attr-defined]
        return {
            "kind": kind.__name__,
            "a": _geometry_data(parts[0], depth + 1),
            "b": _geometry_data(parts[1], depth + 1),
        }
    raise _NotData


def _condition_data(condition: object) -> dict[str, Any]:
    from ..pde.conditions import Dirichlet, Neumann, Periodic, Robin

    kind = type(condition)
    if kind is Periodic:
        return {"kind": "Periodic", "axis": condition.axis, "field": condition.field, "name": condition.name}  # type: ignore[attr-defined]
    on = getattr(condition, "on", None)
    if on is not None and not isinstance(on, str):
        raise _NotData
    if kind is Dirichlet:
        values = {"value": _value_text(condition.value)}  # type: ignore[attr-defined]
    elif kind is Neumann:
        values = {"flux": _value_text(condition.flux)}  # type: ignore[attr-defined]
    elif kind is Robin:
        values = {name: _value_text(getattr(condition, name)) for name in ("alpha", "beta", "value")}
    else:
        raise _NotData
    return {"kind": kind.__name__, **values, "on": on, "field": condition.field, "name": condition.name}  # type: ignore[attr-defined]


# -- data -> problem ----------------------------------------------------------------------------------------------
def _numbers(value: object, where: str, length: int | None = None) -> list[float]:
    if not isinstance(value, list) or not 1 <= len(value) <= _MAX_DIM or (length is not None and len(value) != length):
        raise fail(where, f"a list of {length or f'1 to {_MAX_DIM}'} numbers", value)
    return [number(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _text(value: object, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise fail(where, "an expression string" + (" or None" if optional else ""), value)
    return value  # read by the whitelist parser when the problem is built


def _coefficient(value: object, where: str) -> str | list[list[str]]:
    """A coefficient of a recipe: an expression string, or a matrix as a list of rows of strings."""
    if isinstance(value, list):
        square = all(isinstance(row, list) and len(row) == len(value) for row in value)
        if not 1 <= len(value) <= _MAX_DIM or not square:
            raise fail(where, "an expression string or a square matrix (a list of rows of strings)", value)
        return [[str(_text(e, f"{where}[{i}][{j}]")) for j, e in enumerate(row)] for i, row in enumerate(value)]
    return _text(value, where)  # type: ignore[return-value]


def _geometry(data: object, where: str, depth: int = 0) -> AbstractGeometry:
    from ..pde import csg, shapes

    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "Box":
        fields = exact_keys(data, where, {"kind", "lower", "upper"})
        lower = _numbers(fields["lower"], f"{where}.lower")
        return shapes.Box(lower, _numbers(fields["upper"], f"{where}.upper", len(lower)))
    if kind == "Disk":
        fields = exact_keys(data, where, {"kind", "center", "radius"})
        return shapes.Disk(
            _numbers(fields["center"], f"{where}.center", 2), number(fields["radius"], f"{where}.radius")
        )
    if kind == "Ball":
        fields = exact_keys(data, where, {"kind", "center", "radius"})
        return _ball_class()(_numbers(fields["center"], f"{where}.center"), number(fields["radius"], f"{where}.radius"))
    if kind == "Polygon":
        fields = exact_keys(data, where, {"kind", "vertices"})
        vertices = fields["vertices"]
        if not isinstance(vertices, list) or not 3 <= len(vertices) <= _MAX_VERTICES:
            raise fail(f"{where}.vertices", f"a list of 3 to {_MAX_VERTICES} points", vertices)
        return shapes.Polygon([_numbers(v, f"{where}.vertices[{i}]", 2) for i, v in enumerate(vertices)])
    if kind in ("Union", "Intersection", "Difference"):
        if depth >= _MAX_CSG_DEPTH:
            raise ValueError(f"{where} nests more than {_MAX_CSG_DEPTH} unions, intersections or differences")
        fields = exact_keys(data, where, {"kind", "a", "b"})
        a, b = _geometry(fields["a"], f"{where}.a", depth + 1), _geometry(fields["b"], f"{where}.b", depth + 1)
        combine: dict[str, Callable[[AbstractGeometry, AbstractGeometry], AbstractGeometry]] = {
            "Union": csg.Union,
            "Intersection": csg.Intersection,
            "Difference": csg.Difference,
        }
        return combine[kind](a, b)
    raise fail(where, "a geometry (kind Box, Ball, Disk, Polygon, Union, Intersection or Difference)", data)


def _ball_class() -> type:
    from ..pde.ball import Ball

    return Ball


def _parameters(value: object, where: str) -> list[Any]:
    """The problem's parameters from ``[{"name": ..., "range": [low, high]}, ...]`` (each checked by Parameter)."""
    from ..pde.parameters import Parameter

    if not isinstance(value, list) or not 1 <= len(value) <= _MAX_DIM:
        raise fail(where, f"a list of 1 to {_MAX_DIM} parameters", value)
    parameters = []
    for i, item in enumerate(value):
        fields = exact_keys(item, f"{where}[{i}]", {"name", "range"})
        name = fields["name"]
        if not isinstance(name, str) or len(name) > 100:
            raise fail(f"{where}[{i}].name", "a parameter name (a string of at most 100 characters)", name)
        low, high = _numbers(fields["range"], f"{where}[{i}].range", 2)
        try:
            parameters.append(Parameter(name, (low, high)))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}[{i}]: {err}") from None
    return parameters


def _field(value: object, where: str) -> int:
    return integer(value, where, 0, 999)


def _name(data: dict[str, Any], where: str) -> dict[str, Any]:
    """``{"name": ...}`` when the recipe names the condition (recipes written before names had none)."""
    if "name" not in data or data["name"] is None:
        return {}
    name = data["name"]
    if not isinstance(name, str) or len(name) > 100:
        raise fail(f"{where}.name", "a condition name (a string of at most 100 characters) or None", name)
    return {"name": name}  # checked by the condition


def _condition(data: object, where: str) -> object:
    from ..pde import conditions

    kind = data.get("kind") if isinstance(data, dict) else None
    named = {"name"} if isinstance(data, dict) and "name" in data else set()
    if kind == "Periodic":
        fields = exact_keys(data, where, {"kind", "axis", "field", *named})
        axis = fields["axis"]
        numbered = isinstance(axis, str) and len(axis) <= 6 and axis[:1] == "x" and axis[1:].isdigit()
        if axis not in ("x", "y", "z") and not numbered:
            raise fail(f"{where}.axis", "'x', 'y', 'z' or 'x1', 'x2', ...", axis)
        return conditions.Periodic(
            fields["axis"], field=_field(fields["field"], f"{where}.field"), **_name(fields, where)
        )
    names = {"Dirichlet": ("value",), "Neumann": ("flux",), "Robin": ("alpha", "beta", "value")}.get(str(kind))
    if names is None:
        raise fail(where, "a condition (kind Dirichlet, Neumann, Robin or Periodic)", data)
    fields = exact_keys(data, where, {"kind", "on", "field", *names, *named})
    on = fields["on"]
    if on is not None and (not isinstance(on, str) or not on.isidentifier() or on.startswith("_") or len(on) > 100):
        raise fail(f"{where}.on", "a side name or None", on)
    values = {name: _text(fields[name], f"{where}.{name}") for name in names}
    cls = getattr(conditions, str(kind))
    try:
        return cls(**values, on=on, field=_field(fields["field"], f"{where}.field"), **_name(fields, where))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None


def problem_from_recipe(recipe: object, where: str = "recipe") -> Problem:
    """The problem that ``recipe`` (from :func:`problem_recipe`) describes; every field is checked first.

    Strings go through the whitelist parser of :mod:`kanpde.pde.safe_expr`, so a recipe never runs code.

    Raises:
        ValueError: a field is missing, unexpected, of the wrong type or value (the message names it), or the
            problem it describes is invalid.
    """
    from ..pde.problem import Heat, Poisson, Wave

    kind = recipe.get("class") if isinstance(recipe, dict) else None
    common = {"class", "domain", "f", "bcs", "exact", "description"}
    if isinstance(recipe, dict) and "parameters" in recipe:
        common.add("parameters")
    if kind == "Poisson":
        fields = exact_keys(recipe, where, common | ({"coefficient"} & set(recipe if isinstance(recipe, dict) else ())))
    elif kind == "Heat":
        fields = exact_keys(recipe, where, common | {"time", "diffusivity", "initial"})
    elif kind == "Wave":
        fields = exact_keys(recipe, where, common | {"time", "speed", "initial", "initial_velocity"})
    else:
        raise fail(f"{where}.class", "'Poisson' or 'Heat' or 'Wave'", kind)
    domain = _geometry(fields["domain"], f"{where}.domain")
    bcs = fields["bcs"]
    if not isinstance(bcs, list) or len(bcs) > _MAX_CONDITIONS:
        raise fail(f"{where}.bcs", f"a list of at most {_MAX_CONDITIONS} conditions", bcs)
    conditions = [_condition(c, f"{where}.bcs[{i}]") for i, c in enumerate(bcs)]
    description = fields["description"]
    if not isinstance(description, str) or len(description) > 10_000:
        raise fail(f"{where}.description", "a string of at most 10000 characters", description)
    options: dict[str, Any] = {
        "f": _text(fields["f"], f"{where}.f"),
        "bcs": conditions,
        "exact": _text(fields["exact"], f"{where}.exact", optional=True),
        "description": description,
    }
    if "parameters" in fields:
        options["parameters"] = _parameters(fields["parameters"], f"{where}.parameters")
    try:
        if kind == "Poisson":
            if "coefficient" in fields:
                options["coefficient"] = _coefficient(fields["coefficient"], f"{where}.coefficient")
            return Poisson(domain, **options)
        time = _numbers(fields["time"], f"{where}.time", 2)
        if kind == "Wave":
            speed = _text(fields["speed"], f"{where}.speed")
            initial = _text(fields["initial"], f"{where}.initial")
            velocity = _text(fields["initial_velocity"], f"{where}.initial_velocity")
            return Wave(domain, (time[0], time[1]), speed, initial=initial, initial_velocity=velocity, **options)
        diffusivity = _coefficient(fields["diffusivity"], f"{where}.diffusivity")
        initial = _text(fields["initial"], f"{where}.initial")
        return Heat(domain, (time[0], time[1]), diffusivity, initial=initial, **options)
    except TypeError as err:
        raise ValueError(f"{where} describes an invalid problem: {err}") from None
