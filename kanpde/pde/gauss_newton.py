"""Levenberg-Marquardt on the collocation residuals (a damped Gauss-Newton method).

The loss is a weighted sum of mean squares, ``L = ||r||^2`` for the stacked residual vector
``r = [sqrt(w_pde / N_pde) r_pde, sqrt(w_bc / N_bc) r_bc, ...]``. Each step solves
``(J^T J + mu * mean(diag(J^T J)) I) delta = -J^T r`` and accepts the step when the loss falls, shrinking
``mu`` (otherwise it grows ``mu`` and tries again). Every residual depends on its own point only, so the
Jacobian ``J`` (rows: points, columns: parameters) comes from per-point gradients, batched with ``torch.func``
(``vmap`` of ``jacrev``) over the composable jet path. For PINNs this converges far faster than L-BFGS
(measured on the 2-D Poisson problem: 3e-4 relative error at grid 5 in 100 steps, where L-BFGS plateaued at
2e-3); it needs memory ``n_rows * n_parameters``, so the solver uses it for moderate sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from .approximation import Approximation
from .conditions import AbstractCondition, ConditionPoints, Periodic
from .distributed import SINGLE, Communicator
from .fields import FieldJet, Fields, JetRequest
from .loss import CollocationBatch, term_labels
from .objective import DEFAULT_CHUNK_SIZE
from .problem import Problem

__all__ = ["ResidualSystem", "levenberg_marquardt_step", "LMState"]

Params = dict[str, Tensor]


class _JetCall(nn.Module):
    """Calls ``Approximation.field_jet`` as ``forward`` so that ``functional_call`` can swap its parameters."""

    def __init__(self, approx: Approximation) -> None:
        super().__init__()
        self.a = approx

    def forward(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        return self.a.field_jet(points, request, constraint, composable=True)


def _rows_of(jet: FieldJet | None) -> dict[str, Tensor]:
    if jet is None:
        return {}
    return {k: v for k, v in (("value", jet.value), ("grad", jet.grad), ("lap", jet.lap), ("hess", jet.hess))
            if v is not None}  # fmt: skip


def _jet_from(rows: dict[str, Tensor], prefix: str, dims: tuple[int, ...] | None) -> FieldJet:
    get = lambda k: rows.get(prefix + k)  # noqa: E731
    return FieldJet(get("value"), get("grad"), get("lap"), get("hess"), dims)  # type: ignore[arg-type]


@dataclass
class _Block:
    """One kind of residual: a function of (parameters, rows of data) -> ``(n_rows, m)``, its data, row scale.

    ``n_points`` counts the term's points over all ranks (the mean divides by it); ``data`` holds this rank's.
    """

    label: str
    fn: Callable[[Params, dict[str, Tensor]], Tensor]
    data: dict[str, Tensor]
    scale: float
    n_points: int

    def chunks(self, chunk_size: int) -> list[dict[str, Tensor]]:
        """``data`` in contiguous row chunks of at most ``chunk_size`` rows (one empty chunk when no rows)."""
        n_rows = len(next(iter(self.data.values())))
        n_parts = max(1, -(-n_rows // chunk_size))
        if n_parts == 1:
            return [self.data]
        split = {k: torch.tensor_split(v, n_parts) for k, v in self.data.items()}
        return [{k: parts[i] for k, parts in split.items()} for i in range(n_parts)]


class ResidualSystem:
    """The stacked, weighted residual vector of a batch and its Jacobian with respect to the parameters.

    Args:
        approx: the trial function.
        problem: the problem.
        batch: collocation points of the stage.
        request: derivatives the PDE residual needs.
        weights: loss weights by term label (or kind), default 1.
        counts: points of each term over all ranks (default: those of ``batch``).
        chunk_size: most rows of one term evaluated at once (the Jacobian of a chunk is
            ``chunk_size x n_parameters``; the normal equations are summed chunk by chunk).
        comm: the ranks of a distributed run (``batch`` is then this rank's shard).
    """

    def __init__(
        self,
        approx: Approximation,
        problem: Problem,
        batch: CollocationBatch,
        request: JetRequest,
        weights: Mapping[str, float],
        *,
        counts: Mapping[str, int] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        comm: Communicator = SINGLE,
    ) -> None:
        self.caller = _JetCall(approx)
        self.names = [name for name, _ in self.caller.named_parameters()]
        self.problem, self.request, self.chunk_size, self.comm = problem, request, chunk_size, comm
        labels = term_labels(batch)
        counts = dict(labels) if counts is None else dict(counts)
        self.blocks: list[_Block] = [self._interior_block(batch, weights, counts["pde"])]
        for (label, _), (condition, where) in zip(labels[1:], batch.conditions):
            self.blocks.append(self._condition_block(label, condition, where, weights, counts[label]))

    def parameters(self) -> Params:
        return {name: p.detach() for name, p in self.caller.named_parameters()}

    def load(self, params: Params) -> None:
        with torch.no_grad():
            for name, p in self.caller.named_parameters():
                p.copy_(params[name])

    @staticmethod
    def _weight(weights: Mapping[str, float], label: str) -> float:
        return float(weights.get(label, weights.get(label.split("[")[0].rstrip("'"), 1.0)))

    def _interior_block(self, batch: CollocationBatch, weights: Mapping[str, float], n: int) -> _Block:
        problem, request, caller = self.problem, self.request, self.caller
        dims = request.laplacian_dims
        data = {"points": batch.interior}
        if batch.interior_constraint is not None:
            b, g = batch.interior_constraint
            data |= {"b_" + k: v for k, v in _rows_of(b).items()} | {"g_" + k: v for k, v in _rows_of(g).items()}

        def fn(params: Params, rows: dict[str, Tensor]) -> Tensor:
            p = rows["points"]
            constraint = None
            if "b_value" in rows:
                constraint = (_jet_from(rows, "b_", dims), _jet_from(rows, "g_", dims))
            jet = functional_call(caller, params, (p, request, constraint))
            return problem.residual(Fields(jet, p, problem.coords)).reshape(len(p), -1)

        return _Block("pde", fn, data, (self._weight(weights, "pde") / n) ** 0.5, n)

    def _condition_block(
        self, label: str, condition: AbstractCondition, where: ConditionPoints, weights: Mapping[str, float], n: int
    ) -> _Block:
        problem, caller = self.problem, self.caller
        request = JetRequest(level=condition.order)
        data = {"points": where.points}
        if where.normals is not None:
            data["normals"] = where.normals
        if where.partners is not None:
            data["partners"] = where.partners

        def fields_at(params: Params, p: Tensor) -> Fields:
            return Fields(functional_call(caller, params, (p, request, None)), p, problem.coords)

        def fn(params: Params, rows: dict[str, Tensor]) -> Tensor:
            p = rows["points"]
            if isinstance(condition, Periodic):
                residual = condition.periodic_residual(fields_at(params, p), fields_at(params, rows["partners"]))
            else:
                residual = condition.residual(fields_at(params, p), ConditionPoints(p, rows.get("normals")))
            return residual.reshape(len(p), -1)

        return _Block(label, fn, data, (self._weight(weights, label) / n) ** 0.5, n)

    def _sums(self, sums: Tensor, labels: list[str]) -> tuple[float, dict[str, float]]:
        """Loss and terms from per-block sums of squared (unweighted) residuals, summed over the ranks."""
        self.comm.sum_(sums)
        terms = {label: float(s) / block.n_points for label, s, block in zip(labels, sums.tolist(), self.blocks)}
        loss = sum(float(s) * block.scale**2 for s, block in zip(sums.tolist(), self.blocks))
        return loss, terms

    def loss(self, params: Params) -> tuple[float, dict[str, float]]:
        """The weighted loss ``||r||^2`` and each term's unweighted mean square (over all ranks)."""
        sums = torch.zeros(len(self.blocks), dtype=torch.float64)
        with torch.no_grad():
            for i, block in enumerate(self.blocks):
                for rows in block.chunks(self.chunk_size):
                    sums[i] += float(block.fn(params, rows).square().sum())
        return self._sums(sums, [b.label for b in self.blocks])

    def jacobian(self, params: Params, rows: dict[str, Tensor], block: _Block) -> Tensor:
        """Scaled ``d r / d theta`` of ``rows`` of ``block``: ``(n_rows * m, n_parameters)``, parameters flattened
        in ``named_parameters`` order."""
        n = len(rows["points"])
        per_point = vmap(jacrev(_single_row(block.fn)), in_dims=(None, 0))(params, rows)  # (n, m, *shape)
        flat = [per_point[name].reshape(n, -1, params[name].numel()) for name in self.names]
        return torch.cat(flat, dim=2).reshape(-1, sum(t.shape[2] for t in flat)) * block.scale

    def normal_equations(self, params: Params) -> tuple[Tensor, Tensor, float, dict[str, float]]:
        """``(J^T J, J^T r, loss, terms)`` summed chunk by chunk and over the ranks.

        Memory: ``n_parameters^2`` plus one chunk's Jacobian, whatever the number of points.
        """
        n_params = sum(p.numel() for p in params.values())
        reference = next(iter(params.values()))
        normal = torch.zeros(n_params, n_params, dtype=reference.dtype, device=reference.device)
        gradient = torch.zeros(n_params, dtype=reference.dtype, device=reference.device)
        sums = torch.zeros(len(self.blocks), dtype=torch.float64)
        for i, block in enumerate(self.blocks):
            for rows in block.chunks(self.chunk_size):
                if len(rows["points"]) == 0:
                    continue
                with torch.no_grad():
                    r = block.fn(params, rows).reshape(-1)
                sums[i] += float(r.square().sum())
                jac = self.jacobian(params, rows, block)
                normal.addmm_(jac.T, jac)
                gradient.addmv_(jac.T, r * block.scale)
        if self.comm.world_size > 1:
            self.comm.sum_(normal)
            self.comm.sum_(gradient)
        loss, terms = self._sums(sums, [b.label for b in self.blocks])
        return normal, gradient, loss, terms


def _single_row(fn: Callable[[Params, dict[str, Tensor]], Tensor]) -> Callable[[Params, dict[str, Tensor]], Tensor]:
    """The residuals of one row (data without the leading axis), for per-point Jacobians under ``vmap``."""

    def one(params: Params, row: dict[str, Tensor]) -> Tensor:
        return fn(params, {k: v.unsqueeze(0) for k, v in row.items()}).reshape(-1)

    return one


@dataclass
class LMState:
    """Damping of Levenberg-Marquardt (relative to the mean diagonal of ``J^T J``)."""

    mu: float = 1e-3
    min_mu: float = 1e-12
    max_mu: float = 1e10


def _shifted(params: Params, names: list[str], delta: Tensor) -> Params:
    out, offset = {}, 0
    for name in names:
        value = params[name]
        out[name] = value + delta[offset : offset + value.numel()].reshape(value.shape)
        offset += value.numel()
    return out


def levenberg_marquardt_step(
    system: ResidualSystem, params: Params, state: LMState
) -> tuple[Params, float, dict[str, float], bool]:
    """One accepted Levenberg-Marquardt step (or the best effort when no damping makes the loss fall).

    Returns:
        (new parameters, loss before the step, unweighted terms before the step, whether a step was accepted).
    """
    normal, gradient, loss, terms = system.normal_equations(params)
    scale = float(normal.diagonal().mean().clamp_min(torch.finfo(normal.dtype).tiny))
    eye = torch.eye(len(normal), dtype=normal.dtype, device=normal.device)
    while state.mu <= state.max_mu:
        factor, info = torch.linalg.cholesky_ex(normal + state.mu * scale * eye)
        if int(info) != 0:  # not positive definite in floating point: damp more
            state.mu *= 4
            continue
        delta = torch.cholesky_solve(-gradient.unsqueeze(1), factor).squeeze(1)
        candidate = _shifted(params, system.names, delta)
        new_loss = system.loss(candidate)[0]
        if new_loss < loss:
            state.mu = max(state.mu / 3, state.min_mu)
            return candidate, loss, terms, True
        state.mu *= 2
    return params, loss, terms, False
