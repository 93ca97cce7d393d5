"""The training loss of a stage for L-BFGS/Adam, evaluated in chunks of rows and (optionally) summed over processes.

Memory of a loss evaluation grows with the number of rows it sees at once, so the terms are cut into chunks of at
most ``chunk_size`` rows per term (:meth:`~kanpde.pde.residuals.ResidualTerms.chunks`): each chunk adds
``sum(|r|^2) / N`` of every term (and its parameter gradient) to the total. The result equals the one-piece
evaluation up to rounding, while memory stays that of one chunk. Under ``torch.distributed`` every rank holds a
shard of the rows and the parts are summed across ranks (:mod:`kanpde.pde.distributed`), so all ranks see the same
loss and gradient.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from .approximation import Approximation
from .distributed import SINGLE, Communicator
from .loss import mean_squares, total_loss
from .residuals import DEFAULT_CHUNK_SIZE, ResidualTerms, approximation_source

__all__ = ["LossObjective"]


class LossObjective:
    """The weighted loss of a stage and its parameter gradient, chunked and summed over ranks.

    Args:
        approx: the trial function (its parameters receive ``.grad``).
        terms: this rank's terms (:meth:`~kanpde.pde.residuals.ResidualTerms.shard` of the stage's terms).
        weights: loss weights by term label or kind (default 1).
        counts: rows of each term over all ranks (default: the counts ``terms`` carry).
        chunk_size: most rows of one term evaluated at once.
        comm: the ranks (single process by default).
        compile: evaluate the terms through ``torch.compile`` (measured 1.4-1.8x faster per evaluation on CPU
            after a compilation of about a minute per stage; worth it for long L-BFGS/Adam stages only).
    """

    def __init__(
        self,
        approx: Approximation,
        terms: ResidualTerms,
        weights: Mapping[str, float],
        *,
        counts: Mapping[str, int] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        comm: Communicator = SINGLE,
        compile: bool = False,
    ) -> None:
        self.approx, self.weights, self.comm = approx, weights, comm
        if counts is not None:
            terms = terms.with_counts(counts)
        self.counts = terms.counts()
        self.chunks = terms.chunks(chunk_size)
        # One piece in one process: the plain means (bitwise what the one-piece evaluation gives).
        self.whole = len(self.chunks) == 1 and comm.world_size == 1
        self.params = [p for p in approx.parameters() if p.requires_grad]
        source, part = approximation_source(approx), not self.whole

        def terms_of(chunk: ResidualTerms) -> dict[str, Tensor]:
            return mean_squares(chunk, source, part=part)

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
