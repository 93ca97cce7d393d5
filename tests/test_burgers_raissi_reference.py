"""The Cole-Hopf reference of problems/burgers_raissi.py keeps its values at recent point sets."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `problems` lives beside `tests`, not in the wheel
import problems.burgers_raissi as burgers  # noqa: E402


def test_values_at_the_same_points_are_reused_and_a_copy_is_returned() -> None:
    points = torch.rand(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    points[:, 1] = points[:, 1].abs()
    first = burgers.exact_solution(points)
    first.zero_()  # the caller's tensor is its own: changing it leaves the kept values alone
    again = burgers.exact_solution(points.clone())
    assert again.abs().max() > 0.1
    fresh = burgers._cole_hopf(points[:, 0], points[:, 1], burgers.PARAMETERS["viscosity"])
    assert torch.equal(again, fresh)
    other = burgers.exact_solution(points, viscosity=0.02)  # another viscosity is another key
    assert not torch.allclose(other, again)


def test_points_with_gradient_are_differentiated_not_looked_up() -> None:
    points = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
    burgers.exact_solution(points)  # kept
    x = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(burgers.exact_solution(x).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
