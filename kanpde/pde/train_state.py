"""TrainState: everything the training loop advances, apart from the solver's configuration.

A :class:`~kanpde.Solver` holds what was asked (problem, network shape, sampler, optimisers, weights, limits) and
drives a :class:`TrainState`: the trial function being trained, the collocation points of the stage in progress,
the optimiser's state, where the loop is (stage, grid, step), the history and the random state of the point
sampling. ``solver.state`` is that value; checkpoints (:mod:`kanpde.io.checkpoint`) save it, so that a run saved
and loaded continues exactly as if it had not stopped.

What a checkpoint keeps of it: the network (architecture and state), the step count, the history, the sampling
generator's state, the stage, grid, the Levenberg-Marquardt damping and the points kept by residual-based
refinement. The stage's collocation points and residual terms are not stored: every stage draws fresh points (from
the saved generator state) and rebuilds its terms, so a resumed solve starts its next stage exactly as an
uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .approximation import Approximation
from .residuals import CollocationBatch, ResidualTerms
from .result import StepRecord

__all__ = ["TrainState"]


@dataclass
class TrainState:
    """The state of training (see the module docstring).

    Attributes:
        approximation: the trial function being trained (the KAN, hard constraint and unknowns' parameters).
        generator: the random state of the collocation point sampling.
        history: one :class:`~kanpde.pde.result.StepRecord` per recorded step, over every solve.
        step: optimiser updates taken so far, over every solve.
        stage: index (within the solve in progress, or the last one) of the current grid stage.
        grid: grid size of the current stage (None before the first solve).
        batch: the collocation points of the current stage, per term (None between solves and after loading).
        kept_points: interior points that residual-based refinement (``adaptive_sampling="rar"``) added at earlier
            stage switches and keeps for every later stage (None when there are none).
        points_factor: the multiplier of the default point count: 1, or ``OVERFIT_FACTOR`` (4) once the first stage
            of a solve overfit its points (:meth:`~kanpde.Solver.default_points`).
        terms: the current stage's residual terms on this rank and the rows of each term over all ranks (for the
            uncertainty of identified unknowns); None before a stage.
        optimizer: the state of the current stage's optimiser: a :class:`~kanpde.pde.gauss_newton.LMState`
            (Levenberg-Marquardt damping) or a ``torch.optim.Optimizer``; None between stages.
    """

    approximation: Approximation
    generator: torch.Generator
    history: list[StepRecord] = field(default_factory=list)
    step: int = 0
    stage: int = 0
    grid: int | None = None
    batch: CollocationBatch | None = None
    kept_points: torch.Tensor | None = None
    points_factor: int = 1
    terms: tuple[ResidualTerms, dict[str, int]] | None = None
    optimizer: Any = None

    @property
    def lm_damping(self) -> float | None:
        """The Levenberg-Marquardt damping of the stage in progress (None when it is not an LM stage)."""
        mu = getattr(self.optimizer, "mu", None)
        return None if mu is None else float(mu)
