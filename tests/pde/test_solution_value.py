"""The Solution value (kanpde.pde.solution): what a solve leaves, read by io/plot/symbolic, kept apart from training."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
import torch

import kanpde as kp
from kanpde.pde.solution import Solution, as_solution

POINTS = torch.linspace(0, 1, 23, dtype=torch.float64)[:, None]


@pytest.fixture(scope="module")
def solved() -> tuple[kp.Solver, kp.Result]:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 4, 1], seed=0, n_interior=200, n_test=500)
    result = solver.solve(grid_schedule=[5], steps=20, progress=False)
    return solver, result


def test_solver_and_result_give_the_same_solution(solved: tuple[kp.Solver, kp.Result]) -> None:
    solver, result = solved
    solution = result.solution
    assert isinstance(solution, kp.Solution) and isinstance(solver.solution, kp.Solution)
    assert torch.equal(solution.predict(POINTS), solver.predict(POINTS))
    assert torch.equal(solver.solution.predict(POINTS), solver.predict(POINTS))
    assert solution.rel_l2 == result.rel_l2 and solution.max_abs == result.max_abs
    assert solution.rel_l2 is not None and solution.rel_l2 < 1e-2
    assert solution.history == result.history and solution.result is result
    assert solution.settings == solver.settings() and solution.grid_size == 5
    assert solution.metrics()["steps"] == len(result.history)
    assert solution.recipe is not None and solution.recipe["class"] == "Poisson"


def test_a_solution_is_a_value_that_further_training_leaves_alone(solved: tuple[kp.Solver, kp.Result]) -> None:
    solver, result = solved
    problem = solver.problem
    other = kp.Solver(problem, width=[1, 4, 1], seed=0, n_interior=200, n_test=500)
    before = other.solution
    values = before.predict(POINTS)
    other.solve(grid_schedule=[5, 8], steps=5, progress=False)
    assert torch.equal(before.predict(POINTS), values)  # the snapshot did not follow the training
    assert not torch.equal(other.predict(POINTS), values)
    assert before.grid_size == 5 and other.solution.grid_size == 8


def test_derivatives_and_residual_of_the_solution(solved: tuple[kp.Solver, kp.Result]) -> None:
    solution = solved[0].solution
    x = POINTS[1:-1]
    du = solution.predict(x, derivative="x")
    assert torch.allclose(du, torch.pi * torch.cos(torch.pi * x[:, 0]), atol=5e-2)
    assert torch.equal(du, solved[0].predict(x, derivative="x"))
    residual = solution.residual(x)  # -u'' - pi^2 sin(pi x), small after training
    assert residual.shape == (len(x), 1) and float(residual.abs().max()) < 1.0
    with pytest.raises(ValueError, match="derivative must name"):
        solution.predict(x, derivative="y")


def test_io_plot_and_symbolic_take_a_solution(tmp_path: Path, solved: tuple[kp.Solver, kp.Result]) -> None:
    solver, result = solved
    solution = result.solution
    h5, _ = solution.export_hdf5(tmp_path / "u.h5", resolution=11)
    h5_solver, _ = solver.export_hdf5(tmp_path / "v.h5", resolution=11)
    with h5py.File(h5) as a, h5py.File(h5_solver) as b:
        assert (a["fields/u"][:] == b["fields/u"][:]).all() and a.attrs["grid_size"] == 5
        assert len(a["history/loss"]) == len(result.history)
    assert solution.export_mesh(tmp_path / "u.vtu", resolution=5).exists()
    figure = solution.plot(resolution=11)
    assert "G=5" in figure._suptitle.get_text()
    from kanpde.plot.history import plot_history

    assert len(plot_history(solution).axes) >= 1


def test_load_reads_the_solution_of_a_checkpoint(tmp_path: Path, solved: tuple[kp.Solver, kp.Result]) -> None:
    solver, _ = solved
    path = solver.save(tmp_path / "run.kpt")
    loaded = Solution.load(path)
    assert torch.equal(loaded.predict(POINTS), solver.predict(POINTS))
    assert loaded.history == solver.history and loaded.settings == solver.solution.settings | {
        "sampler": loaded.settings["sampler"]
    }


def test_as_solution_accepts_a_solution_a_solver_or_a_result(solved: tuple[kp.Solver, kp.Result]) -> None:
    solver, result = solved
    assert as_solution(result) is result.solution
    assert torch.equal(as_solution(solver).predict(POINTS), solver.predict(POINTS))
    with pytest.raises(TypeError, match="kp.Solution or a kp.Solver"):
        as_solution("u.h5")
    with pytest.raises(TypeError, match="approximation"):
        Solution(object(), solver.problem, settings={}, request=None)  # type: ignore[arg-type]
