"""Chunked evaluation and data-parallel training: the same numbers as one piece in one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import kanpde as kp
from kanpde.pde.gauss_newton import ResidualSystem
from kanpde.pde.objective import LossObjective
from kanpde.pde.residuals import ConditionTerm, collocation_terms

ROOT = Path(__file__).resolve().parents[2]


def _mixed_problem() -> kp.Problem:
    """2-D Poisson with Dirichlet on three sides and Neumann on the fourth (soft conditions, two orders)."""
    exact = "sin(pi*x)*sin(pi*y)"
    return kp.Poisson(
        kp.Rectangle([0, 0], [1, 1]),
        f="2*pi**2*sin(pi*x)*sin(pi*y)",
        bcs=[kp.Dirichlet(exact, on="xmin"), kp.Dirichlet(exact, on="xmax"), kp.Dirichlet(exact, on="ymin"),
             kp.Neumann("-pi*sin(pi*x)", on="ymax")],
        exact=exact,
    )  # fmt: skip


@pytest.fixture
def stage() -> tuple[kp.Solver, object]:
    solver = kp.Solver(_mixed_problem(), width=[2, 4, 1], grid=5, seed=3, n_interior=300, n_boundary=70)
    return solver, solver._sample_batch()


def _gradient(objective: LossObjective) -> tuple[float, dict[str, float], torch.Tensor]:
    loss, terms = objective.backward()
    return float(loss), terms, torch.cat([p.grad.reshape(-1) for p in objective.params])


def test_split_terms_keeps_every_row_once(stage) -> None:
    solver, batch = stage
    terms = collocation_terms(solver.problem, batch, solver.request)
    parts = terms.split(4)
    assert torch.equal(torch.cat([p.terms[0].rows["points"] for p in parts]), batch.interior)
    for i, (condition, where) in enumerate(batch.conditions, start=1):
        assert all(isinstance(p.terms[i], ConditionTerm) and p.terms[i].condition is condition for p in parts)
        assert torch.equal(torch.cat([p.terms[i].rows["points"] for p in parts]), where.points)
        assert torch.equal(torch.cat([p.terms[i].rows["normals"] for p in parts]), where.normals)
        assert all(p.counts() == terms.counts() for p in parts)  # a part still divides by the whole's rows


def test_chunked_loss_and_gradient_equal_the_whole(stage) -> None:
    solver, batch = stage
    terms = collocation_terms(solver.problem, batch, solver.request)
    weights = {"pde": 1.0, "neumann[ymax]": 3.0}
    make = lambda size: LossObjective(solver.approximation, terms, weights, chunk_size=size)  # noqa: E731
    whole_loss, whole_terms, whole_grad = _gradient(make(10_000))
    chunked = make(37)
    assert len(chunked.chunks) == 9
    loss, terms, grad = _gradient(chunked)
    assert loss == pytest.approx(whole_loss, rel=1e-13)
    assert terms.keys() == whole_terms.keys() and len(terms) == 5
    assert all(terms[k] == pytest.approx(whole_terms[k], rel=1e-12) for k in terms)
    assert torch.allclose(grad, whole_grad, rtol=1e-11, atol=1e-14 * float(whole_grad.abs().max()))
    assert chunked.terms() == pytest.approx(terms, rel=1e-12)


def test_chunked_normal_equations_equal_the_whole(stage) -> None:
    solver, batch = stage
    terms = collocation_terms(solver.problem, batch, solver.request)
    make = lambda size: ResidualSystem(solver.approximation, terms, {}, chunk_size=size)  # noqa: E731
    whole, chunked = make(10_000), make(50)
    params = whole.parameters()
    normal, gradient, loss, terms = whole.normal_equations(params)
    normal_c, gradient_c, loss_c, terms_c = chunked.normal_equations(params)
    assert torch.allclose(normal_c, normal, rtol=1e-11, atol=1e-13 * float(normal.abs().max()))
    assert torch.allclose(gradient_c, gradient, rtol=1e-11, atol=1e-13 * float(gradient.abs().max()))
    assert loss_c == pytest.approx(loss, rel=1e-12) and terms_c == pytest.approx(terms, rel=1e-12)
    assert chunked.loss(params)[0] == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lm"])
def test_solve_in_chunks_matches_one_piece(optimizer: str) -> None:
    def run(chunk_size: int) -> kp.Solver:
        solver = kp.Solver(_mixed_problem(), width=[2, 4, 1], seed=1, n_interior=400, optimizer=optimizer,
                           chunk_size=chunk_size)  # fmt: skip
        solver.solve(grid_schedule=[4, 6], steps=6, progress=False)
        return solver

    whole, chunked = run(100_000), run(64)
    points = torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(chunked.predict(points), whole.predict(points), rtol=0, atol=1e-9)
    assert [r.loss for r in chunked.history] == pytest.approx([r.loss for r in whole.history], rel=1e-8)


def test_predict_and_errors_in_chunks_equal_one_piece() -> None:
    solver = kp.Solver(_mixed_problem(), width=[2, 4, 1], seed=2, chunk_size=33)
    points = torch.rand(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        direct = solver.approximation(points)[:, 0]
    assert torch.allclose(solver.predict(points), direct, rtol=1e-15, atol=0)


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    """`torchrun --nproc_per_node=2 -m kanpde solve ... --distributed` equals one process on the same points.

    Each rank holds half of every point set; the single run evaluates the same halves as two chunks, so every
    sum is formed from the same parts and the results agree to rounding (in practice bitwise).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "kanpde", "solve", "poisson_1d", "--distributed", "--quiet", "--grid-schedule", "5,8",
               "--steps", "8", "--threads", "1", "--out", str(tmp_path / "out")]  # fmt: skip
    # A session of its own, so that a hung run is killed with all its worker processes.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert "2 processes, gloo backend" in stdout and stdout.count("relative L2 error") == 1

    sys.path.insert(0, str(ROOT))
    from problems import poisson_1d

    settings = dict(poisson_1d.SETTINGS)
    settings.pop("grid_schedule"), settings.pop("steps")
    n_interior = settings["n_interior"]  # both conditions have fewer points: two chunks in all
    single = kp.Solver(poisson_1d.make_problem(), seed=0, chunk_size=n_interior // 2, **settings)
    single.solve(grid_schedule=[5, 8], steps=8, progress=False)
    with h5py.File(tmp_path / "out" / "solution.h5", "r") as f:
        x = np.asarray(f["grid/x"])
        field = np.asarray(f["fields/u"]).reshape(-1)
    expected = single.predict(torch.from_numpy(x)[:, None]).numpy()
    np.testing.assert_allclose(field, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.slow
def test_compiled_loss_gives_the_same_training() -> None:
    """torch.compile of the L-BFGS loss (optional; about a minute of compilation) changes rounding only."""

    def run(compile: bool) -> kp.Solver:
        problem = kp.Poisson(kp.Interval(-1, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
        solver = kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=300, optimizer="lbfgs", compile=compile)
        solver.solve(grid_schedule=[5], steps=5, progress=False)
        return solver

    plain, compiled = run(False), run(True)
    points = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    assert torch.allclose(compiled.predict(points), plain.predict(points), rtol=0, atol=1e-8)
