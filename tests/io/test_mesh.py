"""meshio exports (kanpde.io.mesh)."""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
import pytest
import torch

from kanpde.io.mesh import export_mesh, mesh_format


def test_vtu_round_trip(tmp_path: Path, poisson_2d) -> None:
    path = export_mesh(poisson_2d, tmp_path / "sub" / "u.vtu", resolution=(6, 5))
    assert [p.name for p in path.parent.iterdir()] == ["u.vtu"]
    mesh = meshio.read(path)
    assert mesh.points.shape == (30, 3) and np.all(mesh.points[:, 2] == 0)
    assert mesh.cells[0].type == "quad" and len(mesh.cells[0].data) == 20
    expected = poisson_2d.predict(torch.from_numpy(mesh.points[:, :2].copy())).numpy()
    np.testing.assert_allclose(mesh.point_data["u"], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mesh.point_data["u_error"], mesh.point_data["u"] - mesh.point_data["u_exact"])


@pytest.mark.parametrize("suffix", [".vtk", ".xdmf"])
def test_other_formats_by_suffix(tmp_path: Path, poisson_hole, suffix: str) -> None:
    path = export_mesh(poisson_hole, tmp_path / f"hole{suffix}", resolution=11)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # XDMF: data inline, one file
    mesh = meshio.read(path)
    assert mesh.cells[0].type == "triangle"
    points = np.ascontiguousarray(mesh.points[:, :2], dtype=np.float64)  # legacy VTK is big-endian
    expected = poisson_hole.predict(torch.from_numpy(points)).numpy()
    np.testing.assert_allclose(mesh.point_data["u"], expected, rtol=0, atol=1e-12)


def test_time_dependent_names_one_array_per_time(tmp_path: Path, heat_1d) -> None:
    mesh = meshio.read(export_mesh(heat_1d, tmp_path / "heat.vtu", resolution=5, times=[0.0, 0.5]))
    assert {"u_t0000", "u_t0001", "u_exact_t0001", "residual_pde_t0000"} <= set(mesh.point_data)
    points = torch.tensor([[x, 0.5] for x in mesh.points[:, 0]], dtype=torch.float64)
    np.testing.assert_allclose(mesh.point_data["u_t0001"], heat_1d.predict(points).numpy(), rtol=0, atol=1e-12)


def test_format_from_suffix() -> None:
    assert mesh_format("a/b.vtu") == "vtu"
    assert mesh_format("b.msh") == "gmsh"
    assert mesh_format("b.XMF") == "xdmf"
    with pytest.raises(ValueError, match="suffix"):
        mesh_format("b.unknown")
