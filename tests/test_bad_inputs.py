"""Bad input that used to get a raw error, a hang, an out-of-memory kill or silence (issue 19): one test each.

Every test asserts the exception type and that the message names the argument. Memory refusals are checked
against the machine's memory as ``kanpde.pde.memory.memory_limit`` reports it, so they hold on any machine.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import meshio
import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.io.atomic import STALE_SECONDS, atomic_path
from kanpde.io.hdf5 import export_hdf5
from kanpde.io.mesh import export_mesh
from kanpde.kan.training import NON_TTY_REFRESH_SECONDS, progress_bar
from kanpde.pde.memory import memory_limit, stage_bytes

FAST = {"n_interior": 32, "n_boundary": 16, "n_test": 32}


def check(build: Callable[[], Any], error: type[Exception], names: list[str]) -> pytest.ExceptionInfo[Exception]:
    """Run ``build``; it must raise ``error`` whose message contains every entry of ``names``."""
    with pytest.raises(error) as info:
        build()
    for name in names:
        assert name in str(info.value), f"{name!r} not in the message: {info.value}"
    return info


@functools.cache
def interval() -> kp.Poisson:
    return kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])


# ---------------------------------------------------------------- geometry extents


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(lambda: kp.Interval(0, 1e300), ["lower/upper", "1e+300", "axis x", "rescale"], id="huge"),
        pytest.param(lambda: kp.Rectangle((0, -1e20), (1, 1)), ["lower/upper", "axis y"], id="huge-y"),
        pytest.param(lambda: kp.Interval(1e10, 1e10 + 1e-3), ["lower/upper", "extent", "too small"], id="thin"),
        pytest.param(lambda: kp.Interval(0, 1e-300), ["lower/upper", "extent"], id="tiny"),
        pytest.param(lambda: kp.Disk((0, 0), 1e200), ["center/radius"], id="disk"),
        pytest.param(lambda: kp.Polygon([(0, 0), (1e300, 0), (0, 1)]), ["vertices"], id="polygon"),
        pytest.param(
            lambda: kp.Heat(kp.Interval(0, 1), time=(0, 1e300), initial=0, bcs=[kp.Dirichlet(0)]),
            ["time", "axis t"],
            id="time",
        ),
        pytest.param(
            lambda: kp.MeshDomain(np.array([[0, 0], [1e300, 0], [0, 1]]), np.array([[0, 1, 2]])),
            ["points", "rescale"],
            id="mesh",
        ),
    ],
)
def test_absurd_extents_are_refused(build: Callable[[], Any], names: list[str]) -> None:
    check(build, ValueError, names)


def test_ordinary_extents_are_accepted() -> None:
    assert kp.Interval(-1e6, 1e6).bounds == ((-1e6,), (1e6,))
    assert kp.Interval(1e-9, 3e-9).measure == pytest.approx(2e-9)


def test_collinear_mesh_is_refused() -> None:
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    check(lambda: kp.MeshDomain(points, np.array([[0, 1, 2], [1, 2, 3]])), ValueError, ["cells", "collinear"])


# ---------------------------------------------------------------- conditions and problems


def test_robin_with_both_coefficients_zero() -> None:
    check(lambda: kp.Robin(0, 0, 1), ValueError, ["Robin alpha and beta", "both zero"])
    check(lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Robin("0", 0.0, 1)]), ValueError, ["Robin alpha"])
    kp.Robin(0, 1, 1)  # a Neumann condition written as Robin: fine


@pytest.mark.parametrize("field", [3, -1, 1.0])
def test_condition_field_out_of_range_when_the_problem_is_built(field: Any) -> None:
    check(
        lambda: kp.Poisson(kp.Interval(0, 1), bcs=[kp.Dirichlet(0, field=field)]),
        ValueError,
        ["dirichlet", f"field={field!r}", "n_fields=1"],
    )


def test_field_in_range_of_a_system_is_accepted() -> None:
    system = kp.PDE(
        kp.Interval(0, 1), lambda u: u[0].xx + u[1].value, n_fields=2, bcs=[kp.Dirichlet(0), kp.Dirichlet(0, field=1)]
    )
    assert [c.field for c in system.conditions] == [0, 1]


def test_problem_without_boundary_conditions_warns() -> None:
    with pytest.warns(UserWarning, match="bcs is empty"):
        kp.Poisson(kp.Interval(0, 1), f=1)
    with pytest.warns(UserWarning, match="bcs is empty"):
        kp.Heat(kp.Interval(0, 1), initial="sin(pi*x)")  # the initial value is not a boundary condition
    with warnings.catch_warnings():  # observations may stand in for them (inverse problems)
        warnings.filterwarnings("error", message=".*bcs is empty")
        points = torch.tensor([[0.25], [0.75]], dtype=torch.float64)
        kp.Poisson(kp.Interval(0, 1), f=1, data=[kp.Observations(points, torch.zeros(2, dtype=torch.float64))])


def test_problems_of_the_suite_do_not_warn() -> None:
    import importlib
    import sys

    from kanpde.cli import list_problems

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `problems` lives beside `tests`
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*bcs is empty")
        for name in list_problems():
            importlib.import_module(f"problems.{name}").make_problem()


@pytest.mark.parametrize(
    ("diffusivity", "names"),
    [(-1, ["diffusivity", "positive", "-1"]), (0, ["diffusivity", "positive"]), ("-0.1", ["diffusivity"])],
)
def test_negative_diffusivity(diffusivity: Any, names: list[str]) -> None:
    check(
        lambda: kp.Heat(kp.Interval(0, 1), diffusivity=diffusivity, initial=0, bcs=[kp.Dirichlet(0)]),
        ValueError,
        names,
    )


def test_diffusivity_negative_somewhere_in_the_domain_is_refused_by_the_solver() -> None:
    heat = kp.Heat(kp.Interval(0, 1), diffusivity="x - 0.5", initial=0, bcs=[kp.Dirichlet(0)])
    check(lambda: kp.Solver(heat, width=[2, 3, 1], **FAST), ValueError, ["diffusivity", "positive in the domain"])


# ---------------------------------------------------------------- residuals


@pytest.mark.parametrize(
    ("residual", "error", "names"),
    [
        pytest.param(
            lambda u: u.value[:, None, None].expand(-1, 2, 2), ValueError, ["residual", "(8, 2, 2)"], id="nx2x2"
        ),
        pytest.param(lambda u: u.value[:3], ValueError, ["residual", "(3,)"], id="too-few"),
        pytest.param(lambda u: u.value.sum(), ValueError, ["residual", "()"], id="scalar"),
        pytest.param(lambda u: 0.0, TypeError, ["residual", "float"], id="float"),
        pytest.param(lambda u: u.d("z"), ValueError, ["residual", "'z'", "('x',)"], id="unknown-coordinate"),
        pytest.param(lambda u: u.zz, AttributeError, ["residual", "'zz'", "('x',)"], id="unknown-attribute"),
        pytest.param(lambda u: u[2].xx, IndexError, ["residual", "field index 2", "1 field"], id="field-index"),
    ],
)
def test_residual_is_checked_when_the_solver_is_built(residual, error, names) -> None:
    problem = kp.PDE(kp.Interval(0, 1), residual, bcs=[kp.Dirichlet(0)])
    check(lambda: kp.Solver(problem, width=[1, 3, 1], **FAST), error, names)


def test_residual_of_several_equations_is_accepted() -> None:
    problem = kp.PDE(kp.Interval(0, 1), lambda u: torch.stack([u.xx, u.value], dim=1), bcs=[kp.Dirichlet(0)])
    kp.Solver(problem, width=[1, 3, 1], **FAST)


# ---------------------------------------------------------------- solver arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        pytest.param({"seed": 2**70}, ValueError, ["seed", "2**62", str(2**70)], id="seed-huge"),
        pytest.param({"seed": -1}, ValueError, ["seed", "-1"], id="seed-negative"),
        pytest.param({"weights": {"pde": -1}}, ValueError, ["weights['pde']", ">= 0", "-1"], id="weight-negative"),
        pytest.param({"weights": {"pde": float("nan")}}, ValueError, ["weights['pde']", "nan"], id="weight-nan"),
        pytest.param({"weights": {"pde": "1"}}, TypeError, ["weights['pde']", "'1'"], id="weight-string"),
        pytest.param(
            {"weights": {"dirichlet": 1, "neuman": 2}},
            ValueError,
            ["'neuman'", "'pde', 'dirichlet'"],
            id="weight-unknown-term",
        ),
        pytest.param({"weights": [1, 2]}, TypeError, ["weights", "[1, 2]"], id="weights-list"),
        pytest.param({"weights": "nope"}, ValueError, ["weights", "'nope'", "'adaptive'"], id="weights-choice"),
        pytest.param({"device": "tpu9"}, ValueError, ["device", "'tpu9'"], id="device-unknown"),
        pytest.param({"hard_constraint": "nope"}, ValueError, ["hard_constraint", "'nope'"], id="hard-choice"),
        pytest.param({"optimizer": "nope"}, ValueError, ["optimizer", "'nope'"], id="optimizer-choice"),
        pytest.param({"sampler": "nope"}, ValueError, ["sampler", "'nope'"], id="sampler-choice"),
    ],
)
def test_solver_arguments(kwargs: dict[str, Any], error: type[Exception], names: list[str]) -> None:
    check(lambda: kp.Solver(interval(), width=[1, 3, 1], **kwargs), error, names)


def test_weights_by_kind_label_and_repeat_are_accepted() -> None:
    problem = kp.Poisson(kp.Rectangle((0, 0), (1, 1)), bcs=[kp.Dirichlet(0, on="xmin"), kp.Neumann(0, on="xmax"),
                         kp.Neumann(0, on="xmax"), kp.Dirichlet(0, on="ymin"), kp.Dirichlet(0, on="ymax")])  # fmt: skip
    weights = {"pde": 1, "dirichlet": 2, "neumann[xmax]": 0.5, "neumann[xmax 2]": 3, "dirichlet[ymin]": 0}
    resolved = weights | {"dirichlet[xmin]": 2, "dirichlet[ymax]": 2}  # the kind's weight, where no own one
    assert kp.Solver(problem, width=[2, 3, 1], weights=weights, **FAST).weights == resolved


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda() -> None:
    check(lambda: kp.Solver(interval(), width=[1, 3, 1], device="cuda"), ValueError, ["device='cuda'", "no CUDA"])


def test_too_many_points_are_refused_with_the_estimate() -> None:
    limit = memory_limit()
    n_interior = max(10**9, limit // 8)  # at least a byte per point beyond the machine's memory
    info = check(
        lambda: kp.Solver(interval(), width=[1, 3, 1], n_interior=n_interior),
        ValueError,
        [f"n_interior={n_interior}", "needs at least", "GiB of memory (estimated)", "this machine"],
    )
    assert "use fewer points" in str(info.value)


def test_huge_grid_is_refused_before_any_work() -> None:
    solver = kp.Solver(interval(), width=[1, 3, 1], **FAST)
    grid = 10**12
    check(lambda: solver.solve(grid_schedule=[5, grid], steps=1, progress=False), ValueError,
          ["grid_schedule", f"grid {grid}", "estimated"])  # fmt: skip
    assert solver.history == [] and solver.model.grid_size == 5


def test_memory_estimate_is_below_what_a_default_solve_needs() -> None:
    # The documented default chunk (65,536 points of a [2, 10, 1] KAN with a Laplacian jet) takes about 1 GB;
    # the estimate must stay below that (it refuses only what cannot fit).
    estimate = stage_bytes([2, 10, 1], 20, 3, n_points=65_536, n_coords=2, chunk_size=65_536, itemsize=8,
                           optimizer="lbfgs")  # fmt: skip
    assert 1e8 < estimate < 1e9


@pytest.mark.parametrize("kwargs", [{"n_test": 10**12}, {"chunk_size": 10**12, "n_interior": 10**9}])
def test_other_sizes_are_checked_against_memory(kwargs: dict[str, int]) -> None:
    name = next(iter(kwargs))
    check(lambda: kp.Solver(interval(), width=[1, 3, 1], **kwargs), ValueError, [name, "estimated"])


# ---------------------------------------------------------------- exports


@functools.cache
def heat_solver() -> kp.Solver:
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)])
    return kp.Solver(heat, width=[2, 3, 1], **FAST)


@functools.cache
def interval_solver() -> kp.Solver:
    return kp.Solver(interval(), width=[1, 3, 1], **FAST)


@pytest.mark.parametrize(
    ("times", "error", "names"),
    [
        pytest.param([0.5, 2.0], ValueError, ["times", "[0.0, 1.0]", "2.0"], id="after"),
        pytest.param([-0.1], ValueError, ["times", "-0.1"], id="before"),
        pytest.param("nope", TypeError, ["times", "'nope'"], id="string"),
        pytest.param(["a"], TypeError, ["times", "['a']"], id="list-of-strings"),
    ],
)
def test_export_times_outside_the_time_range(tmp_path: Path, times: Any, error: type[Exception], names) -> None:
    check(lambda: export_hdf5(heat_solver(), tmp_path / "u.h5", times=times), error, names)
    check(lambda: export_mesh(heat_solver(), tmp_path / "u.vtu", times=times), error, names)
    assert list(tmp_path.iterdir()) == []


def test_export_resolution_beyond_memory(tmp_path: Path) -> None:
    check(lambda: export_hdf5(interval_solver(), tmp_path / "u.h5", resolution=10**12), ValueError,
          ["resolution=1000000000000", "estimated"])  # fmt: skip
    check(lambda: export_hdf5(heat_solver(), tmp_path / "u.h5", times=10**12), ValueError, ["times=", "estimated"])
    check(lambda: export_mesh(interval_solver(), tmp_path / "u.vtu", resolution="101"), TypeError, ["resolution"])


def test_invalid_choice_strings_in_exports(tmp_path: Path) -> None:
    check(lambda: export_mesh(interval_solver(), tmp_path / "u.vtu", file_format="nope"), ValueError,
          ["file_format", "'nope'", "'vtu'"])  # fmt: skip
    check(lambda: export_hdf5(interval_solver(), tmp_path / "u.h5", result="nope"), TypeError, ["result", "'nope'"])
    check(lambda: interval_solver().plot(result="nope"), TypeError, ["result", "'nope'"])


@pytest.mark.parametrize("path", [".", "..", ""])
def test_export_hdf5_to_a_directory_name(path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    check(lambda: export_hdf5(interval_solver(), path), IsADirectoryError, [repr(path), "solution.h5"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["run:1.h5", "a:b:c.h5"])
def test_xdmf_companion_of_a_name_with_a_colon_reads_back(tmp_path: Path, name: str) -> None:
    h5, xdmf = export_hdf5(interval_solver(), tmp_path / name, resolution=11)
    mesh = meshio.read(xdmf)
    assert mesh.points.shape == (11, 2)
    expected = interval_solver().predict(torch.linspace(0, 1, 11, dtype=torch.float64)[:, None]).numpy()
    np.testing.assert_allclose(mesh.point_data["u"], expected, rtol=0, atol=1e-15)
    assert h5.exists()


def test_time_series_of_a_name_with_a_colon_reads_back(tmp_path: Path) -> None:
    _, xdmf = export_hdf5(heat_solver(), tmp_path / "heat:1.h5", resolution=5, times=3)
    with meshio.xdmf.TimeSeriesReader(xdmf) as reader:
        points, _ = reader.read_points_cells()
        times = [reader.read_data(k)[0] for k in range(reader.num_steps)]
    assert points.shape == (5, 2) and times == [0.0, 0.5, 1.0]


def test_a_very_long_file_name_is_written(tmp_path: Path) -> None:
    name = "u" * (250 - len(".h5")) + ".h5"  # 250 bytes: within the usual 255-byte limit
    with atomic_path(tmp_path / name) as temporary:
        assert len(temporary.name) < 255
        temporary.write_text("data")
    assert (tmp_path / name).read_text() == "data"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_file_where_a_folder_should_be_names_it(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    info = check(lambda: export_hdf5(interval_solver(), tmp_path / "out" / "sub" / "u.h5"), NotADirectoryError,
                 [str(tmp_path / "out"), "is a file, not a folder", "u.h5"])  # fmt: skip
    assert not isinstance(info.value, FileExistsError)


def _fake_temporary(folder: Path, target: str, pid: int, age: float, token: str = "deadbeef") -> Path:
    """A temporary file as a write to ``target`` by process ``pid`` leaves it, last modified ``age`` seconds ago."""
    path = folder / f".{target}.{pid}.{token}.tmp"
    path.write_bytes(b"half a file")
    now = path.stat().st_mtime
    os.utime(path, (now - age, now - age))
    return path


def test_temporaries_of_a_killed_write_are_removed_by_the_next_write(tmp_path: Path) -> None:
    import subprocess
    import sys

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)  # a process that has ended
    stale = _fake_temporary(tmp_path, "u.h5", dead_pid, 2 * STALE_SECONDS)
    # Just modified: perhaps a write in progress on another machine that shares the folder.
    recent = _fake_temporary(tmp_path, "u.h5", dead_pid, 0, token="cafebabe")
    alive = _fake_temporary(tmp_path, "u.h5", os.getpid(), 2 * STALE_SECONDS)  # this process: in progress
    other = _fake_temporary(tmp_path, "v.h5", dead_pid, 2 * STALE_SECONDS)  # another file's: left alone
    with atomic_path(tmp_path / "u.h5") as temporary:
        temporary.write_text("new")
    assert not stale.exists() and recent.exists() and alive.exists() and other.exists()
    assert (tmp_path / "u.h5").read_text() == "new"


# ---------------------------------------------------------------- the KAN


@pytest.mark.parametrize(
    ("dtype", "model_dtype"),
    [
        (torch.int64, torch.float64),
        (torch.int32, torch.float32),
        (torch.float32, torch.float64),
        (torch.float64, torch.float32),
        (torch.bool, torch.float64),
    ],
)
def test_kan_input_of_another_dtype(dtype: torch.dtype, model_dtype: torch.dtype) -> None:
    model = kp.KAN([2, 3, 1], dtype=model_dtype)
    x = torch.zeros(4, 2, dtype=dtype)
    names = ["x must have the model's dtype", str(model_dtype), str(dtype), f"x.to({model_dtype})"]
    check(lambda: model(x), TypeError, names)
    check(lambda: model.jet(x), TypeError, names)
    check(lambda: model.fit(x, torch.zeros(4, 1, dtype=model_dtype), steps=1, progress=False), TypeError, names)
    assert model(x.to(model_dtype)).dtype == model_dtype  # converting as the message says works


def test_kan_fit_checks_the_test_inputs_too() -> None:
    model = kp.KAN([1, 2, 1], dtype=torch.float64)
    x, y = torch.zeros(4, 1, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    check(lambda: model.fit(x, y, steps=1, x_test=x.float(), y_test=y, progress=False), TypeError, ["x_test"])
    check(lambda: model.fit(x, y.to(torch.complex128), steps=1, progress=False), TypeError, ["y", "complex128"])


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"noise_scale": float("nan")}, ValueError, ["noise_scale", "nan"]),
        ({"noise_scale": float("inf")}, ValueError, ["noise_scale", "inf"]),
        ({"noise_scale": -0.1}, ValueError, ["noise_scale", "-0.1"]),
        ({"noise_scale": "0.1"}, TypeError, ["noise_scale", "'0.1'"]),
        ({"grid_range": (0, float("inf"))}, ValueError, ["grid_range", "inf"]),
        ({"seed": 2**70}, ValueError, ["seed", "2**62"]),
        ({"seed": -3}, ValueError, ["seed", "-3"]),
    ],
)
def test_kan_constructor(kwargs: dict[str, Any], error: type[Exception], names: list[str]) -> None:
    check(lambda: kp.KAN([2, 3, 1], **kwargs), error, names)


def test_kan_noise_scale_zero_is_allowed() -> None:
    model = kp.KAN([2, 3, 1], noise_scale=0.0, dtype=torch.float64)
    assert all(float(layer.coef.detach().abs().max()) == 0.0 for layer in model.layers)


# ---------------------------------------------------------------- progress bars


def test_progress_bar_refreshes_rarely_when_not_a_terminal() -> None:
    stream = io.StringIO()  # not a terminal (isatty() is False), like a log file
    bar = progress_bar(disable=False, stream=stream, total=500, desc="solve")
    for step in range(500):
        bar.set_postfix({"pde": f"{step:.1e}"}, refresh=False)
        bar.update(1)
    bar.close()
    assert bar.mininterval == NON_TTY_REFRESH_SECONDS >= 10
    assert stream.getvalue().count("\r") <= 3  # the first and last refresh, not one per update


def test_progress_bar_in_a_terminal_keeps_tqdms_refresh() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = progress_bar(disable=False, stream=Terminal(), total=3)
    assert bar.mininterval < 1
    bar.close()
