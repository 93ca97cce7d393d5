"""Loss balancing schemes (weights="adaptive", "ntk", "residual") and the hint for a hard-constrained solve that
left the PDE unresolved."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp
from kanpde.pde.balancing import WEIGHT_MAX, WEIGHT_MIN, clipped, ntk_weights, progress_weights
from kanpde.pde.diagnostics import TermBalance, hints
from kanpde.pde.residuals import collocation_terms


def _poisson() -> kp.Poisson:
    return kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet("x")], exact="sin(pi*x) + x")


def _solver(**options) -> kp.Solver:
    return kp.Solver(_poisson(), width=[1, 3, 1], k=3, seed=0, n_interior=40, n_test=200, hard_constraint=False,
                     **options)  # fmt: skip


def _row_gradient(value: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(value, params, allow_unused=True, retain_graph=True)
    return torch.cat([torch.zeros_like(p).reshape(-1) if g is None else g.reshape(-1) for g, p in zip(grads, params)])


def test_ntk_weight_is_the_ratio_of_mean_squared_jacobian_rows() -> None:
    solver = _solver()
    batch = solver._sample_batch(5)
    terms = collocation_terms(solver.problem, batch, solver.request)
    weights = ntk_weights(solver.approximation, terms, terms.counts())
    # The same traces by plain autograd, row by row: -u'' - f at the interior points, u - g at the two ends.
    params = list(solver.approximation.parameters())
    interior = batch.interior.clone().requires_grad_(True)
    u = solver.approximation(interior)[:, 0]
    (du,) = torch.autograd.grad(u.sum(), interior, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), interior, create_graph=True)
    pde = sum(float(_row_gradient(-d2u[j, 0], params).square().sum()) for j in range(len(interior))) / len(interior)
    ends = batch.conditions[0][1].points
    values = solver.approximation(ends)[:, 0]
    bc = sum(float(_row_gradient(values[j], params).square().sum()) for j in range(len(ends))) / len(ends)
    assert set(weights) == {"pde", "dirichlet"} and weights["pde"] == 1.0
    assert weights["dirichlet"] == pytest.approx(min(max(pde / bc, WEIGHT_MIN), WEIGHT_MAX), rel=1e-8)
    assert weights["dirichlet"] > 10  # second derivatives make the PDE rows far more sensitive


def test_progress_weights_favour_the_term_that_fell_least() -> None:
    weights = progress_weights({"pde": 1e-4, "dirichlet": 1e-2, "initial": 1e-6}, {"pde": 1.0, "dirichlet": 1.0})
    assert weights == pytest.approx({"pde": 1.0, "dirichlet": 100.0, "initial": 1.0})  # initial: not in the start
    assert clipped({"pde": 3.0, "a": 0.0, "b": 1e9}) == {"pde": 1.0, "a": WEIGHT_MIN, "b": WEIGHT_MAX}


@pytest.mark.parametrize("scheme", ["ntk", "residual", "adaptive"])
def test_a_balanced_solve_sets_weights_per_stage_and_converges(scheme: str, tmp_path) -> None:
    solver = _solver(weights=scheme)
    result = solver.solve(grid_schedule=[4, 6], steps=15, progress=False)
    assert set(solver.weights) == {"pde", "dirichlet"} and solver.weights["pde"] == 1.0
    if scheme != "residual":  # the progress scheme starts from equal weights; the others weigh the boundary up
        assert solver.weights["dirichlet"] > 1.0
    assert result.rel_l2 is not None and result.rel_l2 < 1e-2  # measured 1e-4 to 2e-3
    assert all(s.weighted_loss is not None for s in result.stages)  # stages compare by the unweighted loss
    assert solver.settings()["weights"] == scheme
    path = solver.save(tmp_path / "balanced.pt")
    assert kp.Solver.load(path).settings()["weights"] == scheme


def test_an_unknown_scheme_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="'adaptive', 'ntk', 'residual'"):
        _solver(weights="gradnorm")


def _heat(periods: int) -> kp.Heat:
    n = 2 * periods
    return kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=0.01, initial=f"sin({n}*pi*x)",
                   bcs=[kp.Dirichlet(0)], exact=f"exp(-0.01*{n}**2*pi**2*t)*sin({n}*pi*x)")  # fmt: skip


def test_a_hard_constrained_solve_with_an_unresolved_pde_says_so() -> None:
    # The data are imposed exactly (u = b N + g) and the PDE has no source: the PDE term is measured against the
    # residual of the imposed values alone. Eight periods on a grid of 3 cannot be resolved.
    coarse = kp.Solver(_heat(8), width=[2, 3, 1], k=3, seed=0, n_interior=300, n_test=500)
    assert coarse.approximation.constraint is not None
    result = coarse.solve(grid_schedule=[3], steps=5, progress=False)
    assert any("PDE residual is" in h and "grid_schedule" in h for h in result.hints), result.hints
    fine = kp.Solver(_heat(1), width=[2, 3, 1], k=3, seed=0, n_interior=300, n_test=500)
    result = fine.solve(grid_schedule=[5], steps=20, progress=False)
    assert result.rel_l2 is not None and result.rel_l2 < 1e-3 and result.hints == []


def test_a_value_condition_with_tiny_data_is_measured_against_the_largest_values() -> None:
    # u ~ 1e-5 on the right side, met to 5e-7, while the initial values are of size 0.6: the condition is met.
    balances = [TermBalance("pde", 1e-6, 0.0), TermBalance("dirichlet[right]", 5e-7, 1e-5, value_spread=1e-6),
                TermBalance("initial", 1e-6, 0.6, value_spread=0.4)]  # fmt: skip
    assert hints(balances, solution_spread=0.4) == []
    unmet = [TermBalance("pde", 1e-6, 0.0), TermBalance("dirichlet[right]", 0.05, 1e-5, value_spread=1e-6),
             TermBalance("initial", 1e-6, 0.6, value_spread=0.4)]  # fmt: skip
    (found,) = hints(unmet, solution_spread=0.4)
    assert "'dirichlet[right]' is not met" in found and "8.3%" in found


def test_the_misfit_of_noisy_observations_is_compared_with_their_noise() -> None:
    # heat_inverse_pinnacle (noise 0.1) ended with a data misfit of 29 % of the values, the noise level, and the
    # hint said "not met ... try a larger weight, or weights='ntk' (the default)": the default is not NTK with data.
    pde = TermBalance("pde", 1e-3, 1.0)
    at_noise = TermBalance("data[u]", 0.1, 0.34, observed=True, noise=0.1)
    assert hints([pde, at_noise], solution_spread=0.3) == []
    (above,) = hints([pde, TermBalance("data[u]", 0.25, 0.34, observed=True, noise=0.1)], solution_spread=0.3)
    assert "data 'data[u]'" in above and "more than 2 times its noise (0.1)" in above and "ntk" not in above
    (unknown,) = hints([pde, TermBalance("data[u]", 0.1, 0.34, observed=True)], solution_spread=0.3)
    assert "29% of its values" in unknown and "noise=sigma" in unknown and "not met" not in unknown
    # a condition with the same numbers is still not met
    (condition,) = hints([pde, TermBalance("dirichlet", 0.1, 0.34)], solution_spread=0.3)
    assert "'dirichlet' is not met" in condition


def test_observation_terms_carry_their_noise() -> None:
    points = torch.tensor([[0.25], [0.5]], dtype=torch.float64)
    obs = [kp.Observations(points, torch.zeros(2, dtype=torch.float64), noise=0.05, name="noisy"),
           kp.Observations(points, torch.zeros(2, dtype=torch.float64), name="plain")]  # fmt: skip
    problem = kp.Poisson(kp.Interval(0, 1), f=0, bcs=[kp.Dirichlet(0)], data=obs)
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0, n_interior=20)
    terms = collocation_terms(problem, solver._sample_batch(5), solver.request)
    noise = {t.label: getattr(t, "noise", "none") for t in terms.terms}
    assert noise["data[noisy]"] == 0.05 and noise["data[plain]"] is None


def test_an_unmet_condition_beside_observations_does_not_call_ntk_the_default() -> None:
    # heat_inverse_pinnacle (data and an unknown field: equal weights by default) was told to try
    # "weights='ntk' (the default)" for its initial value.
    pde, initial = TermBalance("pde", 1e-3, 1.0), TermBalance("initial", 0.05, 0.6, value_spread=0.4)
    (alone,) = hints([pde, initial], solution_spread=0.4)
    assert "weights='ntk' (the default)" in alone
    beside_data = hints([pde, initial, TermBalance("data[u]", 0.1, 0.34, observed=True, noise=0.1)], 0.4)
    assert len(beside_data) == 1 and "'initial' is not met" in beside_data[0]
    assert "(the default)" not in beside_data[0] and "with observations the default weights are equal" in beside_data[0]
