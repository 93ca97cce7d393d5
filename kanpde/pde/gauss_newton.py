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
from .fields import FieldJet, Fields, JetRequest
from .loss import CollocationBatch
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
    """One kind of residual: a function of (parameters, rows of data) -> ``(n_rows, m)``, its data, row scale."""

    label: str
    fn: Callable[[Params, dict[str, Tensor]], Tensor]
    data: dict[str, Tensor]
    scale: float
    n_points: int


class ResidualSystem:
    """The stacked, weighted residual vector of a batch and its Jacobian with respect to the parameters.

    Args:
        approx: the trial function.
        problem: the problem.
        batch: collocation points of the stage.
        request: derivatives the PDE residual needs.
        weights: loss weights by term label (or kind), default 1.
    """

    def __init__(
        self,
        approx: Approximation,
        problem: Problem,
        batch: CollocationBatch,
        request: JetRequest,
        weights: Mapping[str, float],
    ) -> None:
        self.caller = _JetCall(approx)
        self.names = [name for name, _ in self.caller.named_parameters()]
        self.problem, self.request = problem, request
        self.blocks: list[_Block] = [self._interior_block(batch, weights)]
        labels = {"pde"}
        for condition, where in batch.conditions:
            label = condition.label
            while label in labels:
                label += "'"
            labels.add(label)
            self.blocks.append(self._condition_block(label, condition, where, weights))

    def parameters(self) -> Params:
        return {name: p.detach() for name, p in self.caller.named_parameters()}

    def load(self, params: Params) -> None:
        with torch.no_grad():
            for name, p in self.caller.named_parameters():
                p.copy_(params[name])

    @staticmethod
    def _weight(weights: Mapping[str, float], label: str) -> float:
        return float(weights.get(label, weights.get(label.split("[")[0].rstrip("'"), 1.0)))

    def _interior_block(self, batch: CollocationBatch, weights: Mapping[str, float]) -> _Block:
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

        n = len(batch.interior)
        return _Block("pde", fn, data, (self._weight(weights, "pde") / n) ** 0.5, n)

    def _condition_block(
        self, label: str, condition: AbstractCondition, where: ConditionPoints, weights: Mapping[str, float]
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

        n = len(where.points)
        return _Block(label, fn, data, (self._weight(weights, label) / n) ** 0.5, n)

    def residuals(self, params: Params) -> tuple[Tensor, dict[str, float]]:
        """The stacked weighted residual vector and each term's unweighted mean square."""
        parts, terms = [], {}
        for block in self.blocks:
            r = block.fn(params, block.data).reshape(-1)
            terms[block.label] = float((r.detach() ** 2).sum() / block.n_points)
            parts.append(r * block.scale)
        return torch.cat(parts), terms

    def jacobian(self, params: Params) -> Tensor:
        """``d r / d theta``, shape ``(n_rows, n_parameters)`` (parameters flattened in ``named_parameters`` order)."""
        rows = []
        for block in self.blocks:
            per_point = vmap(jacrev(_single_row(block.fn)), in_dims=(None, 0))(params, block.data)  # (n, m, *shape)
            flat = [per_point[name].reshape(block.n_points, -1, params[name].numel()) for name in self.names]
            rows.append(torch.cat(flat, dim=2).reshape(-1, sum(t.shape[2] for t in flat)) * block.scale)
        return torch.cat(rows)


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
    residual, terms = system.residuals(params)
    loss = float(residual.square().sum())
    jac = system.jacobian(params)
    normal = jac.T @ jac
    gradient = jac.T @ residual.detach()
    scale = float(normal.diagonal().mean().clamp_min(torch.finfo(normal.dtype).tiny))
    eye = torch.eye(len(normal), dtype=normal.dtype, device=normal.device)
    while state.mu <= state.max_mu:
        factor, info = torch.linalg.cholesky_ex(normal + state.mu * scale * eye)
        if int(info) != 0:  # not positive definite in floating point: damp more
            state.mu *= 4
            continue
        delta = torch.cholesky_solve(-gradient.unsqueeze(1), factor).squeeze(1)
        candidate = _shifted(params, system.names, delta)
        new_loss = float(system.residuals(candidate)[0].square().sum())
        if new_loss < loss:
            state.mu = max(state.mu / 3, state.min_mu)
            return candidate, loss, terms, True
        state.mu *= 2
    return params, loss, terms, False
