"""Time to accuracy with the defaults a user would use: when does the error first reach 1e-4 ... 1e-8?

Solves the 2-D Poisson problem ``sin(pi x) sin(pi y)`` on ``[-1, 1]^2`` and the 1-D heat problem
``exp(-pi^2 t) sin(pi x)`` with ``kp.Solver(problem, seed=0).solve(grid_schedule, steps)``, evaluating the
relative L2 error after every step on 20,000 test points; the evaluations are left out of the timings. Per stage it
prints the loss, the error, the seconds and the loss ratio across the grid switch (1: the function was kept).

Then the KAN paper's regression chain: ``exp(sin(pi x) + y^2)``, width ``[2, 1, 1]``, 1000 training points,
grids 5 -> 10 -> 20 -> 50 with ``--chain-steps`` fit steps per grid: L-BFGS and Levenberg-Marquardt with cubic
splines (``k=3``, the default), and Levenberg-Marquardt with cubic splines on grid 5 raised to quintic ones at the
first refine (``refine(10, k=5)``): the test RMSE after every refine and every fit.

Run:  python -m kanpde.bench.time_to_accuracy [--threads 1]    (or `kanpde bench accuracy`)
"""

from __future__ import annotations

import argparse
import math
import time
from typing import TypedDict

import torch

import kanpde as kp
from kanpde.pde.result import StageRecord

TARGETS = (1e-4, 1e-5, 1e-6, 1e-7, 5e-8, 1e-8)


def poisson_2d() -> kp.Problem:
    return kp.Poisson(
        kp.Rectangle((-1, -1), (1, 1)),
        f="2*pi**2*sin(pi*x)*sin(pi*y)",
        bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y)",
    )


def heat_1d() -> kp.Problem:
    return kp.Heat(
        kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="exp(-pi**2*t)*sin(pi*x)"
    )


class Timing(TypedDict):
    """What :func:`time_to_accuracy` measured."""

    first: dict[float, float]  # target error -> seconds until the error first reached it
    final: float | None  # final relative L2 error
    seconds: float  # total wall time
    stages: list[StageRecord]
    first_cpu: dict[float, float]  # the same in CPU seconds of this process (robust on a shared machine)
    cpu_seconds: float


def time_to_accuracy(
    problem: kp.Problem, grid_schedule: list[int], steps: int, rtol: float = 1e-3, **options: object
) -> Timing:
    """Seconds until the error first reached each target, the final error and the total time.

    ``options`` go to :class:`kp.Solver` (``k``, ``n_interior``, ...)."""
    first: dict[float, float] = {}
    first_cpu: dict[float, float] = {}
    trace: list[tuple[float, float]] = []
    cpu = {"start": time.process_time(), "paused": 0.0}  # CPU seconds of this process, less the evaluations

    def watch(solver: kp.Solver, record: object) -> None:
        entered = time.process_time()
        rel, _ = solver.errors()
        assert rel is not None
        trace.append((record.seconds, rel))  # type: ignore[attr-defined]
        for target in TARGETS:
            if rel <= target and target not in first:
                first[target] = record.seconds  # type: ignore[attr-defined]
                first_cpu[target] = entered - cpu["start"] - cpu["paused"]
        cpu["paused"] += time.process_time() - entered

    solver = kp.Solver(problem, seed=0, **options)  # type: ignore[arg-type]
    result = solver.solve(grid_schedule=grid_schedule, steps=steps, progress=False, callback=watch, rtol=rtol)
    total_cpu = time.process_time() - cpu["start"] - cpu["paused"]
    return {"first": first, "final": result.rel_l2, "seconds": result.seconds, "stages": result.stages,
            "first_cpu": first_cpu, "cpu_seconds": total_cpu}  # fmt: skip


def regression_chain(
    optimizer: str, steps: int, grids: tuple[int, ...] = (5, 10, 20, 50), k_fine: int | None = None
) -> list[str]:
    """Test RMSE after every refine and every fit of the KAN paper's chain (cubic splines on the first grid,
    degree ``k_fine`` from the first refine on), as printable lines."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1000, 2, generator=generator, dtype=torch.float64) * 2 - 1
    x_test = torch.rand(1000, 2, generator=generator, dtype=torch.float64) * 2 - 1

    def f(p: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.sin(math.pi * p[:, :1]) + p[:, 1:] ** 2)

    def rmse(model: kp.KAN) -> float:
        with torch.no_grad():
            return float(((model(x_test) - f(x_test)) ** 2).mean().sqrt())

    model = kp.KAN([2, 1, 1], grid=grids[0], k=3, seed=0, dtype=torch.float64)
    lines, start = [], time.perf_counter()
    for grid in grids:
        if grid != grids[0]:
            model = model.refine(grid, k=k_fine)
            lines.append(f"    refine -> {grid:<3d} test RMSE {rmse(model):.2e}")
        model.fit(x, f(x), steps=steps, optimizer=optimizer, progress=False)
        lines.append(f"    fit G={grid:<3d}    test RMSE {rmse(model):.2e}  {time.perf_counter() - start:6.1f} s")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid-schedule", default="5,10,30")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rtol", type=float, default=1e-3, help="stage stall tolerance (Solver.solve's rtol)")
    parser.add_argument("--chain-steps", type=int, default=50, help="fit steps per grid of the regression chain")
    parser.add_argument("--problems", default="poisson_2d,heat_1d", help="which of poisson_2d, heat_1d")
    parser.add_argument("--no-chain", action="store_true", help="leave out the regression chain")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    schedule = [int(v) for v in args.grid_schedule.split(",")]
    print(f"time to accuracy, float64, {args.threads} thread(s), grid schedule {schedule}, <= {args.steps} steps/stage")
    print(
        f"{'problem':14s} "
        + " ".join(f"{'<=' + format(t, '.0e'):>9}" for t in TARGETS)
        + f" {'final':>9} {'total s':>8}"
    )
    makers = {"poisson_2d": poisson_2d, "heat_1d": heat_1d}
    for name in args.problems.split(","):
        out = time_to_accuracy(makers[name](), schedule, args.steps, args.rtol)
        first = out["first"]
        cells = " ".join(f"{first[t]:>8.1f}s" if t in first else f"{'-':>9}" for t in TARGETS)
        final = out["final"]
        print(f"{name:14s} {cells} {final:>9.2e} {out['seconds']:>8.1f}" if final is not None and math.isfinite(final)
              else f"{name:14s} {cells}")  # fmt: skip
        cpu_cells = " ".join(f"{out['first_cpu'][t]:>8.1f}s" if t in out["first_cpu"] else f"{'-':>9}" for t in TARGETS)
        print(f"{'  CPU seconds':14s} {cpu_cells} {'':>9} {out['cpu_seconds']:>8.1f}")
        for stage in out["stages"]:
            ratio = "" if stage.switch_ratio is None else f"  loss after/before switch {stage.switch_ratio:.3f}"
            print(f"    G={stage.grid:<4d} steps {stage.steps:>4d}  loss {stage.loss:.2e}  rel L2 {stage.rel_l2:.2e}"
                  f"  {stage.seconds:6.1f} s{ratio}")  # fmt: skip

    for optimizer, k_fine in () if args.no_chain else (("lbfgs", None), ("lm", None), ("lm", 5)):
        degree = "k=3" if k_fine is None else f"k=3, then k={k_fine} from the first refine"
        print(f"KAN paper regression chain, [2,1,1], {degree}, {args.chain_steps} {optimizer} steps per grid")
        print("\n".join(regression_chain(optimizer, args.chain_steps, k_fine=k_fine)))


if __name__ == "__main__":
    main()
