"""Checkpoints: a solver saved to one file and restored with identical predictions, ready to train on.

File format (version 3): the line ``KANPDE-CHECKPOINT``, one line of JSON ``{"format": "kanpde-checkpoint",
"version": 3, "payload_bytes": n, "sha256": ...}``, then ``n`` bytes written by ``torch.save``. The header is
checked (magic, version, length, checksum) first, so a truncated, corrupted or foreign file gives a clear
``ValueError``.

The payload is data only: tensors, numbers, strings, and lists and dicts of them, read back with
``torch.load(weights_only=True)``, which builds no other object and runs no code. It keeps the problem's recipe
(see :mod:`kanpde.io.recipe`; None for a problem with Python callables, which the caller passes again to
:func:`load_checkpoint`), the solver settings, the network's architecture per layer (its grid may have been
extended since construction) and the solver's :class:`~kanpde.pde.train_state.TrainState`: the network's state,
the sampler's generator state, the history, the number of steps done and (``train_state``) the stage, grid,
Levenberg-Marquardt damping, the points kept by residual-based refinement (``kept_points``, absent in files
written before it) and the multiplier of the default point count (``points_factor``, absent in older files: 1).
Every field is checked against the schema (:mod:`kanpde.io.checkpoint_schema`) before it is used: a forged payload
(with a valid checksum, which anyone can compute) gives a ``ValueError`` that names the field.

Version 2 files (kanpde before the TrainState) are read too: they lack ``train_state`` only. Version 1 files
pickled the problem (unpickling can run code); they are refused with a message that says how to re-create them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .atomic import atomic_path
from .checkpoint_schema import (
    NeedsProblem,
    checked_architecture,
    checked_history,
    checked_problem_entry,
    checked_settings,
    checked_state,
    checked_train_state,
)
from .recipe import problem_recipe
from .schema import exact_keys, fail, integer

if TYPE_CHECKING:
    from ..pde.problem import Problem
    from ..pde.solver import Solver

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT", "VERSION"]

FORMAT = "kanpde-checkpoint"
VERSION = 3
READABLE = (2, 3)  # format versions this kanpde loads (2: without train_state)
_MAGIC = b"KANPDE-CHECKPOINT\n"
_MAX_HEADER = 4096
_PAYLOAD_KEYS_V2 = frozenset({
    "format", "version", "kanpde_version", "problem", "settings", "extra", "architecture", "model_seed",
    "approximation_state", "generator_state", "history", "steps_done",
})  # fmt: skip
_PAYLOAD_KEYS = _PAYLOAD_KEYS_V2 | {"train_state"}


# -- saving --------------------------------------------------------------------------------------------------------
def _problem_entry(problem: Problem) -> dict[str, Any]:
    return {
        "class": type(problem).__name__,
        "description": problem.description,
        "coords": list(problem.coords),
        "n_fields": int(problem.n_fields),
        "recipe": problem_recipe(problem),
    }


def _settings(solver: Solver) -> dict[str, Any]:
    """The solver's constructor arguments as data (the sampler by name, the dtype as a string)."""
    from ..pde.adaptive_sampling import adaptive_sampling_data
    from ..pde.sampling import SAMPLER_NAMES

    settings = dict(solver.settings())
    names = [name for name, cls in SAMPLER_NAMES.items() if type(settings["sampler"]) is cls]
    if not names:
        raise TypeError(
            f"cannot save the checkpoint: the sampler {settings['sampler']!r} is not one of kanpde's own "
            f"({', '.join(sorted(SAMPLER_NAMES))}); checkpoints store the sampler by name"
        )
    settings["sampler"] = names[0]
    settings["dtype"] = str(settings["dtype"]).removeprefix("torch.")
    settings["weights"] = settings["weights"] if isinstance(settings["weights"], str) else dict(settings["weights"])
    settings["adaptive_sampling"] = adaptive_sampling_data(settings["adaptive_sampling"] or None)
    return settings


def _architecture(solver: Solver) -> list[dict[str, int]]:
    from ..kan.layer import KANLayer

    layers: list[KANLayer] = list(solver.state.approximation.model.layers)  # type: ignore[arg-type]
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

    state = solver.state
    return {
        "format": FORMAT,
        "version": VERSION,
        "kanpde_version": __version__,
        "problem": _problem_entry(solver.problem),
        "settings": _settings(solver),
        "extra": {"lm_max_entries": getattr(solver, "lm_max_entries", None)},
        "architecture": _architecture(solver),
        "model_seed": state.approximation.model.seed,
        "approximation_state": {
            k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
            for k, v in state.approximation.state_dict().items()
        },
        "generator_state": state.generator.get_state(),
        "history": [asdict(record) for record in state.history],
        "steps_done": int(state.step),
        "train_state": {
            "stage": int(state.stage),
            "grid": state.grid,
            "lm_damping": state.lm_damping,
            "kept_points": None if state.kept_points is None else state.kept_points.detach().cpu(),
            "points_factor": int(state.points_factor),
        },
    }


def save_checkpoint(solver: Solver, path: str | os.PathLike[str]) -> Path:
    """Save ``solver`` to ``path`` (atomically; parent folders are created).

    The file holds data only. A ``kp.Poisson``, ``kp.Heat`` or ``kp.Wave`` problem made of numbers, strings and sympy
    expressions on a box, disk, polygon or their combinations is saved as its recipe and rebuilt on loading;
    any other problem (a ``kp.PDE`` residual, a callable value or mask, a mesh domain) is not saved, and
    :func:`load_checkpoint` needs it again: ``load_checkpoint(path, problem=...)``.

    Returns:
        The path written.

    Raises:
        TypeError: a setting is not data (a sampler of your own).
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
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        raise TypeError(f"cannot save the checkpoint: part of the solver is not data ({err})") from err
    payload = buffer.getvalue()
    header = {"format": FORMAT, "version": VERSION, "payload_bytes": len(payload)}
    header["sha256"] = hashlib.sha256(payload).hexdigest()
    target = Path(path)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        handle.write(_MAGIC)
        handle.write(json.dumps(header).encode() + b"\n")
        handle.write(payload)
    return target


# -- loading ---------------------------------------------------------------------------------------------------------
def _read_payload(path: Path) -> tuple[int, bytes]:
    """The format version and the checked payload bytes; ValueError for anything that is not a whole checkpoint of a
    version this kanpde reads (:data:`READABLE`)."""
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
    except (ValueError, KeyError, TypeError, OverflowError) as err:
        raise ValueError(f"{path} is a corrupted kanpde checkpoint: its header cannot be read ({err})") from None
    if version == 1:
        raise ValueError(
            f"{path} is a kanpde checkpoint of format version 1, which held pickled Python objects; loading those can "
            f"run code, so this kanpde (which reads version {VERSION}, data only) refuses it. Re-create it: run the "
            "solve again and save it with this kanpde (solver.save(path)); or, only if you trust the file, load it "
            "with the kanpde version that wrote it and keep solver.model.state_dict() with torch.save"
        )
    if version not in READABLE:
        hint = "upgrade kanpde to load it" if version > VERSION else "no kanpde ever wrote that version"
        raise ValueError(
            f"{path} is a kanpde checkpoint of format version {version}; this kanpde reads versions "
            f"{', '.join(map(str, READABLE))} ({hint})"
        )
    payload = data[end + 1 :]
    if len(payload) < size:
        raise ValueError(
            f"{path} is a truncated kanpde checkpoint: {len(payload)} of {size} bytes after the header "
            "(was it copied or written only in part?)"
        )
    if len(payload) > size or hashlib.sha256(payload).hexdigest() != digest:
        raise ValueError(f"{path} is a corrupted kanpde checkpoint: its checksum does not match its content")
    return version, payload


# -- loading ---------------------------------------------------------------------------------------------------------
def _restore_model(solver: Solver, payload: dict[str, Any]) -> None:
    """Put the saved network (its architecture and state) into ``solver.state``."""
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
    approximation = solver.state.approximation
    approximation.model = KAN.from_layers(layers, seed=payload["model_seed"])
    inverse = getattr(approximation, "inverse", None)
    if inverse is not None:  # unknown fields refined during training: their grids from the saved coefficients
        inverse.rebuild_fields(payload["approximation_state"])
    state = checked_state(payload["approximation_state"], approximation.state_dict())
    approximation.load_state_dict(state)


def _read_data(source: Path) -> dict[str, Any]:
    version, raw = _read_payload(source)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of garbage before refusing it
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if "global" in line.lower()]
        if not lines:  # not a pickle of data at all: damaged
            raise ValueError(f"{source} is a corrupted kanpde checkpoint: its content cannot be read") from None
        raise ValueError(
            f"{source} is not a data-only kanpde checkpoint: it names Python objects other than tensors, numbers and "
            f"strings, which are never loaded (they can run code): {lines[0]}"
        ) from None
    except Exception as err:
        raise ValueError(f"{source} is a corrupted kanpde checkpoint: its content cannot be read ({err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{source} is not a kanpde checkpoint (unexpected content)")
    if payload.get("version") != version:
        raise ValueError(f"{source} is a corrupted kanpde checkpoint: its content is not of format version {version}")
    if version == 2:  # written before the TrainState: no stage, grid or damping (a fresh solve sets them)
        payload = dict(exact_keys(payload, "the payload", _PAYLOAD_KEYS_V2))
        payload["train_state"] = {"stage": 0, "grid": None, "lm_damping": None}
    return exact_keys(payload, "the payload", _PAYLOAD_KEYS)


def load_checkpoint(
    path: str | os.PathLike[str], *, problem: Problem | None = None, device: torch.device | str | None = None
) -> Solver:
    """A solver restored from :func:`save_checkpoint`: same predictions, history, step count and sampling state.

    The file is read as data only (``torch.load(weights_only=True)``) and every field is checked before use; no
    code from the file runs.

    Args:
        path: the checkpoint file.
        problem: the problem to solve; needed when the checkpoint's problem holds Python callables (a ``kp.PDE``
            residual, a callable value or mask), otherwise rebuilt from the checkpoint's recipe. It must have the
            coordinates and number of fields the checkpoint was saved with.
        device: where to put the solver (default: where it was saved).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a kanpde checkpoint, is truncated, corrupted, forged (a field that does not
            match the schema: the message names it), of another format version, or needs ``problem=``.
        TypeError: ``problem`` is not a kanpde problem.
    """
    from ..pde.problem import Problem
    from ..pde.solver import Solver

    if problem is not None and not isinstance(problem, Problem):
        raise TypeError(
            f"problem must be a kanpde problem (kp.Poisson, kp.PDE, ...) or None, got {type(problem).__name__}"
        )
    source = Path(path)
    payload = _read_data(source)
    try:
        settings = checked_settings(payload["settings"])
        solver_problem = checked_problem_entry(payload["problem"], problem)
        state = payload["approximation_state"]
        if not isinstance(state, dict):
            raise fail("approximation_state", "a dict of tensors", state)
        checked_architecture(payload["architecture"], settings, state)
        integer(payload["model_seed"], "model_seed", optional=True)
        extra = exact_keys(payload["extra"], "extra", {"lm_max_entries"})
        integer(extra["lm_max_entries"], "extra.lm_max_entries", 1, optional=True)
        history = checked_history(payload["history"])
        steps_done = integer(payload["steps_done"], "steps_done")
        train_state = checked_train_state(payload["train_state"], solver_problem.n_coords)
        generator_state = payload["generator_state"]
        reference_state = torch.Generator().get_state()
        if (
            not isinstance(generator_state, torch.Tensor)
            or generator_state.dtype != reference_state.dtype
            or generator_state.shape != reference_state.shape
        ):
            raise fail("generator_state", f"a uint8 tensor of shape {tuple(reference_state.shape)}", generator_state)
    except NeedsProblem as err:
        raise ValueError(f"cannot load {source} without problem=: {err}") from None
    except (ValueError, TypeError) as err:
        raise ValueError(f"{source} is not a valid kanpde checkpoint: {err}") from None
    if device is not None:
        settings["device"] = device
    elif settings["device"] != "cpu" and not _device_available(settings["device"]):
        raise ValueError(
            f"{source} was saved on device {settings['device']!r}, which is not available here; "
            "pass device='cpu' to load it there"
        )
    try:
        solver = Solver(solver_problem, **settings)
        if extra["lm_max_entries"] is not None:
            solver.lm_max_entries = extra["lm_max_entries"]
        _restore_model(solver, payload)
        solver.state.generator.set_state(generator_state)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ValueError(f"{source} is not a valid kanpde checkpoint: {err}") from None
    state = solver.state
    state.history, state.step = history, int(steps_done)
    state.stage, state.grid = train_state["stage"], train_state["grid"]
    state.points_factor = train_state["points_factor"]
    if train_state["kept_points"] is not None:
        state.kept_points = train_state["kept_points"].to(dtype=solver.dtype, device=solver.device)
    if train_state["lm_damping"] is not None:
        from ..pde.gauss_newton import LMState

        state.optimizer = LMState(mu=float(train_state["lm_damping"]))
    return solver


def _device_available(device: str) -> bool:
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        return False
    return (
        kind == "cpu"
        or (kind == "cuda" and torch.cuda.is_available())
        or (kind == "mps" and torch.backends.mps.is_available())
    )
