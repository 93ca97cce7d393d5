"""Grid extension over hidden values far outside the old grid: fine cells next to it, then cells doubling."""

from __future__ import annotations

import torch

import kanpde as kp
from kanpde.kan.grid import nested_interior

F64 = torch.float64


def test_cells_beyond_the_fine_ones_double_in_width() -> None:
    old = torch.tensor([[-1.0, 0.0, 1.0]], dtype=F64)
    cover = torch.tensor([[-1.5, 9.7]], dtype=F64)
    knots = nested_interior(old, 4, cover, fine_cells=2)
    expected = [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 9.0, 17.0]
    torch.testing.assert_close(knots, torch.tensor([expected], dtype=F64))
    # without fine_cells the lattice of width 0.5 continues: 18 cells to reach 9.7 on the right
    assert nested_interior(old, 4, cover).shape[1] - 1 == 1 + 4 + 18


def test_every_row_gets_as_many_intervals_and_contains_the_cover() -> None:
    old = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0]], dtype=F64)
    cover = torch.tensor([[-30.0, 1.0], [-2.0, 2.5]], dtype=F64)
    knots = nested_interior(old, 4, cover, fine_cells=4)
    assert knots.shape[0] == 2 and bool((knots[:, 1:] > knots[:, :-1]).all())
    assert bool((knots[:, 0] <= cover[:, 0]).all() and (knots[:, -1] >= cover[:, 1]).all())
    for row, grid in zip(knots, old):  # the old knots and their halves are kept (a nested refinement)
        halves = torch.cat([grid, (grid[1:] + grid[:-1]) / 2])
        assert all(bool(torch.isclose(row, v).any()) for v in halves)


def test_far_hidden_values_cost_few_cells_and_the_function_is_kept() -> None:
    generator = torch.Generator().manual_seed(0)
    model = kp.KAN([2, 4, 1], grid=5, k=3, seed=0, dtype=F64)
    with torch.no_grad():
        model.layers[0].coef.mul_(40.0)  # hidden values far outside the hidden layer's grid [-1, 1]
    x = torch.rand(1000, 2, generator=generator, dtype=F64) * 2 - 1
    hidden = model.trace(x)[1].inputs
    assert hidden.abs().max() > 6
    fine = model.refine(10, x=x)
    assert float((fine(x) - model(x)).abs().max()) <= 1e-11 * float(model(x).abs().max())
    hidden_layer = model.layers[1]
    interior = hidden_layer.grid[:, 3:-3]  # k = 3 extension knots on each side
    lattice = nested_interior(interior, 10, model.used_ranges()[1]).shape[1] - 1  # fine cells all the way out
    assert fine.layers[1].grid_size < 0.75 * lattice, (fine.layers[1].grid_size, lattice)
    assert fine.layers[0].grid_size == 10 and fine.layers[0].grid_is_uniform  # inputs inside: plain subdivision
