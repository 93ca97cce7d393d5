"""The residual engine: every loss term is a named block of residual rows, and every optimiser reads those blocks.

A term (:class:`AbstractTerm`) owns its *rows*: per-row data such as points, normals or periodic partners, every
tensor with the rows along its first axis. It names the fields it needs (:class:`FieldNeed`: at which row tensor,
with which derivatives) and turns them into residuals, shape ``(n_rows, m)``. Each row depends on its own data
only, so the same term serves

- the mean-square loss and its gradient (:mod:`~kanpde.pde.objective`): :func:`term_residuals` evaluates the
  network once for all terms of a chunk that need the same derivatives;
- the Jacobian of Gauss-Newton / Levenberg-Marquardt (:mod:`~kanpde.pde.gauss_newton`): :func:`residual_rows`
  evaluates one term through any :class:`FieldSource`, e.g. a ``torch.func`` call under ``vmap``;
- chunking and data-parallel sharding: :meth:`ResidualTerms.split` cuts every term's rows into contiguous parts.

Term ``i`` of the loss is ``w_i * sum(|r_i|^2) / N_i`` (``N_i`` its rows over all chunks and ranks, ``|r|^2`` summed
over the ``m`` components of a row), so the stacked vector of rows ``sqrt(w_i / N_i) r_i`` has the loss as its
squared norm. Adding a kind of term (observations, a prior on an unknown, an initial velocity) is one subclass of
:class:`AbstractTerm`; a condition with an unusual shape (e.g. :class:`~kanpde.pde.conditions.Periodic`, which
compares two point sets) says so through :attr:`AbstractCondition.point_sets` and ``residual_of``.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from .conditions import AbstractCondition, ConditionPoints
from .distributed import Communicator
from .fields import FieldJet, Fields, JetRequest
from .problem import Problem
from .unknowns import source_binding

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AbstractTerm",
    "CollocationBatch",
    "ConditionTerm",
    "FieldNeed",
    "FieldSource",
    "InteriorTerm",
    "ObservationTerm",
    "ResidualTerms",
    "TermInputs",
    "approximation_source",
    "collocation_terms",
    "pde_residual",
    "residual_rows",
    "term_residuals",
    "term_weight",
]

Rows = dict[str, Tensor]

DEFAULT_CHUNK_SIZE = 65_536
"""Rows per term in one chunk: about 1 GB of autograd memory for a [2, 10, 1] KAN with a Laplacian jet (float64)."""
_JET_PARTS = ("value", "grad", "lap", "hess")


@dataclass
class CollocationBatch:
    """Collocation points of one training stage, as the solver samples them.

    Attributes:
        interior: points inside the domain (space-time for time-dependent problems).
        conditions: one entry per loss-carrying condition: the condition and its points.
        interior_constraint: precomputed jets of the hard constraint's ``b`` and ``g`` at ``interior``.

    Shapes:
        interior: ``(n_interior, n_coords)``.
    """

    interior: Tensor
    conditions: list[tuple[AbstractCondition, ConditionPoints]]
    interior_constraint: tuple[FieldJet, FieldJet] | None = None


@dataclass(frozen=True)
class FieldNeed:
    """Where a term needs the solution and which derivatives.

    Attributes:
        points: the key of the row tensor holding the points, shape ``(n_rows, n_coords)``.
        request: the derivatives (a :class:`~kanpde.pde.fields.JetRequest`).
        constraint: the rows hold precomputed hard-constraint jets (keys ``"b_value"``, ``"g_grad"``, ...), which
            the evaluation reuses instead of recomputing them.
    """

    points: str = "points"
    request: JetRequest = JetRequest(level=0)
    constraint: bool = False


@dataclass(frozen=True)
class TermInputs:
    """What :meth:`AbstractTerm.residual` receives for a set of rows.

    Attributes:
        fields: the solution at each :class:`FieldNeed` of the term, in the order of :meth:`AbstractTerm.needs`.
        rows: the term's row data for these rows (the same keys as :attr:`AbstractTerm.rows`).

    Terms whose residual reads trained values other than the fields (a prior on an unknown constant) will find
    them here too, taken from the :class:`FieldSource`, so that a functional call swaps them with the network's
    parameters and the Jacobian sees them.
    """

    fields: tuple[Fields, ...]
    rows: Mapping[str, Tensor]


class FieldSource(Protocol):
    """Evaluates the trial function: the approximation itself, or a functional call with swapped parameters."""

    def jet(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        """Values and derivatives at ``points`` (``(n_points, n_coords)``) as ``request`` asks."""
        ...

    def values(self, points: Tensor) -> Tensor:
        """``(n_points, n_coords) -> (n_points, n_fields)``, differentiable in the points (autograd fallback)."""
        ...


@dataclass(frozen=True)
class AbstractTerm(ABC):
    """One named block of the residual system: rows of data and the residual of each row.

    Attributes:
        label: the term's name in losses, weights and history (``"pde"``, ``"dirichlet[xmin]"``, ...).
        rows: per-row data (this chunk's or rank's rows); every tensor has the rows along its first axis.
        n_total: rows of the term over all chunks and ranks (the mean divides by it); None: ``len`` of ``rows``.
        coords: coordinate names of the point columns (space, then ``t``).
    """

    label: str
    rows: Rows = field(repr=False)
    n_total: int | None = None
    coords: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        """Rows held here."""
        return len(next(iter(self.rows.values())))

    @property
    def count(self) -> int:
        """Rows over all chunks and ranks."""
        return self.n_rows if self.n_total is None else self.n_total

    @abstractmethod
    def needs(self) -> tuple[FieldNeed, ...]:
        """Where the residual needs the solution (one :class:`Fields` per entry, in this order)."""

    @abstractmethod
    def residual(self, inputs: TermInputs) -> Tensor:
        """The residual of every row, shape ``(n_rows, m)`` (``m`` components per row, fixed per term).

        Row ``i`` may depend on row ``i`` of ``inputs.rows`` and of ``inputs.fields`` only (that is what makes
        chunks, shards and per-row Jacobians exact).
        """

    def with_rows(self, rows: Rows, n_total: int | None = None) -> AbstractTerm:
        """A copy holding ``rows`` (part of this term's rows), counting ``n_total`` rows in all."""
        return dataclasses.replace(self, rows=rows, n_total=self.count if n_total is None else n_total)


@dataclass(frozen=True)
class InteriorTerm(AbstractTerm):
    """The PDE residual at interior collocation points (rows ``"points"`` and, with a hard constraint, its jets)."""

    problem: Problem | None = None
    request: JetRequest = JetRequest()

    def needs(self) -> tuple[FieldNeed, ...]:
        return (FieldNeed("points", self.request, constraint="b_value" in self.rows),)

    def residual(self, inputs: TermInputs) -> Tensor:
        assert self.problem is not None
        u = inputs.fields[0]
        return self.problem.residual(u).reshape(len(u.points), -1)


@dataclass(frozen=True)
class ConditionTerm(AbstractTerm):
    """A boundary or initial condition at its points (rows: ``points`` and, where the condition has them,
    ``normals`` and ``partners``; see :attr:`AbstractCondition.point_sets`)."""

    condition: AbstractCondition | None = None

    def needs(self) -> tuple[FieldNeed, ...]:
        assert self.condition is not None
        request = JetRequest(level=self.condition.order)
        return tuple(FieldNeed(name, request) for name in self.condition.point_sets)

    def residual(self, inputs: TermInputs) -> Tensor:
        assert self.condition is not None
        rows = inputs.rows
        where = ConditionPoints(rows["points"], rows.get("normals"), rows.get("partners"))
        return self.condition.residual_of(inputs.fields, where).reshape(len(where.points), -1)


@dataclass(frozen=True)
class ObservationTerm(AbstractTerm):
    """Measured values of one field (rows ``"points"`` ``(n, n_coords)`` and ``"values"`` ``(n,)``): the residual
    is ``u_field(points) - values``, or ``d u_field / d derivative - values`` for observed derivatives; ``noise``
    is the observations' known standard deviation (None: not given), which the fit's diagnostics compare with."""

    field: int = 0
    derivative: str | None = None
    noise: float | None = None

    def needs(self) -> tuple[FieldNeed, ...]:
        return (FieldNeed("points", JetRequest(level=0 if self.derivative is None else 1)),)

    def residual(self, inputs: TermInputs) -> Tensor:
        u = inputs.fields[0][self.field]
        observed = u.value if self.derivative is None else u.d(self.derivative)
        return (observed - inputs.rows["values"]).reshape(-1, 1)


def term_weight(weights: Mapping[str, float], label: str) -> float:
    """The weight of term ``label``: by its label, else by its kind (``"dirichlet[xmin]'"`` -> ``"dirichlet"``),
    else 1."""
    return float(weights.get(label, weights.get(label.split("[")[0].rstrip("'"), 1.0)))


def _jet_rows(prefix: str, jet: FieldJet) -> Rows:
    return {prefix + k: getattr(jet, k) for k in _JET_PARTS if getattr(jet, k) is not None}


def _constraint_from(rows: Mapping[str, Tensor], dims: tuple[int, ...] | None) -> tuple[FieldJet, FieldJet]:
    def jet(prefix: str) -> FieldJet:
        get = rows.get
        return FieldJet(rows[prefix + "value"], get(prefix + "grad"), get(prefix + "lap"), get(prefix + "hess"), dims)

    return jet("b_"), jet("g_")


def _fields(source: FieldSource, coords: tuple[str, ...], need: FieldNeed, rows: Mapping[str, Tensor]) -> Fields:
    points = rows[need.points]
    constraint = _constraint_from(rows, need.request.laplacian_dims) if need.constraint else None
    jet = source.jet(points, need.request, constraint)
    return Fields(jet, points, coords, evaluate=source.values if need.request.autograd else None)


def residual_rows(term: AbstractTerm, source: FieldSource, rows: Mapping[str, Tensor] | None = None) -> Tensor:
    """The residual of ``term`` at ``rows`` (default: its own), each need evaluated through ``source``.

    Shapes:
        returns ``(n_rows, m)``.
    """
    rows = term.rows if rows is None else rows
    with source_binding(source):
        fields = tuple(_fields(source, term.coords, need, rows) for need in term.needs())
        return term.residual(TermInputs(fields, rows))


def _slice(fields: Fields, start: int, n: int) -> Fields:
    jet, cut = fields._jet, slice(start, start + n)

    def part(t: Tensor | None) -> Tensor | None:
        return None if t is None else t[cut]

    sliced = FieldJet(jet.value[cut], part(jet.grad), part(jet.lap), part(jet.hess), jet.laplacian_dims)
    return Fields(sliced, fields.points[cut], fields.coords, evaluate=fields._evaluate)


def term_residuals(terms: Sequence[AbstractTerm], source: FieldSource) -> list[Tensor]:
    """The residual rows of every term, ``(n_rows, m)`` each, in order.

    Needs that ask for the same derivatives (and carry no precomputed constraint jets) share one network
    evaluation on their concatenated points: conditions of the same order cost one pass.
    """
    # Where each need's rows go: its own evaluation (constraint jets), or a slice of its request's group.
    groups: dict[JetRequest, list[Tensor]] = {}
    coords: dict[JetRequest, tuple[str, ...]] = {}
    place: list[list[tuple[JetRequest, int] | None]] = []
    for term in terms:
        spots: list[tuple[JetRequest, int] | None] = []
        for need in term.needs():
            if need.constraint:
                spots.append(None)
                continue
            group = groups.setdefault(need.request, [])
            coords.setdefault(need.request, term.coords)
            spots.append((need.request, sum(len(p) for p in group)))
            group.append(term.rows[need.points])
        place.append(spots)
    evaluated = {}
    for request, chunks in groups.items():
        if len(chunks) == 1:  # nothing to share: evaluated where it is needed, without a copy and a slice
            continue
        points = torch.cat(chunks)
        jet = source.jet(points, request, None)
        evaluate = source.values if request.autograd else None
        evaluated[request] = Fields(jet, points, coords[request], evaluate=evaluate)
    out = []
    with source_binding(source):
        for term, spots in zip(terms, place):
            fields = []
            for need, spot in zip(term.needs(), spots):
                if spot is None or spot[0] not in evaluated:
                    fields.append(_fields(source, term.coords, need, term.rows))
                else:
                    request, offset = spot
                    fields.append(_slice(evaluated[request], offset, len(term.rows[need.points])))
            out.append(term.residual(TermInputs(tuple(fields), term.rows)))
    return out


class _ApproximationSource:
    """The approximation as a :class:`FieldSource` (the fast, non-functional jet path)."""

    def __init__(self, approx: Callable[[Tensor], Tensor]) -> None:
        self.approx = approx

    def jet(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        return self.approx.field_jet(points, request, constraint)  # type: ignore[attr-defined]

    def values(self, points: Tensor) -> Tensor:
        return self.approx(points)

    def unknown_evaluator(self) -> Callable[..., object] | None:
        inverse = getattr(self.approx, "inverse", None)
        return None if inverse is None else inverse.evaluator()


def approximation_source(approx: Callable[[Tensor], Tensor]) -> FieldSource:
    """The trial function (a :class:`~kanpde.pde.approximation.Approximation`) as a :class:`FieldSource`."""
    return _ApproximationSource(approx)


def pde_residual(
    approx: Callable[[Tensor], Tensor],
    problem: Problem,
    points: Tensor,
    request: JetRequest,
    constraint: tuple[FieldJet, FieldJet] | None = None,
) -> Tensor:
    """The PDE residual at ``points``, shape ``(n_points, n_equations)``."""
    rows = {"points": points} | ({} if constraint is None else _jet_rows("b_", constraint[0]) | _jet_rows(
        "g_", constraint[1]))  # fmt: skip
    term = InteriorTerm("pde", rows, coords=problem.coords, problem=problem, request=request)
    return residual_rows(term, approximation_source(approx))


@dataclass(frozen=True)
class ResidualTerms:
    """The terms of a stage (or a chunk, or a rank's shard of it).

    Attributes:
        terms: the blocks, with unique labels (a repeated condition kind gets a prime: ``"dirichlet'"``).
    """

    terms: tuple[AbstractTerm, ...]

    def counts(self) -> dict[str, int]:
        """Rows of each term over all chunks and ranks, by label."""
        return {t.label: t.count for t in self.terms}

    @property
    def n_rows(self) -> int:
        """Rows held here, all terms together."""
        return sum(t.n_rows for t in self.terms)

    def split(self, n_parts: int) -> list[ResidualTerms]:
        """Every term's rows cut into ``n_parts`` contiguous parts (sizes differ by at most one row).

        Part ``i`` of the result holds part ``i`` of every term; counts stay those of the whole.
        """
        if n_parts == 1:
            return [self]
        parts: list[list[AbstractTerm]] = [[] for _ in range(n_parts)]
        for term in self.terms:
            split = {k: torch.tensor_split(v, n_parts) for k, v in term.rows.items()}
            for i in range(n_parts):
                parts[i].append(term.with_rows({k: v[i] for k, v in split.items()}))
        return [ResidualTerms(tuple(p)) for p in parts]

    def shard(self, comm: Communicator) -> ResidualTerms:
        """This rank's shard (the whole in a single process); counts stay those of all ranks."""
        if comm.world_size == 1:
            return self
        return self.split(comm.world_size)[comm.rank]

    def chunks(self, chunk_size: int) -> list[ResidualTerms]:
        """Parts in which no term holds more than ``chunk_size`` rows."""
        largest = max([t.n_rows for t in self.terms] + [0])
        return self.split(max(1, math.ceil(largest / chunk_size)))

    def with_counts(self, counts: Mapping[str, int]) -> ResidualTerms:
        """The same rows, counting ``counts[label]`` rows per term (a shard knows the whole's counts this way)."""
        return ResidualTerms(tuple(t.with_rows(t.rows, counts[t.label]) for t in self.terms))


def _unique(label: str, taken: set[str]) -> str:
    while label in taken:
        label += "'"
    taken.add(label)
    return label


def collocation_terms(problem: Problem, batch: CollocationBatch, request: JetRequest) -> ResidualTerms:
    """The terms of a collocation batch: the PDE at the interior points, then each condition at its points.

    Args:
        problem: the problem (its residual and coordinates).
        batch: the points of the stage.
        request: derivatives the PDE residual needs.
    """
    rows: Rows = {"points": batch.interior}
    if batch.interior_constraint is not None:
        b, g = batch.interior_constraint
        rows |= _jet_rows("b_", b) | _jet_rows("g_", g)
    taken = {"pde"}
    terms: list[AbstractTerm] = [InteriorTerm("pde", rows, coords=problem.coords, problem=problem, request=request)]
    for condition, where in batch.conditions:
        data = {"points": where.points}
        if where.normals is not None:
            data["normals"] = where.normals
        if where.partners is not None:
            data["partners"] = where.partners
        terms.append(ConditionTerm(_unique(condition.label, taken), data, coords=problem.coords, condition=condition))
    like = batch.interior
    for obs in problem.data:  # observations: fixed rows, in the problem's column order
        points, values = obs.checked(problem.coords, problem.domain, problem.n_fields)
        data = {"points": points.to(like), "values": values.to(like)}
        label = _unique(obs.label, taken)
        terms.append(
            ObservationTerm(
                label, data, coords=problem.coords, field=obs.field, derivative=obs.derivative, noise=obs.noise
            )
        )
    return ResidualTerms(tuple(terms))
