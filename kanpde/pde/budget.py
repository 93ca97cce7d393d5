"""Time limits of a solve: a budget for the whole solve and a limit per stage, checked after every optimiser step."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TimeLimits"]


@dataclass(frozen=True)
class TimeLimits:
    """The limits of the solve in progress and, once one is reached, why the stage was cut.

    Times are ``time.perf_counter()`` readings; ``paused`` seconds (spent in the user's callback) do not count.

    Attributes:
        start: when the solve started.
        budget: seconds for the whole solve, or None.
        stage_seconds: seconds per stage, or None.
        stage_start: when the current stage started.
        paused_at_stage: the callback's seconds before the current stage started.
        cut: why the current stage was cut short (set by :meth:`spent`'s caller), or None.
    """

    start: float = 0.0
    budget: float | None = None
    stage_seconds: float | None = None
    stage_start: float = 0.0
    paused_at_stage: float = 0.0
    cut: str | None = None

    def spent(self, now: float, paused: float) -> str | None:
        """The reason to stop now, or None: the budget (``"time budget spent: ..."``) or the stage limit."""
        if self.budget is not None and now - self.start - paused >= self.budget:
            return f"time budget spent: {now - self.start - paused:.1f} s >= budget_seconds={self.budget:g}"
        stage = now - self.stage_start - (paused - self.paused_at_stage)
        if self.stage_seconds is not None and stage >= self.stage_seconds:
            return f"stage time limit reached: {stage:.1f} s >= stage_seconds={self.stage_seconds:g}"
        return None
