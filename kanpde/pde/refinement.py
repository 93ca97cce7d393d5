"""Grid extension as adaptive refinement: the policy that decides the next grid size, or to stop.

The mechanism (refit every spline on a finer grid, :meth:`kanpde.KAN.refine`) lives in the KAN library; this module
only decides. ``Solver.solve(grid_schedule="auto")`` uses :class:`AutoSchedule` with its defaults; pass an
``AutoSchedule(...)`` to set the target, the budget or the largest grid. A stage ends when its optimiser stalls
(Levenberg-Marquardt: ten steps lowered the loss by less than ``rtol``) or runs out of steps; then the policy
extends the grid (times ``factor``) unless one of its stopping rules holds: the target is reached, the budget is
spent (``Solver.solve`` also checks it after every optimiser step), the largest grid is reached, or the loss has
truly stalled (``patience`` extensions in a row each gained less than ``min_gain``: one weak extension is often
followed by a strong one, once the finer grid's extra freedom is trained).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .result import StageRecord

__all__ = ["AutoSchedule"]


@dataclass(frozen=True)
class AutoSchedule:
    """When to extend the grid and when to stop.

    Attributes:
        start: grid size of the first stage.
        factor: each extension multiplies the grid size by this (rounded up; at least +1).
        max_grid: no stage beyond this grid size.
        target: stop once the relative L2 error (problems with ``exact``) or else the total loss is at or below.
        budget_seconds: wall time of the whole solve: no new stage after it, and ``Solver.solve`` cuts the stage
            running when it is spent (checked after every optimiser step).
        min_gain: an extension that lowered the loss by less than this factor did not help.
        patience: stop after this many extensions in a row that did not help: the finer grid no longer helps (the
            remaining error is elsewhere: too few points, too small a network).
    """

    start: int = 5
    factor: float = 2.0
    max_grid: int = 40
    target: float | None = None
    budget_seconds: float | None = None
    min_gain: float = 2.0
    patience: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.start, bool) or not isinstance(self.start, int) or self.start < 1:
            raise ValueError(f"AutoSchedule start must be a positive integer, got {self.start!r}")
        if not (isinstance(self.factor, (int, float)) and self.factor > 1):
            raise ValueError(f"AutoSchedule factor must be a number > 1, got {self.factor!r}")
        if isinstance(self.max_grid, bool) or not isinstance(self.max_grid, int) or self.max_grid < self.start:
            raise ValueError(f"AutoSchedule max_grid must be an integer >= start ({self.start}), got {self.max_grid!r}")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"AutoSchedule target must be positive or None, got {self.target!r}")
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise ValueError(f"AutoSchedule budget_seconds must be positive or None, got {self.budget_seconds!r}")
        if not self.min_gain >= 1:
            raise ValueError(f"AutoSchedule min_gain must be >= 1, got {self.min_gain!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"AutoSchedule patience must be a positive integer, got {self.patience!r}")

    def grids(self) -> list[int]:
        """Every grid size the schedule may reach, in order."""
        sizes = [self.start]
        while True:
            following = max(sizes[-1] + 1, math.ceil(sizes[-1] * self.factor))
            if following > self.max_grid:
                return sizes
            sizes.append(following)

    def next_grid(self, stages: Sequence[StageRecord], elapsed: float) -> tuple[int | None, str]:
        """The next grid size after ``stages`` (None to stop) and the reason, for people.

        Args:
            stages: the stages run so far (the last one just ended).
            elapsed: seconds since the solve started.
        """
        if not stages:
            return self.start, f"start at grid {self.start}"
        last = stages[-1]
        error = last.rel_l2 if last.rel_l2 is not None else last.loss
        what = "relative L2 error" if last.rel_l2 is not None else "loss"
        if self.target is not None and error <= self.target:
            return None, f"target reached: {what} {error:.2e} <= {self.target:.2e} at grid {last.grid}"
        gains = [a.loss / b.loss if b.loss > 0 else math.inf for a, b in zip(stages[:-1], stages[1:])]
        recent = gains[-self.patience :]
        if len(recent) == self.patience and all(g < self.min_gain for g in recent):
            first = stages[-1 - self.patience]
            return None, (
                f"refinement stopped helping: grid {first.grid} -> {last.grid} lowered the loss only "
                + ", ".join(f"{g:.2f}x" for g in recent)
                + f" per extension (< {self.min_gain:g}x, {self.patience} in a row)"
            )
        if self.budget_seconds is not None and elapsed >= self.budget_seconds:
            return None, f"time budget spent: {elapsed:.1f} s >= {self.budget_seconds:g} s"
        sizes = self.grids()
        larger = [g for g in sizes if g > last.grid]
        if not larger:
            return None, f"largest grid reached ({last.grid}; max_grid={self.max_grid})"
        return larger[0], f"extend: grid {last.grid} -> {larger[0]}"
