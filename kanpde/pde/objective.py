"""The training loss of a stage evaluated in chunks of points and (optionally) summed over processes.

Memory of a loss evaluation grows with the number of points it sees at once, so a large collocation set is cut
into chunks of at most ``chunk_size`` points per point set: each chunk adds ``sum(residual^2) / n_total`` of every
term (and its parameter gradient) to the total. The result equals the one-piece evaluation up to rounding, while
memory stays that of one chunk. Under ``torch.distributed`` every rank holds a shard of the points and the parts
are summed across ranks (:mod:`kanpde.pde.distributed`), so all ranks see the same loss and gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from .approximation import Approximation
from .conditions import ConditionPoints
from .distributed import SINGLE, Communicator
from .fields import FieldJet, JetRequest
from .loss import CollocationBatch, compute_losses, term_labels, total_loss
from .problem import Problem

__all__ = ["split_batch", "shard_batch", "n_chunks", "whole_batch_counts", "LossObjective", "DEFAULT_CHUNK_SIZE"]

DEFAULT_CHUNK_SIZE = 65_536
"""Points per chunk: about 1 GB of autograd memory for a [2, 10, 1] KAN with a Laplacian jet (float64)."""


def _split_jet(jet: FieldJet, n_parts: int) -> list[FieldJet]:
    parts = {
        name: None if value is None else torch.tensor_split(value, n_parts)
        for name, value in (("value", jet.value), ("grad", jet.grad), ("lap", jet.lap), ("hess", jet.hess))
    }
    return [
        FieldJet(*(None if parts[k] is None else parts[k][i] for k in ("value", "grad", "lap", "hess")),
                 jet.laplacian_dims)  # type: ignore[misc]
        for i in range(n_parts)
    ]  # fmt: skip


def _split_points(where: ConditionPoints, n_parts: int) -> list[ConditionPoints]:
    def split(t: Tensor | None) -> list[Tensor | None]:
        return [None] * n_parts if t is None else list(torch.tensor_split(t, n_parts))

    rows = zip(split(where.points), split(where.normals), split(where.partners))
    return [ConditionPoints(p, n, q) for p, n, q in rows]  # type: ignore[arg-type]


def split_batch(batch: CollocationBatch, n_parts: int) -> list[CollocationBatch]:
    """``batch`` cut into ``n_parts`` batches: every point set in contiguous parts (sizes differ by at most 1)."""
    if n_parts == 1:
        return [batch]
    interiors = torch.tensor_split(batch.interior, n_parts)
    constraints: list[tuple[FieldJet, FieldJet] | None] = [None] * n_parts
    if batch.interior_constraint is not None:
        b, g = batch.interior_constraint
        constraints = list(zip(_split_jet(b, n_parts), _split_jet(g, n_parts)))  # type: ignore[arg-type]
    conditions = [(c, _split_points(w, n_parts)) for c, w in batch.conditions]
    return [
        CollocationBatch(interiors[i], [(c, parts[i]) for c, parts in conditions], constraints[i])
        for i in range(n_parts)
    ]


def shard_batch(batch: CollocationBatch, comm: Communicator) -> CollocationBatch:
    """This rank's shard of ``batch`` (the whole batch in a single process)."""
    if comm.world_size == 1:
        return batch
    return split_batch(batch, comm.world_size)[comm.rank]


def n_chunks(batch: CollocationBatch, chunk_size: int) -> int:
    """Chunks needed so that no point set of ``batch`` has more than ``chunk_size`` points in one chunk."""
    largest = max([len(batch.interior)] + [len(w.points) for _, w in batch.conditions])
    return max(1, math.ceil(largest / chunk_size))


class LossObjective:
    """The weighted loss of a stage and its parameter gradient, chunked and summed over ranks.

    Args:
        approx: the trial function (its parameters receive ``.grad``).
        problem: the problem.
        batch: this rank's points (:func:`shard_batch` of the stage's batch).
        request: derivatives the PDE residual needs.
        weights: loss weights by term.
        counts: points of each term over all ranks (``term_labels`` of the whole batch).
        chunk_size: most points of one point set evaluated at once.
        comm: the ranks (single process by default).
        compile: evaluate the terms through ``torch.compile`` (measured 1.4-1.8x faster per evaluation on CPU
            after a compilation of about a minute per stage; worth it for long L-BFGS/Adam stages only).
    """

    def __init__(
        self,
        approx: Approximation,
        problem: Problem,
        batch: CollocationBatch,
        request: JetRequest,
        weights: Mapping[str, float],
        *,
        counts: Mapping[str, int],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        comm: Communicator = SINGLE,
        compile: bool = False,
    ) -> None:
        self.approx, self.problem, self.request, self.weights, self.comm = approx, problem, request, weights, comm
        self.counts = dict(counts)
        self.chunks = split_batch(batch, n_chunks(batch, chunk_size))
        # One piece in one process: the plain means (bitwise what compute_losses gives).
        self.whole = len(self.chunks) == 1 and comm.world_size == 1
        self.params = [p for p in approx.parameters() if p.requires_grad]
        denominators = None if self.whole else self.counts

        def terms_of(chunk: CollocationBatch) -> dict[str, Tensor]:
            return compute_losses(self.approx, self.problem, chunk, self.request, denominators)

        self._terms = torch.compile(terms_of) if compile else terms_of

    def _reduce(self, terms: dict[str, float], grads: list[Tensor] | None) -> dict[str, float]:
        if self.comm.world_size == 1:
            return terms
        names = sorted(terms)
        flat = [torch.tensor([terms[n] for n in names], dtype=torch.float64)]
        if grads is not None:
            flat += [g.reshape(-1).to(torch.float64) for g in grads]
        device = self.params[0].device
        buffer = self.comm.sum_(torch.cat([f.to(device) for f in flat]))
        if grads is not None:
            offset = len(names)
            for g in grads:
                g.copy_(buffer[offset : offset + g.numel()].reshape(g.shape).to(g.dtype))
                offset += g.numel()
        return {n: float(v) for n, v in zip(names, buffer[: len(names)].tolist())}

    def terms(self) -> dict[str, float]:
        """Every term's value (no gradient)."""
        totals: dict[str, float] = {}
        with torch.no_grad():
            for chunk in self.chunks:
                for name, value in self._terms(chunk).items():
                    totals[name] = totals.get(name, 0.0) + float(value)
        return self._reduce(totals, None)

    def loss(self, terms: Mapping[str, float]) -> float:
        """The weighted total of ``terms``."""
        return float(total_loss({k: torch.tensor(v, dtype=torch.float64) for k, v in terms.items()}, self.weights))

    def backward(self, scale: float = 1.0) -> tuple[Tensor, dict[str, float]]:
        """Set ``p.grad`` of every parameter to the gradient of ``scale * loss``; return ``(loss, terms)``.

        The returned loss is a 0-d tensor (unscaled, detached); terms are floats.
        """
        for p in self.params:
            p.grad = None
        totals: dict[str, float] = {}
        loss_value: Tensor | None = None
        for chunk in self.chunks:
            terms = self._terms(chunk)
            loss = total_loss(terms, self.weights)
            (loss * scale).backward()
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach())
            loss_value = loss.detach() if loss_value is None else loss_value + loss.detach()
        assert loss_value is not None
        if self.whole:
            return loss_value, totals
        grads = []
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        totals = self._reduce(totals, grads)
        return torch.tensor(self.loss(totals), dtype=loss_value.dtype, device=loss_value.device), totals


def whole_batch_counts(batch: CollocationBatch) -> dict[str, int]:
    """Points of each term of ``batch`` (call it on the whole batch, before sharding)."""
    return dict(term_labels(batch))
