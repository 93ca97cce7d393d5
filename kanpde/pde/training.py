"""Training a Solver's network stage by stage: the points of a stage, grid extension between stages, and the
optimiser steps of one stage (Levenberg-Marquardt, L-BFGS or Adam), each recorded in the history.

:class:`StageTraining` holds these steps as methods of :class:`~kanpde.Solver` (which inherits them): they advance
the solver's :class:`~kanpde.pde.train_state.TrainState` (``self.state``) under its configuration (the constructor
arguments), and :meth:`kanpde.Solver.solve` loops over the stages.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..kan import KAN
from ..kan.training import loss_scale, make_optimizer, optimizer_step
from .adaptive_sampling import AbstractAdaptiveSampling
from .approximation import Approximation
from .balancing import gradient_norm_weights, ntk_weights, progress_weights
from .budget import TimeLimits
from .conditions import Dirichlet, Initial, InitialVelocity
from .diagnostics import hints, term_balance
from .distributed import Communicator
from .euler_start import PROBE_STEPS
from .fields import JetRequest
from .gauss_newton import LMState, ResidualSystem, levenberg_marquardt_step, stage_damping
from .memory import check_memory, kan_parameters, stage_bytes
from .objective import LossObjective
from .problem import Problem
from .residuals import CollocationBatch, ResidualTerms, approximation_source, collocation_terms
from .result import StageRecord, StepRecord
from .sampling import AbstractSampler
from .train_state import TrainState

if TYPE_CHECKING:
    from .solution import Solution

__all__ = ["StageTraining"]

logger = logging.getLogger("kanpde.pde.solver")

# The overfitting check after the first stage (see StageTraining.default_points).
OVERFIT_RATIO = 10.0  # loss on fresh points / final training loss above which the points were too few
OVERFIT_FACTOR = 4  # the default point count is then multiplied by this ...
OVERFIT_MAX_POINTS = 16000  # ... up to this many interior points (or the plain default, when that is more)
OVERFIT_GRID_FACTOR = 2  # and the default schedule gets one more stage, on this many times its last grid


class StageTraining:
    """The training steps of :class:`~kanpde.Solver` (see the module docstring); not used on its own."""

    # The solver's configuration (set by its constructor) and the state it advances.
    problem: Problem
    state: TrainState
    request: JetRequest
    width: list[int]
    k: int
    seed: int
    dtype: torch.dtype
    device: torch.device
    sampler: AbstractSampler
    n_interior: int | None
    n_boundary: int | None
    n_test: int
    chunk_size: int
    comm: Communicator
    optimizers: tuple[str, ...]
    lr: float | None
    weights: dict[str, float]
    adaptive_weights: bool
    balancing: str | None  # a scheme of kanpde.pde.balancing, or None (fixed weights)
    adaptive_sampling: AbstractAdaptiveSampling | None  # kanpde.pde.adaptive_sampling (None: uniform)
    compile: bool
    lm_max_entries: int
    # Of the solve in progress (set by ``solve``).
    _closure: Tensor | None
    _callback: Callable[[Any, StepRecord], None] | None
    _paused: float
    _limits: TimeLimits
    # Called once after PROBE_STEPS Levenberg-Marquardt steps of a stage (solve(start="auto")); True when it changed
    # the network (the starting fit was made), which then starts the stage over.
    _probe: Callable[[], bool] | None

    if TYPE_CHECKING:  # defined by the Solver

        def _view(self) -> Solution: ...

        def errors(self, points: Tensor | None = None) -> tuple[float | None, float | None]: ...

    # -- the training state (kanpde.pde.train_state): views of ``self.state`` ----------------------------------
    @property
    def model(self) -> KAN:
        """The KAN (on coordinates scaled to [-1, 1])."""
        return self.approximation.model

    @property
    def approximation(self) -> Approximation:
        """The trial function being trained (``state.approximation``)."""
        return self.state.approximation

    @property
    def generator(self) -> torch.Generator:
        """The random state of the point sampling (``state.generator``)."""
        return self.state.generator

    @property
    def history(self) -> list[StepRecord]:
        """One record per recorded step, over every solve (``state.history``)."""
        return self.state.history

    @history.setter
    def history(self, records: list[StepRecord]) -> None:
        self.state.history = list(records)

    @property
    def _steps_done(self) -> int:
        """Optimiser updates taken so far (``state.step``)."""
        return self.state.step

    @_steps_done.setter
    def _steps_done(self, value: int) -> None:
        self.state.step = value

    # -- points of a stage ------------------------------------------------------------------------------------
    def default_points(self, grid: int | None = None) -> int:
        """Interior points of a stage: three per parameter of the network (on ``grid``: the current one when
        None), at least 1000; four times that (at most 16000, or the plain count when it is more) once the first
        stage has overfit its points (``state.points_factor``, see :meth:`_first_stage_overfit`).

        Fewer points than parameters let the residual vanish at the points but not between them (measured on the
        2-D Poisson problem at grid 20: 1000 points gave 1.1e-5, 2600 points 1.8e-6).
        """
        n_params = sum(
            layer.in_dim * layer.out_dim * (max(grid or 0, layer.grid_size) + layer.spline_order + 2)
            for layer in self.model.layers
        )
        return self._scaled_points(max(1000, 3 * n_params))

    def _scaled_points(self, n_interior: int) -> int:
        """The default count ``n_interior`` under ``state.points_factor`` (see :meth:`default_points`)."""
        factor = self.state.points_factor if getattr(self, "state", None) is not None else 1  # None: constructing
        return n_interior if factor == 1 else min(factor * n_interior, max(n_interior, OVERFIT_MAX_POINTS))

    def _first_stage_overfit(self, batch: CollocationBatch) -> tuple[float, float] | None:
        """After the first stage of a fresh network: ``(loss on batch, final training loss)`` when the loss on
        the fresh points of ``batch`` exceeds the training loss ``OVERFIT_RATIO``-fold, else None.

        Such a stage drove the residual down at its points but not between them, and later stages do not recover
        from it (burgers_raissi, defaults, seed 1: the grid-5 stage ended at loss 7.2e-3 on its 1080 points and
        1.05 on fresh ones, the solve at 2.2e-1). Checked only where the default point count applies (no
        ``n_interior``, no adaptive sampling, no observations or unknowns, not raised before); the 2-D Poisson
        problem's ratio is 1.2. A training loss below rounding (machine epsilon times the first loss of the solve)
        counts as that level, so that a network fit to rounding is not taken for an overfit one.
        """
        if self.n_interior is not None or self.adaptive_sampling is not None or self.state.points_factor != 1:
            return None
        if self.problem.data or self.problem.unknowns or not self.history:
            return None
        fresh, trained = self._batch_loss(batch), self.history[-1].loss
        rounding = torch.finfo(self.dtype).eps * self.history[0].loss  # losses near rounding compare as equal
        return (fresh, trained) if fresh > OVERFIT_RATIO * max(trained, rounding) else None

    def _points_per_stage(self, grid: int | None = None, *, n_params: int | None = None) -> tuple[int, int]:
        """Interior and per-condition points of a stage on ``grid`` (or of a network of ``n_params``)."""
        if self.n_interior is not None:
            n_interior = self.n_interior
        elif n_params is not None:
            n_interior = self._scaled_points(max(1000, 3 * n_params))
        else:
            n_interior = self.default_points(grid)
        n_boundary = self.n_boundary if self.n_boundary is not None else max(n_interior // 4, 64)
        return n_interior, n_boundary

    def _check_memory(self, grid: int) -> None:
        """Refuse a stage on ``grid`` (or the test set) that cannot fit in memory (see :mod:`kanpde.pde.memory`)."""
        n_params = kan_parameters(self.width, grid, self.k)
        n_interior, n_boundary = self._points_per_stage(n_params=n_params)
        method = self.adaptive_sampling
        # Kept points (RAR): those kept so far and, as an estimate of the stages to come, twice a stage's share.
        kept = self.state.kept_points if getattr(self, "state", None) is not None else None  # None: constructing
        n_kept = (0 if kept is None else len(kept)) + (2 * method.extra_points(n_interior) if method else 0)
        n_candidates = n_interior * (method.candidates if method else 1) + n_kept
        n_points = n_candidates + n_boundary * len(self.problem.conditions)
        rows = n_interior + n_kept + n_boundary * len(self.problem.conditions)
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        what = f"grid {grid} with n_interior={n_interior}, n_boundary={n_boundary}, chunk_size={self.chunk_size}"
        for name in self.optimizers:
            if name == "auto":
                name = "lm" if rows * n_params <= self.lm_max_entries else "lbfgs"
            estimate = stage_bytes(
                self.width, grid, self.k, n_points=n_points, n_coords=self.problem.n_coords,
                chunk_size=self.chunk_size, itemsize=itemsize, optimizer=name,
            )  # fmt: skip
            hint = "use fewer points (n_interior, n_boundary), a smaller grid or chunk_size"
            check_memory(estimate, f"{what} ({name})", device=self.device, hint=hint)
        check_memory(3 * self.n_test * self.problem.n_coords * itemsize, f"n_test={self.n_test}", device=self.device)

    def _sample_batch(self, grid: int | None = None, *, keep: bool = False) -> CollocationBatch:
        """Collocation points for a stage on ``grid`` (their number grows with the network's parameters).

        With adaptive sampling (after the first stage) the interior points follow the residual; ``keep``: the
        points the method keeps for later stages (RAR) become ``state.kept_points`` (a new stage of a solve),
        otherwise they are used for this batch only (e.g. :meth:`hints`).
        """
        kwargs: dict[str, Any] = {
            "generator": self.generator,
            "sampler": self.sampler,
            "dtype": self.dtype,
            "device": self.device,
        }
        domain = self.problem.domain
        n_interior, n_boundary = self._points_per_stage(grid)
        if self.adaptive_sampling is not None and self._steps_done > 0:
            view = self._view()
            interior, kept = self.adaptive_sampling.stage_points(
                lambda n: domain.sample_interior(n, **kwargs), lambda x: view.residual(x).abs().sum(1),
                n_interior, self.state.kept_points, generator=self.generator,
            )  # fmt: skip
            if keep:
                self.state.kept_points = kept
        else:
            interior = domain.sample_interior(n_interior, **kwargs)
        hard = self.approximation.constraint is not None
        imposed = getattr(self.approximation.constraint, "imposes", (Dirichlet, Initial, InitialVelocity))
        conditions = [
            (c, c.sample(domain, n_boundary, **kwargs))
            for c in self.problem.conditions
            if not (hard and isinstance(c, imposed))
        ]
        constraint = self.approximation.constraint
        jets = constraint.jets(interior, self.request) if constraint is not None else None
        return CollocationBatch(interior, conditions, jets)

    def _test_points(self) -> Tensor:
        return self._view().test_points()

    def _network_inputs(self, batch: CollocationBatch) -> Tensor:
        """Every point of ``batch`` where the network is evaluated, in its (scaled) input coordinates."""
        points = [batch.interior]
        for _, where in batch.conditions:
            points.append(where.points)
            if where.partners is not None:
                points.append(where.partners)
        return self.approximation.normalized(torch.cat(points))

    def _closure_points(self) -> Tensor:
        """Points of the closed domain where the solution is used besides the collocation points: the test
        points, a boundary sample and, in time, the first and last time slices (network input coordinates).

        Recorded with every stage's points so that grid extension keeps the function on all of the domain (the
        collocation points alone stop short of its boundary by about a point spacing).
        """
        if self._closure is None:
            domain, generator = self.problem.domain, torch.Generator().manual_seed(self.seed + 104729)
            options: dict[str, Any] = {
                "generator": generator,
                "sampler": "halton",
                "dtype": self.dtype,
                "device": self.device,
            }
            points = [self._test_points(), domain.sample_boundary(2000, **options)[0]]
            time_span = self.problem.time
            if time_span is not None:  # the domain is a SpaceTime (times the parameter box, for a parametric problem)
                first = domain.sample_initial(1000, **options)  # type: ignore[attr-defined]
                last = first.clone()
                last[:, self.problem.space_dim] = time_span.t1
                points += [first, last]
            self._closure = self.approximation.normalized(torch.cat(points))
        return self._closure

    def _record_ranges(self, batch: CollocationBatch) -> None:
        self.model.record_ranges(torch.cat([self._network_inputs(batch), self._closure_points()]))

    # -- grid extension between stages, and checks after training ----------------------------------------------
    def _set_grid(self, grid: int, batch: CollocationBatch) -> float | None:
        """Put the network on ``grid`` for a stage on ``batch``; returns the loss ratio across the switch.

        A trained network is refined (grid extension) so that it computes the same function on every point it
        was trained on and on the new points (see :meth:`KAN.refine`); the ratio of the loss on ``batch`` after
        to before the switch is then 1 up to rounding (None when nothing was trained yet).
        """
        model = self.model
        if self._steps_done == 0:  # untrained: start afresh on this grid
            if model.grid_size != grid:
                self.approximation.model = KAN(
                    self.width, grid=grid, k=self.k, seed=self.seed, dtype=self.dtype, device=self.device
                )
            return None
        if model.grid_size >= grid:
            return None
        before = self._batch_loss(batch)
        # The closure points were recorded at the end of the last stage; the new points are what is new here.
        model.record_ranges(self._network_inputs(batch))
        self.approximation.model = model.refine(grid)
        inverse = getattr(self.approximation, "inverse", None)
        if inverse is not None:  # unknown fields are refined with the solution (same function on their points)
            inverse.refine(grid, torch.cat([batch.interior, self.problem.domain.sample_interior(
                2000, generator=torch.Generator().manual_seed(self.seed + 15485863), sampler="halton",
                dtype=self.dtype, device=self.device)]))  # fmt: skip
        after = self._batch_loss(batch)
        return after / before if before > 0 else None

    def _batch_loss(self, batch: CollocationBatch) -> float:
        """The weighted loss of the current network on ``batch`` (no gradient)."""
        terms = collocation_terms(self.problem, batch, self.request)
        objective = self._objective(terms.shard(self.comm), terms.counts(), self.weights)
        return objective.loss(objective.terms())

    def hints(self, batch: CollocationBatch | None = None) -> list[str]:
        """What :mod:`kanpde.pde.diagnostics` finds about the trained solution on ``batch`` (default: a fresh
        batch on the current grid): an unmet condition, a collapse toward a constant, an unresolved PDE."""
        batch = self._sample_batch(self.model.grid_size) if batch is None else batch
        terms = collocation_terms(self.problem, batch, self.request).shard(self.comm)
        balances = term_balance(terms, approximation_source(self.approximation), self.problem.n_fields, self.chunk_size)
        with torch.no_grad():
            spread = float(self.approximation(self._test_points()).std())
        return hints(balances, spread)

    # -- one stage: its optimisers, steps and records -----------------------------------------------------------
    def _stage_optimizer(self, batch: CollocationBatch, name: str) -> str:
        if name != "auto":
            return name
        rows = len(batch.interior) + sum(len(w.points) for _, w in batch.conditions)
        n_params = sum(p.numel() for p in self.model.parameters())
        return "lm" if not self.request.autograd and rows * n_params <= self.lm_max_entries else "lbfgs"

    def _record(
        self, stage: int, grid: int, loss: float, terms: dict[str, float], start: float, step: int | None = None
    ) -> None:
        """Append a history record (``loss``: the loss before update number ``step``) and run the callback."""
        now = time.perf_counter()
        step = self._steps_done if step is None else step
        record = StepRecord(step, stage, grid, loss, terms, now - start - self._paused)
        self.history.append(record)
        if self._callback is not None:
            self._callback(self, record)
            self._paused += time.perf_counter() - now

    def _run_stage(
        self, stage: int, grid: int, batch: CollocationBatch, steps: int, start: float, bar: Any, rtol: float
    ) -> str | None:
        terms = collocation_terms(self.problem, batch, self.request)
        counts, shard = terms.counts(), terms.shard(self.comm)
        self.state.terms = (shard, counts)
        if self.adaptive_weights:
            self.weights = self._balanced_weights(shard, counts)
        for name in self.optimizers:
            chosen = self._stage_optimizer(batch, name)
            if chosen == "lm":
                stopped = self._run_stage_lm(stage, grid, shard, counts, steps, start, bar, rtol)
            else:
                stopped = self._run_stage_gradient(stage, grid, shard, counts, steps, start, bar, chosen)
            if stopped or self._limits.cut:
                return stopped
        return None

    def _objective(
        self, shard: ResidualTerms, counts: dict[str, int], weights: Mapping[str, float], compile: bool = False
    ) -> LossObjective:
        return LossObjective(
            self.approximation, shard, weights, counts=counts, chunk_size=self.chunk_size, comm=self.comm,
            compile=compile,
        )  # fmt: skip

    def _balanced_weights(self, shard: ResidualTerms, counts: dict[str, int]) -> dict[str, float]:
        """Condition weights of the balancing scheme ``self.balancing`` (see :mod:`kanpde.pde.balancing`)."""
        scheme = getattr(self, "balancing", None) or "adaptive"
        if scheme == "ntk" and not self.request.autograd:  # Jacobian rows need the jet path (else: gradient norms)
            return ntk_weights(self.approximation, shard, counts, comm=self.comm)
        if scheme == "residual":
            objective = self._objective(shard, counts, {})
            initial = self.history[0].terms if self.history else {}
            return progress_weights(objective.terms(), initial)
        return gradient_norm_weights(lambda weights: self._objective(shard, counts, weights), list(counts))

    def _run_stage_lm(
        self,
        stage: int,
        grid: int,
        shard: ResidualTerms,
        counts: dict[str, int],
        steps: int,
        start: float,
        bar: Any,
        rtol: float,
    ) -> str | None:
        system = ResidualSystem(
            self.approximation, shard, self.weights, counts=counts, chunk_size=self.chunk_size, comm=self.comm
        )
        previous = self.state.optimizer if isinstance(self.state.optimizer, LMState) else None
        params, state = system.parameters(), stage_damping(previous)  # continues the last LM stage's damping
        self.state.optimizer = state
        losses: list[float] = []
        probe = getattr(self, "_probe", None)
        try:
            while len(losses) < steps:
                if probe is not None and len(losses) == PROBE_STEPS:
                    self._probe, changed = None, probe()
                    probe = None
                    if changed:  # the starting fit replaced the network: the stage starts over from it
                        params, state = system.parameters(), LMState()
                        self.state.optimizer = state
                        losses.clear()
                        continue
                new, loss, terms, accepted = levenberg_marquardt_step(system, params, state)
                if not math.isfinite(loss):
                    # An accepted step always has a finite loss, so only the starting point can be non-finite.
                    return self._diverged(None, None, {"terms": terms})
                params = new  # before the callback runs (it may raise KeyboardInterrupt): the step is taken
                system.load(params)  # the model follows every step, so callbacks (errors, checkpoints) see it
                losses.append(loss)
                self._steps_done += 1
                self._record(stage, grid, loss, terms, start, step=self._steps_done - 1)
                bar.update(1)
                bar.set_postfix({k: f"{v:.1e}" for k, v in terms.items()} | {"G": grid}, refresh=False)
                stalled = len(losses) > 10 and losses[-1] > (1 - rtol) * losses[-11]
                if not accepted or stalled or self._out_of_time():  # converged (no damping lowers the loss, or it
                    bar.update(steps - len(losses))  # hardly falls any more), or a time limit is reached
                    break
        finally:  # also on Ctrl-C: the model gets the last accepted parameters
            system.load(params)
        loss, terms = system.loss(params)
        self._record(stage, grid, loss, terms, start)
        return None

    def _run_stage_gradient(
        self,
        stage: int,
        grid: int,
        shard: ResidualTerms,
        counts: dict[str, int],
        steps: int,
        start: float,
        bar: Any,
        name: str,
    ) -> str | None:
        objective = self._objective(shard, counts, self.weights, compile=self.compile)
        params = objective.params
        initial = objective.terms()
        scale = loss_scale(objective.loss(initial))
        optimizer = self.state.optimizer = make_optimizer(name, params, lr=self.lr)
        first: dict[str, Any] = {}

        def closure() -> Tensor:
            loss, terms = objective.backward(scale)
            if not first:
                first.update(loss=float(loss), terms=terms)
            return loss * scale

        last_good = [p.detach().clone() for p in params]
        for _ in range(steps):
            at_start = [p.detach().clone() for p in params]
            first.clear()
            try:
                optimizer_step(optimizer, closure)
            except KeyboardInterrupt:  # mid line search: go back to the parameters of the last recorded step
                self._restore(params, at_start)
                raise
            if not math.isfinite(first["loss"]):
                return self._diverged(params, last_good, first)
            last_good = at_start
            self._steps_done += 1  # counted before the callback runs (it may raise KeyboardInterrupt)
            self._record(stage, grid, first["loss"], first["terms"], start, step=self._steps_done - 1)
            bar.update(1)
            bar.set_postfix({k: f"{v:.1e}" for k, v in first["terms"].items()} | {"G": grid}, refresh=False)
            if self._out_of_time():
                break
        terms = objective.terms()
        final: dict[str, Any] = {"loss": objective.loss(terms), "terms": terms}
        if not math.isfinite(final["loss"]):
            return self._diverged(params, last_good, final)
        self._record(stage, grid, final["loss"], final["terms"], start)
        return None

    def _out_of_time(self) -> bool:
        """Whether the solve's budget or the stage's time limit is spent (the reason goes to ``_limits.cut``)."""
        reason = self._limits.spent(time.perf_counter(), self._paused)
        if reason:
            self._limits = dataclasses.replace(self._limits, cut=reason)
        return reason is not None

    @staticmethod
    def _restore(params: Sequence[Tensor], values: Sequence[Tensor]) -> None:
        with torch.no_grad():
            for p, v in zip(params, values):
                p.copy_(v)

    def _diverged(self, params: Sequence[Tensor] | None, good: Sequence[Tensor] | None, entry: dict[str, Any]) -> str:
        if params is not None and good is not None:
            self._restore(params, good)
        bad = [k for k, v in entry["terms"].items() if not math.isfinite(v)]
        message = (
            f"loss became non-finite at step {self._steps_done} (terms: {', '.join(bad) or 'total'}); "
            "the last parameters with a finite loss are kept"
        )
        logger.warning("solve: %s", message)
        return message

    def _stage_record(
        self, stage: int, grid: int, first_record: int, stage_start: float, stopped: str | None
    ) -> StageRecord:
        rel, mx = self.errors()
        records = [h for h in self.history[first_record:] if h.stage == stage]
        stage_loss = records[-1].loss if records else math.nan
        weighted = None
        if self.adaptive_weights and records:  # weights change per stage: the unweighted loss compares stages
            weighted, stage_loss = stage_loss, sum(records[-1].terms.values())
        n_params = sum(p.numel() for p in self.model.parameters())
        seconds = time.perf_counter() - stage_start
        return StageRecord(
            grid, max(len(records) - 1, 0), stage_loss, rel, mx, seconds, n_params, stopped=stopped,
            weighted_loss=weighted,
        )  # fmt: skip
