"""Where the time of one Levenberg-Marquardt step goes: residuals, Jacobian, normal equations, damped solves.

For each problem and grid it builds the stage a default solve would run (``kp.Solver(problem, seed=0)``, its
points on that grid, after a few steps so that the network is not at its initial state) and times, in
milliseconds per call (best of ``--repeats``):

- ``loss``: one evaluation of the weighted loss (what each damping trial costs);
- ``jacobian``: the Jacobian of every term (``ResidualSystem.jacobian``), both ways when asked (``--compare``):
  ``vmap(jacrev)`` over the composable jet path, and the closed form from the tapped jet
  (:mod:`kanpde.pde.jet_jacobian`);
- ``normal``: ``J^T J`` and ``J^T r`` (``ResidualSystem.normal_equations``, Jacobian included);
- ``cholesky``: one damped Cholesky factorisation and solve;
- ``step``: one whole accepted step, with the number of damping trials it took.

``--baseline`` times the former path (``vmap(jacrev)`` and ``J.T @ J``) for a before/after comparison.

Run:  python -m kanpde.bench.lm_step [--threads 1] [--problems poisson,burgers] [--grids 10,20] [--compare]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

import kanpde as kp
from kanpde.pde.gauss_newton import LMState, ResidualSystem, levenberg_marquardt_step
from kanpde.pde.residuals import collocation_terms


def _poisson() -> kp.Problem:
    from kanpde.bench.time_to_accuracy import poisson_2d

    return poisson_2d()


def _heat() -> kp.Problem:
    from kanpde.bench.time_to_accuracy import heat_1d

    return heat_1d()


def _burgers() -> kp.Problem:
    from problems import burgers_raissi

    return burgers_raissi.make_problem()


PROBLEMS: dict[str, tuple[Callable[[], kp.Problem], dict[str, object]]] = {
    "poisson": (_poisson, {}),
    "heat": (_heat, {}),
    "burgers": (_burgers, {"n_interior": 8000}),
}


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def profile(name: str, grid: int, repeats: int, compare: bool) -> str:
    """One line of timings for problem ``name`` on ``grid``."""
    make, settings = PROBLEMS[name]
    solver = kp.Solver(make(), seed=0, **settings)  # type: ignore[arg-type]
    solver.solve(grid_schedule=[grid], steps=3, progress=False)
    batch = solver._sample_batch(grid)
    terms = collocation_terms(solver.problem, batch, solver.request)
    system = ResidualSystem(solver.approximation, terms, solver.weights if isinstance(solver.weights, dict) else {})
    params = system.parameters()
    n_params = sum(p.numel() for p in params.values())
    cells = [f"{name:8s} G={grid:<3d} rows {terms.n_rows:>6d} params {n_params:>5d}"]
    cells.append(f"loss {_best_ms(lambda: system.loss(params), repeats):7.1f}")

    def all_jacobians(fast: bool | None) -> None:
        for i, term in enumerate(system.terms):
            system.jacobian(params, term, system.scales[i], fast=fast)

    if compare:
        cells.append(f"jac vmap {_best_ms(lambda: all_jacobians(False), repeats):8.1f}")
    cells.append(f"jac {_best_ms(lambda: all_jacobians(None), repeats):8.1f}")
    normal, gradient, _, _ = system.normal_equations(params)
    cells.append(f"normal {_best_ms(lambda: system.normal_equations(params), repeats):8.1f}")
    eye = torch.eye(len(normal), dtype=normal.dtype)
    scale = float(normal.diagonal().mean())

    def solve() -> None:
        factor, _ = torch.linalg.cholesky_ex(normal + 1e-3 * scale * eye)
        torch.cholesky_solve(-gradient.unsqueeze(1), factor)

    cells.append(f"cholesky {_best_ms(solve, repeats):6.1f}")
    trials = [0]
    plain_loss = system.loss

    def counted(p: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
        trials[0] += 1
        return plain_loss(p)

    system.loss = counted  # type: ignore[method-assign,assignment]  # count the damping retries
    state = LMState()
    start = time.perf_counter()
    n_steps = 3
    for _ in range(n_steps):
        params, _, _, _ = levenberg_marquardt_step(system, params, state)
    step_ms = (time.perf_counter() - start) / n_steps * 1e3
    cells.append(f"step {step_ms:8.1f} ({trials[0] / n_steps:.1f} trials)")
    return "  ".join(cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--problems", default="poisson,heat,burgers")
    parser.add_argument("--grids", default="10,20")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compare", action="store_true", help="also time the vmap(jacrev) Jacobian")
    parser.add_argument("--baseline", action="store_true", help="the former path: vmap(jacrev) and J.T @ J")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.baseline:
        from kanpde.pde import gauss_newton, gram

        gauss_newton.supports = lambda *_: False  # type: ignore[assignment]
        gram._syrk = lambda _: None  # type: ignore[assignment]
    print(f"one Levenberg-Marquardt step, ms per call (best of {args.repeats}), {args.threads} thread(s)")
    for name in args.problems.split(","):
        for grid in (int(g) for g in args.grids.split(",")):
            print(profile(name, grid, args.repeats, args.compare), flush=True)


if __name__ == "__main__":
    main()
