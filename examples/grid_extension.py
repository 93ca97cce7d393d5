"""Grid extension as refinement: the error after each grid stage, on sin(2 pi x) sin(2 pi y) over [-1, 1]^2.

Each stage refines every spline of the KAN (a new model on the finer grid, fitted by least squares so that it
computes the same function), draws fresh collocation points (three per parameter) and trains again. The error
falls stage by stage as the finite-element error falls when a mesh is refined.

Run:  python examples/grid_extension.py [--out DIR]     (about a minute; writes DIR/grid_extension.png)
"""

from __future__ import annotations

from pathlib import Path

import kanpde as kp
from kanpde.pde.result import StageRecord


def main(
    grid_schedule: tuple[int, ...] = (4, 8, 16, 32), steps: int = 50, *, out: str | Path | None = None
) -> list[StageRecord]:
    problem = kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)),
        f="8*pi**2*sin(2*pi*x)*sin(2*pi*y)",
        bcs=[kp.Dirichlet(0)],
        exact="sin(2*pi*x)*sin(2*pi*y)",
    )
    solver = kp.Solver(problem, width=[2, 10, 1], seed=0)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(f"{'grid':>5} {'parameters':>10} {'rel L2':>9} {'max err':>9} {'seconds':>8}")
    for s in result.stages:
        print(f"{s.grid:>5} {s.n_parameters:>10} {s.rel_l2:>9.2e} {s.max_abs:>9.2e} {s.seconds:>8.1f}")
    if out is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 4), layout="constrained")
        ax = fig.add_subplot()
        grids = [s.grid for s in result.stages]
        ax.loglog(grids, [s.rel_l2 for s in result.stages], "o-", label="relative L2 error")
        ax.loglog(grids, [s.max_abs for s in result.stages], "s--", label="max error")
        ax.set_xticks(grids, [str(g) for g in grids])
        ax.tick_params(axis="x", which="minor", labelbottom=False)  # only the grid sizes as labels
        ax.set_xlabel("grid size (intervals per spline)")
        ax.set_title(f"grid extension {' -> '.join(map(str, grids))}, {steps} steps per stage")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        Path(out).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(out) / "grid_extension.png", dpi=72)
    return result.stages


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: grid extension as refinement")
    parser.add_argument("--out", default=None, help="folder for the figure (default: none written)")
    main(out=parser.parse_args().out)
