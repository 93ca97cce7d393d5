"""Checkpoints (kanpde.io.checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.io.checkpoint import load_checkpoint, save_checkpoint

POINTS = torch.linspace(0, 1, 37, dtype=torch.float64)[:, None]


def burgers_residual(u):
    return u.t + u.value * u.x - 0.05 * u.xx


def test_round_trip_keeps_predictions_state_and_history(tmp_path: Path, poisson_1d) -> None:
    solver, _ = poisson_1d
    path = save_checkpoint(solver, tmp_path / "ckpt" / "solver.kpt")
    assert [p.name for p in path.parent.iterdir()] == ["solver.kpt"]
    loaded = load_checkpoint(path)
    assert torch.equal(loaded.predict(POINTS), solver.predict(POINTS))
    assert loaded.model.grid_size == solver.model.grid_size
    assert loaded.history == solver.history and loaded._steps_done == solver._steps_done
    assert torch.equal(loaded.generator.get_state(), solver.generator.get_state())
    assert loaded.width == solver.width and loaded.seed == solver.seed and loaded.n_interior == solver.n_interior
    assert (loaded.approximation.constraint is None) == (solver.approximation.constraint is None)
    assert loaded.problem.description == solver.problem.description
    exact = loaded.problem.exact_values(POINTS)
    assert torch.equal(exact, solver.problem.exact_values(POINTS))


def test_architecture_comes_from_the_saved_layers(tmp_path: Path) -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[1, 4, 1], grid=5, seed=1)
    solver.approximation.model = solver.model.refine(11)  # the grid changed since construction
    loaded = load_checkpoint(save_checkpoint(solver, tmp_path / "s.kpt"))
    assert loaded.model.grid_size == 11 and loaded.model.width == [1, 4, 1]
    assert torch.equal(loaded.predict(POINTS), solver.predict(POINTS))
    for saved, restored in zip(solver.model.layers, loaded.model.layers):
        assert torch.equal(saved.grid, restored.grid) and saved.grid_is_uniform == restored.grid_is_uniform


def test_training_continues_identically(tmp_path: Path, heat_1d) -> None:
    path = save_checkpoint(heat_1d, tmp_path / "heat.kpt")
    loaded = load_checkpoint(path)
    points = torch.tensor([[0.3, 0.2], [0.7, 0.9]], dtype=torch.float64)
    assert torch.equal(loaded.predict(points), heat_1d.predict(points))
    copy = load_checkpoint(path)  # train two restored copies: the original fixture stays untouched
    loaded.solve(grid_schedule=[3], steps=2, progress=False)
    copy.solve(grid_schedule=[3], steps=2, progress=False)
    assert torch.equal(loaded.predict(points), copy.predict(points))
    assert [r.loss for r in loaded.history] == [r.loss for r in copy.history]


def test_general_pde_is_passed_again_on_loading(tmp_path: Path) -> None:
    """A residual is code: the checkpoint does not hold it, and loading needs problem= (of the same coordinates)."""
    problem = kp.PDE(kp.Interval(-1, 1), burgers_residual, time=(0, 1), initial="-sin(pi*x)", bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[2, 3, 1], seed=3)
    path = save_checkpoint(solver, tmp_path / "b.kpt")
    with pytest.raises(ValueError, match=r"without problem=.*holds Python callables.*problem="):
        load_checkpoint(path)
    loaded = load_checkpoint(path, problem=problem)
    points = torch.tensor([[0.1, 0.5]], dtype=torch.float64)
    assert torch.equal(loaded.predict(points), solver.predict(points)) and loaded.seed == 3
    steady = kp.Poisson(kp.Interval(-1, 1), f=1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match=r"coordinates \['x'\].*saved for \['x', 't'\]"):
        load_checkpoint(path, problem=steady)
    with pytest.raises(TypeError, match="problem must be a kanpde problem"):
        load_checkpoint(path, problem="burgers")  # type: ignore[arg-type]


def test_lambda_residual_saves_and_loads_with_the_problem(tmp_path: Path) -> None:
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.xx + 1, bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[1, 2, 1])
    path = save_checkpoint(solver, tmp_path / "x.kpt")
    assert torch.equal(kp.Solver.load(path, problem=problem).predict(POINTS), solver.predict(POINTS))


def test_problem_with_callable_values_needs_the_problem(tmp_path: Path) -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f=lambda p: torch.ones_like(p[:, 0]), bcs=[kp.Dirichlet(0)])
    path = save_checkpoint(kp.Solver(problem, width=[1, 2, 1]), tmp_path / "x.kpt")
    with pytest.raises(ValueError, match="problem="):
        load_checkpoint(path)
    assert load_checkpoint(path, problem=problem).problem is problem


@pytest.mark.parametrize("which", ["csg", "sides"])
def test_csg_domains_and_all_conditions_round_trip(tmp_path: Path, which: str) -> None:
    if which == "csg":
        domain = kp.Rectangle((0, 0), (2, 1)) - kp.Disk((1, 0.5), 0.2) | kp.Polygon([(2, 0), (3, 0), (2, 1)])
        bcs = [kp.Dirichlet("Heaviside(x - 1)")]
    else:
        domain = kp.Rectangle((0, 0), (2, 1))
        bcs = [kp.Dirichlet("x*y", on="xmin"), kp.Neumann(0.5, on="xmax"), kp.Robin(1, "2", "y^2", on="ymin"),
               kp.Periodic("y")]  # fmt: skip
    problem = kp.Poisson(domain, f="Piecewise((1, x < 1), (0, True))", bcs=bcs, description=which)
    solver = kp.Solver(problem, width=[2, 2, 1], seed=2)
    loaded = load_checkpoint(save_checkpoint(solver, tmp_path / "c.kpt"))
    points = torch.tensor([[0.3, 0.2], [1.7, 0.9]], dtype=torch.float64)
    assert torch.equal(loaded.predict(points), solver.predict(points))
    assert repr(loaded.problem.space) == repr(problem.space) and loaded.problem.description == which
    assert [repr(c) for c in loaded.problem.conditions] == [repr(c) for c in problem.conditions]
    assert loaded.problem.f.sympy_expr == problem.f.sympy_expr


def _written(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.kpt"
    path.write_bytes(data)
    return path


@pytest.fixture
def checkpoint_bytes(tmp_path: Path, poisson_1d) -> bytes:
    return save_checkpoint(poisson_1d[0], tmp_path / "good.kpt").read_bytes()


@pytest.mark.parametrize(
    "cut, message",
    [(lambda b: b[: len(b) // 2], "truncated"), (lambda b: b[:7], "truncated"), (lambda b: b[:-1], "truncated")],
)
def test_truncated_file(tmp_path: Path, checkpoint_bytes: bytes, cut, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_checkpoint(_written(tmp_path, cut(checkpoint_bytes)))


def test_foreign_empty_and_corrupted_files(tmp_path: Path, checkpoint_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="not a kanpde checkpoint"):
        load_checkpoint(_written(tmp_path, bytes(range(256)) * 40))
    buffer = tmp_path / "plain.pt"
    torch.save({"a": torch.zeros(3)}, buffer)  # a torch file, but not ours
    with pytest.raises(ValueError, match="not a kanpde checkpoint"):
        load_checkpoint(buffer)
    with pytest.raises(ValueError, match="empty"):
        load_checkpoint(_written(tmp_path, b""))
    flipped = bytearray(checkpoint_bytes)
    flipped[-100] ^= 0xFF
    with pytest.raises(ValueError, match="corrupted"):
        load_checkpoint(_written(tmp_path, bytes(flipped)))


def test_newer_version_is_refused(tmp_path: Path, checkpoint_bytes: bytes) -> None:
    magic, header, payload = checkpoint_bytes.split(b"\n", 2)
    fields = json.loads(header)
    fields["version"] = 99
    data = magic + b"\n" + json.dumps(fields).encode() + b"\n" + payload
    with pytest.raises(ValueError, match="version 99"):
        load_checkpoint(_written(tmp_path, data))


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint("/nonexistent/solver.kpt")


def test_recorded_input_ranges_round_trip_and_forged_ranges_are_refused(tmp_path: Path) -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=100)
    solver.solve(grid_schedule=[4, 8], steps=3, progress=False)
    path = solver.save(tmp_path / "s.kpt")
    loaded = kp.Solver.load(path)
    for a, b in zip(solver.model.layers, loaded.model.layers):
        assert torch.equal(a.input_range, b.input_range) and b.has_recorded_range
    # A NaN range, or a lower end above the upper one, is not a range: refused like any forged field.
    for forged in (float("nan"), 5.0):
        with torch.no_grad():
            solver.model.layers[1].input_range[0, 0] = forged
        bad = solver.save(tmp_path / f"bad{forged}.kpt")
        with pytest.raises(ValueError, match="input_range"):
            kp.Solver.load(bad)
