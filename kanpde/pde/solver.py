"""Solver: trains a KAN so that the PDE residual and the conditions vanish, grid stage by grid stage.

``solve(grid_schedule=[5, 10, 30], steps=100)`` runs, for each grid size: draw fresh collocation points
(optionally where the residual is large), extend the grid (refit every spline by least squares on every point
the network has seen, so the function is unchanged and the stage continues where the last one stopped),
restart the optimiser, take ``steps`` steps. L-BFGS with a strong-Wolfe line search in float64 by default.

The solver holds the configuration (its constructor arguments) and drives a
:class:`~kanpde.pde.train_state.TrainState` (``solver.state``); the steps of a stage are in
:mod:`kanpde.pde.training`, the argument checks in :mod:`kanpde.pde.solver_options`, and what training leaves, the
:class:`~kanpde.pde.solution.Solution` (``solver.solution``), in :mod:`kanpde.pde.solution`.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..kan import KAN
from ..kan.network import validate_seed, validate_width
from ..kan.training import OPTIMIZERS, progress_bar
from .adaptive_sampling import AbstractAdaptiveSampling, make_adaptive_sampling
from .approximation import Approximation, exact_dirichlet, exact_dirichlet_applies
from .balancing import SCHEMES, default_scheme
from .budget import TimeLimits
from .data_resolution import DEFAULT_SCHEDULE, resolved_schedule
from .distributed import SINGLE, communicator
from .euler_start import PROBE_STEPS, STUCK, check_start, check_start_name, data_ratio, euler_start, euler_target
from .fields import probe
from .inverse_parameters import InverseParameters
from .problem import Problem
from .refinement import AutoSchedule
from .residuals import DEFAULT_CHUNK_SIZE, CollocationBatch, collocation_terms
from .result import Result, StepRecord
from .sampling import make_sampler
from .solution import Solution
from .solver_options import check_weights as _check_weights
from .solver_options import checked_device as _device
from .solver_options import positive_int as _positive_int
from .solver_options import positive_seconds as _seconds
from .solver_options import validate_grid_schedule
from .solver_options import weights_by_term as _weights_by_term
from .train_state import TrainState
from .training import OVERFIT_FACTOR, OVERFIT_GRID_FACTOR, StageTraining
from .unknowns import bound, reads, warn_unused

__all__ = ["Solver", "validate_grid_schedule"]

logger = logging.getLogger(__name__)


class Solver(StageTraining):
    """Physics-informed training of a KAN on a :class:`~kanpde.pde.problem.Problem`.

    Args:
        problem: what to solve.
        width: KAN layer sizes; default ``[n_coords, 10, n_fields]``; first and last must match the problem.
        grid: initial grid size (the first stage of ``solve`` uses ``grid_schedule[0]``).
        k: B-spline degree (default 5: quintic splines. Measured with the default schedule and 100 steps per stage,
            `kanpde bench accuracy`: 2-D Poisson 2.0e-7 against 1.1e-6 with k=3, heat 1.6e-7 against 3.4e-7, for
            about 1.5x the time per step; k=3 reaches 1e-5 about as fast).
        seed: seeds the network and the point sampling (results are reproducible on CPU).
        n_interior: collocation points inside the domain per stage (default: :meth:`default_points`, which grows
            with the number of parameters of each stage; when the first stage's loss on fresh points is more than
            10x its loss on its own, the stage is repeated from a fresh network on 4x the points, and later
            stages keep the 4x, at most 16000 points, and the default schedule gets a last stage on grid 60:
            burgers_raissi 4.1e-2 -> 1.0e-3).
        n_boundary: points per boundary or initial condition (default: a quarter of the interior points, >= 64).
        sampler: "sobol" (default), "halton", "lhs", "random", "uniform" or an AbstractSampler.
        dtype: float64 (default) or float32.
        device: where to train.
        optimizer: "auto" (default: Levenberg-Marquardt when the Jacobian fits in ``lm_max_entries`` numbers, else
            L-BFGS), "lm", "lbfgs" or "adam"; or a chain such as ``("adam", "lbfgs")``, run one after the other in
            every stage, ``steps`` steps each. ``lr`` is the learning rate of L-BFGS and Adam.
        weights: loss weights by term (``{"pde": 1, "dirichlet": 10}``; a term not named counts once), or a
            balancing scheme that sets them at the start of every stage (:mod:`kanpde.pde.balancing`): "ntk" (each
            term gets the same share of the Gauss-Newton matrix, Wang, Yu & Perdikaris 2022), "adaptive"
            (``|grad L_pde| / |grad L_term|``, Wang, Teng & Perdikaris 2021) or "residual"; clipped to [1e-2, 1e4].
            Default None: "ntk" when the problem has loss terms besides the PDE and no observations or unknowns
            (measured best over the suite, see :mod:`kanpde.pde.balancing`), else 1 each; ``weights={}`` keeps
            every weight 1.
        hard_constraint: impose a whole-boundary Dirichlet condition (and the initial value) exactly,
            ``u = b N + g``; "auto" (default) does so on boxes, whose distance function is smooth.
        update_grid: move the knots to follow the interior points at the start of each stage (off by default:
            on the 2-D Poisson problem it raised the error from 1.4e-5 to 4.3e-5 and doubled the time).
        adaptive_sampling: put the interior points of every stage after the first where the residual of the
            network trained so far is large (:mod:`kanpde.pde.adaptive_sampling`): ``"rar"`` (or ``kp.RAR(...)``)
            adds a quarter more points at every stage switch and keeps them for the later stages; ``True``
            (``"rad"``, ``kp.RAD(...)``) redraws every stage's points; False (default) samples uniformly.
        n_test: points of the error evaluation.
        chunk_size: most points of one point set evaluated at once (memory grows with it, not with the number
            of points; results do not depend on it beyond rounding).
        distributed: shard the points over the ranks of the initialised ``torch.distributed`` process group
            (e.g. under ``torchrun``); losses and gradients are summed so every rank takes the same steps.
        compile: run the L-BFGS/Adam loss through ``torch.compile`` (off by default: about a minute of
            compilation per stage for 1.4-1.8x faster evaluations; Levenberg-Marquardt stages do not use it).

    Example:
        >>> import kanpde as kp
        >>> problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
        >>> result = kp.Solver(problem, width=[1, 5, 1], seed=0).solve(grid_schedule=[5], steps=5, progress=False)
        >>> result.rel_l2 < 1e-3
        True
    """

    def __init__(
        self,
        problem: Problem,
        width: Sequence[int] | None = None,
        grid: int = 5,
        k: int = 5,
        seed: int = 0,
        *,
        n_interior: int | None = None,
        n_boundary: int | None = None,
        sampler: Any = "sobol",
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        optimizer: str | Sequence[str] = "auto",
        lr: float | None = None,
        weights: Mapping[str, float] | str | None = None,
        hard_constraint: bool | str = "auto",
        update_grid: bool = False,
        adaptive_sampling: bool | str | AbstractAdaptiveSampling = False,
        n_test: int = 20_000,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        distributed: bool = False,
        compile: bool = False,
    ) -> None:
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be a kp.Poisson, kp.Heat or kp.PDE, got {type(problem).__name__}")
        self.problem = problem
        width = [problem.n_coords, 10, problem.n_fields] if width is None else validate_width(width)
        if width[0] != problem.n_coords:
            raise ValueError(
                f"width[0] must equal the number of coordinates {problem.coords} = {problem.n_coords}, got {width}"
            )
        if width[-1] != problem.n_fields:
            raise ValueError(f"width[-1] must equal the number of fields ({problem.n_fields}), got {width}")
        if not isinstance(optimizer, (str, Sequence)):
            raise TypeError(f"optimizer must be a name such as 'lbfgs' or a sequence of names, got {optimizer!r}")
        chain = [optimizer] if isinstance(optimizer, str) else list(optimizer)
        if not chain or any(str(o).lower() not in ("auto", "lm", *OPTIMIZERS) for o in chain):
            raise ValueError(
                f"optimizer must be one of {('auto', 'lm', *OPTIMIZERS)} or a sequence of them, got {optimizer!r}"
            )
        if isinstance(weights, str) and weights not in SCHEMES:
            raise ValueError(
                f"weights must be a mapping of term -> weight or 'adaptive', 'ntk', 'residual', got {weights!r}"
            )
        if weights is not None and not isinstance(weights, (str, Mapping)):
            raise TypeError(f"weights must be a mapping of term -> weight or a scheme name {SCHEMES}, got {weights!r}")
        if isinstance(weights, Mapping):
            _check_weights(weights, problem)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.sampler = make_sampler(sampler)
        self.width, self.seed, self.dtype, self.device = width, validate_seed(seed), dtype, _device(device)
        self.k = k
        self.n_interior = None if n_interior is None else _positive_int("n_interior", n_interior)
        self.n_boundary = None if n_boundary is None else _positive_int("n_boundary", n_boundary)
        self.optimizers, self.lr = tuple(str(o).lower() for o in chain), lr
        self.balancing = weights if isinstance(weights, str) else None
        self.adaptive_weights = self.balancing is not None
        self.weights: dict[str, float] = {} if isinstance(weights, str) else _weights_by_term(weights or {}, problem)
        self.adaptive_sampling = make_adaptive_sampling(adaptive_sampling)
        self.n_test = _positive_int("n_test", n_test)
        self.chunk_size = _positive_int("chunk_size", chunk_size)
        self.comm = communicator() if distributed else SINGLE
        self.compile = bool(compile)
        self.lm_max_entries = 60_000_000  # about 480 MB of float64 Jacobian
        self.update_grid = bool(update_grid)
        self._check_memory(int(grid) if isinstance(grid, numbers.Integral) and grid > 0 else 1)  # KAN checks grid
        if hard_constraint not in (True, False, "auto"):
            raise ValueError(f"hard_constraint must be True, False or 'auto', got {hard_constraint!r}")
        constraint = None
        if any(obs.derivative is not None for obs in problem.data):  # their rows would need the constraint's jets
            if hard_constraint is True:
                raise ValueError("hard_constraint=True does not combine with observed derivatives (data=[...])")
            hard_constraint = False
        if hard_constraint == "auto" and exact_dirichlet_applies(problem, smooth_only=True):
            constraint = exact_dirichlet(problem)
        elif hard_constraint is True:
            constraint = exact_dirichlet(problem)
        lower, upper = problem.domain.bounds
        model = KAN(width, grid=grid, k=k, seed=self.seed, dtype=dtype, device=self.device)
        # What training advances (the network, points, optimiser, step, history, sampling state): see TrainState.
        generator = torch.Generator().manual_seed(self.seed)
        self.state = TrainState(Approximation(model, lower, upper, constraint), generator)
        inverse = None
        if problem.unknowns:  # inverse problem: the unknowns' parameters train with the network's
            inverse = self.approximation.inverse = InverseParameters(
                problem.unknowns, problem.coords, lower, upper, grid=grid, k=k, seed=self.seed, dtype=dtype,
                device=self.device,
            )  # fmt: skip
        # A few points of the domain: the problem's data may be defined there only (e.g. sqrt(x - 1) on [1, 2]).
        probe_points = problem.domain.sample_interior(8, generator=torch.Generator().manual_seed(0), dtype=dtype)
        binding = bound(inverse.evaluator() if inverse is not None else None)
        with reads() as seen, binding:  # the unknowns at their initial values
            self.request = probe(problem.residual, problem.coords, problem.n_fields, dtype, points=probe_points)
            problem.check_data(probe_points)  # a bad exact solution or coefficient fails here, before any training
        warn_unused(problem.unknowns, seen)
        # Built without weights: the default balancing where it applies (kanpde.pde.balancing.default_scheme). Kept
        # so that a time window whose constraint leaves its initial data to the loss can balance them (time_windows).
        self._default_weights = weights is None
        if weights is None:
            self.balancing = default_scheme(problem, self.request, imposed=constraint is not None)
            self.adaptive_weights = self.balancing is not None
        self._closure: Tensor | None = None
        self.result: Result | None = None  # of the last solve (also when it was interrupted)
        self._callback: Callable[[Solver, StepRecord], None] | None = None
        self._paused = 0.0
        self._limits = TimeLimits()  # of the solve in progress: checked after every optimiser step
        self._probe: Callable[[], bool] | None = None  # solve(start="auto"), see kanpde.pde.euler_start

    def settings(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this solver (with the current grid size), e.g. for checkpoints."""
        return {
            "width": list(self.width),
            "grid": int(self.model.grid_size),
            "k": self.k,
            "seed": self.seed,
            "n_interior": self.n_interior,
            "n_boundary": self.n_boundary,
            "sampler": self.sampler,
            "dtype": self.dtype,
            "device": str(self.device),
            "optimizer": self.optimizers[0] if len(self.optimizers) == 1 else list(self.optimizers),
            "lr": self.lr,
            "weights": self.balancing if self.balancing else dict(self.weights),
            "hard_constraint": self.approximation.constraint is not None,
            "update_grid": self.update_grid,
            "adaptive_sampling": self.adaptive_sampling or False,
            "n_test": self.n_test,
            "chunk_size": self.chunk_size,
            "compile": self.compile,
        }

    # -- evaluation: the solution as it is now (kanpde.pde.solution) ------------------------------------------
    def _view(self) -> Solution:
        """The solution being trained (shares the network: it follows every step; :attr:`solution` is a copy)."""
        return Solution(
            self.approximation, self.problem, settings=self.settings(), request=self.request, history=self.history,
            result=self.result,
        )  # fmt: skip

    @property
    def solution(self) -> Solution:
        """The trained solution as a value (a copy of the network: further training leaves it unchanged)."""
        return self._view().copied()

    def unknown_field(self, name: str) -> Callable[[Tensor], Tensor]:
        """The identified :class:`~kanpde.pde.unknowns.UnknownField` ``name`` as a callable
        ``(n_points, n_coords) -> (n_points,)`` (the problem's coordinates; those the field ignores are unused)."""
        return self._view().unknown_field(name)

    def predict(self, points: Tensor, *, derivative: str | Sequence[str] | None = None, **parameters: Any) -> Tensor:
        """The solution at ``points``: ``(n_points, n_coords) -> (n_points,)``, or ``(n_points, n_fields)``.

        For a parametric problem the points hold the parameter columns too, or the parameters are given by name
        (``predict(points, mu=1.3)``: a number, or one value per point); values outside a parameter's range warn
        (:class:`~kanpde.pde.parameters.ExtrapolationWarning`). ``derivative`` names a coordinate or parameter
        (or several, for a higher derivative): ``derivative="mu"`` gives the sensitivity ``du/dmu``.
        """
        return self._view().predict(points, derivative=derivative, **parameters)

    def errors_at(self, **parameters: Any) -> list[Any]:
        """Errors against the exact solution at given parameter values (a parametric problem).

        ``errors_at(mu=[0.5, 1, 2])`` evaluates on the test points of the domain (space and time) with the
        parameters fixed at each value in turn; see :func:`kanpde.pde.parameters.errors_at`.
        """
        return self._view().errors_at(**parameters)

    def _time_windows(self, time_windows: object, grid_schedule: object, start: object) -> tuple[int, str | None]:
        """The number of time windows of a solve, and a note when the solver chose it (``time_windows=None``)."""
        check_start_name(start)  # windows make no starting fit: checked here, not only in the plain solve
        if time_windows is not None:
            from .time_windows import check_time_windows

            if start == "euler":
                raise ValueError("start='euler' does not combine with time_windows (each window starts from the last)")
            return check_time_windows(self.problem, time_windows), None
        problem = self.problem
        if (problem.time is None or problem.parameters or problem.unknowns or problem.data or self._steps_done
                or start == "euler" or isinstance(grid_schedule, (str, AutoSchedule))):  # fmt: skip
            return 1, None
        from .time_scales import default_time_windows

        return default_time_windows(problem)

    def errors(self, points: Tensor | None = None) -> tuple[float | None, float | None]:
        """Relative L2 and maximum absolute error against the exact solution (None, None without one)."""
        return self._view().errors(points)

    # -- training: the loop over grid stages (one stage: kanpde.pde.training) ------------------------------------
    def solve(
        self,
        grid_schedule: Sequence[int] | str | AutoSchedule | None = None,
        steps: int = 100,
        *,
        progress: bool = True,
        rtol: float = 1e-3,
        callback: Callable[[Solver, StepRecord], None] | None = None,
        budget_seconds: float | None = None,
        stage_seconds: float | None = None,
        time_windows: int | None = None,
        start: str | None = "auto",
    ) -> Result:
        """Train stage by stage over ``grid_schedule``, at most ``steps`` optimiser steps per stage.

        ``grid_schedule`` is a strictly increasing list of grid sizes, or "auto" (an
        :class:`~kanpde.pde.refinement.AutoSchedule` with its defaults; pass one to set a target error, a time
        budget or the largest grid): the grid is extended after every stage until a stopping rule holds, and
        ``result.refinement`` says which. None (the default): ``[5, 10, 30]``, or, for a network not yet trained
        whose initial value a spline on grid 30 cannot fit to 1% along some axis, the one grid that can (from 5,
        10, 20, 30, 40, 60, 80; :mod:`kanpde.pde.data_resolution`), said in ``result.notes`` (not with
        ``time_windows``: there ``[5, 10, 30]``). When the first stage of the default schedule overfits its points
        (see :meth:`default_points`), the schedule also gets a last stage on twice its last grid (``[5, 10, 30,
        60]``; not when that stage would not fit in memory), said in ``result.notes``.

        A Levenberg-Marquardt stage ends early when ten steps lowered the loss by less than ``rtol`` (relative),
        or when no step lowers it at all. ``callback(solver, record)`` runs after every recorded step (e.g. to
        track the error over time); its own time is left out of the recorded seconds. In time windows it gets the
        window's solver (its problem on that window) and the record numbered as in ``result.history``.

        ``budget_seconds`` bounds the whole solve and ``stage_seconds`` each stage (wall time without the
        callback's); both are checked after every optimiser step, so a limit is overrun by at most one step (and
        the final error evaluation). A stage cut short by either appears in ``result.stages`` with ``stopped``
        saying why; the budget ends the solve (``result.stopped``), a stage limit moves on to the next stage.
        An :class:`~kanpde.pde.refinement.AutoSchedule`'s ``budget_seconds`` is the default budget.

        ``time_windows=n`` (time-dependent problems): time marching over ``n`` equal windows, each initialised by
        the solution trained on the one before; see :mod:`kanpde.pde.time_windows`. ``time_windows=1``: one
        space-time network over the whole interval. None (the default): for a network not yet trained, the number
        of windows the rates of the initial state call for (:mod:`kanpde.pde.time_scales`: at most 3 periods of
        its motion and 0.3 e-folds of its growth per window; 1 for most problems), said in ``result.notes``
        when above 1; not with ``grid_schedule="auto"``, ``start="euler"``, parameters, unknowns or observations.

        ``start="euler"`` (a problem first order in time whose initial value is imposed exactly): before the first
        stage of a network not yet trained, fit it to one explicit Euler step from the initial value,
        ``u0 + (t - t0) u_t(t0)``, so that it holds the spatial structure of ``u0`` before the PDE training starts
        (at most 20 Levenberg-Marquardt steps, not recorded in the history; their time counts towards
        ``budget_seconds``, which is checked after them); see :mod:`kanpde.pde.euler_start`. ``start="auto"`` (the
        default) makes that fit only where the training needs it: after 10 Levenberg-Marquardt steps of the first
        stage of a network not yet trained, when the PDE residual is still above 3/4 of that of the imposed data
        alone (``u`` stays at ``u0``), the network goes back to its initial parameters, is fitted, and the stage
        starts over (``result.notes`` says so); elsewhere (a problem the fit does not apply to, L-BFGS or Adam, a
        stage of 10 steps or fewer, ``time_windows``) it does nothing. ``start=None``: never.

        Returns:
            A :class:`~kanpde.pde.result.Result` with errors against ``exact`` (when given), the history and times
            (also kept as ``solver.result``). Divergence (NaN/inf) stops with the last good parameters.

        Raises:
            KeyboardInterrupt: Ctrl-C (re-raised, so the program stops). The model keeps its last completed step
                and ``solver.result`` holds the result so far: the completed stages and the one cut short (its
                ``stopped`` says so), the history and the errors of the model as it is. In time windows: the windows
                so far, the one cut short at its last completed step (later times take its network); ``save`` refuses
                it as it does every windowed solution.
            ValueError: a bad ``grid_schedule``, ``steps`` or ``start`` (or a problem ``start="euler"`` does not
                apply to),
                or a stage that would not fit in memory (estimated before any work, :mod:`kanpde.pde.memory`).
        """
        default_schedule = grid_schedule is None
        if grid_schedule is None:
            grid_schedule = DEFAULT_SCHEDULE
        windows, windows_note = self._time_windows(time_windows, grid_schedule, start)
        if windows > 1:
            from .time_windows import solve_in_windows

            if isinstance(grid_schedule, (str, AutoSchedule)):
                raise ValueError("time_windows needs a list of grid sizes as grid_schedule, not 'auto'")
            try:
                windowed = solve_in_windows(self, windows, grid_schedule=grid_schedule, steps=steps,
                                            progress=progress, rtol=rtol, callback=callback,
                                            budget_seconds=budget_seconds, stage_seconds=stage_seconds)  # fmt: skip
            except KeyboardInterrupt:  # the result so far (solver.result) says why it has windows too
                if windows_note and self.result is not None:
                    self.result.notes.insert(0, windows_note)
                raise
            if windows_note:
                windowed.notes.insert(0, windows_note)
                logger.info("solve: %s", windows_note)
            return windowed
        self._view()._one_network("solve() again")  # a windowed solve is continued window by window, not here
        policy: AutoSchedule | None = None
        if isinstance(grid_schedule, AutoSchedule):
            policy = grid_schedule
        elif isinstance(grid_schedule, str) and grid_schedule == "auto":
            policy = AutoSchedule()
        schedule = policy.grids() if policy is not None else validate_grid_schedule(grid_schedule)
        steps = _positive_int("steps", steps)
        starting_fit = check_start(start, self)
        notes: list[str] = []
        if default_schedule and self._steps_done == 0:  # a grid that holds the initial value (data_resolution)
            schedule, note = resolved_schedule(self.problem, schedule, self.k, seed=self.seed)
            if note:
                notes.append(note)
                logger.info("solve: %s", note)
        budget = _seconds("budget_seconds", budget_seconds)
        if budget is None and policy is not None:
            budget = policy.budget_seconds
        stage_limit = _seconds("stage_seconds", stage_seconds)
        for size in schedule:  # before any work: a stage that cannot fit is refused with the estimate
            try:
                self._check_memory(size)
            except ValueError as err:
                raise ValueError(f"grid_schedule: {err}") from None
        result = Result(None, None, notes=notes)
        began = time.perf_counter()
        self._callback, self._paused = callback, 0.0
        self._limits = TimeLimits(began, budget, stage_limit)
        first_record = len(self.history)
        show = progress and self.comm.is_root
        total = steps * len(schedule) * len(self.optimizers)
        bar = progress_bar(total=total, disable=not show, desc="solve", leave=False)
        stage = 0
        fresh_start = fresh_network = self._steps_done == 0  # a fresh network's first stage is checked for overfitting
        grid: int | None = schedule[0]  # None once the schedule is done
        stage_start, running = began, False
        interrupt: KeyboardInterrupt | None = None
        self.result = result
        try:
            while grid is not None:
                stage_start, running = time.perf_counter(), True
                self._limits = dataclasses.replace(self._limits, stage_start=stage_start, paused_at_stage=self._paused)
                self.state.stage, self.state.grid = stage, grid
                batch = self.state.batch = self._sample_batch(grid, keep=True)
                overfit = self._first_stage_overfit(batch) if stage == 1 and fresh_start else None
                if overfit is not None:  # too few points: the first stage again, afresh, on more of them
                    self.state.points_factor = OVERFIT_FACTOR
                    self.approximation.model = KAN(
                        self.width, grid=schedule[0], k=self.k, seed=self.seed, dtype=self.dtype, device=self.device
                    )
                    self.state.optimizer = None
                    result.stages.pop()  # its steps stay in the history; the stage records start afresh
                    first_record, fresh_network = len(self.history), True
                    stage, grid = 0, schedule[0]
                    note = (f"the first stage overfit its points (loss {overfit[0]:.3g} on fresh points, "
                            f"{overfit[1]:.3g} on its own): repeated from a fresh network on {OVERFIT_FACTOR} times "
                            "the points, kept for the later stages; n_interior= sets the points yourself")  # fmt: skip
                    if default_schedule and (finer := self._finer_schedule(schedule)) is not None:
                        schedule = finer
                        bar.total = steps * len(schedule) * len(self.optimizers)
                        note += (f"; the default schedule gets a last stage on grid {schedule[-1]} "
                                 "(grid_schedule= sets the grids yourself)")  # fmt: skip
                    notes.append(note)
                    logger.info("solve: %s", note)
                    continue
                switch_ratio = self._set_grid(grid, batch)
                if self.update_grid:
                    self.model.update_grid(self.approximation.normalized(batch.interior))
                if starting_fit == "euler" and fresh_network:  # a fresh network: fit the starting guess
                    fit = euler_start(self, batch)
                    logger.info("solve: start=%r, %d steps, fit loss %.3g -> %.3g", starting_fit, fit["steps"],
                                fit["loss_start"], fit["loss"])  # fmt: skip
                if starting_fit == "auto" and fresh_network:  # fit it if the first steps stay at u = g
                    self._probe = self._auto_start(batch, notes)
                try:
                    stopped = self._run_stage(stage, grid, batch, steps, began, bar, rtol)
                finally:
                    self._probe = None
                fresh_network = False
                cut, self._limits = self._limits.cut, dataclasses.replace(self._limits, cut=None)
                self._record_ranges(batch)
                record = self._stage_record(stage, grid, first_record, stage_start, stopped or cut)
                result.stages.append(dataclasses.replace(record, switch_ratio=switch_ratio))
                running = False
                if not stopped and cut and cut.startswith("time budget"):
                    stopped = cut
                    if policy is not None:
                        result.refinement = cut
                if stopped:
                    result.stopped = stopped
                    break
                stage += 1
                if policy is None:
                    grid = schedule[stage] if stage < len(schedule) else None
                else:
                    elapsed = time.perf_counter() - began - self._paused
                    grid, reason = policy.next_grid(result.stages, elapsed)
                    if grid is None:
                        result.refinement = reason
        except KeyboardInterrupt as err:
            interrupt = err
            result.stopped = "interrupted (KeyboardInterrupt); the model keeps its last completed step"
            logger.warning("solve: %s", result.stopped)
            if running and grid is not None:  # the stage cut short is recorded too, marked as such
                result.stages.append(self._stage_record(stage, grid, first_record, stage_start, result.stopped))
        finally:
            bar.close()
        result.rel_l2, result.max_abs = self.errors()
        if self.problem.unknowns and self.state.terms is not None and interrupt is None:
            from .identification import identify

            result.unknowns, result.uncertainty = identify(self, *self.state.terms)
        result.history = list(self.history)
        result.seconds = time.perf_counter() - began - self._paused
        if interrupt is None and self._steps_done > 0:
            result.hints = self.hints(batch)
        result.solution = self.solution
        result._member_errors = result.solution.errors_at if self.problem.parameters else None
        if interrupt is not None:  # the program stops; the result so far stays in solver.result
            raise interrupt
        return result

    def _finer_schedule(self, schedule: Sequence[int]) -> list[int] | None:
        """The default ``schedule`` with one more stage on ``OVERFIT_GRID_FACTOR`` times its last grid, for a
        solve whose first stage overfit its points (a solution sharper than the default grids resolve); None when
        that stage would not fit in memory (the schedule then stays as it is).

        burgers_raissi, seed 0: grids 5, 10, 30 end at 6.0e-3 (135 CPU s), a grid-60 stage after them at 1.1e-3
        (342 s, 8000 points), 1.0e-3 on 16000 points (469 s); see docs/benchmarks.md, "Burgers".
        """
        finer = OVERFIT_GRID_FACTOR * schedule[-1]
        try:
            self._check_memory(finer)
        except ValueError as err:
            logger.info("solve: no stage on grid %d after the overfit first stage: %s", finer, err)
            return None
        return [*schedule, finer]

    def _auto_start(self, batch: CollocationBatch, notes: list[str]) -> Callable[[], bool]:
        """The probe of ``solve(start="auto")``: after :data:`~kanpde.pde.euler_start.PROBE_STEPS` steps, make the
        Euler starting fit when the PDE residual is still above ``STUCK`` times that of the imposed data alone.

        The fit starts from the network as it was before the probe's steps, so that the stage then runs as under
        ``start="euler"`` (the same points, the same fit)."""
        initial = {name: p.detach().clone() for name, p in self.model.named_parameters()}

        def probe() -> bool:
            # On the whole batch (not this rank's shard): every rank decides the same.
            ratio = data_ratio(self, collocation_terms(self.problem, batch, self.request))
            if ratio is None or ratio <= STUCK:
                return False
            try:
                target = euler_target(self, batch)  # raises before anything changes when the residual has no u_t
            except ValueError:
                return False
            with torch.no_grad():
                for name, p in self.model.named_parameters():
                    p.copy_(initial[name])
            fit = euler_start(self, batch, target=target)
            note = (
                f"start: after {PROBE_STEPS} steps the PDE residual was {100 * ratio:.0f}% of that of the imposed "
                "initial and boundary values alone (u stays at u0): made the Euler starting fit from the network's "
                f"initial parameters (start='euler', {fit['steps']:.0f} steps, fit loss {fit['loss_start']:.2g} -> "
                f"{fit['loss']:.2g}) and started the stage over"
            )
            notes.append(note)
            logger.info("solve: %s", note)
            return True

        return probe

    # -- results out: the solution's (kanpde.pde.solution), and checkpoints (kanpde.io.checkpoint) ----------------
    def export_hdf5(self, path: Any, **options: Any) -> tuple[Any, Any]:
        """Write the solution field to ``path`` (HDF5) and an XDMF companion; see :func:`kanpde.io.export_hdf5`."""
        return self._view().export_hdf5(path, **options)

    def export_mesh(self, path: Any, **options: Any) -> Any:
        """Write the solution with meshio, format by suffix (.vtu, .vtk, ...); see :func:`kanpde.io.export_mesh`."""
        return self._view().export_mesh(path, **options)

    def save(self, path: Any) -> Any:
        """Checkpoint the problem's recipe, model, sampler state and history as data (atomically); see :meth:`load`.

        A problem with Python callables (a ``kp.PDE`` residual, callable values) is not stored: pass it again to
        :meth:`load`.
        """
        from ..io.checkpoint import save_checkpoint

        self._view()._one_network("save()")
        return save_checkpoint(self, path)

    @classmethod
    def load(cls, path: Any, *, problem: Problem | None = None, device: Any = None) -> Solver:
        """A solver from a checkpoint written by :meth:`save`; training continues as if it had not stopped.

        The file is read as data only (no code from it runs); ``problem=`` is needed when the saved problem holds
        Python callables (see :func:`kanpde.io.checkpoint.load_checkpoint`).
        """
        from ..io.checkpoint import load_checkpoint

        return load_checkpoint(path, problem=problem, device=device)

    def symbolic(self, field: str | None = None, **options: Any) -> Any:
        """The trained solution as one sympy expression in the coordinates (x, y, z, t).

        Every edge is replaced by its best library function; check the fit with
        :func:`kanpde.symbolic.solution.solution_formula`, which also returns the errors of the formula.
        ``field="a"``: the formula of the identified :class:`~kanpde.pde.unknowns.UnknownField` ``a`` instead
        (see :func:`kanpde.symbolic.solution.field_formula`).
        """
        return self._view().symbolic(field, **options)

    def plot(self, path: Any = None, **options: Any) -> Any:
        """The solution (and its error or residual) as a matplotlib Figure, saved as PNG when ``path`` is given."""
        return self._view().plot(path, **options)
