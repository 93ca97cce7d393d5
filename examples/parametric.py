"""Parametric problems: one solve for a whole family u(x; mu), sensitivities, errors per member, a plot.

    Poisson family:  -u'' = mu pi^2 sin(pi x) on [0, 1], u = 0 on the boundary, mu in [0.5, 2]
                     exact: u = mu sin(pi x)
    Heat family:     u_t = k u_xx on [0, 1] x [0, 1], u(x, 0) = sin(pi x), u = 0 on the boundary, k in [0.05, 0.2]
                     exact: u = exp(-pi^2 k t) sin(pi x)

The parameter is one more input of the network (columns x, then t, then the parameter), sampled over its range
like a coordinate, so one training gives every member; du/dk comes from the same network by differentiation.

Run:  python examples/parametric.py [--out DIR]      (default DIR: out/parametric)
Writes parametric.png (the heat solution at one point against k, with its sensitivity du/dk), heat_k0.1.h5/.xdmf
(the member k = 0.1, a time series in ParaView) and poisson_mu.h5/.xdmf (a sweep over mu that ParaView's time
slider steps through).
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import kanpde as kp


def poisson_family() -> kp.Poisson:
    return kp.Poisson(
        kp.Interval(0, 1), f="mu*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="mu*sin(pi*x)",
        parameters=[kp.Parameter("mu", (0.5, 2.0))],
    )  # fmt: skip


def heat_family() -> kp.Heat:
    return kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity="k", initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        exact="exp(-pi**2*k*t)*sin(pi*x)", parameters=[kp.Parameter("k", (0.05, 0.2))],
    )  # fmt: skip


def main(
    grid_schedule: tuple[int, ...] = (5, 10), steps: int = 50, *, out: str | Path = "out/parametric"
) -> tuple[kp.Result, kp.Result]:
    out = Path(out)
    poisson = kp.Solver(poisson_family(), seed=0)  # width [2, 10, 1]: the inputs are (x, mu)
    poisson_result = poisson.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(f"Poisson family: rel L2 over x and mu {poisson_result.rel_l2:.2e}")
    heat = kp.Solver(heat_family(), seed=0)  # width [3, 10, 1]: the inputs are (x, t, k)
    heat_result = heat.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(f"heat family: rel L2 over x, t and k {heat_result.rel_l2:.2e}")
    for member in heat_result.errors_at(k=[0.05, 0.1, 0.2]):
        print(f"  k = {member.values['k']:g}: rel L2 {member.rel_l2:.2e}")

    # u(1/2, 1; k) and du/dk against k: one network, evaluated at every k.
    k = torch.linspace(0.05, 0.2, 61, dtype=torch.float64)
    points = torch.tensor([[0.5, 1.0]], dtype=torch.float64).expand(len(k), 2)
    u = heat.predict(points, k=k)
    du_dk = heat.predict(points, k=k, derivative="k")
    exact = torch.exp(-(torch.pi**2) * k)
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.plot(k, u, label="network")
    left.plot(k, exact, "--", label="exact $e^{-\\pi^2 k}$")
    left.set(xlabel="diffusivity k", ylabel="u(1/2, 1; k)", title="heat: solution against the parameter")
    right.plot(k, du_dk, label="network du/dk")
    right.plot(k, -(torch.pi**2) * exact, "--", label="exact $-\\pi^2 e^{-\\pi^2 k}$")
    right.set(xlabel="diffusivity k", ylabel="du/dk at (1/2, 1)", title="sensitivity")
    for axes in (left, right):
        axes.legend()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "parametric.png", dpi=72)
    # One member of the family as a field (ParaView: a time series in t at k = 0.1).
    h5, xdmf = heat.export_hdf5(out / "heat_k0.1.h5", result=heat_result, k=0.1)
    sweep = poisson.export_hdf5(out / "poisson_mu.h5", result=poisson_result, mu=[0.5, 1.0, 1.5, 2.0])
    print("wrote", out / "parametric.png", h5, xdmf, *sweep)
    return poisson_result, heat_result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: parametric Poisson and heat families")
    parser.add_argument("--out", default="out/parametric", help="output folder (default: out/parametric)")
    main(out=parser.parse_args().out)
