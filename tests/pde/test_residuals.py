"""The residual engine against independent computations: nested autograd residuals, autograd Jacobians."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch.func import functional_call

import kanpde as kp
from kanpde.pde.gauss_newton import ResidualSystem
from kanpde.pde.objective import LossObjective
from kanpde.pde.residuals import (
    AbstractTerm,
    FieldNeed,
    JetRequest,
    ResidualTerms,
    TermInputs,
    collocation_terms,
)

F64 = torch.float64
WEIGHTS = {"pde": 1.0, "neumann[ymax]": 3.0, "periodic": 2.0, "dirichlet[xmax]": 0.5}


def _mixed_poisson() -> kp.Problem:
    exact = "sin(pi*x)*sin(pi*y)"
    return kp.Poisson(
        kp.Rectangle([0, 0], [1, 1]),
        f="2*pi**2*sin(pi*x)*sin(pi*y)",
        bcs=[kp.Dirichlet(exact, on="xmin"), kp.Dirichlet(exact, on="xmax"), kp.Neumann("-pi*sin(pi*x)", on="ymax"),
             kp.Robin(1, 0.5, 0, on="ymin")],
    )  # fmt: skip


def _periodic_heat() -> kp.Problem:
    return kp.Heat(kp.Interval(0, 2), time=(0, 1), diffusivity=0.3, initial="sin(pi*x)", bcs=[kp.Periodic("x")])


def _stage(problem: kp.Problem) -> tuple[kp.Solver, ResidualTerms]:
    solver = kp.Solver(problem, width=[2, 3, 1], grid=4, seed=5, n_interior=40, n_boundary=12, hard_constraint=False)
    with torch.no_grad():  # away from the initial (nearly linear) network
        for p in solver.approximation.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    return solver, collocation_terms(problem, solver._sample_batch(), solver.request)


def _direct_residual(u, problem: kp.Problem, term: AbstractTerm) -> torch.Tensor:
    """The residual of ``term`` by nested autograd on ``u`` (points -> (n, 1)), written out per kind of term."""
    rows = term.rows

    def value_grad_hess(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = points.clone().requires_grad_(True)
        value = u(x)[:, 0]
        (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
        hess = torch.stack([torch.autograd.grad(grad[:, i].sum(), x, create_graph=True)[0] for i in range(2)], 1)
        return value, grad, hess

    points = rows["points"]
    value, grad, hess = value_grad_hess(points)
    x, y = points[:, 0], points[:, 1]
    pi = torch.pi
    if term.label == "pde" and problem.time is None:  # Laplace(u) + f (kp.Poisson's sign)
        return (hess[:, 0, 0] + hess[:, 1, 1] + 2 * pi**2 * torch.sin(pi * x) * torch.sin(pi * y))[:, None]
    if term.label == "pde":  # u_t - 0.3 u_xx (coordinates x, t)
        return (grad[:, 1] - 0.3 * hess[:, 0, 0])[:, None]
    if term.label.startswith("dirichlet"):
        return (value - torch.sin(pi * x) * torch.sin(pi * y))[:, None]
    if term.label == "neumann[ymax]":
        return ((grad * rows["normals"]).sum(1) + pi * torch.sin(pi * x))[:, None]
    if term.label == "robin[ymin]":
        return (value + 0.5 * (grad * rows["normals"]).sum(1))[:, None]
    if term.label == "initial":
        return (value - torch.sin(pi * x))[:, None]
    if term.label == "periodic[x]":
        partner, partner_grad, _ = value_grad_hess(rows["partners"])
        return torch.stack([value - partner, grad[:, 0] - partner_grad[:, 0]], dim=1)
    raise AssertionError(f"no direct residual for {term.label}")


def _direct_loss(solver: kp.Solver, terms: ResidualTerms) -> tuple[torch.Tensor, dict[str, float]]:
    losses = {}
    for term in terms.terms:
        r = _direct_residual(solver.approximation, solver.problem, term)
        losses[term.label] = r.square().sum(1).mean()
    kinds = {label: WEIGHTS.get(label, WEIGHTS.get(label.split("[")[0], 1.0)) for label in losses}
    total = sum(kinds[label] * value for label, value in losses.items())
    return total, {k: float(v.detach()) for k, v in losses.items()}


@pytest.mark.parametrize("make", [_mixed_poisson, _periodic_heat], ids=["poisson-mixed", "heat-periodic"])
@pytest.mark.parametrize("chunk_size", [10_000, 7])
def test_loss_and_gradient_equal_a_direct_autograd_computation(make, chunk_size: int) -> None:
    solver, terms = _stage(make())
    objective = LossObjective(solver.approximation, terms, WEIGHTS, chunk_size=chunk_size)
    assert (len(objective.chunks) > 1) == (chunk_size == 7)
    loss, found = objective.backward()
    engine_grad = torch.cat([p.grad.reshape(-1) for p in objective.params])
    for p in objective.params:
        p.grad = None
    direct, expected = _direct_loss(solver, terms)
    direct.backward()
    direct_grad = torch.cat([p.grad.reshape(-1) for p in objective.params])
    assert found.keys() == expected.keys()
    assert all(found[k] == pytest.approx(expected[k], rel=1e-12) for k in found), (found, expected)
    assert float(loss) == pytest.approx(float(direct.detach()), rel=1e-12)
    torch.testing.assert_close(engine_grad, direct_grad, rtol=1e-10, atol=1e-12 * float(direct_grad.abs().max()))


@pytest.mark.parametrize("make", [_mixed_poisson, _periodic_heat], ids=["poisson-mixed", "heat-periodic"])
def test_gauss_newton_jacobian_equals_autograd_jacobian(make) -> None:
    solver, terms = _stage(make())
    system = ResidualSystem(solver.approximation, terms, WEIGHTS, chunk_size=16)
    params = system.parameters()
    flat = torch.cat([params[name].reshape(-1) for name in system.names])

    def unflatten(vector: torch.Tensor) -> dict[str, torch.Tensor]:
        out, offset = {}, 0
        for name in system.names:
            n = params[name].numel()
            out[name.removeprefix("a.")] = vector[offset : offset + n].reshape(params[name].shape)
            offset += n
        return out

    normal = torch.zeros(len(flat), len(flat), dtype=F64)
    for term, scale in zip(terms.terms, system.scales):

        def scaled(vector: torch.Tensor, term: AbstractTerm = term, scale: float = scale) -> torch.Tensor:
            u = lambda x: functional_call(solver.approximation, unflatten(vector), (x,))  # noqa: E731
            return scale * _direct_residual(u, solver.problem, term).reshape(-1)

        expected = torch.autograd.functional.jacobian(scaled, flat)
        found = system.jacobian(params, term, scale)
        torch.testing.assert_close(found, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))
        normal += expected.T @ expected
    normal_found, _, loss, _ = system.normal_equations(params)  # summed over chunks of 16 rows
    torch.testing.assert_close(normal_found, normal, rtol=1e-10, atol=1e-12 * float(normal.abs().max()))
    objective = LossObjective(solver.approximation, terms, WEIGHTS)
    assert loss == pytest.approx(objective.loss(objective.terms()), rel=1e-12)


def test_periodic_term_counts_the_same_in_every_path() -> None:
    """A term with two components per row is ``sum(|r|^2) / n_rows`` whole, chunked and in Gauss-Newton."""
    solver, terms = _stage(_periodic_heat())
    whole = LossObjective(solver.approximation, terms, {}).terms()
    chunked = LossObjective(solver.approximation, terms, {}, chunk_size=5).terms()
    system = ResidualSystem(solver.approximation, terms, {})
    assert chunked == pytest.approx(whole, rel=1e-12)
    assert system.loss(system.parameters())[1] == pytest.approx(whole, rel=1e-12)


@dataclass(frozen=True)
class _PointValues(AbstractTerm):
    """A new kind of term, written as one class: ``u(points) - values`` (observations, say)."""

    def needs(self) -> tuple[FieldNeed, ...]:
        return (FieldNeed("points", JetRequest(level=0)),)

    def residual(self, inputs: TermInputs) -> torch.Tensor:
        return (inputs.fields[0].value - inputs.rows["values"])[:, None]


def test_a_new_kind_of_term_is_one_class_and_reaches_every_path() -> None:
    solver, terms = _stage(_mixed_poisson())
    points = torch.rand(9, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    values = torch.sin(points[:, 0])
    observed = _PointValues("data", {"points": points, "values": values}, coords=solver.problem.coords)
    stage = ResidualTerms((*terms.terms, observed))
    with torch.no_grad():
        expected = float((solver.approximation(points)[:, 0] - values).square().mean())
    objective = LossObjective(solver.approximation, stage, {"data": 4.0}, chunk_size=4)
    assert objective.terms()["data"] == pytest.approx(expected, rel=1e-12)
    system = ResidualSystem(solver.approximation, stage, {"data": 4.0})
    loss, found = system.loss(system.parameters())
    assert found["data"] == pytest.approx(expected, rel=1e-12)
    assert loss == pytest.approx(objective.loss(objective.terms()), rel=1e-12)
    assert system.jacobian(system.parameters(), observed).shape == (9, len(torch.cat(
        [p.reshape(-1) for p in system.parameters().values()])))  # fmt: skip
