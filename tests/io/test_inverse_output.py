"""Inverse problems in the output: `kanpde solve` prints the identified values, HDF5 attributes and fields,
checkpoints keep the unknowns (constants and refined field networks)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import kanpde as kp
from kanpde.cli import main

PROBLEM_FILE = """
import torch
import kanpde as kp

q = kp.Unknown("q", init=1.0)
x = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)
problem = kp.Poisson(kp.Interval(0, 1), f="q*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], unknowns=[q],
                     data=[kp.Observations(x, 3 * torch.sin(torch.pi * x))])
"""


def _problem() -> kp.Poisson:
    q = kp.Unknown("q", init=1.0)
    x = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)
    return kp.Poisson(kp.Interval(0, 1), f="q*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], unknowns=[q],
                      data=[kp.Observations(x, 3 * torch.sin(math.pi * x))])  # fmt: skip


def test_cli_prints_the_identified_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kanpde.cli

    monkeypatch.setattr(kanpde.cli, "write_formula", lambda solver, out: (None, []))  # the formula search of u is slow
    path = tmp_path / "inverse_problem.py"
    path.write_text(PROBLEM_FILE)
    out = tmp_path / "o"
    assert main(["solve", str(path), "--grid-schedule", "4", "--steps", "10", "--out", str(out), "--quiet"]) == 0
    assert "unknown q = 3" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["unknowns"]["q"] == pytest.approx(3.0, abs=1e-3) and summary["uncertainty"]["q"] > 0


def test_hdf5_attributes_and_unknown_fields(tmp_path: Path) -> None:
    import h5py

    solver = kp.Solver(_problem(), width=[1, 3, 1], seed=0, n_interior=50)
    result = solver.solve(grid_schedule=[3], steps=3, progress=False)
    h5, _ = solver.export_hdf5(tmp_path / "u.h5", result=result, resolution=11)
    with h5py.File(h5) as f:
        assert f.attrs["unknown_q"] == result.unknowns["q"]
        assert f.attrs["uncertainty_q"] == result.uncertainty["q"]

    a = kp.UnknownField("a", width=[1, 2, 1], positive=True)
    problem = kp.PDE(kp.Interval(0, 1), lambda u: -a(u).value * u.xx - 1, bcs=[kp.Dirichlet(0)], unknowns=[a])
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0)
    solver.export_hdf5(tmp_path / "a.h5", resolution=11)
    with h5py.File(tmp_path / "a.h5") as f:
        values = f["unknown_fields/a"][()]
    nodes = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None]
    assert values.shape == (11,) and torch.allclose(torch.as_tensor(values), solver.unknown_field("a")(nodes))


def test_checkpoint_keeps_unknowns_and_refined_fields(tmp_path: Path) -> None:
    solver = kp.Solver(_problem(), width=[1, 3, 1], seed=0, n_interior=50)
    solver.solve(grid_schedule=[3], steps=3, progress=False)
    with pytest.raises(ValueError, match="without problem="):  # observations are tensors: not a recipe
        kp.Solver.load(solver.save(tmp_path / "s.kpt"))
    loaded = kp.Solver.load(tmp_path / "s.kpt", problem=_problem())
    with torch.no_grad():
        assert float(loaded.approximation.inverse.values()["q"]) == float(solver.approximation.inverse.values()["q"])

    a = kp.UnknownField("a", width=[1, 2, 1])
    x = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)

    def build() -> kp.PDE:
        return kp.PDE(kp.Interval(0, 1), lambda u: -(1 + a(u).value) * u.xx - 1, bcs=[kp.Dirichlet(0)],
                      unknowns=[a], data=[kp.Observations(x, x * (1 - x) / 2)])  # fmt: skip

    solver = kp.Solver(build(), width=[1, 3, 1], seed=0, n_interior=50)
    solver.solve(grid_schedule=[3, 6], steps=2, progress=False)
    loaded = kp.Solver.load(solver.save(tmp_path / "f.kpt"), problem=build())
    assert loaded.approximation.inverse.fields["a"].grid_size == solver.approximation.inverse.fields["a"].grid_size
    assert torch.equal(loaded.unknown_field("a")(x[:, None]), solver.unknown_field("a")(x[:, None]))
