"""Output nodes and cells (kanpde.io.nodes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.io.nodes import output_mesh, output_times


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def test_box_grid_is_x_fastest() -> None:
    mesh = output_mesh(kp.Rectangle((0, 0), (1, 2)), (3, 4))
    assert mesh.cell_type == "quad" and mesh.grid_shape == (4, 3)
    assert mesh.cells.shape == (2 * 3, 4)
    np.testing.assert_array_equal(mesh.points[:3, 0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(mesh.points[:3, 1], [0.0, 0.0, 0.0])
    x, y = mesh.axes
    grid = mesh.points[:, 0].reshape(mesh.grid_shape)
    np.testing.assert_array_equal(grid[2], x)
    np.testing.assert_array_equal(mesh.points[:, 1].reshape(mesh.grid_shape)[:, 1], y)


def test_cells_have_positive_orientation_and_3d_hexahedra() -> None:
    mesh = output_mesh(kp.Rectangle((0, 0), (1, 1)), 3)
    corners = mesh.points[mesh.cells]
    cross = _cross(corners[:, 1] - corners[:, 0], corners[:, 3] - corners[:, 0])
    assert (cross > 0).all()  # counter-clockwise quadrilaterals
    box = output_mesh(kp.Box((0, 0, 0), (1, 1, 1)))
    assert box.cell_type == "hexahedron" and len(box.points) == 33**3 and box.cells.shape == (32**3, 8)
    line = output_mesh(kp.Interval(0, 1))
    assert line.cell_type == "line" and len(line.points) == 101


@pytest.mark.parametrize(
    "geometry",
    [
        kp.Rectangle((-1, -1), (1, 1)) - kp.Disk((0, 0), 0.4),
        kp.Disk((0.5, 0.5), 1.0),
        kp.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]),  # L-shape: a re-entrant corner
    ],
)
def test_non_box_nodes_and_cells_lie_in_the_domain(geometry) -> None:
    mesh = output_mesh(geometry, 31)
    assert mesh.cell_type == "triangle" and mesh.axes is None
    points = torch.from_numpy(mesh.points)
    assert bool(geometry.contains(points, tol=1e-9).all())
    centroids = torch.from_numpy(mesh.points[mesh.cells].mean(axis=1))
    assert bool(geometry.contains(centroids).all())
    assert np.array_equal(np.unique(mesh.cells), np.arange(len(mesh.points)))  # every node is used
    corners = mesh.points[mesh.cells]
    area = 0.5 * np.abs(_cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])).sum()
    assert area == pytest.approx(geometry.measure, rel=0.03)


def test_3d_non_box_gets_tetrahedra_inside() -> None:
    geometry = kp.Box((0, 0, 0), (1, 1, 1)) - kp.Box((0.5, 0.5, 0.5), (1, 1, 1))  # a cube with a corner removed
    mesh = output_mesh(geometry, 7)
    assert mesh.cell_type == "tetra" and mesh.cells.shape[1] == 4
    assert bool(geometry.contains(torch.from_numpy(mesh.points), tol=1e-9).all())
    corners = mesh.points[mesh.cells]
    volume = np.abs(np.linalg.det(corners[:, 1:] - corners[:, :1])).sum() / 6
    assert volume == pytest.approx(7 / 8, rel=0.03)


def test_union_of_intervals_gets_two_pieces() -> None:
    geometry = kp.Interval(0, 1) | kp.Interval(2, 3)
    mesh = output_mesh(geometry, 31)
    assert mesh.cell_type == "line"
    lengths = np.abs(np.diff(mesh.points[mesh.cells][:, :, 0], axis=1)).sum()
    assert lengths == pytest.approx(2.0)
    assert bool(geometry.contains(torch.from_numpy(mesh.points)).all())


def test_bad_resolution_and_times() -> None:
    with pytest.raises(ValueError, match="resolution"):
        output_mesh(kp.Interval(0, 1), 1)
    with pytest.raises(ValueError, match="resolution"):
        output_mesh(kp.Rectangle((0, 0), (1, 1)), (3, 3, 3))
    assert output_times(None, None) == [None]
    assert output_times((0.0, 1.0), None) == pytest.approx(np.linspace(0, 1, 11))
    assert output_times((0.0, 2.0), 3) == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="steady"):
        output_times(None, [0.5])
