"""Time marching: a time-dependent problem solved window by window (``solve(time_windows=n)``).

The interval ``[t0, t1]`` is cut into ``n`` equal windows. Window ``j`` is the same problem on
``[t_j, t_{j+1}]`` whose initial value is the solution trained on window ``j - 1`` at ``t_j`` (and, for a problem
second order in time, whose initial velocity is that solution's ``u_t`` at ``t_j``). Its network starts as a copy of
window ``j - 1``'s (on the last grid of the schedule), so the first window runs the whole grid schedule and each
later one the stage of its last grid. The trained windows form one piecewise solution over the whole interval
(:class:`PiecewiseInTime`), which the solver then predicts, exports and plots with.

With a hard constraint, the first window imposes the problem's initial data exactly. A later window of a problem
first order in time does so too with the end value it is handed; one second order in time (a wave) imposes only
its Dirichlet data exactly and fits its initial value and velocity by the loss (:func:`boundary_only`: imposed
exactly, the second derivatives of the previous window's error entered the PDE residual and the error grew about
10x per window). The end state is handed on with its exact space derivatives at a cost linear in the number of
windows (:class:`_EndState`). A solver built without ``weights`` balances those initial-data terms as a solver of
that window would (NTK traces, :func:`~kanpde.pde.balancing.default_scheme`): the first window imposes all its data,
so the whole problem's solver has nothing to balance, and weight 1 left them unmet against a PDE term whose
Jacobian rows are over 1e4x larger (the NTK weights reach their cap, 1e4; PINNacle's Wave1d-C in 4 windows: 3.8e-1
with weight 1, 3.0e-4 balanced).

Why: a space-time network trained on a long interval tends to fit a wrong, slowly varying solution that meets the
PDE almost everywhere but has lost the initial value (the PDE residual alone does not propagate information from
``t0`` forward). A short window is a short-horizon problem, which the solver does solve; its end value is the next
window's initial value. Errors accumulate from window to window, so each window should be solved well (see
docs/guide/solver.md, "Long time horizons", for measurements).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import numbers
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn

from .approximation import HardConstraint
from .balancing import default_scheme
from .conditions import Dirichlet, Initial, InitialVelocity
from .expressions import as_expression
from .fields import FieldJet, JetRequest
from .result import Result, StepRecord
from .spacetime import SpaceTime, TimeInterval

if TYPE_CHECKING:
    from ..kan import KAN
    from .approximation import Approximation
    from .problem import Problem
    from .solver import Solver

__all__ = [
    "PiecewiseInTime",
    "BoundaryOnly",
    "boundary_only",
    "check_time_windows",
    "MAX_TIME_WINDOWS",
    "window_problem",
    "solve_in_windows",
]


MAX_TIME_WINDOWS = 1000
"""The most windows a solve accepts (each is a whole solve of its own)."""


def check_time_windows(problem: Problem, time_windows: object) -> int:
    """``time_windows`` as a positive integer for a problem it applies to.

    Raises:
        TypeError: ``time_windows`` is not an integer.
        ValueError: it is below 1 or above :data:`MAX_TIME_WINDOWS`, or the problem has no time interval, has
            parameters, unknowns or observations (their data span the whole interval).
    """
    if isinstance(time_windows, bool) or not isinstance(time_windows, numbers.Integral):
        raise TypeError(f"time_windows must be a positive integer (the number of time windows), got {time_windows!r}")
    if time_windows < 1:
        raise ValueError(f"time_windows must be a positive integer (the number of time windows), got {time_windows}")
    if int(time_windows) > MAX_TIME_WINDOWS:
        raise ValueError(
            f"time_windows={time_windows} is more than {MAX_TIME_WINDOWS} windows, each a whole solve (the solver "
            "chooses its own number when time_windows is not given)"
        )
    if problem.time is None:
        raise ValueError("time_windows needs a time-dependent problem (time=(t0, t1)); this problem has no time")
    if problem.parameters or problem.unknowns or problem.data:
        raise ValueError(
            "time_windows does not apply to problems with parameters, unknowns or observations (data=...): solve "
            "them on the whole interval"
        )
    return int(time_windows)


def _at_time(points: Tensor, t: Tensor | float, column: int) -> Tensor:
    """``points`` with column ``column`` (time) replaced by ``t`` (a number or a ``(n, 1)`` tensor)."""
    if not isinstance(t, Tensor):
        t = torch.full_like(points[:, column : column + 1], t)
    return torch.cat([points[:, :column], t, points[:, column + 1 :]], dim=1)


class _Held(torch.autograd.Function):
    """``value`` (computed elsewhere) as a function of ``points`` whose first derivatives are ``grad``."""

    @staticmethod
    def forward(ctx: Any, points: Tensor, value: Tensor, grad: Tensor, hess: Tensor) -> Tensor:  # noqa: ARG004
        ctx.save_for_backward(points, grad, hess)
        return value.clone()

    @staticmethod
    def backward(ctx: Any, out: Tensor) -> tuple[Tensor, None, None, None]:
        points, grad, hess = ctx.saved_tensors
        return out.unsqueeze(1) * _HeldGrad.apply(points, grad, hess), None, None, None


class _HeldGrad(torch.autograd.Function):
    """``grad`` as a function of ``points`` whose derivatives are ``hess`` (its own derivatives are taken as 0)."""

    @staticmethod
    def forward(ctx: Any, points: Tensor, grad: Tensor, hess: Tensor) -> Tensor:  # noqa: ARG004
        ctx.save_for_backward(hess)
        return grad.clone()

    @staticmethod
    def backward(ctx: Any, out: Tensor) -> tuple[Tensor, None, None]:
        (hess,) = ctx.saved_tensors
        return torch.einsum("nc,ncd->nd", out, hess), None, None


_VALUES_ONLY = [False]  # set while an end state is evaluated for its values only (no derivatives in x asked)


class _EndState:
    """``u(x, t_start)`` and, when ``with_rate``, ``du/dt (x, t_start)`` of the trained ``previous`` window.

    Each evaluation runs the previous window once, on its own copy of the points, and takes the derivatives in
    space that the next window's hard constraint asks for (up to the second: value, gradient and Hessian of ``u``
    and of ``du/dt``) there; the results are handed on as functions of the caller's points with exactly those
    derivatives (:class:`_Held`). A chain of ``n`` windows therefore costs ``n`` evaluations of one window each,
    and its autograd graph does not grow with ``n`` (differentiating through the chain directly made each window
    about 3x costlier in time and memory than the one before: 16 s and 3.4 GB for the 7th window's constraint).
    The lift evaluates the initial value and the initial velocity at the same points one after the other: the
    last points' results are kept (one entry).
    """

    def __init__(self, previous: nn.Module, t_start: float, column: int, with_rate: bool) -> None:
        self.previous, self.t_start, self.column, self.with_rate = previous, t_start, column, with_rate
        self._last: tuple[Tensor, bool, Tensor, Tensor | None] | None = None

    def _evaluate(self, points: Tensor, derivatives: bool) -> tuple[list[Tensor], list[Tensor]]:
        """Values (and rates) per field at ``points``; with ``derivatives`` as :class:`_Held` functions of them."""
        space = self.column  # the space columns come first
        x = points.detach().requires_grad_(derivatives)
        with torch.enable_grad():
            t = torch.full_like(x[:, space : space + 1], self.t_start).requires_grad_(self.with_rate)
            value = self.previous(_at_time(x, t, space))
            fields = [value[:, f] for f in range(value.shape[1])]
            rates = [
                torch.autograd.grad(v.sum(), t, create_graph=derivatives, retain_graph=True, allow_unused=True,
                                    materialize_grads=True)[0][:, 0]
                for v in fields
            ] if self.with_rate else []  # fmt: skip
            if not derivatives:
                return [v.detach() for v in fields], [r.detach() for r in rates]
            held = []
            for v in fields + rates:
                (grad,) = torch.autograd.grad(v.sum(), x, create_graph=True, retain_graph=True, allow_unused=True,
                                              materialize_grads=True)  # fmt: skip
                rows = [
                    torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True, allow_unused=True,
                                        materialize_grads=True)[0] if i < space and grad.requires_grad
                    else torch.zeros_like(grad)
                    for i in range(x.shape[1])
                ]  # fmt: skip
                grad = torch.cat([grad[:, :space], torch.zeros_like(grad[:, space:])], dim=1).detach()
                held.append(_Held.apply(points, v.detach(), grad, torch.stack(rows, dim=1).detach()))
        n = len(fields)
        return held[:n], held[n:]

    def _state(self, points: Tensor) -> tuple[Tensor, Tensor | None]:
        graph = torch.is_grad_enabled() and points.requires_grad and not _VALUES_ONLY[0]
        if self._last is not None and self._last[0] is points and self._last[1] == graph:
            return self._last[2], self._last[3]
        if graph:
            values, rates = self._evaluate(points, True)
        else:
            before, _VALUES_ONLY[0] = _VALUES_ONLY[0], True
            try:
                values, rates = self._evaluate(points, False)
            finally:
                _VALUES_ONLY[0] = before
        value = torch.stack(values, dim=1)
        rate = torch.stack(rates, dim=1) if rates else None
        self._last = (points, graph, value, rate)
        return value, rate

    def value(self, field: int) -> Callable[[Tensor], Tensor]:
        """``u_field(x, t_start)`` as a callable on points."""
        return lambda points: self._state(points)[0][:, field]

    def rate(self, field: int) -> Callable[[Tensor], Tensor]:
        """``d u_field / dt (x, t_start)`` as a callable on points."""

        def rate(points: Tensor) -> Tensor:
            found = self._state(points)[1]
            assert found is not None
            return found[:, field]

        return rate


def window_problem(problem: Problem, window: tuple[float, float], previous: nn.Module | None) -> Problem:
    """``problem`` on the time window ``(t_start, t_end)``.

    With ``previous`` (the trained approximation of the window before), every initial value is
    ``previous(x, t_start)`` and every initial velocity ``d previous / dt (x, t_start)``; without it the problem's
    own initial data are kept (the first window). The PDE, boundary conditions and exact solution are the problem's.
    """
    start, end = float(window[0]), float(window[1])
    out = copy.copy(problem)
    out.time = TimeInterval(start, end)
    out.domain = SpaceTime(problem.space, out.time)
    if previous is not None:
        with_rate = second_order(problem)
        state = _EndState(previous, start, problem.space_dim, with_rate)
        conditions = []
        for condition in problem.conditions:
            if isinstance(condition, Initial):
                name = "initial value (previous window)"
                value = as_expression(state.value(condition.field), coords=problem.coords, name=name)
                condition = dataclasses.replace(condition, value=value)
            elif isinstance(condition, InitialVelocity):
                name = "initial velocity (previous window)"
                value = as_expression(state.rate(condition.field), coords=problem.coords, name=name)
                condition = dataclasses.replace(condition, value=value)
            conditions.append(condition)
        out.conditions = tuple(conditions)
    out.description = f"{problem.description} (time window [{start:g}, {end:g}])"
    return out


class BoundaryOnly(HardConstraint):
    """``u = d(x) N + g_D(x, t)``: the Dirichlet data imposed exactly, the initial value and velocity left to the
    loss (``imposes`` names the conditions the solver then does not sample)."""

    imposes = (Dirichlet,)


def second_order(problem: Problem) -> bool:
    """Whether the problem is second order in time (it has an initial velocity)."""
    return any(isinstance(c, InitialVelocity) for c in problem.conditions)


def boundary_only(problem: Problem) -> BoundaryOnly:
    """The hard constraint of a later time window: its whole-boundary Dirichlet data only.

    Window ``j``'s initial data are window ``j - 1``'s end state, whose second derivatives in space carry that
    window's error at about 40x its relative error in ``u`` (measured on ``wave_1d``, one window of length 1:
    ``u`` 3.0e-4, ``u_xx`` 1.3e-2 at its end). Imposed exactly, they enter the PDE residual of window ``j``, which
    then cannot be solved as well: on a 10-window wave the loss grew about 10x per window (0.002, 0.037, 0.31, 4.2,
    2.5e3, ...) and the error with it. Fitted by the loss, the initial data are met to about their own error and
    the PDE residual stays that of a smooth solution.
    """
    value = next(c for c in problem.conditions if isinstance(c, Dirichlet)).value
    space, d = problem.space, problem.space_dim
    return BoundaryOnly(lambda points: space.distance(points[:, :d]), value)  # type: ignore[arg-type]


class PiecewiseInTime(nn.Module):
    """The solutions of consecutive time windows as one function of space and time.

    Window ``j`` covers ``[edges[j], edges[j + 1]]``; a point at an inner edge belongs to the later window (whose
    initial value there is the earlier one's end value); points outside ``[edges[0], edges[-1]]`` go to the first
    or last window.

    Args:
        windows: the trained approximations, in time order.
        edges: ``len(windows) + 1`` increasing times.
        column: the time column of the points.

    Shapes:
        forward: ``(n_points, n_coords) -> (n_points, n_fields)``.
    """

    def __init__(self, windows: Sequence[nn.Module], edges: Sequence[float], column: int) -> None:
        super().__init__()
        if len(edges) != len(windows) + 1:
            raise ValueError(f"edges must hold one more time than windows, got {len(edges)} and {len(windows)}")
        self.windows = nn.ModuleList(windows)
        self.edges = [float(e) for e in edges]
        self.column = column

    @property
    def model(self) -> Any:
        """The last window's KAN (the network that training ended with)."""
        return self.windows[-1].model

    @property
    def constraint(self) -> Any:
        """The last window's hard constraint, or None."""
        return self.windows[-1].constraint

    def window_index(self, points: Tensor) -> Tensor:
        """The window of each point, ``(n_points,)`` integers in ``0 ... n_windows - 1``."""
        inner = torch.as_tensor(self.edges[1:-1], dtype=points.dtype, device=points.device)
        return torch.bucketize(points[:, self.column].contiguous(), inner, right=True)

    def _pieces(self, points: Tensor, evaluate: Callable[[nn.Module, Tensor], Tensor]) -> Tensor:
        index = self.window_index(points)
        out: Tensor | None = None
        for j, window in enumerate(self.windows):
            mask = index == j
            if not bool(mask.any()):
                continue
            part = evaluate(window, points[mask])
            if out is None:
                out = part.new_zeros((len(points), *part.shape[1:]))
            out = out.index_put((mask.nonzero()[:, 0],), part)
        assert out is not None or len(points) == 0
        return out if out is not None else evaluate(self.windows[0], points)

    def forward(self, points: Tensor) -> Tensor:
        return self._pieces(points, lambda window, p: window(p))

    def _window(self, j: int) -> Approximation:
        """Window ``j``'s approximation (typed: ``nn.ModuleList`` holds plain modules)."""
        return cast("Approximation", self.windows[j])

    def normalized(self, points: Tensor) -> Tensor:
        """The points in the last window's network coordinates (as :meth:`Approximation.normalized`)."""
        return self._window(-1).normalized(points)

    def field_jet(
        self, points: Tensor, request: JetRequest, constraint_jets: Any = None, *, composable: bool = False
    ) -> FieldJet:
        """Values and derivatives of the window each point lies in (``constraint_jets`` is not used: every window
        computes its own)."""
        parts = ("value", "grad", "lap", "hess")
        index = self.window_index(points)
        jets = []
        for j in range(len(self.windows)):
            mask = index == j
            if bool(mask.any()):
                jet = self._window(j).field_jet(points[mask], request, composable=composable)
                jets.append((mask.nonzero()[:, 0], jet))
        first = jets[0][1]
        merged: dict[str, Tensor | None] = {}
        for name in parts:
            if getattr(first, name) is None:
                merged[name] = None
                continue
            out = getattr(first, name).new_zeros((len(points), *getattr(first, name).shape[1:]))
            for rows, jet in jets:
                out = out.index_put((rows,), getattr(jet, name))
            merged[name] = out
        assert merged["value"] is not None
        return FieldJet(merged["value"], merged["grad"], merged["lap"], merged["hess"], first.laplacian_dims)


def _frozen(approximation: nn.Module) -> nn.Module:
    """A copy of a trained window's approximation that training later windows cannot change."""
    out = copy.deepcopy(approximation)
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def _renumbered(record: StepRecord, offsets: tuple[int, int, float]) -> StepRecord:
    """A window's record numbered from the start of the whole solve (steps, stages, seconds)."""
    steps, stages, seconds = offsets
    return dataclasses.replace(record, step=record.step + steps, stage=record.stage + stages,
                               seconds=record.seconds + seconds)  # fmt: skip


def _window_callback(window_solver: Any, record: StepRecord, *, callback: Callable[..., None],
                     offsets: tuple[int, int, float]) -> None:  # fmt: skip
    callback(window_solver, _renumbered(record, offsets))


def _first(count: int) -> str:
    return "window 1" if count == 1 else f"windows 1 to {count}"


def solve_in_windows(
    solver: Solver,
    time_windows: int,
    *,
    grid_schedule: Sequence[int],
    steps: int,
    budget_seconds: float | None,
    warm_start: bool = True,
    exact_handover: bool | None = None,
    **options: Any,
) -> Result:
    """Solve ``solver.problem`` window by window (see the module docstring); the solver ends up holding the
    piecewise solution (``solver.approximation`` is a :class:`PiecewiseInTime`).

    Args:
        solver: a solver of a time-dependent problem that has not been trained yet.
        time_windows: the number of windows.
        grid_schedule: the grid sizes of the first window (later windows continue on its last grid).
        steps: optimiser steps per stage.
        budget_seconds: the whole solve's budget, shared out as it goes: each window gets the time left divided
            by the windows left (a window cut short by its share is marked in its stage, and the next one starts;
            ``result.stopped`` says so when the whole budget is spent).
        warm_start: later windows start from the last window's network on its last grid (the default), else
            from a fresh network through the whole grid schedule.
        exact_handover: with a hard constraint, impose each later window's initial data (the previous window's
            end state) exactly (True), or impose its Dirichlet data only and fit the initial data by the loss
            (False, :func:`boundary_only`). Default (None): fitted for problems second order in time (waves), exact
            otherwise. Measured on ``wave_1d`` over ``t1 = 10`` in 10 windows: exact 1.0e3 (the loss grew about
            10x per window), fitted 1.1e-3.
        options: the other arguments of :meth:`Solver.solve` (``progress``, ``rtol``, ``callback``,
            ``stage_seconds``), passed to every window; ``callback(window_solver, record)`` gets the window's
            solver (its problem on the window) and the record numbered as in ``result.history``.

    Returns:
        The result over the whole interval: errors of the piecewise solution, every window's stages and history
        one after the other (steps and seconds counted from the start), the first stop reason.
    """
    from .solver import Solver, _seconds, validate_grid_schedule

    callback = options.pop("callback", None)

    problem = solver.problem
    n = check_time_windows(problem, time_windows)
    budget_seconds = _seconds("budget_seconds", budget_seconds)
    if solver._steps_done > 0 or isinstance(solver.approximation, PiecewiseInTime):
        raise ValueError("time_windows needs an untrained solver: build a new kp.Solver for a windowed solve")
    schedule = validate_grid_schedule(grid_schedule)
    exact = not second_order(problem) if exact_handover is None else bool(exact_handover)
    assert problem.time is not None
    t0, t1 = problem.time.t0, problem.time.t1
    edges = [t0 + (t1 - t0) * j / n for j in range(n)] + [t1]
    settings = solver.settings()
    start = time.perf_counter()
    trained: list[nn.Module] = []
    last_model: KAN | None = None
    result = Result(None, None)
    interrupt: KeyboardInterrupt | None = None
    for j in range(n):
        previous = trained[-1] if trained else None
        piece = Solver(window_problem(problem, (edges[j], edges[j + 1]), previous), **settings)
        piece.state.generator = solver.state.generator  # one stream of points over the windows
        if previous is not None and piece.approximation.constraint is not None and not exact:
            piece.approximation.constraint = boundary_only(piece.problem)  # the initial data go to the loss
            if solver._default_weights:  # built without weights: balance these loss terms as such a solver would
                piece.balancing = default_scheme(piece.problem, piece.request, imposed=False)
                piece.adaptive_weights = piece.balancing is not None
        grids = schedule
        if last_model is not None and warm_start:  # start from the last window's network, on its grid
            piece.approximation.model = copy.deepcopy(last_model)
            grids = [schedule[-1]]
        budget = None
        if budget_seconds is not None:
            left = budget_seconds - (time.perf_counter() - start)
            budget = max(left, 1e-3) / (n - j)
        offsets = (result.history[-1].step + 1 if result.history else 0, len(result.stages),
                   time.perf_counter() - start)  # fmt: skip
        window_options = dict(options)
        if callback is not None:
            window_options["callback"] = functools.partial(_window_callback, callback=callback, offsets=offsets)
        try:
            part = piece.solve(
                grid_schedule=grids, steps=steps, budget_seconds=budget, start=None, time_windows=1, **window_options
            )
        except KeyboardInterrupt as err:  # Ctrl-C: keep the windows so far, this one at its last completed step
            interrupt = err
            if piece.result is None or piece._steps_done == 0:
                break
            part = piece.result
        last_model = piece.model
        trained.append(_frozen(piece.approximation))
        result.history += [_renumbered(h, offsets) for h in part.history]
        result.stages += part.stages
        result.hints += [f"time window {j + 1} of {n} [{edges[j]:g}, {edges[j + 1]:g}]: {h}" for h in part.hints]
        result.notes += [f"time window {j + 1} of {n} [{edges[j]:g}, {edges[j + 1]:g}]: {h}" for h in part.notes]
        own_budget = part.stopped is not None and part.stopped.startswith("time budget")  # its share: go on
        if part.stopped and not own_budget and result.stopped is None:
            result.stopped = f"time window {j + 1} of {n}: {part.stopped}"
        solver._steps_done += piece._steps_done
        if interrupt is not None:
            edges = edges[: j + 2]  # the solution ends with the window cut short: later times take its network
            result.stopped = (f"interrupted (KeyboardInterrupt) in time window {j + 1} of {n}: the solution holds "
                              f"{_first(j + 1)} (up to t = {edges[-1]:g}), the last at its last completed step; later "
                              "times take its network")  # fmt: skip
            break
    if interrupt is not None and not trained:  # nothing trained: the solver stays as it was
        solver.result = result
        result.stopped = "interrupted (KeyboardInterrupt) before the first step"
        raise interrupt
    if interrupt is not None and len(edges) - 1 > len(trained):  # cut before its first step: not part of it
        edges = edges[: len(trained) + 1]
        result.stopped = (f"interrupted (KeyboardInterrupt) in time window {len(trained) + 1} of {n}, before its first "
                          f"step: the solution holds {_first(len(trained))} (up to t = {edges[-1]:g}); later times "
                          "take the last one's network")  # fmt: skip
    elapsed = time.perf_counter() - start
    if budget_seconds is not None and elapsed >= budget_seconds and result.stopped is None:
        result.stopped = f"time budget spent: {elapsed:.1f} s >= budget_seconds={budget_seconds:g}"
    solver.state.approximation = PiecewiseInTime(trained, edges, problem.space_dim)  # type: ignore[assignment]
    solver.history = list(result.history)
    result.rel_l2, result.max_abs = solver.errors()
    result.seconds = time.perf_counter() - start
    solver.result = result
    result.solution = solver.solution
    if interrupt is not None:  # the program stops; the result so far stays in solver.result
        raise interrupt
    return result
