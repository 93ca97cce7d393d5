"""Checkpoint format versions: version 3 saves the TrainState; version 2 files (written before it) still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.io.checkpoint import READABLE, VERSION, load_checkpoint

#: Written by kanpde at commit 1a0f732 (format version 2): a 1-D Poisson problem, width [1, 3, 1], seed 3,
#: n_interior=64, n_boundary=8, n_test=200, L-BFGS, solve(grid_schedule=[3, 5], steps=3).
OLD = Path(__file__).parent / "data" / "checkpoint_v2_poisson.kpt"
#: Its predictions at linspace(0, 1, 11), printed by the code that wrote it.
OLD_VALUES = [0.0, 0.2850447742482772, 0.5256574357473595, 0.7217912081884097, 0.8618135322341682,
              0.926314085776374, 0.8981072011428513, 0.7727358959712775, 0.5620052157732238, 0.29166883632556523,
              0.0]  # fmt: skip
POINTS = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None]


def test_a_version_2_checkpoint_still_loads_and_trains_on() -> None:
    assert OLD.read_bytes().split(b"\n", 2)[1].startswith(b'{"format": "kanpde-checkpoint", "version": 2')
    solver = load_checkpoint(OLD)
    torch.testing.assert_close(solver.predict(POINTS), torch.tensor(OLD_VALUES, dtype=torch.float64), rtol=1e-13,
                               atol=1e-15)  # fmt: skip
    state = solver.state
    assert state.step == 6 and len(state.history) == 8 and solver.model.grid_size == 5
    assert (state.stage, state.grid, state.lm_damping) == (0, None, None)  # not in version 2: the defaults
    assert kp.Solution.load(OLD).history == state.history
    loss = state.history[-1].loss
    solver.solve(grid_schedule=[8], steps=3, progress=False)
    assert state.step == 9 and solver.history[-1].loss < loss


def test_version_3_keeps_the_train_state(tmp_path: Path) -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 3, 1], seed=1, n_interior=64, n_test=200, optimizer="lm")
    solver.solve(grid_schedule=[3, 6], steps=4, progress=False)
    state = solver.state
    assert (state.stage, state.grid) == (1, 6) and state.lm_damping is not None
    path = solver.save(tmp_path / "s.kpt")
    header = json.loads(path.read_bytes().split(b"\n", 2)[1])
    assert header["version"] == VERSION == 3 and 2 in READABLE
    loaded = kp.Solver.load(path).state
    assert (loaded.stage, loaded.grid, loaded.step) == (1, 6, state.step)
    assert loaded.lm_damping == state.lm_damping and loaded.history == state.history
    assert torch.equal(loaded.generator.get_state(), state.generator.get_state())
    assert loaded.batch is None  # points are not stored: the next stage draws them from the generator's state


def test_a_version_2_header_with_a_version_3_payload_is_refused(tmp_path: Path) -> None:
    data = OLD.read_bytes()
    magic, header, payload = data.split(b"\n", 2)
    fields = json.loads(header)
    fields["version"] = 3  # claims version 3, holds a version-2 payload
    (tmp_path / "mixed.kpt").write_bytes(magic + b"\n" + json.dumps(fields).encode() + b"\n" + payload)
    with pytest.raises(ValueError, match="not of format version 3"):
        load_checkpoint(tmp_path / "mixed.kpt")
    fields["version"] = 4
    (tmp_path / "newer.kpt").write_bytes(magic + b"\n" + json.dumps(fields).encode() + b"\n" + payload)
    with pytest.raises(ValueError, match=r"format version 4; this kanpde reads versions 2, 3 \(upgrade kanpde"):
        load_checkpoint(tmp_path / "newer.kpt")
