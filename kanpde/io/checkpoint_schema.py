"""The schema of a checkpoint's payload: each field checked before it is used, errors naming the field.

A checkpoint file is data only (see :mod:`kanpde.io.checkpoint`), but anyone can forge one with a valid checksum,
so every field is checked here against what kanpde itself writes: kinds, ranges, sizes (a network no larger than
the coefficients the file holds, at most ``MAX_POINTS`` points per stage), the shapes of the saved coefficients
and finite values. Each function returns the checked value or raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from .recipe import problem_from_recipe
from .schema import boolean, exact_keys, fail, integer, number, string

if TYPE_CHECKING:
    from ..pde.problem import Problem

__all__ = [
    "NeedsProblem",
    "checked_architecture",
    "checked_history",
    "checked_problem_entry",
    "checked_settings",
    "checked_state",
    "checked_train_state",
]

DTYPES = {"float64": torch.float64, "float32": torch.float32}
MAX_SIZE = 100_000  # largest layer width or grid size in a checkpoint's settings
MAX_POINTS = 10**8  # most points per stage or chunk (the solver allocates them on construction)


def checked_settings(data: object) -> dict[str, Any]:
    from ..pde.adaptive_sampling import adaptive_sampling_from_data
    from ..pde.sampling import SAMPLER_NAMES

    keys = {
        "width", "grid", "k", "seed", "n_interior", "n_boundary", "sampler", "dtype", "device", "optimizer", "lr",
        "weights", "hard_constraint", "update_grid", "adaptive_sampling", "n_test", "chunk_size", "compile",
    }  # fmt: skip
    settings = dict(exact_keys(data, "settings", keys))
    width = settings["width"]
    if not isinstance(width, list) or not 2 <= len(width) <= 100:
        raise fail("settings.width", "a list of 2 to 100 layer widths", width)
    for i, n in enumerate(width):
        integer(n, f"settings.width[{i}]", 1, MAX_SIZE)
    integer(settings["grid"], "settings.grid", 1, MAX_SIZE)
    integer(settings["k"], "settings.k", 1, 20)
    integer(settings["seed"], "settings.seed")
    integer(settings["n_test"], "settings.n_test", 1, MAX_POINTS)
    for name in ("n_interior", "n_boundary", "chunk_size"):
        integer(settings[name], f"settings.{name}", 1, MAX_POINTS, optional=True)
    string(settings["sampler"], "settings.sampler", SAMPLER_NAMES)
    settings["dtype"] = DTYPES[string(settings["dtype"], "settings.dtype", DTYPES)]
    string(settings["device"], "settings.device")
    optimizer = settings["optimizer"]
    if isinstance(optimizer, list) and 1 <= len(optimizer) <= 10:
        for i, name in enumerate(optimizer):
            string(name, f"settings.optimizer[{i}]")
    else:
        string(optimizer, "settings.optimizer")
    number(settings["lr"], "settings.lr", optional=True)
    weights = settings["weights"]
    if weights not in ("adaptive", "ntk", "residual"):
        if not isinstance(weights, dict) or len(weights) > 1000:
            raise fail("settings.weights", "'adaptive', 'ntk', 'residual' or a dict of loss weights", weights)
        for key, value in weights.items():
            string(key, "a key of settings.weights")
            number(value, f"settings.weights[{key!r}]")
    for name in ("hard_constraint", "update_grid", "compile"):
        boolean(settings[name], f"settings.{name}")
    settings["adaptive_sampling"] = (
        adaptive_sampling_from_data(settings["adaptive_sampling"], "settings.adaptive_sampling") or False
    )
    return settings


def checked_architecture(data: object, settings: dict[str, Any], state: dict[str, Any]) -> list[dict[str, int]]:
    """The layers, each consistent with ``width`` and with the shapes of the saved coefficients (so that the
    network built from them is no larger than what the file holds)."""
    width, grid, k = settings["width"], settings["grid"], settings["k"]
    stored = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor))
    implied = sum(a * b * (grid + k + 2) for a, b in zip(width[:-1], width[1:]))
    if implied > 4 * stored + 1000:  # the solver first builds this network: no larger than what the file holds
        raise ValueError(
            f"settings (width {width}, grid {grid}, k {k}) describe a network of {implied} coefficients, but "
            f"approximation_state holds only {stored} numbers"
        )
    if not isinstance(data, list) or len(data) != len(width) - 1:
        raise fail("architecture", f"a list of {len(width) - 1} layers (settings.width is {width})", data)
    keys = {"in_dim", "out_dim", "grid_size", "spline_order"}
    for i, spec in enumerate(data):
        where = f"architecture[{i}]"
        exact_keys(spec, where, keys)
        for key in keys:
            integer(spec[key], f"{where}.{key}", 1)
        if (spec["in_dim"], spec["out_dim"]) != (width[i], width[i + 1]):
            raise ValueError(f"{where} maps {spec['in_dim']} to {spec['out_dim']} inputs; settings.width is {width}")
        coef = state.get(f"model.layers.{i}.coef")
        expected = (spec["in_dim"], spec["out_dim"], spec["grid_size"] + spec["spline_order"])
        if not isinstance(coef, torch.Tensor) or tuple(coef.shape) != expected:
            raise ValueError(f"{where} needs coefficients of shape {expected} in approximation_state; they are missing "
                             "or of another shape")  # fmt: skip
    return data


def checked_history(data: object) -> list[Any]:
    from ..pde.result import StepRecord

    if not isinstance(data, list):
        raise fail("history", "a list of step records", data)
    keys = {"step", "stage", "grid", "loss", "terms", "seconds"}
    records = []
    for i, entry in enumerate(data):
        where = f"history[{i}]"
        fields = exact_keys(entry, where, keys)
        terms = fields["terms"]
        if not isinstance(terms, dict):
            raise fail(f"{where}.terms", "a dict of loss terms", terms)
        records.append(StepRecord(
            step=integer(fields["step"], f"{where}.step"), stage=integer(fields["stage"], f"{where}.stage"),  # type: ignore[arg-type]
            grid=integer(fields["grid"], f"{where}.grid", 1),  # type: ignore[arg-type]
            loss=number(fields["loss"], f"{where}.loss", finite=False),  # type: ignore[arg-type]
            terms={string(k, f"a key of {where}.terms"): number(v, f"{where}.terms[{k!r}]", finite=False)  # type: ignore[misc]
                   for k, v in terms.items()},
            seconds=number(fields["seconds"], f"{where}.seconds"),  # type: ignore[arg-type]
        ))  # fmt: skip
    return records


def checked_state(data: object, reference: dict[str, Any]) -> dict[str, Any]:
    """``data`` when it has exactly the entries of ``reference`` (a fresh state dict), shapes and kinds alike."""
    exact_keys(data, "approximation_state", set(reference))
    assert isinstance(data, dict)
    for key, expected in reference.items():
        value, where = data[key], f"approximation_state[{key!r}]"
        if isinstance(expected, torch.Tensor):
            if not isinstance(value, torch.Tensor) or value.shape != expected.shape or not value.is_floating_point():
                raise fail(where, f"a floating tensor of shape {tuple(expected.shape)}", value)
            if key.endswith("input_range"):  # a row (+inf, -inf) marks a range not recorded yet
                lower, upper = value[:, 0], value[:, 1]
                empty = (lower == math.inf) & (upper == -math.inf)
                ranges = torch.isfinite(value).all(dim=1) & (lower <= upper)
                if not bool((empty | ranges).all()):
                    raise ValueError(f"{where} must hold finite (lower, upper) ranges, or (+inf, -inf) for none")
            elif not bool(torch.isfinite(value).all()):
                raise ValueError(f"{where} holds non-finite values")
        elif isinstance(expected, dict):
            exact_keys(value, where, set(expected))
            for name, item in expected.items():
                if type(value[name]) is not type(item):
                    raise fail(f"{where}[{name!r}]", type(item).__name__, value[name])
        elif type(value) is not type(expected):
            raise fail(where, type(expected).__name__, value)
    return data


class NeedsProblem(ValueError):
    """The checkpoint is valid, but its problem holds callables: the caller must pass it."""


def checked_problem_entry(data: object, problem: Problem | None) -> Problem:
    entry = exact_keys(data, "problem", {"class", "description", "coords", "n_fields", "recipe"})
    coords, n_fields = entry["coords"], entry["n_fields"]
    if not isinstance(coords, list) or not all(isinstance(c, str) for c in coords) or not 1 <= len(coords) <= 1001:
        raise fail("problem.coords", "a list of 1 to 1001 coordinate names", coords)
    integer(n_fields, "problem.n_fields", 1)
    description = string(entry["description"], "problem.description")
    if problem is not None:
        if list(problem.coords) != coords or problem.n_fields != n_fields:
            raise ValueError(
                f"problem has coordinates {list(problem.coords)} and {problem.n_fields} field(s), but the checkpoint "
                f"was saved for {coords} and {n_fields} ({description}); pass the problem it was saved with"
            )
        return problem
    if entry["recipe"] is None:
        raise NeedsProblem(
            f"the checkpoint's problem ({string(entry['class'], 'problem.class')}: {description}) holds Python "
            "callables, which a checkpoint never stores (they are code); build it again and pass it: "
            "kp.Solver.load(path, problem=make_problem())"
        )
    rebuilt = problem_from_recipe(entry["recipe"], "problem.recipe")
    if list(rebuilt.coords) != coords or rebuilt.n_fields != n_fields:
        raise ValueError(f"problem.recipe describes a problem in {list(rebuilt.coords)}, not in {coords}")
    return rebuilt


def checked_train_state(data: object, n_coords: int) -> dict[str, Any]:
    """The stage, grid, damping, kept points (``n_coords`` columns) and the default point count's multiplier (files
    before them lack ``kept_points`` and ``points_factor``)."""
    keys = {"stage", "grid", "lm_damping"}
    if isinstance(data, dict):
        keys = keys | ({"kept_points", "points_factor"} & set(data))
    fields = dict(exact_keys(data, "train_state", keys))
    kept = fields.setdefault("kept_points", None)
    fields.setdefault("points_factor", 1)
    integer(fields["points_factor"], "train_state.points_factor", 1, MAX_SIZE)
    if kept is not None and (
        not isinstance(kept, torch.Tensor) or not kept.is_floating_point() or kept.ndim != 2
        or kept.shape[1] != n_coords or len(kept) > MAX_POINTS or not bool(torch.isfinite(kept).all())
    ):  # fmt: skip
        raise fail("train_state.kept_points", f"None or a finite floating tensor of shape (n, {n_coords})", kept)
    integer(fields["stage"], "train_state.stage", 0, MAX_SIZE)
    integer(fields["grid"], "train_state.grid", 1, MAX_SIZE, optional=True)
    number(fields["lm_damping"], "train_state.lm_damping", optional=True)
    if fields["lm_damping"] is not None and not fields["lm_damping"] > 0:
        raise fail("train_state.lm_damping", "a positive number or None", fields["lm_damping"])
    return dict(fields)
