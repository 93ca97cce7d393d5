"""What a solve returns: errors against the exact solution, the training history, timings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .solution import Solution

__all__ = ["StepRecord", "StageRecord", "Result"]


@dataclass(frozen=True)
class StepRecord:
    """The state after ``step`` optimiser updates of a stage.

    Attributes:
        step: global step counter (updates since the start of the solve).
        stage: index of the grid stage.
        grid: grid size of the stage.
        loss: weighted total loss.
        terms: unweighted mean squared residual of each term (``"pde"``, ``"dirichlet"``, ...).
        seconds: wall time since the start of the solve.
    """

    step: int
    stage: int
    grid: int
    loss: float
    terms: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class StageRecord:
    """Summary of one grid stage: its grid, steps taken, final loss, errors (when ``exact`` is known), time.

    ``switch_ratio`` is the loss on the stage's points right after its grid extension divided by the loss right
    before it (1 up to rounding: the refined network computes the same function), None for a first stage.
    ``stopped`` says why the stage ended before its steps were done (divergence, Ctrl-C, a time limit), else None.
    With balanced weights (``"ntk"``, the default where conditions are loss terms, ``"adaptive"``, ``"residual"``)
    the weights change from stage to stage, so ``loss`` is the unweighted sum of the
    terms' mean squares (comparable between stages) and ``weighted_loss`` the loss the optimiser lowered; otherwise
    ``loss`` is the (weighted) loss and ``weighted_loss`` None.
    """

    grid: int
    steps: int
    loss: float
    rel_l2: float | None
    max_abs: float | None
    seconds: float
    n_parameters: int
    switch_ratio: float | None = None
    stopped: str | None = None
    weighted_loss: float | None = None


@dataclass
class Result:
    """The outcome of :meth:`kanpde.Solver.solve`.

    Attributes:
        rel_l2: ``||u - u_exact|| / ||u_exact||`` on the test points (None without an exact solution).
        max_abs: ``max |u - u_exact|`` on the test points (None without an exact solution).
        history: one :class:`StepRecord` per step (and one for the start of each stage).
        stages: one :class:`StageRecord` per grid stage.
        seconds: wall time of the solve.
        stopped: why the solve ended early (divergence, interruption), or None.
        refinement: why an automatic grid schedule (``grid_schedule="auto"``) stopped extending, or None.
        hints: what the checks after training found (:mod:`kanpde.pde.diagnostics`): a condition left unmet, a
            solution collapsed toward a constant, a PDE residual not resolved; each with what to try.
        unknowns: identified values of the problem's unknown constants, by name (empty for a forward problem).
        uncertainty: their standard deviations (Gauss-Newton / Laplace approximation at the solution, see
            :func:`kanpde.pde.identification.laplace_uncertainty`), by name.
        notes: what the solve decided by itself: a default grid schedule raised to hold the initial value
            (:mod:`kanpde.pde.data_resolution`), the starting fit made by ``start="auto"``
            (:mod:`kanpde.pde.euler_start`), a first stage repeated on more points because it overfit its own,
            time windows chosen from the initial state's rates (:mod:`kanpde.pde.time_scales`).
        solution: the trained :class:`~kanpde.pde.solution.Solution` at the end of the solve (a value: further
            training leaves it unchanged).

    For a parametric problem ``rel_l2`` and ``max_abs`` cover the whole parameter box; :meth:`errors_at` gives them
    per parameter value.
    """

    rel_l2: float | None
    max_abs: float | None
    history: list[StepRecord] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None
    refinement: str | None = None
    hints: list[str] = field(default_factory=list)
    unknowns: dict[str, float] = field(default_factory=dict)
    uncertainty: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    solution: Solution | None = field(default=None, repr=False, compare=False)
    _member_errors: Callable[..., list[Any]] | None = field(default=None, repr=False, compare=False)

    def errors_at(self, **parameters: Any) -> list[Any]:
        """Errors at given parameter values of a parametric problem, e.g. ``errors_at(mu=[0.5, 1, 2])``: one
        :class:`~kanpde.pde.parameters.MemberErrors` per value (see :meth:`kanpde.Solver.errors_at`).

        Raises:
            ValueError: the problem has no parameters.
        """
        if self._member_errors is None:
            raise ValueError("errors_at: the problem has no parameters (kp.Parameter); use rel_l2 and max_abs")
        return self._member_errors(**parameters)

    def summary(self) -> str:
        """A few lines for people: per stage grid, steps, loss, errors and time."""
        lines = [f"{'grid':>6} {'steps':>6} {'loss':>10} {'rel L2':>10} {'max err':>10} {'seconds':>8}"]
        for s in self.stages:
            rel = "-" if s.rel_l2 is None else f"{s.rel_l2:.2e}"
            mx = "-" if s.max_abs is None else f"{s.max_abs:.2e}"
            cut = "  (cut short)" if s.stopped else ""
            lines.append(f"{s.grid:>6} {s.steps:>6} {s.loss:>10.2e} {rel:>10} {mx:>10} {s.seconds:>8.1f}{cut}")
        if any(s.weighted_loss is not None for s in self.stages):
            lines.append("loss: unweighted sum of the terms (the balanced weights change per stage: see weighted_loss)")
        lines.extend(f"note: {n}" for n in self.notes)
        if self.refinement:
            lines.append(f"grid schedule: {self.refinement}")
        for name, value in self.unknowns.items():
            sd = self.uncertainty.get(name, float("nan"))
            lines.append(f"unknown {name} = {value:.6g} +- {sd:.2g} (1 sd)")
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        lines.extend(f"hint: {h}" for h in self.hints)
        return "\n".join(lines)
