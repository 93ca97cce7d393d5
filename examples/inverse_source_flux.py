"""Identify a source strength from flux measurements at the boundary.

    -u'' = q pi^2 sin(pi x) on [0, 1],  u(0) = u(1) = 0,  q unknown (true 2.5)
    data: the flux u'(0) and u'(1), measured with noise 1e-3 (true values q pi and -q pi)

Only the two boundary fluxes are observed (kp.Observations(..., derivative="x")); the PDE does the rest.

Run:  python examples/inverse_source_flux.py
"""

from __future__ import annotations

import math

import torch

import kanpde as kp


def main(grid_schedule: tuple[int, ...] = (5,), steps: int = 40) -> kp.Result:
    q = kp.Unknown("q", init=1.0)
    flux = kp.Observations(
        torch.tensor([[0.0], [1.0]], dtype=torch.float64),
        torch.tensor([2.5 * math.pi, -2.5 * math.pi], dtype=torch.float64),
        derivative="x", noise=1e-3, name="flux",
    )  # fmt: skip
    problem = kp.Poisson(kp.Interval(0, 1), f="q*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], unknowns=[q],
                         data=[flux], exact="2.5*sin(pi*x)")  # fmt: skip
    solver = kp.Solver(problem, width=[1, 5, 1], seed=0, n_interior=200)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())
    print(f"q = {result.unknowns['q']:.6f} +- {result.uncertainty['q']:.1e}  (true 2.5)")
    return result


if __name__ == "__main__":
    main()
