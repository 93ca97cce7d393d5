"""Precision and device follow the solver's settings (float32 and float64 on the CPU; CUDA when present)."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _problem() -> kp.Problem:
    return kp.Poisson(kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
                      exact="sin(pi*x)*sin(pi*y)")  # fmt: skip


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("dtype", "optimizer", "bound"),
    [(torch.float64, "lm", 5e-3), (torch.float32, "lm", 1e-2), (torch.float64, "lbfgs", 0.3),
     (torch.float32, "lbfgs", 0.3)],
)  # fmt: skip
def test_solve_in_each_precision(device: str, dtype: torch.dtype, optimizer: str, bound: float) -> None:
    solver = kp.Solver(_problem(), width=[2, 5, 1], seed=0, dtype=dtype, device=device, optimizer=optimizer,
                       n_interior=800)  # fmt: skip
    result = solver.solve(grid_schedule=[5], steps=30, progress=False)
    # measured: LM 1.6e-3 (float64), 4.0e-3 (float32); L-BFGS (slower per step) 0.17, 0.06
    assert result.stopped is None and result.rel_l2 < bound
    assert solver.history[-1].loss < 0.05 * solver.history[0].loss
    points = torch.zeros(3, 2, dtype=torch.float64)  # any input precision: converted to the solver's
    out = solver.predict(points)
    assert out.dtype == dtype and out.device.type == device
    assert all(p.dtype == dtype and p.device.type == device for p in solver.model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_float32_and_float64_agree_on_the_untrained_network(device: str) -> None:
    single = kp.Solver(_problem(), width=[2, 3, 1], seed=4, dtype=torch.float32, device=device)
    double = kp.Solver(_problem(), width=[2, 3, 1], seed=4, dtype=torch.float64, device=device)
    points = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(single.predict(points).double(), double.predict(points), rtol=1e-5, atol=1e-6)
