"""Causal training (Wang, Sankaran & Perdikaris 2022, "Respecting causality is all you need for training
physics-informed neural networks"): the PDE residual at time ``t`` counts only once earlier times are solved.

The interval ``[t0, t1]`` is cut into ``M`` equal slices. With ``L_i`` the mean square PDE residual of slice ``i``,
slice ``i`` gets the weight ``w_i = exp(-eps * (L_0 + ... + L_{i-1}))`` (``w_0 = 1``): in ``[0, 1]``, non-increasing
in time, near 0 while earlier slices are unsolved and near 1 once they are. The weights are held fixed while the
optimiser runs a round of steps and recomputed from the current solution between rounds; ``eps`` grows over the
rounds (annealing: a small ``eps`` lets all times train, a large one insists on causality) and a round ends the
annealing step early once every weight is above ``threshold`` (0.99, as in the paper).

Each row of the PDE term is scaled by ``sqrt(w)`` of its slice (the mean square then weighs slice ``i`` by
``w_i``), so the same weighted rows serve the mean-square loss and the Levenberg-Marquardt Jacobian.
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .result import Result

if TYPE_CHECKING:
    from .problem import Problem
    from .solver import Solver

__all__ = ["CausalWeights", "slice_weights", "solve_causal"]


def slice_weights(losses: Tensor, epsilon: float) -> Tensor:
    """``w_i = exp(-epsilon * sum_{k < i} losses_k)``, shape ``(M,)`` like ``losses`` (``M`` slices in time order).

    Raises:
        ValueError: a negative ``epsilon`` or loss.
    """
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if bool((losses < 0).any()):
        raise ValueError("slice losses must be >= 0 (mean squares)")
    before = torch.cumsum(losses, 0) - losses
    return torch.exp(-epsilon * before)


class CausalWeights:
    """The weight of every time, a step function over ``n_slices`` equal slices of ``[t0, t1]`` (all 1 at first).

    Args:
        t0: the start of the time interval.
        t1: its end.
        n_slices: the number of slices ``M``.
    """

    def __init__(self, t0: float, t1: float, n_slices: int) -> None:
        self.t0, self.t1, self.n_slices = float(t0), float(t1), int(n_slices)
        self.weights = torch.ones(self.n_slices, dtype=torch.float64)

    def slice_of(self, t: Tensor) -> Tensor:
        """The slice of each time, ``(n,)`` integers in ``0 ... M - 1``."""
        position = (t - self.t0) / (self.t1 - self.t0) * self.n_slices
        return torch.clamp(torch.floor(position.detach()), 0, self.n_slices - 1).long()

    def __call__(self, t: Tensor) -> Tensor:
        """The weight at each time, shape of ``t``."""
        return self.weights.to(t)[self.slice_of(t)]

    def update(self, residual_sq: Tensor, t: Tensor, epsilon: float) -> Tensor:
        """New weights from the mean square residual per slice at points with times ``t``; returns the slice
        losses (a slice without points keeps the loss 0)."""
        index = self.slice_of(t)
        sums = torch.zeros(self.n_slices, dtype=torch.float64).index_add_(0, index, residual_sq.detach().double())
        counts = torch.zeros(self.n_slices, dtype=torch.float64).index_add_(0, index, torch.ones_like(sums[index]))
        losses = sums / counts.clamp_min(1)
        self.weights = slice_weights(losses, epsilon)
        return losses


def _weighted_problem(problem: Problem, weights: CausalWeights) -> Problem:
    """``problem`` whose PDE residual rows are scaled by ``sqrt(w(t))``."""
    out = copy.copy(problem)
    residual, column = problem.residual, problem.space_dim

    def weighted(u: Any) -> Tensor:
        r = residual(u)
        scale = weights(u.points[:, column]).sqrt()
        return r * (scale if r.dim() == 1 else scale[:, None])

    out._residual = weighted  # type: ignore[attr-defined]
    return out


def _check(name: str, value: object, low: float, integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not float(value) >= low:  # type: ignore[arg-type]
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} >= {low:g}, got {value!r}")


def solve_causal(
    solver: Solver,
    *,
    grid_schedule: Sequence[int],
    steps: int,
    epsilons: Sequence[float] = (1e-2, 1e-1, 1.0, 10.0, 100.0),
    n_slices: int = 32,
    rounds: int = 5,
    threshold: float = 0.99,
    n_points: int = 2000,
    budget_seconds: float | None = None,
) -> Result:
    """Train ``solver`` with causal weights (see the module docstring).

    Every grid of ``grid_schedule`` is trained in rounds of ``steps`` optimiser steps: for each ``eps`` of
    ``epsilons`` up to ``rounds`` rounds, each after recomputing the weights on ``n_points`` fixed points of the
    domain, until every weight exceeds ``threshold``. Stages are those of :meth:`Solver.solve` (one per round).

    Raises:
        ValueError: the problem has no time, or a bad setting (named).
    """
    from .solver import validate_grid_schedule

    problem = solver.problem
    if problem.time is None:
        raise ValueError("causal training needs a time-dependent problem (time=(t0, t1)); this problem has no time")
    schedule = validate_grid_schedule(grid_schedule)
    if not epsilons or any(isinstance(e, bool) or not isinstance(e, numbers.Real) or e < 0 for e in epsilons):
        raise ValueError(f"epsilons must be a non-empty list of numbers >= 0, got {epsilons!r}")
    _check("n_slices", n_slices, 1, integer=True)
    _check("rounds", rounds, 1, integer=True)
    _check("n_points", n_points, 1, integer=True)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    weights = CausalWeights(problem.time.t0, problem.time.t1, n_slices)
    generator = torch.Generator().manual_seed(solver.seed + 31337)
    points = problem.domain.sample_interior(n_points, generator=generator, dtype=solver.dtype, device=solver.device)
    original, weighted = problem, _weighted_problem(problem, weights)
    start, result = time.perf_counter(), Result(None, None)
    try:
        for grid in schedule:
            for epsilon in epsilons:
                for round_ in range(rounds):
                    solver.problem = original
                    residual = solver._view().residual(points)
                    weights.update((residual**2).sum(1), points[:, problem.space_dim], float(epsilon))
                    if round_ > 0 and float(weights.weights.min()) > threshold:
                        break
                    if budget_seconds is not None and time.perf_counter() - start >= budget_seconds:
                        break
                    solver.problem = weighted
                    left = None if budget_seconds is None else budget_seconds - (time.perf_counter() - start)
                    part = solver.solve(grid_schedule=[grid], steps=steps, progress=False, budget_seconds=left)
                    result.stages += part.stages
                    if part.stopped:
                        result.stopped = part.stopped
                        break
                if result.stopped:
                    break
            if result.stopped:
                break
    finally:
        solver.problem = original
    result.rel_l2, result.max_abs = solver.errors()
    result.seconds = time.perf_counter() - start
    result.history = list(solver.history)
    return result
