"""Identify an unknown diffusivity from 50 noisy sensor readings, with an error bar.

    u_t = k u_xx on [0, 1] x [0, 1],  u(x, 0) = sin(pi x),  u(0, t) = u(1, t) = 0,  k unknown (true 0.1)
    data: 50 readings of u at random (x, t), with Gaussian noise of standard deviation 0.01

The solver trains the network and k together (k > 0 by a softplus reparametrisation); the uncertainty is the
Gauss-Newton / Laplace standard deviation at the solution. The readings are also written to a CSV file and read
back with kp.Observations.from_file, as sensor data usually arrives.

Run:  python examples/inverse_heat_sensors.py [--out DIR]      (default DIR: out/inverse_heat)
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

import kanpde as kp


def sensor_file(path: Path, n: int = 50, noise: float = 0.01, seed: int = 0) -> Path:
    """Write ``n`` noisy readings of the true solution (k = 0.1) to a CSV file with the header ``x,t,u``."""
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(n, 2, generator=g, dtype=torch.float64) * 0.9 + 0.05
    exact = torch.exp(-(math.pi**2) * 0.1 * points[:, 1]) * torch.sin(math.pi * points[:, 0])
    values = exact + noise * torch.randn(n, generator=g, dtype=torch.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{x!r},{t!r},{u!r}" for (x, t), u in zip(points.tolist(), values.tolist()))
    path.write_text("x,t,u\n" + rows + "\n")
    return path


def main(grid_schedule: tuple[int, ...] = (5,), steps: int = 60, *, out: str | Path = "out/inverse_heat") -> kp.Result:
    readings = kp.Observations.from_file(sensor_file(Path(out) / "sensors.csv"), noise=0.01)
    k = kp.Unknown("k", init=0.5, bounds=(0, None))
    problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=k, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
                      data=[readings], exact="exp(-pi**2*t/10)*sin(pi*x)")  # fmt: skip
    solver = kp.Solver(problem, seed=0, n_interior=500)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)
    print(result.summary())
    print(f"k = {result.unknowns['k']:.5f} +- {result.uncertainty['k']:.5f}  (true 0.1)")
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="kanpde: unknown diffusivity from noisy sensors")
    parser.add_argument("--out", default="out/inverse_heat", help="output folder (default: out/inverse_heat)")
    main(out=parser.parse_args().out)
