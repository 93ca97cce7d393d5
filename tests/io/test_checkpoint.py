"""Checkpoints (kanpde.io.checkpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.io.checkpoint import load_checkpoint, save_checkpoint

POINTS = torch.linspace(0, 1, 37, dtype=torch.float64)[:, None]


def burgers_residual(u):  # module level: importable, so a kp.PDE using it pickles
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


def test_general_pde_with_importable_residual(tmp_path: Path) -> None:
    problem = kp.PDE(kp.Interval(-1, 1), burgers_residual, time=(0, 1), initial="-sin(pi*x)", bcs=[kp.Dirichlet(0)])
    solver = kp.Solver(problem, width=[2, 3, 1], seed=3)
    loaded = load_checkpoint(save_checkpoint(solver, tmp_path / "b.kpt"))
    points = torch.tensor([[0.1, 0.5]], dtype=torch.float64)
    assert torch.equal(loaded.predict(points), solver.predict(points)) and loaded.seed == 3


def test_lambda_residual_gives_a_clear_error(tmp_path: Path) -> None:
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.xx + 1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(TypeError, match="module level"):
        save_checkpoint(kp.Solver(problem, width=[1, 2, 1]), tmp_path / "x.kpt")
    assert list(tmp_path.iterdir()) == []


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
