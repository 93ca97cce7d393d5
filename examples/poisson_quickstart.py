"""Quickstart: the 2-D Poisson problem -Laplace(u) = 2 pi^2 sin(pi x) sin(pi y) on [-1, 1]^2, u = 0 on the boundary.

Run:  python examples/poisson_quickstart.py
"""

from __future__ import annotations

import kanpde as kp


def main(grid_schedule: tuple[int, ...] = (5, 10), steps: int = 100) -> kp.Result:
    square = kp.Rectangle((-1, -1), (1, 1))
    problem = kp.Poisson(
        square,
        f="2*pi**2*sin(pi*x)*sin(pi*y)",
        bcs=[kp.Dirichlet(0)],  # imposed exactly on boxes (hard constraint)
        exact="sin(pi*x)*sin(pi*y)",
    )
    solver = kp.Solver(problem, width=[2, 10, 1], seed=0)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps)
    print(result.summary())
    print(f"relative L2 error {result.rel_l2:.2e} in {result.seconds:.1f} s")
    return result


if __name__ == "__main__":
    main()
