"""The default point count's overfitting check: when the first stage of a fresh network drives the loss down on its
points but not on fresh ones (their loss > OVERFIT_RATIO times its own), the stage is repeated from a fresh network
on OVERFIT_FACTOR times the points, and later stages keep the factor (at most OVERFIT_MAX_POINTS points)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import pytest
import torch

import kanpde as kp
import kanpde.pde.training as training
from kanpde.io.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint


def _poisson() -> kp.Problem:
    return kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")


def test_the_factor_multiplies_the_default_count_up_to_the_cap() -> None:
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    plain = solver.default_points(5)
    assert plain == 1000  # 1 * 4 * 12 + 4 * 1 * 12 = 96 parameters: the minimum
    solver.state.points_factor = training.OVERFIT_FACTOR
    assert solver.default_points(5) == min(training.OVERFIT_FACTOR * plain, training.OVERFIT_MAX_POINTS) == 4000
    big = kp.Solver(_poisson(), width=[1, 200, 1], seed=0)
    many = big.default_points(40)  # 3 * 2 * 200 * 47 = 56400 > the cap: the plain count stays
    big.state.points_factor = training.OVERFIT_FACTOR
    assert big.default_points(40) == many == 56400
    fixed = kp.Solver(_poisson(), width=[1, 4, 1], seed=0, n_interior=300)
    fixed.state.points_factor = training.OVERFIT_FACTOR
    assert fixed._points_per_stage(5)[0] == 300  # a count the user chose is kept


def test_a_well_sampled_first_stage_is_not_repeated() -> None:
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    result = solver.solve(grid_schedule=[5, 8], steps=10, progress=False)
    assert solver.state.points_factor == 1
    assert [s.grid for s in result.stages] == [5, 8]
    assert len(solver.state.batch.interior) == solver.default_points(8) == 1000


def test_an_overfit_first_stage_is_repeated_afresh_on_more_points(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any ratio counts as overfitting: the check fires after the first stage (and only then).
    monkeypatch.setattr(training, "OVERFIT_RATIO", -1.0)
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    seen: list[tuple[int, int]] = []  # (grid, interior points) of every stage run
    first_batches = []

    def callback(s: kp.Solver, record: kp.StepRecord) -> None:
        entry = (record.grid, len(s.state.batch.interior))
        if not seen or seen[-1] != entry:
            seen.append(entry)
            first_batches.append((record.loss, s.state.batch))

    result = solver.solve(grid_schedule=[5, 8, 10], steps=4, progress=False, callback=callback)
    assert seen == [(5, 1000), (5, 4000), (8, 4000), (10, 4000)]  # the repeat on four times the plain count
    assert solver.state.points_factor == training.OVERFIT_FACTOR
    assert [s.grid for s in result.stages] == [5, 8, 10]  # the discarded stage is not among the stages
    assert [s.steps for s in result.stages] == [4, 4, 4]
    assert [r.grid for r in result.history].count(5) == 2 * 5  # its steps stay in the history
    assert len(result.notes) == 1 and "overfit its points" in result.notes[0]  # said in the summary
    assert "note: the first stage overfit" in result.summary()
    # the repeat starts from a fresh network (the same initialisation), not from the one trained on 1000 points
    loss, batch = first_batches[1]
    assert loss == pytest.approx(kp.Solver(_poisson(), width=[1, 4, 1], seed=0)._batch_loss(batch), rel=1e-12)
    trained = [r.loss for r in result.history if r.grid == 5][4]  # the end of the first try
    assert loss > 10 * trained  # 40.9 against 0.81


def test_an_overfit_first_stage_adds_a_finer_last_stage_to_the_default_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(training, "OVERFIT_RATIO", -1.0)
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    result = solver.solve(steps=2, progress=False)
    assert [s.grid for s in result.stages] == [5, 10, 30, training.OVERFIT_GRID_FACTOR * 30]
    assert solver.model.grid_size >= 60
    assert len(result.notes) == 1 and "last stage on grid 60" in result.notes[0]
    # a schedule the user chose is kept as it is (test above); so is the default one when grid 60 would not fit
    refused = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    check = refused._check_memory

    def no_room_for_60(grid: int) -> None:
        if grid == 60:
            raise ValueError("grid 60 does not fit")
        check(grid)

    monkeypatch.setattr(refused, "_check_memory", no_room_for_60)
    result = refused.solve(steps=2, progress=False)
    assert [s.grid for s in result.stages] == [5, 10, 30]
    assert refused.state.points_factor == training.OVERFIT_FACTOR and "grid 60" not in result.notes[0]


def test_a_well_sampled_first_stage_keeps_the_default_schedule() -> None:
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    result = solver.solve(steps=3, progress=False)
    assert solver.state.points_factor == 1 and [s.grid for s in result.stages] == [5, 10, 30]


def test_a_chosen_point_count_and_adaptive_sampling_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "OVERFIT_RATIO", -1.0)
    for options in ({"n_interior": 200}, {"adaptive_sampling": "rad"}):
        solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0, **options)
        result = solver.solve(grid_schedule=[5, 8], steps=3, progress=False)
        assert solver.state.points_factor == 1 and len(result.history) == 2 * 4


def test_losses_at_rounding_level_are_not_overfitting(monkeypatch: pytest.MonkeyPatch) -> None:
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    solver.solve(grid_schedule=[5], steps=2, progress=False)
    batch = solver._sample_batch(8)
    first = solver.history[0]
    solver.history = [dataclasses.replace(first, loss=1.0), dataclasses.replace(first, loss=1e-32)]
    monkeypatch.setattr(solver, "_batch_loss", lambda batch: 1e-30)  # 100x, but both far below 1.0 * eps
    assert solver._first_stage_overfit(batch) is None
    monkeypatch.setattr(solver, "_batch_loss", lambda batch: 1e-12)
    assert solver._first_stage_overfit(batch) == (1e-12, 1e-32)


def _with_header(payload: bytes) -> bytes:
    header = {"format": FORMAT, "version": VERSION, "payload_bytes": len(payload)}
    header["sha256"] = hashlib.sha256(payload).hexdigest()
    return b"KANPDE-CHECKPOINT\n" + json.dumps(header).encode() + b"\n" + payload


def test_checkpoints_keep_the_factor_and_older_files_load_with_one(tmp_path: Path) -> None:
    solver = kp.Solver(_poisson(), width=[1, 4, 1], seed=0)
    solver.solve(grid_schedule=[5], steps=2, progress=False)
    solver.state.points_factor = training.OVERFIT_FACTOR
    path = save_checkpoint(solver, tmp_path / "factor.kpt")
    loaded = load_checkpoint(path)
    assert loaded.state.points_factor == 4 and loaded.default_points(8) == solver.default_points(8) == 4000
    payload = torch.load(io.BytesIO(path.read_bytes().split(b"\n", 2)[2]), weights_only=True)
    del payload["train_state"]["points_factor"]  # a file written before the factor existed
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    (tmp_path / "old.kpt").write_bytes(_with_header(buffer.getvalue()))
    assert load_checkpoint(tmp_path / "old.kpt").state.points_factor == 1
    for bad in (0, 2.5, True):
        payload["train_state"]["points_factor"] = bad
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        (tmp_path / "bad.kpt").write_bytes(_with_header(buffer.getvalue()))
        with pytest.raises(ValueError, match="train_state.points_factor"):
            load_checkpoint(tmp_path / "bad.kpt")


@pytest.mark.slow
def test_burgers_first_stage_overfits_on_the_default_points() -> None:
    """burgers_raissi, seed 1: the grid-5 stage on 1080 points ends at loss 7.2e-3, 1.05 on fresh points."""
    from problems.burgers_raissi import make_problem

    solver = kp.Solver(make_problem(), seed=1)
    result = solver.solve(grid_schedule=[5, 6], steps=100, progress=False)
    assert solver.state.points_factor == training.OVERFIT_FACTOR
    assert result.stages[0].rel_l2 is not None and result.stages[0].rel_l2 < 1e-1  # 2.4e-1 on 1080 points


@pytest.mark.slow
def test_burgers_defaults_end_on_grid_60() -> None:
    """burgers_raissi, defaults, seed 0: grids 5, 10, 30 and the added 60 (16000 points) end at 1.04e-3 (2.4e-3 on
    grid 30), about 470 CPU s on one thread."""
    from problems.burgers_raissi import make_problem

    result = kp.Solver(make_problem(), seed=0).solve(progress=False)
    assert [s.grid for s in result.stages] == [5, 10, 30, 60]
    assert result.rel_l2 is not None and result.rel_l2 < 2e-3
    assert "last stage on grid 60" in result.notes[0]
