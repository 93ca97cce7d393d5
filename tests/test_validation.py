"""Validation at the public boundary: a catalogue of bad inputs, one test each.

Every test asserts the exception type and that the message names the argument (what was given and what is
expected is in the same message). Errors about the problem or the solver's settings are raised before any training
starts: on construction, or at the start of ``solve`` with the model untouched (``assert_untrained``).

Cases that other test files already check in the same way are listed here and not repeated:

- ``kp.KAN(width=[2] / [2, 0, 1] / [2, 1.5, 1] / "2,1", grid=0, k=0)``:
  tests/kan/test_network.py::test_bad_arguments_are_named
- ``kp.Solver(width=[3, 5, 1] / [2, 5, 2], optimizer="sgd", sampler="magic")``,
  ``solve(grid_schedule=[10, 5] / [] / [5, 7.5], steps=0)``:
  tests/pde/test_engine.py::test_bad_solver_arguments_are_named
- ``kp.Heat(time=(1, 0))``, ``bcs=[kp.Dirichlet(0, on="front")]``, ``kp.Periodic`` on a ``kp.Disk``:
  tests/pde/test_engine.py::test_problem_validation_messages
- degenerate geometry (``lower >= upper`` on any axis, ``Interval(1, 0)``, non-finite corners, a polygon with fewer
  than 3 vertices, self-intersecting or of zero area, ``radius <= 0``, empty intersections and differences),
  ``TimeInterval(1, 1)``: tests/pde/test_geometry.py::test_invalid_construction
- expressions on their own (unknown symbol or function, unparsable strings, callables returning non-tensors, wrong
  shapes or non-finite values): tests/pde/test_expressions.py
- checkpoints that are truncated (in the header or the payload), random bytes, another torch file, empty, corrupted
  or of a newer version: tests/io/test_checkpoint.py
- exporting under a regular file: tests/io/test_hdf5.py::test_bad_arguments and tests/io/test_atomic.py
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.io.checkpoint import load_checkpoint, save_checkpoint
from kanpde.io.hdf5 import export_hdf5
from kanpde.io.mesh import export_mesh

FAST = {"n_interior": 32, "n_boundary": 16, "n_test": 32}


@functools.cache
def square() -> kp.Poisson:
    return kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)])


@functools.cache
def square_solver() -> kp.Solver:
    return kp.Solver(square(), width=[2, 3, 1], **FAST)


def assert_untrained(solver: kp.Solver) -> None:
    assert solver.history == [] and solver._steps_done == 0


def check(build: Callable[[], Any], error: type[Exception], names: list[str]) -> pytest.ExceptionInfo[Exception]:
    """Run ``build``; it must raise ``error`` whose message contains every entry of ``names``."""
    with pytest.raises(error) as info:
        build()
    for name in names:
        assert name in str(info.value), f"{name!r} not in the message: {info.value}"
    return info


# ---------------------------------------------------------------- the network: width, grid, k


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"width": [2]}, ValueError, ["width", "[2]"], id="width-one-entry"),
        pytest.param({"width": []}, ValueError, ["width", "[]"], id="width-empty"),
        pytest.param({"width": [2, 0, 1]}, ValueError, ["width", "bad entries: [0]"], id="width-zero"),
        pytest.param({"width": [2, 2.5, 1]}, ValueError, ["width", "2.5"], id="width-float"),
        pytest.param({"width": [2, 4.0, 1]}, ValueError, ["width", "4.0"], id="width-integral-float"),
        pytest.param({"width": [2, "3", 1]}, ValueError, ["width", "'3'"], id="width-string-entry"),
        pytest.param({"width": [2, True, 1]}, ValueError, ["width", "True"], id="width-bool-entry"),
        pytest.param({"width": "2,10,1"}, TypeError, ["width", "'2,10,1'"], id="width-string"),
        pytest.param({"width": 10}, TypeError, ["width", "10"], id="width-int"),
        pytest.param({"grid": 0}, ValueError, ["grid", ">= 1", "got 0"], id="grid-zero"),
        pytest.param({"grid": -3}, ValueError, ["grid", "got -3"], id="grid-negative"),
        pytest.param({"grid": 2.5}, ValueError, ["grid", "got 2.5"], id="grid-float"),
        pytest.param({"k": 0}, ValueError, ["k must", "got 0"], id="k-zero"),
        pytest.param({"k": 1.5}, ValueError, ["k must", "got 1.5"], id="k-float"),
    ],
)
def test_solver_network_arguments(kwargs: dict[str, Any], error: type[Exception], names: list[str]) -> None:
    check(lambda: kp.Solver(square(), **({"width": [2, 3, 1]} | kwargs)), error, names)


def test_width_first_entry_counts_time_as_a_coordinate() -> None:
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    check(lambda: kp.Solver(heat, width=[1, 5, 1]), ValueError, ["width[0]", "'x', 't'", "[1, 5, 1]"])


def test_width_last_entry_counts_the_fields() -> None:
    system = kp.PDE(kp.Interval(0, 1), lambda u: u[0].xx + u[1].value, n_fields=2, bcs=[kp.Dirichlet(0)])
    check(lambda: kp.Solver(system, width=[1, 5, 1]), ValueError, ["width[-1]", "(2)", "[1, 5, 1]"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"in_dim": 0, "out_dim": 1}, "in_dim"),
        ({"in_dim": 2, "out_dim": 0}, "out_dim"),
        ({"in_dim": 2, "out_dim": 1.5}, "out_dim"),
        ({"in_dim": 2, "out_dim": 1, "grid_size": 0}, "grid_size"),
        ({"in_dim": 2, "out_dim": 1, "spline_order": 0}, "spline_order"),
    ],
)
def test_kan_layer_sizes(kwargs: dict[str, Any], name: str) -> None:
    check(lambda: kp.KANLayer(**kwargs), ValueError, [name, ">= 1"])


# ---------------------------------------------------------------- geometry and time


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: kp.Rectangle((0, 0), (1, 1)) & kp.Rectangle((1, 0), (2, 1)), ["empty"], id="touching"),
        pytest.param(lambda: kp.Interval(0, 1) & kp.Interval(2, 3), ["empty"], id="disjoint-intervals"),
        pytest.param(lambda: kp.Box((0, 0, 0), (1, 1, 1)) - kp.Box((-1, -1, -1), (2, 2, 2)), ["empty"], id="3d-diff"),
        pytest.param(lambda: kp.Disk((0, 0), 1) & kp.Disk((1.5, 1.5), 1), ["empty"], id="disks-apart"),
        pytest.param(lambda: kp.Polygon([(0, 0), (2, 0), (1, 0), (1, 1)]), ["vertices"], id="polygon-folds-back"),
        pytest.param(lambda: kp.Polygon([(0, 0), (2, 2), (2, 0), (1, 1), (0, 2)]), ["vertices"], id="polygon-touch"),
        pytest.param(lambda: kp.Polygon(np.zeros((3, 2))), ["vertices"], id="polygon-one-point"),
        pytest.param(lambda: kp.Box((0, 0), (1, -1)), ["lower[1]", "upper[1]", "axis y"], id="box-reversed"),
        pytest.param(lambda: kp.Disk((0, 0), float("nan")), ["radius"], id="disk-nan-radius"),
    ],
)
def test_degenerate_geometry(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: kp.Heat(kp.Interval(0, 1), time=(1, 1), initial=0), ["time", "t0 < t1"], id="empty"),
        pytest.param(
            lambda: kp.PDE(kp.Interval(0, 1), lambda u: u.t - u.xx, time=(2, 1), initial=0),
            ["time", "t0=2.0, t1=1.0"],
            id="reversed",
        ),
        pytest.param(lambda: kp.Heat(kp.Interval(0, 1), time=(0,), initial=0), ["time", "(0,)"], id="one-end"),
        pytest.param(lambda: kp.Heat(kp.Interval(0, 1), time=(0, np.inf), initial=0), ["time", "t1"], id="infinite"),
        pytest.param(lambda: kp.Heat(kp.Interval(0, 1), time="0,1", initial=0), ["time", "'0,1'"], id="string"),
    ],
)
def test_time_interval(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


# ---------------------------------------------------------------- expressions given to a problem


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: kp.Poisson(kp.Interval(0, 1), f="a*x + b"), ["f = 'a*x + b'", "'a', 'b'"], id="f"),
        pytest.param(
            lambda: kp.Poisson(kp.Rectangle((0, 0), (1, 1)), bcs=[kp.Dirichlet("alpha*y")]),
            ["Dirichlet value", "'alpha'"],
            id="dirichlet",
        ),
        pytest.param(
            lambda: kp.Heat(kp.Interval(0, 1), initial="c*sin(pi*x)", bcs=[kp.Dirichlet(0)]),
            ["initial value", "'c'"],
            id="initial",
        ),
        pytest.param(lambda: kp.Poisson(kp.Interval(0, 1), exact="sin(k*x)"), ["exact", "'k'"], id="exact"),
        pytest.param(lambda: kp.Poisson(kp.Interval(0, 1), f="sin(pi*y)"), ["f", "'y'"], id="coordinate-not-here"),
        pytest.param(lambda: kp.Poisson(kp.Interval(0, 1), f="foo(x)"), ["f", "foo"], id="unknown-function"),
        pytest.param(
            lambda: kp.Heat(kp.Interval(0, 1), initial=0, diffusivity="D"), ["diffusivity", "'D'"], id="diffusivity"
        ),
    ],
)
def test_expression_with_an_unknown_symbol_names_it(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: kp.Poisson(kp.Interval(0, 1), f="sin(pi*x"), ["f", "'sin(pi*x'", "parse"], id="f"),
        pytest.param(
            lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Neumann("x +* 2")]),
            ["Neumann flux", "'x +* 2'", "parse"],
            id="neumann",
        ),
        pytest.param(
            lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Robin(alpha="2x", beta=1, value=0)]),
            ["Robin alpha", "'2x'", "parse"],
            id="implicit-product",
        ),
    ],
)
def test_expression_sympy_cannot_parse(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


# ---------------------------------------------------------------- callables: checked before the first step

SOURCE_CALLABLES = [
    pytest.param(lambda p: p.numpy()[:, 0], TypeError, ["f", "ndarray"], id="numpy"),
    pytest.param(lambda p: 1.0, TypeError, ["f", "float"], id="float"),
    pytest.param(lambda p: p, ValueError, ["f", "shape (8, 2)"], id="wrong-shape"),
    pytest.param(lambda p: p[:3, 0], ValueError, ["f", "shape (3,)"], id="too-few-values"),
    pytest.param(lambda p: p[:, 0] / 0.0, ValueError, ["f", "not finite"], id="inf"),
    pytest.param(lambda p: p[:, 0] * float("nan"), ValueError, ["f", "not finite"], id="nan"),
]


@pytest.mark.parametrize(("source", "error", "names"), SOURCE_CALLABLES)
def test_source_callable_is_checked_when_the_solver_is_built(source, error, names) -> None:
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=source, bcs=[kp.Dirichlet(0)])
    check(lambda: kp.Solver(problem, width=[2, 3, 1], **FAST), error, names)


BOUNDARY_CALLABLES = [
    pytest.param(kp.Dirichlet(lambda p: p.numpy()[:, 0]), TypeError, ["Dirichlet value", "ndarray"], id="numpy"),
    pytest.param(kp.Dirichlet(lambda p: p), ValueError, ["Dirichlet value", "(16, 2)"], id="wrong-shape"),
    pytest.param(kp.Dirichlet(lambda p: p[:, 0] * np.nan), ValueError, ["Dirichlet value", "finite"], id="nan"),
    pytest.param(kp.Neumann(lambda p: 1 / (p[:, 0] * 0)), ValueError, ["Neumann flux", "finite"], id="neumann-inf"),
    pytest.param(kp.Robin(1, lambda p: [0.0] * len(p), 0), TypeError, ["Robin beta", "list"], id="robin-list"),
]


@pytest.mark.parametrize(("condition", "error", "names"), BOUNDARY_CALLABLES)
def test_boundary_callable_is_checked_before_the_first_step(condition, error, names) -> None:
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[condition])
    solver = kp.Solver(problem, width=[2, 3, 1], hard_constraint=False, **FAST)
    check(lambda: solver.solve(grid_schedule=[3], steps=1, progress=False), error, names)
    assert_untrained(solver)


def test_initial_callable_is_checked_before_the_first_step() -> None:
    heat = kp.Heat(kp.Interval(0, 1), initial=lambda p: p[:, 0] / 0.0, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(heat, width=[2, 3, 1], hard_constraint=False, **FAST)
    check(lambda: solver.solve(grid_schedule=[3], steps=1, progress=False), ValueError, ["initial value", "finite"])
    assert_untrained(solver)


def test_callable_that_raises_under_a_hard_constraint_gets_a_note_naming_the_value() -> None:
    # The hard constraint differentiates the boundary value, so its points require grad and numpy() raises.
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(lambda p: p.numpy()[:, 0])])
    solver = kp.Solver(problem, width=[2, 3, 1], **FAST)
    info = check(lambda: solver.solve(grid_schedule=[3], steps=1, progress=False), RuntimeError, ["numpy"])
    assert "Dirichlet value" in "\n".join(info.value.__notes__) and "torch functions" in info.value.__notes__[-1]
    assert_untrained(solver)


def test_exact_callable_is_checked_when_the_solver_is_built() -> None:
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=[kp.Dirichlet(0)], exact=lambda p: p)
    check(lambda: kp.Solver(problem, width=[2, 3, 1], **FAST), ValueError, ["exact", "shape"])


def test_source_defined_only_on_the_domain_is_accepted() -> None:
    """sqrt(x - 1) is NaN left of the domain [1, 2]: the solver must probe the residual inside it."""
    from kanpde.pde.residuals import pde_residual

    problem = kp.Poisson(kp.Interval(1, 2), f="sqrt(x - 1)", bcs=[kp.Dirichlet(0)])
    without_source = kp.Poisson(kp.Interval(1, 2), f=0, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[1, 3, 1], **FAST)
    assert solver.request.level == 2  # the probe saw the Laplacian
    x = torch.linspace(1, 2, 11, dtype=torch.float64)[:, None]
    with torch.no_grad():
        residual = pde_residual(solver.approximation, problem, x, solver.request)[:, 0]
        laplacian = pde_residual(solver.approximation, without_source, x, solver.request)[:, 0]
    torch.testing.assert_close(residual - laplacian, torch.sqrt(x[:, 0] - 1), rtol=1e-12, atol=1e-12)
    result = solver.solve(grid_schedule=[3], steps=2, progress=False)
    assert result.stopped is None and math.isfinite(result.history[-1].loss)


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(
            lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Dirichlet(0, on="top")]),
            ["on='top'", "1-D", "'xmin', 'xmax', 'left', 'right'"],
            id="top-of-an-interval",
        ),
        pytest.param(
            lambda: kp.Poisson(kp.Rectangle((0, 0), (1, 1)), bcs=[kp.Neumann(0, on="zmax")]),
            ["on='zmax'", "'ymax'"],
            id="zmax-of-a-rectangle",
        ),
        pytest.param(
            lambda: kp.Heat(kp.Box((0, 0, 0), (1, 1, 1)), initial=0, bcs=[kp.Dirichlet(0, on="left")]),
            ["on='left'", "3-D", "'zmin'"],
            id="alias-in-3d",
        ),
        pytest.param(
            lambda: kp.Heat(kp.Interval(0, 1), initial=0, bcs=[kp.Dirichlet(0, on="tmin")]),
            ["on='tmin'", "'xmin', 'xmax'"],
            id="time-is-not-a-side",
        ),
        pytest.param(
            lambda: kp.Poisson(kp.Disk((0, 0), 1), bcs=[kp.Robin(1, 1, 0, on="xmin")]),
            ["on='xmin'", "no named sides", "callable mask"],
            id="side-of-a-disk",
        ),
    ],
)
def test_condition_on_a_side_that_does_not_exist(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


def test_condition_on_of_the_wrong_type() -> None:
    check(lambda: kp.Dirichlet(0, on=3), TypeError, ["on must be", "int"])


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param(kp.Polygon([(0, 0), (1, 0), (0, 1)]), id="polygon"),
        pytest.param(kp.Rectangle((0, 0), (2, 1)) - kp.Disk((1, 0.5), 0.25), id="difference"),
        pytest.param(kp.Rectangle((0, 0), (1, 1)) | kp.Rectangle((1, 0), (2, 1)), id="union-of-boxes"),
    ],
)
def test_periodic_condition_needs_a_box(domain) -> None:
    check(lambda: kp.Poisson(domain, bcs=[kp.Periodic("x")]), ValueError, ["Periodic('x')", "box domain"])


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Periodic("y")]), ["Periodic axis 'y'", "('x',)"]),
        (lambda: kp.Periodic("t"), ["Periodic axis", "'t'"]),
        (lambda: kp.Periodic(0), ["Periodic axis", "0"]),
    ],
)
def test_periodic_axis(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


# ---------------------------------------------------------------- solve() and solver settings


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"grid_schedule": [5, 5]}, ValueError, ["grid_schedule", "strictly increasing"], id="repeated"),
        pytest.param({"grid_schedule": (20, 10, 5)}, ValueError, ["grid_schedule", "strictly"], id="decreasing"),
        pytest.param({"grid_schedule": [0, 5]}, ValueError, ["grid_schedule", "positive integers"], id="zero"),
        pytest.param({"grid_schedule": [5.0, 10.0]}, ValueError, ["grid_schedule", "[5.0, 10.0]"], id="floats"),
        pytest.param({"grid_schedule": ["5", "10"]}, ValueError, ["grid_schedule", "'5'"], id="strings"),
        pytest.param({"grid_schedule": ()}, ValueError, ["grid_schedule", "at least one"], id="empty-tuple"),
        pytest.param({"grid_schedule": "5,10"}, TypeError, ["grid_schedule", "'5,10'"], id="string"),
        pytest.param({"grid_schedule": 10}, TypeError, ["grid_schedule", "10"], id="int"),
        pytest.param({"grid_schedule": [None]}, ValueError, ["grid_schedule", "None"], id="none"),
        pytest.param({"steps": -1}, ValueError, ["steps", "positive integer", "-1"], id="steps-negative"),
        pytest.param({"steps": 2.5}, ValueError, ["steps", "2.5"], id="steps-float"),
        pytest.param({"steps": "10"}, ValueError, ["steps", "'10'"], id="steps-string"),
    ],
)
def test_solve_arguments(kwargs: dict[str, Any], error: type[Exception], names: list[str]) -> None:
    solver = square_solver()
    check(lambda: solver.solve(**({"grid_schedule": [3], "steps": 1} | kwargs), progress=False), error, names)
    assert_untrained(solver)


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"optimizer": ("adam", "sgd")}, ValueError, ["optimizer", "'sgd'"], id="optimizer-in-chain"),
        pytest.param({"optimizer": []}, ValueError, ["optimizer", "[]"], id="optimizer-empty-chain"),
        pytest.param({"optimizer": "LBFGS-B"}, ValueError, ["optimizer", "'LBFGS-B'", "'lbfgs'"], id="optimizer-typo"),
        pytest.param({"sampler": "sobel"}, ValueError, ["sampler", "'sobel'", "'sobol'"], id="sampler-typo"),
        pytest.param({"sampler": 3}, TypeError, ["sampler", "int"], id="sampler-int"),
        pytest.param({"sampler": None}, TypeError, ["sampler", "NoneType"], id="sampler-none"),
    ],
)
def test_unknown_optimizer_or_sampler(kwargs: dict[str, Any], error: type[Exception], names: list[str]) -> None:
    check(lambda: kp.Solver(square(), width=[2, 3, 1], **kwargs), error, names)


def test_optimizer_of_the_wrong_type() -> None:
    check(lambda: kp.Solver(square(), width=[2, 3, 1], optimizer=3), TypeError, ["optimizer"])


# ---------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def checkpoint_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, Any], bytes]:
    """Magic line, header and payload of a real checkpoint of a small untrained solver."""
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    path = save_checkpoint(kp.Solver(problem, width=[1, 2, 1]), tmp_path_factory.mktemp("ckpt") / "good.kpt")
    magic, header, payload = path.read_bytes().split(b"\n", 2)
    return magic + b"\n", json.loads(header), payload


def _with_header(parts: tuple[bytes, dict[str, Any], bytes], payload: bytes | None = None, **fields: Any) -> bytes:
    """A checkpoint with a consistent header (length and checksum) around ``payload``, ``fields`` overriding."""
    magic, header, original = parts
    payload = original if payload is None else payload
    header = header | {"payload_bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()} | fields
    return magic + json.dumps(header).encode() + b"\n" + payload


def _torch_bytes(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


CHECKPOINT_CASES: list[Any] = [
    pytest.param(lambda parts: pickle.dumps({"model": [1, 2, 3]}), "not a kanpde checkpoint", id="plain-pickle"),
    pytest.param(lambda parts: b"\x89HDF\r\n\x1a\n" + bytes(600), "not a kanpde checkpoint", id="hdf5-signature"),
    pytest.param(lambda parts: parts[0][:-1], "truncated", id="magic-without-newline"),
    pytest.param(lambda parts: parts[0] + b'{"format": "kanpde-checkpoint"', "truncated", id="header-cut-off"),
    pytest.param(lambda parts: parts[0] + b"[1, 2]\n", "corrupted", id="header-not-an-object"),
    pytest.param(lambda parts: _with_header(parts, version=0), "version 0", id="older-version"),
    pytest.param(lambda parts: _with_header(parts, version="two"), "corrupted", id="version-not-a-number"),
    pytest.param(lambda parts: _with_header(parts, format="other"), "corrupted", id="other-format"),
    pytest.param(lambda parts: _with_header(parts, b"\x80\x04garbage"), "corrupted", id="payload-not-a-pickle"),
    pytest.param(lambda parts: _with_header(parts, _torch_bytes([1, 2])), "not a kanpde checkpoint", id="list"),
    pytest.param(
        lambda parts: _with_header(parts, _torch_bytes({"format": "kanpde-checkpoint", "version": 1})),
        "corrupted",
        id="payload-missing-entries",
    ),
]


@pytest.mark.parametrize(("make", "message"), CHECKPOINT_CASES)
def test_bad_checkpoint_file(tmp_path: Path, checkpoint_parts, make, message: str) -> None:
    path = tmp_path / "bad.kpt"
    path.write_bytes(make(checkpoint_parts))
    check(lambda: load_checkpoint(path), ValueError, [str(path), message])


def test_checkpoint_that_is_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "u.h5"
    with h5py.File(path, "w") as h5:
        h5["fields/u"] = np.zeros(3)
    check(lambda: kp.Solver.load(path), ValueError, [str(path), "not a kanpde checkpoint"])


def test_checkpoint_path_that_is_a_directory(tmp_path: Path) -> None:
    check(lambda: load_checkpoint(tmp_path), IsADirectoryError, [str(tmp_path)])


# ---------------------------------------------------------------- exports to paths that cannot be written


@pytest.fixture(scope="module")
def interval_solver() -> kp.Solver:
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    return kp.Solver(problem, width=[1, 2, 1], **FAST)


@pytest.fixture
def no_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if an exporter samples the solution: path errors must come before that work."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the solution was sampled before the path was checked")

    monkeypatch.setattr("kanpde.io.hdf5.sample_solution", refuse)
    monkeypatch.setattr("kanpde.io.mesh.sample_solution", refuse)


def test_export_hdf5_to_a_directory(tmp_path: Path, interval_solver, no_sampling) -> None:
    (tmp_path / "u.h5").mkdir()
    check(lambda: export_hdf5(interval_solver, tmp_path / "u.h5"), IsADirectoryError, ["u.h5", "directory"])


def test_export_hdf5_whose_xdmf_companion_cannot_be_written(tmp_path: Path, interval_solver, no_sampling) -> None:
    (tmp_path / "u.xdmf").mkdir()
    check(lambda: interval_solver.export_hdf5(tmp_path / "u.h5"), IsADirectoryError, ["u.xdmf"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.xdmf"]  # no u.h5 without its companion


def test_export_mesh_under_a_regular_file(tmp_path: Path, interval_solver, no_sampling) -> None:
    (tmp_path / "out").write_text("a file, not a folder")
    check(lambda: export_mesh(interval_solver, tmp_path / "out" / "u.vtu"), OSError, [str(tmp_path / "out" / "u.vtu")])


def test_save_checkpoint_under_a_regular_file(tmp_path: Path, interval_solver) -> None:
    (tmp_path / "out").write_text("a file, not a folder")
    check(lambda: interval_solver.save(tmp_path / "out" / "s.kpt"), OSError, ["s.kpt"])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("write", [lambda s, p: s.export_hdf5(p / "u.h5"), lambda s, p: s.export_mesh(p / "u.vtu")])
def test_export_into_a_read_only_directory(tmp_path: Path, interval_solver, no_sampling, write) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        check(lambda: write(interval_solver, folder), PermissionError, [str(folder)])
    finally:
        folder.chmod(0o700)


# ---------------------------------------------------------------- integer-like arguments


def test_seed_must_be_an_integer() -> None:
    check(lambda: kp.KAN([2, 3, 1], seed="a"), TypeError, ["seed"])
    check(lambda: kp.Solver(square(), width=[2, 3, 1], seed=1.5), TypeError, ["seed"])


def test_numpy_integers_are_integers() -> None:
    import numpy as np

    solver = kp.Solver(square(), width=[2, 3, 1], seed=np.int64(3), n_interior=64)
    result = solver.solve(grid_schedule=[np.int64(3)], steps=np.int64(1), progress=False)
    assert [s.grid for s in result.stages] == [3] and solver.seed == 3
