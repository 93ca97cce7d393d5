"""The Levenberg-Marquardt damping rule (``damped_step``) finds known minimisers of least-squares problems.

Measured alternative, not adopted: Nielsen's gain-ratio update (``mu *= max(1/3, 1 - (2 rho - 1)^3)``) cut the
trials per step on burgers_raissi (width [2, 10, 1], 8000 points, grid 5) from 2.5 to 1.2, but kept ``mu`` 10-1000x
higher, so the grid-5 stage ended at a loss of 5.4e-2 (rel L2 8.6e-2) against 1.5e-2 (3.7e-2) with the rule kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from kanpde.kan.least_squares import DampingState, damped_step


def _minimise(residual: Callable[[Tensor], Tensor], start: Tensor, steps: int) -> Tensor:
    """Levenberg-Marquardt on ``|residual(x)|^2`` from ``start``."""
    x, state = start.clone(), DampingState()
    for _ in range(steps):
        jac = torch.autograd.functional.jacobian(residual, x)
        r = residual(x)

        def trial(delta: Tensor, x: Tensor = x) -> tuple[Tensor, float]:
            return x + delta, float(residual(x + delta).square().sum())

        accepted, ok = damped_step(jac.T @ jac, jac.T @ r, float(r.square().sum()), state, trial)
        if not ok:
            break
        assert accepted is not None
        x = accepted
    return x


def test_the_damped_steps_reach_the_linear_least_squares_solution() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(30, 6, generator=generator, dtype=torch.float64)
    b = torch.randn(30, generator=generator, dtype=torch.float64)
    x = _minimise(lambda x: a @ x - b, torch.zeros(6, dtype=torch.float64), 40)
    expected = torch.linalg.lstsq(a, b).solution
    assert torch.allclose(x, expected, atol=1e-10), (x, expected)


def test_the_damped_steps_find_the_rosenbrock_minimum() -> None:
    def rosenbrock(x: Tensor) -> Tensor:
        return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])

    x = _minimise(rosenbrock, torch.tensor([-1.2, 1.0], dtype=torch.float64), 200)
    assert torch.allclose(x, torch.ones(2, dtype=torch.float64), atol=1e-8), x


def test_a_rejected_step_doubles_the_damping_and_an_accepted_one_divides_it_by_three() -> None:
    normal, gradient = torch.eye(2, dtype=torch.float64), torch.tensor([-1.0, 0.0], dtype=torch.float64)
    losses = iter([2.0, 0.5])  # the first trial raises the loss, the second lowers it
    state = DampingState(mu=1.0)
    accepted, ok = damped_step(normal, gradient, 1.0, state, lambda d: (d, next(losses)))
    assert ok and accepted is not None and state.mu == 2.0 / 3
    assert torch.allclose(accepted, torch.tensor([1 / 3, 0.0], dtype=torch.float64))  # (I + 2 I) d = (1, 0)
