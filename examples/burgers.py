"""A general PDE with kp.PDE: the viscous Burgers equation u_t + u u_x = nu u_xx, a travelling front.

    nu = 0.05 on [-1, 1] x [0, 1];  exact (Cole-Hopf):  u = 1/2 - tanh((x + 1/4 - t/2) / (4 nu)) / 2

kp.PDE takes the residual as a function of u: u.value, u.x, u.xx, u.t, u.laplacian, ... (derivatives the residual
uses are found by a probe call; values, gradients and Laplacians come from the forward jets, other derivatives
from autograd). Boundary and initial data are the exact solution's traces.

Run:  python examples/burgers.py [--out DIR]     (about 40 s; writes DIR/burgers_solution.png)
"""

from __future__ import annotations

from pathlib import Path

import kanpde as kp

NU = 0.05


def exact(x: str = "x", t: str = "t") -> str:
    """The exact solution as a string in x and t (or its trace, e.g. exact(x="1") on the right end)."""
    return f"1/2 - tanh(({x} + 1/4 - {t}/2)/(4*{NU}))/2"


def main(grid_schedule: tuple[int, ...] = (5, 10, 20), steps: int = 50, *, out: str | Path | None = None) -> kp.Result:
    problem = kp.PDE(
        kp.Interval(-1, 1),
        lambda u: u.t + u.value * u.x - NU * u.xx,  # what vanishes
        bcs=[kp.Dirichlet(exact(x="(-1)"), on="left"), kp.Dirichlet(exact(x="1"), on="right")],
        time=(0, 1),
        initial=exact(t="0"),
        exact=exact(),
    )
    solver = kp.Solver(problem, width=[2, 10, 1], seed=0, n_interior=4000)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        solver.plot(result=result).savefig(Path(out) / "burgers_solution.png", dpi=72)
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: Burgers' equation with kp.PDE")
    parser.add_argument("--out", default=None, help="folder for the figure (default: none written)")
    main(out=parser.parse_args().out)
