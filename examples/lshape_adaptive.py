"""The L-shaped domain with residual-based adaptive sampling (RAD), against uniform sampling.

    -Laplace(u) = 0 on the L-shape [-1, 1]^2 minus (0, 1] x [-1, 0),   u = r^(2/3) sin(2 theta/3) on the boundary

The exact solution has an unbounded gradient at the re-entrant corner (0, 0). With adaptive_sampling=True each
grid stage draws four times as many candidate points as it keeps and keeps them with a probability that grows with
the PDE residual there, so the points crowd towards the corner where the error is.

Run:  python examples/lshape_adaptive.py [--out DIR]    (about two minutes; writes DIR/lshape_solution.png)
"""

from __future__ import annotations

from pathlib import Path

import kanpde as kp

# theta in [0, 3 pi/2] written with atan2 so that its branch cut falls in the removed quadrant.
EXACT = "(x**2 + y**2)**(1/3)*cos(2*atan2(-x - y, y - x)/3)"
L_SHAPE = kp.Polygon([(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)])


def main(
    grid_schedule: tuple[int, ...] = (5, 10, 20),
    steps: int = 50,
    n_interior: int = 4000,
    *,
    out: str | Path | None = None,
) -> dict[str, kp.Result]:
    problem = kp.Poisson(L_SHAPE, f=0, bcs=[kp.Dirichlet(EXACT)], exact=EXACT)
    results = {}
    for name, adaptive in (("uniform", False), ("adaptive", True)):
        # Not a box: the Dirichlet condition is a loss term on boundary points (no hard constraint).
        solver = kp.Solver(problem, seed=0, n_interior=n_interior, adaptive_sampling=adaptive)
        results[name] = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
        r = results[name]
        print(f"{name:>8} sampling: relative L2 error {r.rel_l2:.2e}, max error {r.max_abs:.2e}, {r.seconds:.1f} s")
    if out is not None:  # the adaptive solution and its error (largest at the corner)
        Path(out).mkdir(parents=True, exist_ok=True)
        solver.plot(result=results["adaptive"]).savefig(Path(out) / "lshape_solution.png", dpi=72)
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: L-shaped domain with adaptive sampling")
    parser.add_argument("--out", default=None, help="folder for the figure (default: none written)")
    main(out=parser.parse_args().out)
