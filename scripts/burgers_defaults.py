"""Measure kp.Solver defaults on a reference problem over seeds (CPU seconds of one thread, rel L2).

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python scripts/burgers_defaults.py \
          [--problem burgers_raissi] [--seeds 0 1 2] [--option name=value ...] [--profile]

``--option`` passes Solver keyword arguments (values parsed as Python literals); ``--profile`` prints the largest
error along x in bands at a few times (space-time problems in one space dimension).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
import time
from pathlib import Path

import torch

import kanpde as kp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def profile(solver: kp.Solver, problem_module: object, times: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)) -> None:
    x = torch.linspace(-1, 1, 2001, dtype=torch.float64)
    edges = [-1.0, -0.5, -0.1, -0.03, -0.01, 0.01, 0.03, 0.1, 0.5, 1.0]
    print("  max |error| in x bands " + " ".join(f"[{a:g},{b:g}]" for a, b in zip(edges, edges[1:])))
    for t in times:
        pts = torch.stack([x, torch.full_like(x, t)], dim=1)
        with torch.no_grad():
            err = (solver.solution.predict(pts).reshape(-1) - problem_module.exact_solution(pts)).abs()  # type: ignore[attr-defined]
        bands = [float(err[(x >= a) & (x <= b)].max()) for a, b in zip(edges, edges[1:])]
        print(f"  t={t:.2f} " + " ".join(f"{v:.1e}" for v in bands))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", default="burgers_raissi")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--option", action="append", default=[])
    parser.add_argument("--schedule", type=int, nargs="+", default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="print the loss on fresh points of the last grid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    module = importlib.import_module(f"problems.{args.problem}")
    options = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.option)}
    for seed in args.seeds:
        problem = module.make_problem()
        start = time.process_time()
        solver = kp.Solver(problem, seed=seed, **options)
        kwargs = {"grid_schedule": args.schedule} if args.schedule else {}
        result = solver.solve(progress=False, **kwargs)
        cpu = time.process_time() - start
        stages = "; ".join(
            f"G{s.grid} {s.steps} steps loss {s.loss:.1e} err {s.rel_l2:.1e} {s.n_parameters} par"
            for s in result.stages
        )
        print(
            f"{args.problem} seed {seed} {options}: points x{solver.state.points_factor} "
            f"rel_l2 {result.rel_l2:.2e} max {result.max_abs:.1e} cpu {cpu:.0f} s | {stages}",
            flush=True,
        )
        if args.fresh:
            fresh = solver._batch_loss(solver._sample_batch(solver.model.grid_size))
            print(f"  loss on fresh points {fresh:.2e} (training {result.stages[-1].loss:.2e})", flush=True)
        if args.profile:
            profile(solver, module)


if __name__ == "__main__":
    main()
