"""The residual loss: mean squares of the PDE residual and of every condition, at collocation points.

Pure functions of (approximation, problem, batch): the solver samples the batch and calls
:func:`compute_losses` inside its optimiser closure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .approximation import Approximation
from .conditions import AbstractCondition, ConditionPoints, Periodic
from .fields import FieldJet, Fields, JetRequest
from .problem import Problem

__all__ = ["CollocationBatch", "compute_losses", "total_loss", "pde_residual", "term_labels"]


@dataclass
class CollocationBatch:
    """Collocation points of one training stage.

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


def pde_residual(
    approx: Approximation,
    problem: Problem,
    points: Tensor,
    request: JetRequest,
    constraint: tuple[FieldJet, FieldJet] | None = None,
) -> Tensor:
    """The PDE residual at ``points``, shape ``(n_points, n_equations)``."""
    jet = approx.field_jet(points, request, constraint)
    fields = Fields(jet, points, problem.coords, evaluate=approx if request.autograd else None)
    residual = problem.residual(fields)
    return residual.unsqueeze(1) if residual.ndim == 1 else residual


def _condition_fields(approx: Approximation, problem: Problem, points: Tensor, order: int) -> Fields:
    jet = approx.field_jet(points, JetRequest(level=order))
    return Fields(jet, points, problem.coords)


def compute_losses(
    approx: Approximation,
    problem: Problem,
    batch: CollocationBatch,
    request: JetRequest,
    denominators: Mapping[str, int] | None = None,
) -> dict[str, Tensor]:
    """Mean squared residual of the PDE (``"pde"``) and of each condition (by its label), unweighted.

    Conditions of the same derivative order share one network evaluation. With ``denominators`` (term label ->
    number of points), each term is ``sum(residual^2) / denominators[label]`` instead of the mean: the part of
    the term that this batch contributes when it is one chunk (or one rank's shard) of a larger set.
    """

    def reduce(label: str, residual: Tensor) -> Tensor:
        if denominators is None:
            return residual.square().mean()
        return residual.square().sum() / denominators[label]

    residual = pde_residual(approx, problem, batch.interior, request, batch.interior_constraint)
    losses = {"pde": reduce("pde", residual)}
    by_order: dict[int, list[tuple[AbstractCondition, ConditionPoints]]] = {}
    for condition, where in batch.conditions:
        by_order.setdefault(condition.order, []).append((condition, where))
    for order, group in by_order.items():
        chunks = []
        for _, where in group:
            chunks.append(where.points)
            if where.partners is not None:
                chunks.append(where.partners)
        points = torch.cat(chunks)
        fields = _condition_fields(approx, problem, points, order)
        offset = 0
        for condition, where in group:
            n = len(where.points)
            part = _slice_fields(fields, offset, n)
            offset += n
            if isinstance(condition, Periodic):
                partner = _slice_fields(fields, offset, n)
                offset += n
                value = condition.periodic_residual(part, partner)
            else:
                value = condition.residual(part, where)
            key = condition.label
            while key in losses:  # two conditions of the same kind on the same part: keep both terms
                key += "'"
            losses[key] = reduce(key, value)
    return losses


def term_labels(batch: CollocationBatch) -> list[tuple[str, int]]:
    """``(label, n_points)`` of every loss term of ``batch``, labels as :func:`compute_losses` names them.

    (Repeated labels get a prime; repeats share a kind, hence a derivative order, so the numbering here in
    condition order matches :func:`compute_losses`' numbering by order group.)
    """
    labels = [("pde", len(batch.interior))]
    taken = {"pde"}
    for condition, where in batch.conditions:
        key = condition.label
        while key in taken:
            key += "'"
        taken.add(key)
        labels.append((key, len(where.points)))
    return labels


def _slice_fields(fields: Fields, start: int, n: int) -> Fields:
    jet = fields._jet
    cut = slice(start, start + n)
    sliced = FieldJet(
        jet.value[cut],
        None if jet.grad is None else jet.grad[cut],
        None if jet.lap is None else jet.lap[cut],
        None if jet.hess is None else jet.hess[cut],
        jet.laplacian_dims,
    )
    return Fields(sliced, fields.points[cut], fields.coords)


def total_loss(losses: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """``sum_term weight[term] * loss[term]``; a term without a weight counts once."""
    total = None
    for name, value in losses.items():
        term = weights.get(name, weights.get(name.split("[")[0].rstrip("'"), 1.0)) * value
        total = term if total is None else total + term
    assert total is not None
    return total
