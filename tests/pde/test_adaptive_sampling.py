"""Residual-based adaptive sampling (kanpde.pde.adaptive_sampling): RAR adds and keeps points where the residual is
large, RAD redraws; both are saved in checkpoints, and bad values are refused with the argument named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.io.checkpoint import _payload, load_checkpoint, save_checkpoint
from kanpde.pde.adaptive_sampling import adaptive_sampling_data, adaptive_sampling_from_data, make_adaptive_sampling


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _uniform(generator: torch.Generator):
    return lambda n: torch.rand(n, 1, generator=generator, dtype=torch.float64)


def _peak(points: torch.Tensor) -> torch.Tensor:
    """A residual concentrated at x = 0.3 (width 0.02), tiny elsewhere."""
    return torch.exp(-(((points[:, 0] - 0.3) / 0.02) ** 2)) + 1e-6


@pytest.mark.parametrize("greedy", [False, True])
def test_rar_adds_points_where_the_residual_is_large_and_keeps_them(greedy: bool) -> None:
    method = kp.RAR(fraction=0.25, greedy=greedy)
    generator = _generator()
    interior, kept = method.stage_points(_uniform(generator), _peak, 400, None, generator=generator)
    assert kept is not None and kept.shape == (100, 1) and interior.shape == (500, 1)
    assert torch.equal(interior[-100:], kept)  # the fresh points first, then the kept ones
    near = (kept[:, 0] - 0.3).abs() < 0.05
    assert near.float().mean() > 0.9  # uniform points would land there 10 % of the time
    fresh_near = ((interior[:400, 0] - 0.3).abs() < 0.05).float().mean()
    assert 0.03 < fresh_near < 0.2  # the fresh points stay uniform
    again, kept_again = method.stage_points(_uniform(generator), _peak, 200, kept, generator=generator)
    assert kept_again is not None and kept_again.shape == (150, 1) and torch.equal(kept_again[:100], kept)
    assert again.shape == (350, 1)


def test_rad_redraws_the_same_number_of_points_where_the_residual_is_large() -> None:
    generator = _generator()
    interior, kept = kp.RAD(k=2.0, c=0.0).stage_points(_uniform(generator), _peak, 300, None, generator=generator)
    assert kept is None and interior.shape == (300, 1)
    # 1200 candidates, about 120 of them near the peak: RAD takes nearly all of those (uniform: 10 % of 300)
    assert ((interior[:, 0] - 0.3).abs() < 0.05).float().mean() > 0.3


def _front_problem() -> kp.Problem:
    """u'' = f with a steep front at x = 0.3 (tanh of width 0.02): the residual of a coarse fit is largest there."""
    return kp.Poisson(kp.Interval(-1, 1), f="2*50**2*tanh(50*(x - 0.3))*(1 - tanh(50*(x - 0.3))**2)",
                      bcs=[kp.Dirichlet(-1, on="left"), kp.Dirichlet(1, on="right")],  # tanh(-65), tanh(35)
                      exact="tanh(50*(x - 0.3))")  # fmt: skip


def test_the_solver_adds_points_at_the_front_and_trains_on_them() -> None:
    solver = kp.Solver(_front_problem(), width=[1, 4, 1], seed=0, n_interior=200, adaptive_sampling="rar")
    solver.solve(grid_schedule=[5], steps=5, progress=False)
    assert solver.state.kept_points is None  # the first stage samples uniformly
    view = solver._view()
    batch = solver._sample_batch(5, keep=True)
    kept = solver.state.kept_points
    assert kept is not None and kept.shape == (50, 1) and batch.interior.shape == (250, 1)
    uniform = torch.linspace(-1, 1, 2001, dtype=torch.float64)[:, None]
    # where the points were added, the residual is far above its average over the domain (uniform: about equal)
    assert view.residual(kept).abs().mean() > 3 * view.residual(uniform).abs().mean()
    solver.solve(grid_schedule=[8, 10], steps=3, progress=False)  # two more stage switches: 50 more points each
    assert solver.state.kept_points is not None and len(solver.state.kept_points) == 150
    assert torch.equal(solver.state.kept_points[:50], kept)
    assert solver.state.batch is not None and len(solver.state.batch.interior) == 200 + 150


def test_hints_do_not_add_points() -> None:
    solver = kp.Solver(_front_problem(), width=[1, 4, 1], seed=0, n_interior=100, adaptive_sampling="rar")
    solver.solve(grid_schedule=[5, 6], steps=3, progress=False)  # the solve's hints draw a batch: nothing kept
    assert solver.state.kept_points is not None and len(solver.state.kept_points) == 25
    solver.hints()
    assert len(solver.state.kept_points) == 25


def test_names_and_objects() -> None:
    assert make_adaptive_sampling(False) is None and make_adaptive_sampling(None) is None
    assert make_adaptive_sampling(True) == kp.RAD() == make_adaptive_sampling(" RAD ")
    assert make_adaptive_sampling("rar") == kp.RAR()
    method = kp.RAR(fraction=0.5, k=1, c=0.5, candidates=8, greedy=True)
    assert make_adaptive_sampling(method) is method
    solver = kp.Solver(_front_problem(), width=[1, 3, 1], adaptive_sampling=method)
    assert solver.adaptive_sampling is method and solver.settings()["adaptive_sampling"] is method
    assert kp.Solver(_front_problem(), width=[1, 3, 1]).settings()["adaptive_sampling"] is False


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("rard", ValueError, "adaptive_sampling must be"),
        (3, TypeError, "adaptive_sampling must be"),
        (0.25, TypeError, "adaptive_sampling must be"),
    ],
)
def test_bad_adaptive_sampling_is_refused(value: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        kp.Solver(_front_problem(), width=[1, 3, 1], adaptive_sampling=value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fraction": 0}, "fraction"),
        ({"fraction": 11}, "fraction"),
        ({"fraction": True}, "fraction"),
        ({"k": -1}, "k must be"),
        ({"c": float("nan")}, "c must be"),
        ({"candidates": 0}, "candidates"),
        ({"candidates": 2.5}, "candidates"),
        ({"fraction": 3, "candidates": 2}, "at least fraction"),
        ({"greedy": "yes"}, "greedy"),
    ],
)
def test_bad_rar_parameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=f"RAR: .*{match}"):
        kp.RAR(**kwargs)


def test_bad_rad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="RAD: k must be"):
        kp.RAD(k=float("inf"))
    with pytest.raises(ValueError, match="RAD: candidates"):
        kp.RAD(candidates=-4)


def test_checkpoint_keeps_the_method_and_the_kept_points(tmp_path: Path) -> None:
    method = kp.RAR(fraction=0.5, k=1.0, candidates=3, greedy=True)
    solver = kp.Solver(_front_problem(), width=[1, 4, 1], seed=0, n_interior=100, adaptive_sampling=method)
    solver.solve(grid_schedule=[5, 6], steps=3, progress=False)
    kept = solver.state.kept_points
    assert kept is not None and len(kept) == 50
    path = save_checkpoint(solver, tmp_path / "rar.kpt")
    loaded = load_checkpoint(path)
    assert loaded.adaptive_sampling == method
    assert loaded.state.kept_points is not None and torch.equal(loaded.state.kept_points, kept)
    # and on from there as without the pause
    solver.solve(grid_schedule=[8], steps=3, progress=False)
    loaded.solve(grid_schedule=[8], steps=3, progress=False)
    assert torch.equal(loaded.state.kept_points, solver.state.kept_points)
    points = torch.linspace(-1, 1, 41, dtype=torch.float64)[:, None]
    assert torch.equal(loaded.predict(points), solver.predict(points))


def test_checkpoint_data_round_trip_and_old_booleans() -> None:
    for method in (None, kp.RAD(), kp.RAD(k=2, c=0.5, candidates=8), kp.RAR(), kp.RAR(fraction=1, greedy=True)):
        assert adaptive_sampling_from_data(adaptive_sampling_data(method), "x") == method
    assert adaptive_sampling_from_data(True, "x") == kp.RAD()  # as written before RAR
    assert adaptive_sampling_from_data(False, "x") is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"method": "rar", "fraction": -1.0, "k": 2.0, "c": 0.0, "candidates": 4, "greedy": False}, "fraction"),
        ({"method": "rar", "fraction": 0.25}, "keys"),
        ({"method": "magic"}, "method"),
        ("rar", "True, False or a dict"),
    ],
)
def test_forged_checkpoint_settings_are_refused(tmp_path: Path, data: object, match: str) -> None:
    import kanpde.io.checkpoint as checkpoint

    solver = kp.Solver(_front_problem(), width=[1, 3, 1], adaptive_sampling="rar")
    payload = _payload(solver)
    payload["settings"]["adaptive_sampling"] = data
    original = checkpoint._payload
    checkpoint._payload = lambda _solver: payload  # type: ignore[assignment]
    try:
        path = save_checkpoint(solver, tmp_path / "forged.kpt")
    finally:
        checkpoint._payload = original  # type: ignore[assignment]
    with pytest.raises(ValueError, match=f"settings.adaptive_sampling.*{match}"):
        load_checkpoint(path)


@pytest.mark.parametrize("kept", [torch.zeros(5, 2), torch.full((5, 1), float("nan")), torch.zeros(5)])
def test_forged_kept_points_are_refused(tmp_path: Path, kept: torch.Tensor, monkeypatch) -> None:
    import kanpde.io.checkpoint as checkpoint

    solver = kp.Solver(_front_problem(), width=[1, 3, 1], adaptive_sampling="rar")
    payload = _payload(solver)
    payload["train_state"]["kept_points"] = kept
    monkeypatch.setattr(checkpoint, "_payload", lambda _solver: payload)
    path = save_checkpoint(solver, tmp_path / "forged.kpt")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="train_state.kept_points"):
        load_checkpoint(path)
