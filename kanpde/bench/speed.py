"""Speed and memory of the solver's loss + gradient, against the dense nested-autograd baseline, in one run.

Two tables, 2-D Poisson ``-Laplace u = f``, KAN ``[2, 10, 1]``, k = 3:

1. One Laplacian loss + parameter gradient on N points at grid G: forward jets with a local basis
   (:mod:`kanpde.bench.kan_speed`) against pykan's way (dense Cox-de Boor basis, nested reverse-mode autograd):
   milliseconds (median), throughput (points per second) and peak memory (MB above the process's resting level).
2. The solver's own stage objective (hard constraint, points in chunks of ``--chunk-size``) for growing N up to
   1,000,000 points: milliseconds, throughput and peak memory, showing that memory stops growing with N once
   the points fill one chunk, and does not depend on G.

Peak memory is the resident-set high-water mark (``VmHWM``), reset before each measurement through
``/proc/self/clear_refs`` (Linux); elsewhere the column is left empty.
``--compile`` adds a row per (G, N) with ``torch.compile`` of the jet loss (its compile time is printed apart).

Run:  python -m kanpde.bench.speed          (or `kanpde bench speed`; 1 thread, float64 by default)
      python -m kanpde.bench.speed --grids 5,100 --points 1000,10000 --solver-points 10000,1000000
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..kan import KAN
from .kan_speed import autograd_loss_and_grad, jet_loss_and_grad, poisson_target, time_call

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _resident_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _release_free_memory() -> None:
    """Give memory freed by Python and torch back to the system (glibc keeps it otherwise, hiding new peaks)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory_mb(fn: Callable[[], object]) -> float | None:
    """Peak resident memory (MB) while ``fn`` runs, above the level just before it; None where not measurable."""
    _release_free_memory()
    try:
        _CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident size
    except OSError:
        return None
    before = _resident_mb("VmRSS")
    fn()
    peak = _resident_mb("VmHWM")
    if before is None or peak is None:
        return None
    return max(peak - before, 0.0)


def _row(label: str, grid: int, n_points: int, ms: float, peak: float | None, reference: float | None) -> str:
    ratio = "" if reference is None else f"{reference / ms:8.1f}x"
    mem = "" if peak is None else f"{peak:9.0f}"
    rate = n_points / (ms / 1e3)
    return f"{label:22s} {grid:>5} {n_points:>9} {ms:11.1f} {rate:12.3g} {mem:>9} {ratio}"


def kernel_table(
    grids: list[int], points: list[int], *, repeats: int, dtype: torch.dtype, compile_: bool, max_baseline_s: float
) -> None:
    """Table 1: one loss + gradient, jets vs nested autograd (see the module docstring)."""
    print(f"{'evaluation':22s} {'G':>5} {'N':>9} {'ms':>11} {'points/s':>12} {'peak MB':>9} vs autograd")
    generator = torch.Generator().manual_seed(0)
    for n_points in points:
        x = torch.rand(n_points, 2, generator=generator, dtype=dtype) * 2 - 1
        f = poisson_target(x)
        for grid in grids:
            model = KAN([2, 10, 1], grid=grid, k=3, seed=0, dtype=dtype)
            jet = functools.partial(jet_loss_and_grad, model, x, f)
            jet_ms = time_call(jet, repeats)
            jet_peak = peak_memory_mb(jet)
            small = min(n_points, 1000)
            probe_ms = time_call(functools.partial(autograd_loss_and_grad, model, x[:small], f[:small]), 1)
            base_ms = None
            if probe_ms * n_points / small * (repeats + 1) / 1e3 <= max_baseline_s:
                base = functools.partial(autograd_loss_and_grad, model, x, f)
                base_ms = time_call(base, repeats)
                print(_row("nested autograd, dense", grid, n_points, base_ms, peak_memory_mb(base), None), flush=True)
            print(_row("jet, local basis", grid, n_points, jet_ms, jet_peak, base_ms), flush=True)
            if compile_:
                compiled = torch.compile(jet_loss_and_grad)
                start = time.perf_counter()
                compiled(model, x, f)
                compile_s = time.perf_counter() - start
                fast = functools.partial(compiled, model, x, f)
                ms = time_call(fast, repeats)
                note = f"   (compiled in {compile_s:.0f} s; {jet_ms / ms:.2f}x the plain jet)"
                print(_row("jet, torch.compile", grid, n_points, ms, peak_memory_mb(fast), base_ms) + note, flush=True)


def solver_table(grids: list[int], points: list[int], *, chunk_size: int, dtype: torch.dtype) -> None:
    """Table 2: the solver's chunked stage objective (loss + gradient) for growing N and G."""
    import kanpde as kp
    from kanpde.pde.objective import LossObjective
    from kanpde.pde.residuals import collocation_terms

    problem = kp.Poisson(kp.Rectangle((-1, -1), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
                         exact="sin(pi*x)*sin(pi*y)")  # fmt: skip
    print(f"\nsolver stage objective (hard constraint), chunks of {chunk_size} points")
    print(f"{'evaluation':22s} {'G':>5} {'N':>9} {'ms':>11} {'points/s':>12} {'peak MB':>9}")
    for n_points in points:
        for grid in grids:
            solver = kp.Solver(problem, width=[2, 10, 1], grid=grid, n_interior=n_points, n_boundary=64,
                               dtype=dtype, chunk_size=chunk_size)  # fmt: skip
            batch = solver._sample_batch()
            terms = collocation_terms(problem, batch, solver.request)
            objective = LossObjective(solver.approximation, terms, {}, chunk_size=chunk_size)
            call = functools.partial(objective.backward)
            repeats = 3 if n_points <= 100_000 else 1
            ms = time_call(call, repeats)
            print(_row("solver objective", grid, n_points, ms, peak_memory_mb(call), None), flush=True)
            del solver, batch, objective


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grids", default="5,20,100", help="grid sizes, comma separated")
    parser.add_argument("--points", default="1000,10000,100000", help="points of table 1, comma separated")
    parser.add_argument("--solver-points", default="10000,100000,1000000", help="points of table 2")
    parser.add_argument("--chunk-size", type=int, default=65_536)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the jet loss")
    parser.add_argument("--max-baseline-seconds", type=float, default=60.0, help="skip slower baseline rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    grids = [int(v) for v in args.grids.split(",")]
    print(f"KAN [2, 10, 1], k=3, {args.dtype}, {args.threads} thread(s), torch {torch.__version__}; "
          f"medians of {args.repeats}; 2-D Poisson Laplacian loss + parameter gradient")  # fmt: skip
    kernel_table(grids, [int(v) for v in args.points.split(",")], repeats=args.repeats, dtype=dtype,
                 compile_=args.compile, max_baseline_s=args.max_baseline_seconds)  # fmt: skip
    if args.solver_points:
        solver_table(grids, [int(v) for v in args.solver_points.split(",")], chunk_size=args.chunk_size,
                     dtype=dtype)  # fmt: skip


if __name__ == "__main__":
    main()
