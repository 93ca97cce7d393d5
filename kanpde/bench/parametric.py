"""One parametric solve against separate solves at 10 parameter values: seconds and errors side by side.

Families (the parameter is one more input of the network; a separate solve fixes it in the data):

- ``sine``: ``-u'' = mu^2 pi^2 sin(mu pi x)`` on ``[0, 1]``, ``u = sin(mu pi x)`` on the boundary, ``mu`` in
  ``[0.5, 1.5]`` (the solution depends nonlinearly on ``mu``);
- ``heat``: ``u_t = k u_xx`` on ``[0, 1] x [0, 1]``, ``u(x, 0) = sin(pi x)``, ``u = 0`` on the boundary, ``k`` in
  ``[0.05, 0.2]`` (exact ``exp(-pi^2 k t) sin(pi x)``).

Both routes use ``kp.Solver(problem, seed=0)`` with every default and the same grid schedule and steps; the errors
of the parametric solution are taken at the same 10 values (``result.errors_at``) on the same test points.
Seconds are wall time and CPU time of the process (one thread: CPU time is what a quiet machine would take).

Run:  python -m kanpde.bench.parametric [--family sine|heat] [--grid-schedule 5] [--steps 40] [--threads 1]
      (or `kanpde bench parametric --family heat`)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import cast

import torch

import kanpde as kp

__all__ = ["FAMILIES", "compare"]


def _sine(mu: float | None) -> kp.Problem:
    if mu is None:
        return kp.Poisson(
            kp.Interval(0, 1), f="mu**2*pi**2*sin(mu*pi*x)", bcs=[kp.Dirichlet("sin(mu*pi*x)")],
            exact="sin(mu*pi*x)", parameters=[kp.Parameter("mu", (0.5, 1.5))],
        )  # fmt: skip
    return kp.Poisson(
        kp.Interval(0, 1), f=f"{mu!r}**2*pi**2*sin({mu!r}*pi*x)", bcs=[kp.Dirichlet(f"sin({mu!r}*pi*x)")],
        exact=f"sin({mu!r}*pi*x)",
    )  # fmt: skip


def _heat(k: float | None) -> kp.Problem:
    if k is None:
        return kp.Heat(
            kp.Interval(0, 1), time=(0, 1), diffusivity="k", initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
            exact="exp(-pi**2*k*t)*sin(pi*x)", parameters=[kp.Parameter("k", (0.05, 0.2))],
        )  # fmt: skip
    return kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity=k, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        exact=f"exp(-pi**2*{k!r}*t)*sin(pi*x)",
    )  # fmt: skip


#: name -> (problem builder: None gives the family, a value one member; parameter name; its range)
FAMILIES: dict[str, tuple[Callable[[float | None], kp.Problem], str, tuple[float, float]]] = {
    "sine": (_sine, "mu", (0.5, 1.5)),
    "heat": (_heat, "k", (0.05, 0.2)),
}


def _timed(problem: kp.Problem, grid_schedule: list[int], steps: int) -> tuple[kp.Solver, kp.Result, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    solver = kp.Solver(problem, seed=0)
    result = solver.solve(grid_schedule=grid_schedule, steps=steps, progress=False)
    return solver, result, time.perf_counter() - wall, time.process_time() - cpu


def compare(family: str, grid_schedule: list[int], steps: int, n_values: int = 10) -> dict[str, object]:
    """Solve ``family`` once over its range and separately at ``n_values`` equally spaced values.

    Returns:
        a dict with ``values``, the parametric solve's ``parametric_seconds`` (wall, CPU), ``parametric_errors``
        (rel L2 per value) and ``parametric_rel_l2`` (whole box), and the separate solves' ``separate_seconds``
        (wall, CPU, summed) and ``separate_errors``.
    """
    build, name, (low, high) = FAMILIES[family]
    values = [low + (high - low) * i / (n_values - 1) for i in range(n_values)]
    solver, result, wall, cpu = _timed(build(None), grid_schedule, steps)
    members = result.errors_at(**{name: values})
    separate_errors, separate_wall, separate_cpu = [], 0.0, 0.0
    for value in values:
        _, member, member_wall, member_cpu = _timed(build(value), grid_schedule, steps)
        separate_errors.append(member.rel_l2)
        separate_wall, separate_cpu = separate_wall + member_wall, separate_cpu + member_cpu
    return {
        "values": values,
        "parametric_seconds": (wall, cpu),
        "parametric_rel_l2": result.rel_l2,
        "parametric_errors": [m.rel_l2 for m in members],
        "separate_seconds": (separate_wall, separate_cpu),
        "separate_errors": separate_errors,
        "width": solver.width,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="kanpde: one parametric solve against separate solves")
    parser.add_argument("--family", choices=sorted(FAMILIES), default="sine")
    parser.add_argument("--grid-schedule", default="5", help="grid sizes, e.g. 5,10")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    schedule = [int(g) for g in args.grid_schedule.split(",")]
    out = compare(args.family, schedule, args.steps)
    name = FAMILIES[args.family][1]
    print(
        f"{args.family}: grid_schedule={schedule}, steps={args.steps}, width of the parametric network {out['width']}"
    )
    print(f"{name:>8} {'parametric':>12} {'separate':>12}")
    for value, a, b in zip(out["values"], out["parametric_errors"], out["separate_errors"]):  # type: ignore[call-overload]
        print(f"{value:>8.4g} {a:>12.2e} {b:>12.2e}")
    pw, pc = cast(tuple[float, float], out["parametric_seconds"])
    sw, sc = cast(tuple[float, float], out["separate_seconds"])
    print(f"parametric: rel L2 over the whole box {out['parametric_rel_l2']:.2e}; {pw:.1f} s wall, {pc:.1f} s CPU")
    print(f"10 separate solves: {sw:.1f} s wall, {sc:.1f} s CPU; ratio separate/parametric {sw / pw:.2f} (wall), "
          f"{sc / pc:.2f} (CPU)")  # fmt: skip


if __name__ == "__main__":
    main()
