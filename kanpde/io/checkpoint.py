"""Checkpoints: a solver saved to one file and restored with identical predictions, ready to train on.

File format (version 1): the line ``KANPDE-CHECKPOINT``, one line of JSON ``{"format": "kanpde-checkpoint",
"version": 1, "payload_bytes": n, "sha256": ...}``, then ``n`` bytes written by ``torch.save``. The header is
checked (magic, version, length, checksum) before anything is unpickled, so a truncated, corrupted or foreign file
gives a clear ``ValueError``, never a pickle traceback.

The payload keeps the problem, the solver settings (width, grid, k, seed, dtype, points, optimiser, weights...),
the network's architecture per layer (its grid may have been extended since construction) and state, the
sampler's generator state, the history and the number of steps done.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .atomic import atomic_path

if TYPE_CHECKING:
    from ..pde.problem import Problem
    from ..pde.solver import Solver

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT", "VERSION"]

FORMAT = "kanpde-checkpoint"
VERSION = 1
_MAGIC = b"KANPDE-CHECKPOINT\n"
_MAX_HEADER = 4096
_PAYLOAD_KEYS = frozenset({
    "format", "version", "problem", "settings", "extra", "architecture", "model_seed", "approximation_state",
    "generator_state", "history", "steps_done",
})  # fmt: skip


# -- the problem -----------------------------------------------------------------------------------------------
def _problem_recipe(problem: Problem) -> dict[str, Any] | None:
    """Constructor arguments of the built-in problems, whose residuals are lambdas (which do not pickle)."""
    from ..pde.conditions import Initial
    from ..pde.problem import Heat, Poisson

    bcs = [c for c in problem.conditions if not isinstance(c, Initial)]
    exact = None if problem.exact is None else problem.exact[0]
    if type(problem) is Poisson:
        kwargs = {"domain": problem.space, "f": problem.f, "bcs": bcs, "exact": exact}
    elif type(problem) is Heat:
        assert problem.time is not None
        initial = [c.value for c in problem.conditions if isinstance(c, Initial)]
        kwargs = {
            "domain": problem.space,
            "time": (problem.time.t0, problem.time.t1),
            "diffusivity": problem.diffusivity,
            "f": problem.f,
            "initial": initial[0],
            "bcs": bcs,
            "exact": exact,
        }
    else:
        return None
    return {"class": type(problem).__name__, "kwargs": kwargs, "description": problem.description}


def _rebuilt_problem(recipe: dict[str, Any]) -> Problem:
    from ..pde import problem as problems

    cls = {"Poisson": problems.Poisson, "Heat": problems.Heat}[recipe["class"]]
    return cls(**recipe["kwargs"], description=recipe["description"])


def _unpicklable(what: str, err: Exception) -> TypeError:
    return TypeError(
        f"cannot save the checkpoint: {what} cannot be pickled ({type(err).__name__}: {err}). Residuals, "
        "expressions, masks and other callables of a problem must be importable functions defined at module level "
        "(not lambdas or functions defined inside other functions); strings and sympy expressions always work."
    )


def _problem_entry(problem: Problem) -> dict[str, Any]:
    try:
        pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL)
        return {"object": problem}
    except Exception as err:  # pickling raises PicklingError, AttributeError or TypeError
        recipe = _problem_recipe(problem)
        if recipe is None:
            raise _unpicklable("the problem", err) from err
    try:
        pickle.dumps(recipe, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        raise _unpicklable("a value of the problem", err) from err
    return {"recipe": recipe}


# -- the solver ------------------------------------------------------------------------------------------------
def _settings(solver: Solver) -> dict[str, Any]:
    """Keyword arguments that rebuild ``solver`` (the constructor's parameters that it keeps as attributes)."""
    from ..pde.solver import Solver

    if hasattr(solver, "settings"):
        return solver.settings()

    settings: dict[str, Any] = {}
    for name in inspect.signature(Solver.__init__).parameters:
        if name in ("self", "problem") or name in settings:
            continue
        if name == "hard_constraint":
            settings[name] = solver.approximation.constraint is not None
        elif name == "grid":
            settings[name] = int(solver.model.grid_size)
        elif name == "device":
            settings[name] = str(solver.device)
        elif name in solver.__dict__:
            settings[name] = solver.__dict__[name]
    return settings


def _architecture(solver: Solver) -> list[dict[str, int]]:
    from ..kan.layer import KANLayer

    layers: list[KANLayer] = list(solver.model.layers)  # type: ignore[arg-type]
    return [
        {
            "in_dim": layer.in_dim,
            "out_dim": layer.out_dim,
            "grid_size": layer.grid_size,
            "spline_order": layer.spline_order,
        }
        for layer in layers
    ]


def _payload(solver: Solver) -> dict[str, Any]:
    from .._version import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "kanpde_version": __version__,
        "problem": _problem_entry(solver.problem),
        "settings": _settings(solver),
        "extra": {"lm_max_entries": getattr(solver, "lm_max_entries", None)},
        "architecture": _architecture(solver),
        "model_seed": solver.model.seed,
        "approximation_state": {
            k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
            for k, v in solver.approximation.state_dict().items()
        },
        "generator_state": solver.generator.get_state(),
        "history": list(solver.history),
        "steps_done": int(solver._steps_done),
    }


def save_checkpoint(solver: Solver, path: str | os.PathLike[str]) -> Path:
    """Save ``solver`` to ``path`` (atomically; parent folders are created).

    The problem is pickled. Strings, numbers and sympy expressions always pickle; callables (a residual of
    ``kp.PDE``, a callable value or ``on`` mask) must be importable, i.e. functions defined at module level, and
    that module must be importable where the checkpoint is loaded. ``kp.Poisson`` and ``kp.Heat`` are saved by
    their constructor arguments.

    Returns:
        The path written.

    Raises:
        TypeError: part of the problem cannot be pickled (a lambda or local function); the message says what to do.
        PermissionError, OSError: the file cannot be written (the message names it).

    Example:
        >>> import tempfile, pathlib, kanpde as kp
        >>> problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
        >>> path = save_checkpoint(kp.Solver(problem, width=[1, 3, 1]), pathlib.Path(tempfile.mkdtemp()) / "s.pt")
        >>> load_checkpoint(path).model.width
        [1, 3, 1]
    """
    buffer = io.BytesIO()
    try:
        torch.save(_payload(solver), buffer)
    except (pickle.PicklingError, AttributeError) as err:
        raise _unpicklable("part of the solver", err) from err
    payload = buffer.getvalue()
    header = {"format": FORMAT, "version": VERSION, "payload_bytes": len(payload)}
    header["sha256"] = hashlib.sha256(payload).hexdigest()
    target = Path(path)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        handle.write(_MAGIC)
        handle.write(json.dumps(header).encode() + b"\n")
        handle.write(payload)
    return target


def _read_payload(path: Path) -> bytes:
    """The checked payload bytes; ValueError for anything that is not a whole version-1 checkpoint."""
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path} is empty: not a kanpde checkpoint (or one whose writing was cut off)")
    if not data.startswith(_MAGIC):
        if _MAGIC.startswith(data):
            raise ValueError(f"{path} is a truncated kanpde checkpoint ({len(data)} bytes, cut off in its header)")
        raise ValueError(f"{path} is not a kanpde checkpoint (it does not start with the kanpde checkpoint header)")
    end = data.find(b"\n", len(_MAGIC), len(_MAGIC) + _MAX_HEADER)
    if end < 0:
        raise ValueError(f"{path} is a truncated or corrupted kanpde checkpoint: its header line is incomplete")
    try:
        header = json.loads(data[len(_MAGIC) : end])
        version, size, digest = int(header["version"]), int(header["payload_bytes"]), str(header["sha256"])
        if header["format"] != FORMAT:
            raise ValueError(header["format"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is a corrupted kanpde checkpoint: its header cannot be read ({err})") from None
    if version != VERSION:
        hint = "upgrade kanpde to load it" if version > VERSION else "no kanpde ever wrote that version"
        raise ValueError(
            f"{path} is a kanpde checkpoint of format version {version}; this kanpde reads version {VERSION} ({hint})"
        )
    payload = data[end + 1 :]
    if len(payload) < size:
        raise ValueError(
            f"{path} is a truncated kanpde checkpoint: {len(payload)} of {size} bytes after the header "
            "(was it copied or written only in part?)"
        )
    if len(payload) > size or hashlib.sha256(payload).hexdigest() != digest:
        raise ValueError(f"{path} is a corrupted kanpde checkpoint: its checksum does not match its content")
    return payload


def _restore_model(solver: Solver, payload: dict[str, Any]) -> None:
    from ..kan.layer import KANLayer
    from ..kan.network import KAN

    layers = [
        KANLayer(
            spec["in_dim"],
            spec["out_dim"],
            grid_size=spec["grid_size"],
            spline_order=spec["spline_order"],
            dtype=solver.dtype,
            device=solver.device,
        )
        for spec in payload["architecture"]
    ]
    solver.approximation.model = KAN.from_layers(layers, seed=payload["model_seed"])
    solver.approximation.load_state_dict(payload["approximation_state"])


def load_checkpoint(path: str | os.PathLike[str], *, device: torch.device | str | None = None) -> Solver:
    """A solver restored from :func:`save_checkpoint`: same predictions, history, step count and sampling state.

    Args:
        path: the checkpoint file.
        device: where to put the solver (default: where it was saved).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a kanpde checkpoint, is truncated or corrupted, or has another format version.
        ImportError: the problem refers to a function or class that cannot be imported here.
    """
    from ..pde.solver import Solver

    source = Path(path)
    raw = _read_payload(source)
    try:
        # Safe to unpickle: the header, length and checksum were checked (weights_only cannot hold a problem).
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    except (ImportError, AttributeError) as err:
        raise ImportError(
            f"cannot load {source}: it refers to something that cannot be imported here ({err}); import or define "
            "the module that holds the problem's functions first"
        ) from err
    except Exception as err:
        raise ValueError(f"{source} is a corrupted kanpde checkpoint: its content cannot be read ({err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{source} is not a kanpde checkpoint (unexpected content)")
    missing = sorted(_PAYLOAD_KEYS - payload.keys())
    if missing or payload["version"] != VERSION:
        raise ValueError(
            f"{source} is a corrupted kanpde checkpoint: its content does not match format version {VERSION} "
            f"(missing: {', '.join(missing) or 'none'}; content version: {payload.get('version')!r})"
        )
    entry = payload["problem"]
    problem = entry["object"] if "object" in entry else _rebuilt_problem(entry["recipe"])
    settings = dict(payload["settings"])
    if device is not None:
        settings["device"] = device
    elif settings.get("device", "cpu") != "cpu" and not _device_available(settings["device"]):
        raise ValueError(
            f"{source} was saved on device {settings['device']!r}, which is not available here; "
            "pass device='cpu' to load it there"
        )
    solver = Solver(problem, **settings)
    for name, value in payload["extra"].items():
        if value is not None:
            setattr(solver, name, value)
    _restore_model(solver, payload)
    solver.generator.set_state(payload["generator_state"])
    solver.history = list(payload["history"])
    solver._steps_done = int(payload["steps_done"])
    return solver


def _device_available(device: str) -> bool:
    kind = torch.device(device).type
    return (
        kind == "cpu"
        or (kind == "cuda" and torch.cuda.is_available())
        or (kind == "mps" and torch.backends.mps.is_available())
    )
