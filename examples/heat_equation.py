"""The heat equation u_t = k u_xx on [0, 1] x [0, 1], two decaying modes; export to HDF5/XDMF and VTU, and plots.

    u(x, 0) = sin(pi x) + sin(3 pi x)/2,   u(0, t) = u(1, t) = 0,   k = 1/10
    exact:  u = exp(-k pi^2 t) sin(pi x) + exp(-9 k pi^2 t) sin(3 pi x)/2

Run:  python examples/heat_equation.py [--out DIR]      (default DIR: out/heat)
Writes heat.h5 + heat.xdmf (open the .xdmf in ParaView: a time series), heat.vtu (every output time as its own
point data), heat_solution.png and heat_history.png.
"""

from __future__ import annotations

from pathlib import Path

import kanpde as kp
from kanpde.plot.history import plot_history


def main(grid_schedule: tuple[int, ...] = (5, 10, 20), steps: int = 50, *, out: str | Path = "out/heat") -> kp.Result:
    problem = kp.Heat(
        kp.Interval(0, 1),
        time=(0, 1),
        diffusivity=0.1,
        initial="sin(pi*x) + sin(3*pi*x)/2",
        bcs=[kp.Dirichlet(0)],  # with the initial value, imposed exactly: u = t*b(x)*N(x, t) + u0(x)
        exact="exp(-pi**2*t/10)*sin(pi*x) + exp(-9*pi**2*t/10)*sin(3*pi*x)/2",
    )
    solver = kp.Solver(problem, seed=0)  # width [2, 10, 1]: the inputs are (x, t)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())

    out = Path(out)
    # HDF5 with an XDMF companion (11 output times by default), and one VTU file through meshio.
    h5, xdmf = solver.export_hdf5(out / "heat.h5", result=result)
    vtu = solver.export_mesh(out / "heat.vtu")
    # Figures: u(x, t) with its error, and the loss terms per optimiser step (dashed lines: grid extensions).
    solver.plot(result=result).savefig(out / "heat_solution.png", dpi=72)
    plot_history(result).savefig(out / "heat_history.png", dpi=72)
    print("wrote", h5, xdmf, vtu, out / "heat_solution.png", out / "heat_history.png")
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: the heat equation, exported and plotted")
    parser.add_argument("--out", default="out/heat", help="output folder (default: out/heat)")
    main(out=parser.parse_args().out)
