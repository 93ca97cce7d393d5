"""Solver: trains a KAN so that the PDE residual and the conditions vanish, grid stage by grid stage.

``solve(grid_schedule=[5, 10, 20], steps=200)`` runs, for each grid size: draw fresh collocation points
(optionally where the residual is large), extend the grid (refit every spline by least squares on every point
the network has seen, so the function is unchanged and the stage continues where the last one stopped),
restart the optimiser, take ``steps`` steps. L-BFGS with a strong-Wolfe line search in float64 by default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..kan import KAN
from ..kan.network import validate_seed, validate_width
from ..kan.training import OPTIMIZERS, loss_scale, make_optimizer, optimizer_step, progress_bar
from .approximation import Approximation, exact_dirichlet, exact_dirichlet_applies
from .budget import TimeLimits
from .conditions import Dirichlet, Initial, InitialVelocity
from .diagnostics import hints, term_balance
from .distributed import SINGLE, communicator
from .fields import probe
from .gauss_newton import LMState, ResidualSystem, levenberg_marquardt_step
from .inverse_parameters import InverseParameters
from .memory import check_memory, kan_parameters, stage_bytes
from .objective import LossObjective
from .problem import Problem
from .refinement import AutoSchedule
from .residuals import (
    DEFAULT_CHUNK_SIZE,
    CollocationBatch,
    ResidualTerms,
    approximation_source,
    collocation_terms,
    pde_residual,
)
from .result import Result, StageRecord, StepRecord
from .sampling import make_sampler, resample_by_residual
from .unknowns import bound, reads, warn_unused

__all__ = ["Solver", "validate_grid_schedule"]

logger = logging.getLogger(__name__)


def validate_grid_schedule(grid_schedule: object) -> list[int]:
    """A non-empty, strictly increasing list of positive integers."""
    if isinstance(grid_schedule, (str, bytes)) or not isinstance(grid_schedule, Sequence):
        raise TypeError(
            f"grid_schedule must be a list of grid sizes such as [5, 10, 20], 'auto' or a kp.AutoSchedule, "
            f"got {grid_schedule!r}"
        )
    values = list(grid_schedule)
    if not values:
        raise ValueError("grid_schedule must name at least one grid size, e.g. [5, 10, 20]; got []")
    if any(isinstance(g, bool) or not isinstance(g, numbers.Integral) or g < 1 for g in values):
        raise ValueError(f"grid_schedule must contain positive integers, got {values}")
    values = [int(g) for g in values]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"grid_schedule must be strictly increasing, got {values}")
    return values


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and float(value) > 0)
    ):
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return float(value)


def _device(device: object) -> torch.device:
    """A torch device that exists here (a clear error for unknown names and for CUDA without a CUDA device)."""
    try:
        parsed = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', ..., got {device!r} ({err})") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} asks for CUDA, but torch finds no CUDA device here; use 'cpu'")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(device)!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
    return parsed


def _check_weights(weights: Mapping[Any, Any], problem: Problem) -> None:
    """Weights by term name: known names only (the message lists them), finite numbers >= 0."""
    names = ["pde"]
    for condition in problem.conditions:
        label = condition.label
        while label in names:  # repeated labels get a prime, as the loss names them
            label += "'"
        names.append(label)
        kind = label.split("[")[0].rstrip("'")
        if kind not in names:
            names.append(kind)
    names += [n for obs in problem.data for n in (obs.label, "data") if n not in names]  # observations
    for key, value in weights.items():
        if key not in names:
            raise ValueError(f"weights: unknown term {key!r}; the loss terms of this problem are {names}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"weights[{key!r}] must be a number >= 0, got {value!r}")
        if not (math.isfinite(value) and float(value) >= 0):
            raise ValueError(f"weights[{key!r}] must be a finite number >= 0, got {value!r}")


class Solver:
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
            with the number of parameters of each stage).
        n_boundary: points per boundary or initial condition (default: a quarter of the interior points, >= 64).
        sampler: "sobol" (default), "halton", "lhs", "random", "uniform" or an AbstractSampler.
        dtype: float64 (default) or float32.
        device: where to train.
        optimizer: "auto" (default: Levenberg-Marquardt when the Jacobian fits in ``lm_max_entries`` numbers, else
            L-BFGS), "lm", "lbfgs" or "adam"; or a chain such as ``("adam", "lbfgs")``, run one after the other in
            every stage, ``steps`` steps each. ``lr`` is the learning rate of L-BFGS and Adam.
        weights: loss weights by term (``{"pde": 1, "dirichlet": 10}``; default 1 each), or "adaptive": at the
            start of every stage each condition's weight becomes ``|grad L_pde| / |grad L_term|`` (gradient-norm
            balancing, Wang et al. 2021), clipped to [1e-2, 1e4].
        hard_constraint: impose a whole-boundary Dirichlet condition (and the initial value) exactly,
            ``u = b N + g``; "auto" (default) does so on boxes, whose distance function is smooth.
        update_grid: move the knots to follow the interior points at the start of each stage (off by default:
            on the 2-D Poisson problem it raised the error from 1.4e-5 to 4.3e-5 and doubled the time).
        adaptive_sampling: draw each stage's interior points where the residual is large (RAD).
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
        >>> result = kp.Solver(problem, width=[1, 5, 1], seed=0).solve(grid_schedule=[5], steps=50, progress=False)
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
        adaptive_sampling: bool = False,
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
        if isinstance(weights, str) and weights != "adaptive":
            raise ValueError(f"weights must be a mapping of term -> weight or 'adaptive', got {weights!r}")
        if weights is not None and not isinstance(weights, (str, Mapping)):
            raise TypeError(f"weights must be a mapping of term -> weight or 'adaptive', got {weights!r}")
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
        self.adaptive_weights = weights == "adaptive"
        self.weights: dict[str, float] = {} if isinstance(weights, str) else dict(weights or {})
        self.adaptive_sampling = bool(adaptive_sampling)
        self.n_test = _positive_int("n_test", n_test)
        self.chunk_size = _positive_int("chunk_size", chunk_size)
        self.comm = communicator() if distributed else SINGLE
        self.compile = bool(compile)
        self.lm_max_entries = 60_000_000  # about 480 MB of float64 Jacobian
        self.generator = torch.Generator().manual_seed(self.seed)
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
        self.approximation = Approximation(model, lower, upper, constraint)
        if problem.unknowns:  # inverse problem: the unknowns' parameters train with the network's
            self.approximation.inverse = InverseParameters(
                problem.unknowns, problem.coords, lower, upper, grid=grid, k=k, seed=self.seed, dtype=dtype,
                device=self.device,
            )  # fmt: skip
        # A few points of the domain: the problem's data may be defined there only (e.g. sqrt(x - 1) on [1, 2]).
        probe_points = problem.domain.sample_interior(8, generator=torch.Generator().manual_seed(0), dtype=dtype)
        binding = bound(self.approximation.inverse.evaluator() if problem.unknowns else None)
        with reads() as seen, binding:  # the unknowns at their initial values
            self.request = probe(problem.residual, problem.coords, problem.n_fields, dtype, points=probe_points)
            problem.check_data(probe_points)  # a bad exact solution or coefficient fails here, before any training
        warn_unused(problem.unknowns, seen)
        self.history: list[StepRecord] = []
        self._closure: Tensor | None = None
        self.result: Result | None = None  # of the last solve (also when it was interrupted)
        self._steps_done = 0
        self._callback: Callable[[Solver, StepRecord], None] | None = None
        self._paused = 0.0
        self._limits = TimeLimits()  # of the solve in progress: checked after every optimiser step
        self._stage_terms: tuple[ResidualTerms, dict[str, int]] | None = None  # the last stage's, for uncertainty

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
            "weights": "adaptive" if self.adaptive_weights else dict(self.weights),
            "hard_constraint": self.approximation.constraint is not None,
            "update_grid": self.update_grid,
            "adaptive_sampling": self.adaptive_sampling,
            "n_test": self.n_test,
            "chunk_size": self.chunk_size,
            "compile": self.compile,
        }

    def default_points(self, grid: int | None = None) -> int:
        """Interior points of a stage: three per parameter of the network (on ``grid``: the current one when
        None), at least 1000.

        Fewer points than parameters let the residual vanish at the points but not between them (measured on the
        2-D Poisson problem at grid 20: 1000 points gave 1.1e-5, 2600 points 1.8e-6).
        """
        n_params = sum(
            layer.in_dim * layer.out_dim * (max(grid or 0, layer.grid_size) + layer.spline_order + 2)
            for layer in self.model.layers
        )
        return max(1000, 3 * n_params)

    def _points_per_stage(self, grid: int | None = None, *, n_params: int | None = None) -> tuple[int, int]:
        """Interior and per-condition points of a stage on ``grid`` (or of a network of ``n_params``)."""
        if self.n_interior is not None:
            n_interior = self.n_interior
        elif n_params is not None:
            n_interior = max(1000, 3 * n_params)
        else:
            n_interior = self.default_points(grid)
        n_boundary = self.n_boundary if self.n_boundary is not None else max(n_interior // 4, 64)
        return n_interior, n_boundary

    def _check_memory(self, grid: int) -> None:
        """Refuse a stage on ``grid`` (or the test set) that cannot fit in memory (see :mod:`kanpde.pde.memory`)."""
        n_params = kan_parameters(self.width, grid, self.k)
        n_interior, n_boundary = self._points_per_stage(n_params=n_params)
        n_candidates = n_interior * (4 if self.adaptive_sampling else 1)
        n_points = n_candidates + n_boundary * len(self.problem.conditions)
        rows = n_interior + n_boundary * len(self.problem.conditions)
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

    @property
    def model(self) -> KAN:
        """The KAN (on coordinates scaled to [-1, 1])."""
        return self.approximation.model

    # -- points --------------------------------------------------------------------------------------------
    def _sample_batch(self, grid: int | None = None) -> CollocationBatch:
        """Collocation points for a stage on ``grid`` (their number grows with the network's parameters)."""
        kwargs = {"generator": self.generator, "sampler": self.sampler, "dtype": self.dtype, "device": self.device}
        domain = self.problem.domain
        n_interior, n_boundary = self._points_per_stage(grid)
        if self.adaptive_sampling and self._steps_done > 0:
            candidates = domain.sample_interior(4 * n_interior, **kwargs)
            residual = self._residual_in_chunks(candidates)
            interior = resample_by_residual(candidates, residual.abs().sum(1), n_interior, generator=self.generator)
        else:
            interior = domain.sample_interior(n_interior, **kwargs)
        hard = self.approximation.constraint is not None
        conditions = [
            (c, c.sample(domain, n_boundary, **kwargs))
            for c in self.problem.conditions
            if not (hard and isinstance(c, (Dirichlet, Initial, InitialVelocity)))
        ]
        constraint = self.approximation.constraint
        jets = constraint.jets(interior, self.request) if constraint is not None else None
        return CollocationBatch(interior, conditions, jets)

    def _residual_in_chunks(self, points: Tensor) -> Tensor:
        """The PDE residual at ``points`` (no gradient), ``(n_points, n_equations)``."""
        parts = []
        for part in points.split(self.chunk_size):
            # Order-3 residuals differentiate through the points by autograd, which needs gradients on.
            with contextlib.nullcontext() if self.request.autograd else torch.no_grad():
                parts.append(pde_residual(self.approximation, self.problem, part, self.request).detach())
        return torch.cat(parts)

    def _test_points(self) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed + 7919)
        return self.problem.domain.sample_interior(
            self.n_test, generator=generator, sampler="halton", dtype=self.dtype, device=self.device
        )

    # -- evaluation ----------------------------------------------------------------------------------------
    def unknown_field(self, name: str) -> Callable[[Tensor], Tensor]:
        """The identified :class:`~kanpde.pde.unknowns.UnknownField` ``name`` as a callable
        ``(n_points, n_coords) -> (n_points,)`` (the problem's coordinates; those the field ignores are unused)."""
        from .identification import unknown_field

        return unknown_field(self, name)

    def predict(self, points: Tensor, *, derivative: str | Sequence[str] | None = None, **parameters: Any) -> Tensor:
        """The solution at ``points``: ``(n_points, n_coords) -> (n_points,)``, or ``(n_points, n_fields)``.

        For a parametric problem the points hold the parameter columns too, or the parameters are given by name
        (``predict(points, mu=1.3)``: a number, or one value per point); values outside a parameter's range warn
        (:class:`~kanpde.pde.parameters.ExtrapolationWarning`). ``derivative`` names a coordinate or parameter
        (or several, for a higher derivative): ``derivative="mu"`` gives the sensitivity ``du/dmu``.
        """
        from .parameters import with_parameters

        if not isinstance(points, Tensor):
            points = torch.as_tensor(points)
        points = with_parameters(self.problem, points.to(self.dtype), parameters).to(self.device)
        if derivative is None:
            out = self._evaluate(points)
        else:
            out = self._derivative(points, derivative)
        return out[:, 0] if self.problem.n_fields == 1 else out

    def _derivative(self, points: Tensor, derivative: str | Sequence[str]) -> Tensor:
        """A partial derivative of every field by autograd, ``(n_points, n_fields)``."""
        names = [derivative] if isinstance(derivative, str) else list(derivative)
        coords = self.problem.coords
        if not names or any(not isinstance(n, str) or n not in coords for n in names):
            raise ValueError(f"derivative must name coordinates or parameters among {coords}, got {derivative!r}")
        parts = []
        for part in points.split(self.chunk_size):
            x = part.detach().requires_grad_(True)
            with torch.enable_grad():
                out = self.approximation(x)
                columns = []
                for field in range(out.shape[1]):
                    value = out[:, field]
                    for name in names:
                        (grad,) = torch.autograd.grad(
                            value.sum(), x, create_graph=True, allow_unused=True, materialize_grads=True
                        )
                        value = grad[:, coords.index(name)]
                    columns.append(value.detach())
            parts.append(torch.stack(columns, dim=1))
        return torch.cat(parts)

    def errors_at(self, **parameters: Any) -> list[Any]:
        """Errors against the exact solution at given parameter values (a parametric problem).

        ``errors_at(mu=[0.5, 1, 2])`` evaluates on the test points of the domain (space and time) with the
        parameters fixed at each value in turn; see :func:`kanpde.pde.parameters.errors_at`.
        """
        from .parameters import errors_at

        return errors_at(self, parameters)

    def _evaluate(self, points: Tensor) -> Tensor:
        """The network's fields at ``points``, ``(n_points, n_fields)``, ``chunk_size`` points at a time."""
        with torch.no_grad():
            return torch.cat([self.approximation(part) for part in points.split(self.chunk_size)])

    def errors(self, points: Tensor | None = None) -> tuple[float | None, float | None]:
        """Relative L2 and maximum absolute error against the exact solution (None, None without one)."""
        if self.problem.exact is None:
            return None, None
        points = self._test_points() if points is None else points
        with torch.no_grad():
            exact = self.problem.exact_values(points)
            assert exact is not None
            diff = self._evaluate(points) - exact
        rel = float(diff.norm() / exact.norm().clamp_min(torch.finfo(self.dtype).tiny))
        return rel, float(diff.abs().max())

    # -- training ------------------------------------------------------------------------------------------
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
            options = {"generator": generator, "sampler": "halton", "dtype": self.dtype, "device": self.device}
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

    def hints(self, batch: CollocationBatch | None = None) -> list[str]:
        """What :mod:`kanpde.pde.diagnostics` finds about the trained solution on ``batch`` (default: a fresh
        batch on the current grid): an unmet condition, a collapse toward a constant, an unresolved PDE."""
        batch = self._sample_batch(self.model.grid_size) if batch is None else batch
        terms = collocation_terms(self.problem, batch, self.request).shard(self.comm)
        balances = term_balance(terms, approximation_source(self.approximation), self.problem.n_fields, self.chunk_size)
        with torch.no_grad():
            spread = float(self.approximation(self._test_points()).std())
        return hints(balances, spread)

    def _batch_loss(self, batch: CollocationBatch) -> float:
        """The weighted loss of the current network on ``batch`` (no gradient)."""
        terms = collocation_terms(self.problem, batch, self.request)
        objective = self._objective(terms.shard(self.comm), terms.counts(), self.weights)
        return objective.loss(objective.terms())

    def solve(
        self,
        grid_schedule: Sequence[int] | str | AutoSchedule = (5, 10, 20),
        steps: int = 100,
        *,
        progress: bool = True,
        rtol: float = 1e-3,
        callback: Callable[[Solver, StepRecord], None] | None = None,
        budget_seconds: float | None = None,
        stage_seconds: float | None = None,
        time_windows: int | None = None,
    ) -> Result:
        """Train stage by stage over ``grid_schedule``, at most ``steps`` optimiser steps per stage.

        ``grid_schedule`` is a strictly increasing list of grid sizes, or "auto" (an
        :class:`~kanpde.pde.refinement.AutoSchedule` with its defaults; pass one to set a target error, a time
        budget or the largest grid): the grid is extended after every stage until a stopping rule holds, and
        ``result.refinement`` says which.

        A Levenberg-Marquardt stage ends early when ten steps lowered the loss by less than ``rtol`` (relative),
        or when no step lowers it at all. ``callback(solver, record)`` runs after every recorded step (e.g. to
        track the error over time); its own time is left out of the recorded seconds.

        ``budget_seconds`` bounds the whole solve and ``stage_seconds`` each stage (wall time without the
        callback's); both are checked after every optimiser step, so a limit is overrun by at most one step (and
        the final error evaluation). A stage cut short by either appears in ``result.stages`` with ``stopped``
        saying why; the budget ends the solve (``result.stopped``), a stage limit moves on to the next stage.
        An :class:`~kanpde.pde.refinement.AutoSchedule`'s ``budget_seconds`` is the default budget.

        ``time_windows=n`` (time-dependent problems): time marching over ``n`` equal windows, each initialised by
        the solution trained on the one before; see :mod:`kanpde.pde.time_windows`.

        Returns:
            A :class:`~kanpde.pde.result.Result` with errors against ``exact`` (when given), the history and times
            (also kept as ``solver.result``). Divergence (NaN/inf) stops with the last good parameters.

        Raises:
            KeyboardInterrupt: Ctrl-C (re-raised, so the program stops). The model keeps its last completed step
                and ``solver.result`` holds the result so far: the completed stages and the one cut short (its
                ``stopped`` says so), the history and the errors of the model as it is.
            ValueError: a bad ``grid_schedule`` or ``steps``, or a stage that would not fit in memory (estimated
                before any work, :mod:`kanpde.pde.memory`).
        """
        if time_windows is not None:
            from .time_windows import solve_in_windows

            return solve_in_windows(self, time_windows, grid_schedule=grid_schedule, steps=steps, progress=progress,
                                    rtol=rtol, callback=callback, budget_seconds=budget_seconds,
                                    stage_seconds=stage_seconds)  # fmt: skip
        policy: AutoSchedule | None = None
        if isinstance(grid_schedule, AutoSchedule):
            policy = grid_schedule
        elif isinstance(grid_schedule, str) and grid_schedule == "auto":
            policy = AutoSchedule()
        schedule = policy.grids() if policy is not None else validate_grid_schedule(grid_schedule)
        steps = _positive_int("steps", steps)
        budget = _seconds("budget_seconds", budget_seconds)
        if budget is None and policy is not None:
            budget = policy.budget_seconds
        stage_limit = _seconds("stage_seconds", stage_seconds)
        for size in schedule:  # before any work: a stage that cannot fit is refused with the estimate
            try:
                self._check_memory(size)
            except ValueError as err:
                raise ValueError(f"grid_schedule: {err}") from None
        result = Result(None, None)
        start = time.perf_counter()
        self._callback, self._paused = callback, 0.0
        self._limits = TimeLimits(start, budget, stage_limit)
        first_record = len(self.history)
        show = progress and self.comm.is_root
        total = steps * len(schedule) * len(self.optimizers)
        bar = progress_bar(total=total, disable=not show, desc="solve", leave=False)
        stage, grid = 0, schedule[0]
        stage_start, running = start, False
        interrupt: KeyboardInterrupt | None = None
        self.result = result
        try:
            while grid is not None:
                stage_start, running = time.perf_counter(), True
                self._limits = dataclasses.replace(self._limits, stage_start=stage_start, paused_at_stage=self._paused)
                batch = self._sample_batch(grid)
                switch_ratio = self._set_grid(grid, batch)
                if self.update_grid:
                    self.model.update_grid(self.approximation.normalized(batch.interior))
                stopped = self._run_stage(stage, grid, batch, steps, start, bar, rtol)
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
                    elapsed = time.perf_counter() - start - self._paused
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
        if self.problem.unknowns and self._stage_terms is not None and interrupt is None:
            from .identification import identify

            result.unknowns, result.uncertainty = identify(self, *self._stage_terms)
        result._member_errors = self.errors_at if self.problem.parameters else None
        result.history = list(self.history)
        result.seconds = time.perf_counter() - start - self._paused
        if interrupt is None and self._steps_done > 0:
            result.hints = self.hints(batch)
        if interrupt is not None:  # the program stops; the result so far stays in solver.result
            raise interrupt
        return result

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

    # -- results out: thin wrappers over kanpde.io and kanpde.plot (imported on use) -----------------------
    def export_hdf5(self, path: Any, **options: Any) -> tuple[Any, Any]:
        """Write the solution field to ``path`` (HDF5) and an XDMF companion; see :func:`kanpde.io.export_hdf5`."""
        from ..io.hdf5 import export_hdf5

        return export_hdf5(self, path, **options)

    def export_mesh(self, path: Any, **options: Any) -> Any:
        """Write the solution with meshio, format by suffix (.vtu, .vtk, ...); see :func:`kanpde.io.export_mesh`."""
        from ..io.mesh import export_mesh

        return export_mesh(self, path, **options)

    def save(self, path: Any) -> Any:
        """Checkpoint the problem's recipe, model, sampler state and history as data (atomically); see :meth:`load`.

        A problem with Python callables (a ``kp.PDE`` residual, callable values) is not stored: pass it again to
        :meth:`load`.
        """
        from ..io.checkpoint import save_checkpoint

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
        (see :func:`kanpde.pde.identification.field_formula`).
        """
        from ..symbolic.solution import solution_formula

        if field is not None:
            from .identification import field_formula

            return field_formula(self, field, **options)

        return solution_formula(self, **options).expr

    def plot(self, path: Any = None, **options: Any) -> Any:
        """The solution (and its error or residual) as a matplotlib Figure, saved as PNG when ``path`` is given."""
        from ..plot.fields import plot_solution

        return plot_solution(self, path, **options)

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
        self._stage_terms = (shard, counts)
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
        """Condition weights that give every loss term the gradient norm of the PDE term."""
        norms = {}
        for name in counts:
            only = {other: float(other == name) for other in counts}
            objective = self._objective(shard, counts, only)
            objective.backward()
            norms[name] = float(torch.sqrt(sum((p.grad * p.grad).sum() for p in objective.params)))
            for p in objective.params:
                p.grad = None
        reference = norms.pop("pde")
        return {"pde": 1.0} | {name: min(max(reference / max(norm, 1e-300), 1e-2), 1e4) for name, norm in norms.items()}

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
        params, state = system.parameters(), LMState()
        losses: list[float] = []
        try:
            for _ in range(steps):
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
        optimizer = make_optimizer(name, params, lr=self.lr)
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
        final = {"loss": objective.loss(terms), "terms": terms}
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
    def _restore(params: list[Tensor], values: list[Tensor]) -> None:
        with torch.no_grad():
            for p, v in zip(params, values):
                p.copy_(v)

    def _diverged(self, params: list[Tensor] | None, good: list[Tensor] | None, entry: dict[str, Any]) -> str:
        if params is not None and good is not None:
            self._restore(params, good)
        bad = [k for k, v in entry["terms"].items() if not math.isfinite(v)]
        message = (
            f"loss became non-finite at step {self._steps_done} (terms: {', '.join(bad) or 'total'}); "
            "the last parameters with a finite loss are kept"
        )
        logger.warning("solve: %s", message)
        return message
