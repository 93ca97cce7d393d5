"""Recover an unknown positive conductivity field a(x, y) from interior observations, and its formula.

    -div(a grad u) = f on [0, 1]^2,  u = 0 on the boundary,  true a = 1 + x^2,  u = sin(pi x) sin(pi y)
    data: 400 observations of u inside the square

The field is a second KAN (kp.UnknownField, positive through a softplus) trained with the solution; in the
residual, a(u) gives its value and derivatives at u's points, so the conservation form is written as it reads.

Run:  python examples/inverse_conductivity.py
"""

from __future__ import annotations

import math

import torch

import kanpde as kp

PI = math.pi


def main(
    grid_schedule: tuple[int, ...] = (5, 10), steps: int = 100, *, formula: bool = True
) -> tuple[kp.Solver, kp.Result, float]:
    a = kp.UnknownField("a", width=[2, 3, 1], positive=True)

    def source(u: kp.pde.fields.Fields) -> torch.Tensor:  # type: ignore[name-defined]
        x, y = u.coord("x"), u.coord("y")
        return (1 + x**2) * 2 * PI**2 * torch.sin(PI * x) * torch.sin(PI * y) - 2 * x * PI * torch.cos(
            PI * x
        ) * torch.sin(PI * y)

    def residual(u: kp.pde.fields.Fields) -> torch.Tensor:  # type: ignore[name-defined]
        au = a(u)  # a and its derivatives at u's points
        return -(au.value * u.laplacian + (au.grad * u.grad).sum(1)) - source(u)

    g = torch.Generator().manual_seed(0)
    points = torch.rand(400, 2, generator=g, dtype=torch.float64)
    values = torch.sin(PI * points[:, 0]) * torch.sin(PI * points[:, 1])
    problem = kp.PDE(kp.Rectangle((0, 0), (1, 1)), residual, bcs=[kp.Dirichlet(0)],
                     data=[kp.Observations(points, values)], unknowns=[a], exact="sin(pi*x)*sin(pi*y)")  # fmt: skip
    solver = kp.Solver(problem, seed=0)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())
    test = torch.rand(5000, 2, generator=g, dtype=torch.float64)
    true = 1 + test[:, 0] ** 2
    error = float((solver.unknown_field("a")(test) - true).norm() / true.norm())
    print(f"conductivity: relative L2 error {error:.2e}")
    if formula:
        print("a =", solver.symbolic(field="a"))
    return solver, result, error


if __name__ == "__main__":
    main()
