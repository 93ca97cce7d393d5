"""HDF5 + XDMF export (kanpde.io.hdf5): meshio and h5py read back exactly what the solver predicts."""

from __future__ import annotations

from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.io.hdf5 import SCHEMA_VERSION, export_hdf5


def _predict(solver: kp.Solver, points: np.ndarray) -> np.ndarray:
    return solver.predict(torch.from_numpy(np.ascontiguousarray(points))).numpy()


def test_1d_fields_attributes_and_history(tmp_path: Path, poisson_1d) -> None:
    solver, result = poisson_1d
    h5_path, xdmf_path = export_hdf5(solver, tmp_path / "out" / "u.h5", result=result, formula="sin(pi*x)")
    assert xdmf_path == tmp_path / "out" / "u.xdmf" and h5_path.exists()
    assert sorted(p.name for p in h5_path.parent.iterdir()) == ["u.h5", "u.xdmf"]  # no temporaries left
    with h5py.File(h5_path, "r") as h5:
        attrs = h5.attrs
        assert attrs["schema_version"] == SCHEMA_VERSION and attrs["kanpde_version"] == kp.__version__
        assert list(attrs["coords"]) == ["x"] and attrs["seed"] == 0 and attrs["dtype"] == "float64"
        assert attrs["rel_l2"] == pytest.approx(result.rel_l2) and attrs["max_abs"] == pytest.approx(result.max_abs)
        assert attrs["formula"] == "sin(pi*x)" and "Laplace" in attrs["problem"]
        x = h5["grid/x"][()]
        assert len(x) == 101 and x[0] == 0.0 and x[-1] == 1.0
        u, exact, error = h5["fields/u"][()], h5["exact/u"][()], h5["error/u"][()]
        np.testing.assert_allclose(u, _predict(solver, x[:, None]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(exact, np.sin(np.pi * x), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(error, u - exact)
        assert h5["residual/pde"].shape == (101,)
        history = h5["history"]
        assert len(history["step"]) == len(solver.history)
        np.testing.assert_array_equal(history["loss"][()], [r.loss for r in solver.history])
        np.testing.assert_array_equal(history["pde"][()], [r.terms["pde"] for r in solver.history])
        assert set(history["grid"][()]) == {3, 5}
        assert list(h5["stages/grid"][()]) == [3, 5]
    mesh = meshio.read(xdmf_path)
    np.testing.assert_array_equal(mesh.points[:, 0], x)
    np.testing.assert_allclose(mesh.point_data["u"], u, rtol=0, atol=0)
    assert mesh.cells[0].type == "line" and len(mesh.cells[0].data) == 100


def test_residual_matches_the_loss_residual(tmp_path: Path, poisson_1d) -> None:
    from kanpde.pde.residuals import pde_residual

    solver, _ = poisson_1d
    h5_path, _ = export_hdf5(solver, tmp_path / "u.h5", resolution=7)
    with h5py.File(h5_path, "r") as h5:
        x = torch.from_numpy(h5["grid/x"][()][:, None])
        expected = pde_residual(solver.approximation, solver.problem, x, solver.request).detach()[:, 0]
        np.testing.assert_allclose(h5["residual/pde"][()], expected.numpy(), rtol=0, atol=1e-12)


def test_2d_box_grid_is_x_fastest_and_meshio_reads_it(tmp_path: Path, poisson_2d) -> None:
    _, xdmf_path = export_hdf5(poisson_2d, tmp_path / "u.h5", resolution=(5, 4))
    with h5py.File(tmp_path / "u.h5", "r") as h5:
        x, y = h5["grid/x"][()], h5["grid/y"][()]
        u = h5["fields/u"][()]
        assert list(h5["fields/u"].attrs["grid_shape"]) == [4, 5]
        grid = u.reshape(4, 5)
        assert grid[2, 3] == pytest.approx(_predict(poisson_2d, np.array([[x[3], y[2]]]))[0], abs=1e-12)
        points = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2)  # meshgrid's default "xy": x fastest
        np.testing.assert_allclose(u, _predict(poisson_2d, points), rtol=0, atol=1e-12)
        np.testing.assert_allclose(h5["error/u"][()], u - h5["exact/u"][()], rtol=0, atol=0)
    mesh = meshio.read(xdmf_path)
    assert mesh.cells[0].type == "quad" and len(mesh.cells[0].data) == 12
    np.testing.assert_allclose(mesh.point_data["u"], _predict(poisson_2d, mesh.points), rtol=0, atol=1e-12)
    assert set(mesh.point_data) == {"u", "u_exact", "u_error", "residual_pde"}


def test_non_box_mesh_lies_in_the_domain(tmp_path: Path, poisson_hole) -> None:
    _, xdmf_path = export_hdf5(poisson_hole, tmp_path / "hole.h5", resolution=21)
    mesh = meshio.read(xdmf_path)
    domain = poisson_hole.problem.domain
    assert mesh.cells[0].type == "triangle"
    assert bool(domain.contains(torch.from_numpy(mesh.points), tol=1e-9).all())
    np.testing.assert_allclose(mesh.point_data["u"], _predict(poisson_hole, mesh.points), rtol=0, atol=1e-12)
    assert "u_exact" not in mesh.point_data and "residual_pde" in mesh.point_data
    with h5py.File(tmp_path / "hole.h5", "r") as h5:
        assert "grid" not in h5 and "exact" not in h5 and h5.attrs["layout"] == "mesh"
        assert h5["mesh/cells"].attrs["cell_type"] == "triangle"


def test_time_series(tmp_path: Path, heat_1d) -> None:
    _, xdmf_path = export_hdf5(heat_1d, tmp_path / "heat.h5", resolution=9, times=[0.0, 0.25, 1.0])
    with meshio.xdmf.TimeSeriesReader(xdmf_path) as reader:
        points, cells = reader.read_points_cells()
        assert reader.num_steps == 3 and cells[0].type == "line"
        for k, expected_t in enumerate([0.0, 0.25, 1.0]):
            t, point_data, _ = reader.read_data(k)
            assert t == expected_t
            space_time = np.column_stack([points[:, 0], np.full(len(points), t)])
            np.testing.assert_allclose(point_data["u"], _predict(heat_1d, space_time), rtol=0, atol=1e-12)
            exact = np.exp(-(np.pi**2) * t) * np.sin(np.pi * points[:, 0])
            np.testing.assert_allclose(point_data["u_exact"], exact, rtol=0, atol=1e-12)
            np.testing.assert_allclose(point_data["u_error"], point_data["u"] - point_data["u_exact"], atol=0)
    with h5py.File(tmp_path / "heat.h5", "r") as h5:
        np.testing.assert_array_equal(h5["grid/t"][()], [0.0, 0.25, 1.0])
        assert sorted(h5["fields/u"]) == ["t0000", "t0001", "t0002"]
        assert h5["fields/u/t0001"].attrs["time"] == 0.25
        assert list(h5.attrs["coords"]) == ["x", "t"] and bool(h5.attrs["time_dependent"])


def test_default_times_are_eleven(tmp_path: Path, heat_1d) -> None:
    _, xdmf_path = export_hdf5(heat_1d, tmp_path / "heat.h5", resolution=5)
    with meshio.xdmf.TimeSeriesReader(xdmf_path) as reader:
        reader.read_points_cells()
        assert reader.num_steps == 11
        assert reader.read_data(10)[0] == 1.0


def test_bad_arguments(tmp_path: Path, poisson_2d, heat_1d) -> None:
    with pytest.raises(ValueError, match="HDF5"):
        export_hdf5(poisson_2d, tmp_path / "u.xdmf")
    with pytest.raises(ValueError, match="steady"):
        export_hdf5(poisson_2d, tmp_path / "u.h5", times=[0.5])
    with pytest.raises(ValueError, match="resolution"):
        export_hdf5(poisson_2d, tmp_path / "u.h5", resolution=1)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="u.h5"):
        export_hdf5(poisson_2d, blocker / "u.h5", resolution=3)


def test_failed_write_keeps_old_files_and_leaves_no_temporary(tmp_path: Path, poisson_2d, monkeypatch) -> None:
    export_hdf5(poisson_2d, tmp_path / "u.h5", resolution=3)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(self, name, *args, **kwargs):
        if name == "fields/u":
            raise OSError("disk full")
        return original(self, name, *args, **kwargs)

    original = h5py.Group.create_dataset
    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(OSError, match="disk full"):
        export_hdf5(poisson_2d, tmp_path / "u.h5", resolution=5)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
