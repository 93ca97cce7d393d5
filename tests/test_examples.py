"""Every example runs with a small budget and reaches a measured error (with a margin); figures are written.

The examples are imported from their files (examples/ is not a package). Budgets and the errors they reached when
these tests were written (float64, one thread) are noted beside each bound.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kanpde_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and NamedTuples look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread() -> object:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_every_example_has_a_test() -> None:
    tested = {"poisson_quickstart", "heat_equation", "symbolic_recovery", "grid_extension", "lshape_adaptive",
              "mesh_domain", "kan_regression", "burgers", "parametric"}  # fmt: skip
    tested |= {"inverse_heat_sensors", "inverse_conductivity", "inverse_source_flux"}  # test_inverse_examples.py
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_poisson_quickstart(tmp_path: Path) -> None:
    result = load("poisson_quickstart").main((5,), 20, out=tmp_path)
    assert result.rel_l2 < 2e-2  # measured 5.5e-3
    assert (tmp_path / "poisson_solution.png").stat().st_size > 0
    assert (tmp_path / "poisson_history.png").stat().st_size > 0


def test_heat_equation_exports_and_plots(tmp_path: Path) -> None:
    import h5py
    import meshio

    result = load("heat_equation").main((5, 10), 20, out=tmp_path)
    assert result.rel_l2 < 5e-4  # measured 7.3e-5
    with h5py.File(tmp_path / "heat.h5") as f:
        assert len(f["grid/t"]) == 11 and "u" in f["fields"]
    assert "u_t0000" in meshio.read(tmp_path / "heat.vtu").point_data
    assert (tmp_path / "heat.xdmf").is_file()
    assert (tmp_path / "heat_solution.png").is_file() and (tmp_path / "heat_history.png").is_file()


def test_symbolic_recovery_is_verified() -> None:
    import sympy

    found = load("symbolic_recovery").main()  # the full budget: a few seconds
    assert found.rel_l2 < 2e-4  # measured 4.6e-5
    assert found.rel_error_exact < 1e-3  # measured 7e-18: the formula is sin(pi*x) + y**2
    x, y = sympy.symbols("x y")
    residual = sympy.lambdify((x, y), found.pde_residual, "math")
    assert max(abs(float(residual(0.1 * i - 0.95, 0.3 - 0.07 * i))) for i in range(20)) < 1e-2  # measured 0
    assert found.boundary_residual < 1e-3  # measured 0


def test_grid_extension_lowers_the_error(tmp_path: Path) -> None:
    stages = load("grid_extension").main((4, 8), 20, out=tmp_path)
    assert [s.grid for s in stages] == [4, 8]
    assert stages[-1].rel_l2 < 2e-2  # measured 6.4e-3
    assert stages[-1].rel_l2 < stages[0].rel_l2 / 5  # measured 2.4e-1 -> 6.4e-3
    assert (tmp_path / "grid_extension.png").is_file()


def test_lshape_adaptive_sampling(tmp_path: Path) -> None:
    results = load("lshape_adaptive").main((5, 10), 10, n_interior=1000, out=tmp_path)
    assert results["uniform"].rel_l2 < 4e-2  # measured 2.2e-2
    assert results["adaptive"].rel_l2 < 4e-2  # measured 1.7e-2
    assert (tmp_path / "lshape_solution.png").is_file()


def test_mesh_domain_writes_a_readable_lshape_mesh(tmp_path: Path) -> None:
    import meshio
    import numpy as np

    path = load("mesh_domain").write_lshape_msh(tmp_path / "l.msh", n=8)
    mesh = meshio.read(path)
    points, triangles = mesh.points[:, :2], mesh.cells_dict["triangle"]
    a, b = points[triangles[:, 1]] - points[triangles[:, 0]], points[triangles[:, 2]] - points[triangles[:, 0]]
    assert math.isclose(float(np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum() / 2), 3.0)  # the L's area
    assert len(points) == 9 * 9 - 4 * 4 and len(triangles) == 2 * 48


def test_mesh_domain_solve(tmp_path: Path) -> None:
    result = load("mesh_domain").main((5,), 20, mesh_size=8, out=tmp_path)
    assert result.rel_l2 < 5e-2
    assert (tmp_path / "mesh_solution.png").is_file()


def test_kan_regression_recovers_the_formula(tmp_path: Path) -> None:
    import sympy

    rmse, formula = load("kan_regression").main((5, 10), 50, out=tmp_path)
    assert rmse < 1e-3  # measured 3.6e-4
    x, y = sympy.symbols("x y")
    assert sympy.simplify(formula - sympy.exp(sympy.sin(sympy.pi * x) + y**2)) == 0
    assert (tmp_path / "kan_network.png").is_file()


def test_burgers_general_pde() -> None:
    result = load("burgers").main((5,), 20)
    assert result.rel_l2 < 2e-2  # measured 4.6e-3


def test_parametric_families(tmp_path: Path) -> None:
    poisson, heat = load("parametric").main((4,), 20, out=tmp_path)
    assert poisson.rel_l2 < 2e-4  # measured 4.6e-5
    assert heat.rel_l2 < 2e-4  # measured 3.6e-5
    assert max(m.rel_l2 for m in heat.errors_at(k=[0.05, 0.2])) < 1e-3  # measured 1.6e-4
    assert (tmp_path / "parametric.png").stat().st_size > 0
    assert (tmp_path / "poisson_mu.xdmf").read_text().count("<Time ") == 4
