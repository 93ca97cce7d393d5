"""The ``kanpde`` command: ``kanpde solve | list | bench``.

- ``kanpde solve [PROBLEM] [--grid-schedule 5,10,20] [--steps N] [--out DIR]``: solve a problem of the suite
  (``problems/NAME.py`` beside the kanpde package; never a ``problems/`` folder of the current directory) or the
  Python file whose path is given (ending in ``.py`` or containing a ``/``), defining ``make_problem()`` (or a
  ``problem`` variable); without PROBLEM, the default 2-D Poisson problem. A named file is code and runs.
  Prints a summary and writes the results into DIR.
  ``--distributed`` under ``torchrun --nproc_per_node=N -m kanpde solve ...`` shards the collocation points over
  the processes (gloo on CPU, NCCL on CUDA); rank 0 prints and writes.
  ``--param mu=1.3`` (repeatable) sets a parameter of a parametric problem for the exported field and plots
  (default: the middle of its range); the solve covers the whole range.
- ``kanpde list``: the problems of the suite.
- ``kanpde bench [PROBLEMS...]``: solve each with its recommended settings and print a table with the published
  baseline beside it; ``kanpde bench kan`` runs the KAN speed benchmark, ``kanpde bench speed`` the speed and
  memory benchmark (against N and G, up to 1e6 points), ``kanpde bench accuracy`` the time-to-accuracy benchmark,
  ``kanpde bench parametric`` one parametric solve against separate solves at 10 parameter values.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .io.atomic import check_writable

DEFAULT_PROBLEM = "poisson_2d_sin"


def problems_dir() -> Path:
    """The reference suite: the ``problems`` package beside the package source (in a checkout of kanpde).

    Only this folder is searched for problem names; a ``problems/`` folder in the current directory is never
    imported (a Python file runs only when the user names its path).
    """
    return Path(__file__).resolve().parent.parent / "problems"


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kanpde_problem_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"kanpde: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(name: str, folder: Path) -> ModuleType:
    """The package ``name`` imported from ``folder`` itself (never found through ``sys.path``, which may hold the
    current directory)."""
    init = (folder / "__init__.py").resolve()
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", None) or "").resolve() == init:
            return existing
        raise SystemExit(
            f"kanpde: another module named {name!r} ({existing.__file__}) is imported; cannot import {init}"
        )
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder.resolve())])
    if spec is None or spec.loader is None:
        raise SystemExit(f"kanpde: cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_suite_module(name: str) -> ModuleType:
    """A module of the suite, imported as ``problems.NAME`` from :func:`problems_dir` (the suite shares helpers by
    relative imports)."""
    _package("problems", problems_dir())
    return importlib.import_module(f"problems.{name}")


def _is_path(name: str) -> bool:
    return name.endswith(".py") or "/" in name or (os.sep in name) or (os.altsep is not None and os.altsep in name)


def resolve_problem(name: str | None) -> tuple[str, ModuleType]:
    """The module of a suite problem (by name, from :func:`problems_dir` only) or of a Python file (by path: a name
    that ends in ``.py`` or contains a path separator)."""
    name = name or DEFAULT_PROBLEM
    if _is_path(name):
        path = Path(name)
        if not path.is_file():
            raise SystemExit(f"kanpde: no such file: {name}")
        folder = path.resolve().parent
        if folder == problems_dir().resolve():  # a file of the suite, named by its path
            return path.stem, _load_suite_module(path.stem)
        if (folder / "__init__.py").is_file():  # a file of a package: relative imports work
            return path.stem, importlib.import_module(f"{_package(f'kanpde_user_{folder.name}', folder).__name__}."
                                                      f"{path.stem}")  # fmt: skip
        return path.stem, _load_module(path)
    if name not in list_problems():
        known = ", ".join(list_problems()) or "(no problems/ directory beside kanpde)"
        raise SystemExit(f"kanpde: unknown problem {name!r}; known problems: {known} (or give the path of a .py file)")
    return name, _load_suite_module(name)


def build_problem(module: ModuleType) -> Any:
    if hasattr(module, "make_problem"):
        return module.make_problem()
    if hasattr(module, "problem"):
        return module.problem
    raise SystemExit(f"kanpde: {module.__file__} defines neither make_problem() nor a `problem` variable")


def list_problems() -> list[str]:
    folder = problems_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def _schedule(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        message = f"must be integers separated by commas, e.g. 5,10,20; got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not values or min(values) < 1 or any(b <= a for a, b in zip(values, values[1:])):
        raise argparse.ArgumentTypeError(f"must be increasing positive integers such as 5,10,20; got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    from .kan.network import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in 0 ... 2**62, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in 0 ... 2**62, got {text!r}")
    return value


def _device(text: str) -> str:
    from .pde.solver import _device as checked_device

    try:
        checked_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (argparse also prints the usage)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _settings(module: ModuleType, args: argparse.Namespace) -> tuple[dict[str, Any], list[int] | None, int]:
    """The problem's SETTINGS with the command line's overrides: constructor arguments, the grid schedule (None:
    the solver's default, which it may raise to hold the initial value) and the steps per stage."""
    settings = dict(getattr(module, "SETTINGS", {}) or {})
    schedule = args.grid_schedule if args.grid_schedule is not None else settings.pop("grid_schedule", None)
    steps = args.steps if args.steps is not None else settings.pop("steps", 100)
    settings.pop("grid_schedule", None)
    settings.pop("steps", None)
    return settings, None if schedule is None else list(schedule), int(steps)


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not name.strip().isidentifier() or number != number or number in (float("inf"), -float("inf")):
        raise argparse.ArgumentTypeError(f"--param must look like NAME=NUMBER (e.g. mu=1.3), got {text!r}")
    return name.strip(), number


def _parameter_values(
    problem: Any, given: Sequence[tuple[str, float]] | None, settings: Sequence[str] = ()
) -> dict[str, float]:
    """Values of the problem's parameters for the outputs: ``--param`` values, else the middle of each range.

    ``settings``: the names ``make_problem`` takes (a suite module's ``PARAMETERS``), which ``--param`` does not
    set; naming one gets an error that says so."""
    values = dict(given or [])
    names = [p.name for p in problem.parameters]
    unknown = [k for k in values if k not in names]
    if unknown:
        known = f"its parameters are {', '.join(names)}" if names else "it has no parameters"
        message = f"--param {unknown[0]}: the problem has no parameter {unknown[0]!r}; {known}"
        if unknown[0] in settings:
            message += (
                f" (--param sets a kp.Parameter of a parametric problem for the outputs; {unknown[0]!r} is an "
                f"argument of make_problem(), which the command line does not change: in Python, "
                f"problems.load(NAME).make_problem({unknown[0]}=...))"
            )
        raise ValueError(message)
    for parameter in problem.parameters:
        if parameter.name not in values:
            values[parameter.name] = (parameter.low + parameter.high) / 2
            print(f"kanpde: {parameter.name}={values[parameter.name]:g} for the outputs (the middle of its range; "
                  f"choose with --param {parameter.name}=VALUE)")  # fmt: skip
        elif not parameter.low <= values[parameter.name] <= parameter.high:
            print(f"kanpde: warning: --param {parameter.name}={values[parameter.name]:g} lies outside its range "
                  f"[{parameter.low:g}, {parameter.high:g}]: extrapolation", file=sys.stderr)  # fmt: skip
    return values


def solve_command(args: argparse.Namespace) -> int:
    import torch

    import kanpde as kp

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out}: this is an existing file, not a folder; name a folder for the results")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    name, module = resolve_problem(args.problem)
    problem = build_problem(module)
    settings, schedule, steps = _settings(module, args)
    windows = settings.pop("time_windows", None) if args.time_windows is None else args.time_windows
    start = settings.pop("start", "auto") if windows is None else None  # windows start from the last window
    parameters = _parameter_values(problem, getattr(args, "param", None), tuple(getattr(module, "PARAMETERS", ())))
    for key in ("n_interior", "chunk_size", "device"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    root = True
    if args.distributed:
        from .pde.distributed import init_from_environment

        comm = init_from_environment(settings.get("device", "cpu"))
        root = comm.is_root
        if str(settings.get("device", "cpu")).startswith("cuda"):
            settings["device"] = f"cuda:{torch.cuda.current_device()}"
    say = print if root else (lambda *a, **k: None)
    solver = kp.Solver(problem, seed=args.seed, distributed=args.distributed, **settings)
    say(f"kanpde: solving {name}: {problem.description}")
    if args.distributed:
        say(f"kanpde: {solver.comm.world_size} processes, {torch.distributed.get_backend()} backend")
    if root:
        check_writable(out / "summary.json")  # before solving: an unwritable --out fails now, not after the solve
    try:
        result = solver.solve(
            grid_schedule=schedule,
            steps=steps,
            progress=root and not args.quiet,
            time_windows=windows,
            start=start,
        )
    except KeyboardInterrupt:  # keep what was done: the summary and the field of the last completed step
        if solver.result is None or not root:
            raise
        written = write_outputs(solver, solver.result, out, name, complete=False, parameters=parameters)
        print(f"kanpde: interrupted; wrote the result so far to {', '.join(map(str, written))}", file=sys.stderr)
        return 130
    say(result.summary())
    rel = "n/a" if result.rel_l2 is None else f"{result.rel_l2:.3e}"
    mx = "n/a" if result.max_abs is None else f"{result.max_abs:.3e}"
    say(f"relative L2 error {rel}, max error {mx}, {result.seconds:.1f} s")
    if root:  # in a distributed run every rank holds the same model: rank 0 writes
        for path in write_outputs(solver, result, out, name, parameters=parameters):
            print(f"wrote {path}")
    if args.distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0


def write_outputs(
    solver: Any, result: Any, out: Path, name: str, *, complete: bool = True, parameters: dict[str, float] | None = None
) -> list[Path]:
    """Everything a solve leaves behind in ``out``: the summary, and the field, plots and formula when available.

    ``parameters``: the parameter values the field and the plot are written at (a parametric problem).

    ``complete=False`` (an interrupted solve) writes the summary and the field only: quick, and nothing that
    could take long after the user asked to stop.
    """
    from .io.atomic import atomic_path

    def atomic_write_text(path: Path, text: str) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "problem": name,
        "description": solver.problem.description,
        "rel_l2": result.rel_l2,
        "max_abs": result.max_abs,
        "seconds": result.seconds,
        "stopped": result.stopped,
        "stages": [vars(s) for s in result.stages],
        "notes": list(getattr(result, "notes", [])),
        "unknowns": dict(getattr(result, "unknowns", {})),
        "uncertainty": dict(getattr(result, "uncertainty", {})),
    }
    if parameters:
        summary["parameters"] = dict(parameters)
    at = dict(parameters or {})
    written = [out / "summary.json"]
    atomic_write_text(written[0], json.dumps(summary, indent=2))
    if not complete:
        return written + list(solver.export_hdf5(out / "solution.h5", result=result, **at))
    formula, files = write_formula(solver, out)
    written += files
    written += list(solver.export_hdf5(out / "solution.h5", result=result, formula=formula, **at))
    from .plot.history import plot_history

    if solver.problem.space_dim <= 2:  # plot_solution draws 1-D and 2-D fields; the HDF5 file holds any other
        solver.plot(out / "solution.png", result=result, **({"parameters": at} if at else {}))
        written.append(out / "solution.png")
    plot_history(result, out / "history.png")
    solver.model.plot(path=out / "network.png")
    written += [out / "history.png", out / "network.png"]
    return written


def write_formula(solver: Any, out: Path) -> tuple[Any, list[Path]]:
    """The closed-form solution beside the field: ``formula.txt`` (the formula, its LaTeX and the verdict),
    ``formula.tex`` (LaTeX) and ``verification.json`` (the formula substituted into the PDE and the conditions,
    see :func:`kanpde.symbolic.verify.verify_formula`). Returns the formula (None when there is none) and the
    files written.
    """
    from .io.atomic import atomic_path

    def atomic_write_text(path: Path, text: str) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    if not hasattr(solver, "symbolic"):
        return None, []
    try:
        from .symbolic.solution import solution_formula

        found = solution_formula(solver)
    except Exception as err:  # a formula is a bonus: report, never lose the field because of it
        print(f"kanpde: no closed-form formula: {err}", file=sys.stderr)
        return None, []
    import sympy

    latex = sympy.latex(found.expr)
    verdict = found.verification.summary if found.verification is not None else "not verified"
    print(f"formula: u = {found.expr}\n  {verdict}")
    text = (
        f"u = {found.expr}\nLaTeX: {latex}\nverification: {verdict}\n"
        f"relative L2 distance to the network: {found.rel_error_network:.3e}\n"
    )
    atomic_write_text(out / "formula.txt", text)
    atomic_write_text(out / "formula.tex", f"u = {latex}\n")
    record = {
        "formula": str(found.expr),
        "latex": latex,
        "route": found.route,
        "rel_error_network": found.rel_error_network,
        "rel_error_exact": found.rel_error_exact,
        "is_solution": found.is_solution,
        "verification": None if found.verification is None else found.verification.to_dict(),
        "candidates": [
            {"route": c.route, "formula": None if c.expr is None else str(c.expr), "rel_error_network":
             c.rel_error_network, "is_solution": c.is_solution, "seconds": c.seconds, "note": c.note}
            for c in found.candidates
        ],
    }  # fmt: skip
    atomic_write_text(out / "verification.json", json.dumps(record, indent=2))
    return found.expr, [out / "formula.txt", out / "formula.tex", out / "verification.json"]


def list_command(args: argparse.Namespace) -> int:
    names = list_problems()
    if not names:
        print(
            f"kanpde: no problems/ directory beside kanpde ({problems_dir()}): use a checkout of kanpde",
            file=sys.stderr,
        )
        return 1
    for name in names:
        module = _load_suite_module(name)
        doc = (module.__doc__ or "").strip().splitlines()
        print(f"{name:28s} {doc[0] if doc else ''}")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    if args.problems and args.problems[0] == "kan":
        from .bench import kan_speed

        kan_speed.main(args.problems[1:])
        return 0
    if args.problems and args.problems[0] == "speed":
        from .bench import speed

        speed.main(args.problems[1:])
        return 0
    if args.problems and args.problems[0] == "accuracy":
        from .bench import time_to_accuracy

        time_to_accuracy.main(args.problems[1:])
        return 0
    if args.problems and args.problems[0] == "parametric":
        from .bench import parametric

        parametric.main(args.problems[1:])
        return 0
    import torch

    import kanpde as kp

    torch.set_num_threads(args.threads or 1)
    names = args.problems or list_problems()
    print(f"{'problem':28s} {'rel L2':>10} {'max err':>10} {'seconds':>8}   baseline")
    for name in names:
        _, module = resolve_problem(name)
        settings, schedule, steps = _settings(module, args)
        windows = settings.pop("time_windows", None)  # a problem's SETTINGS may ask for time marching
        first = settings.pop("start", "auto")  # ... or for a starting guess (kanpde.pde.euler_start)
        start = time.perf_counter()
        result = kp.Solver(build_problem(module), seed=args.seed, **settings).solve(
            grid_schedule=schedule, steps=steps, progress=False, time_windows=windows, start=first
        )
        seconds = time.perf_counter() - start
        baseline = getattr(module, "BASELINE", None)
        rel = "-" if result.rel_l2 is None else f"{result.rel_l2:.2e}"
        mx = "-" if result.max_abs is None else f"{result.max_abs:.2e}"
        print(f"{name:28s} {rel:>10} {mx:>10} {seconds:>8.1f}   {_baseline_text(baseline)}", flush=True)
        chosen = result.solution.windows if windows is None and result.solution is not None else 1
        if chosen > 1:  # not what the SETTINGS say: the row is a time-marching solve
            print(f"{'':28s} ({chosen} time windows, chosen by the solver from the rates at t0; SETTINGS "
                  "'time_windows': 1 keeps one network)", flush=True)  # fmt: skip
    return 0


def _baseline_text(baseline: Any) -> str:
    """``source: rel L2 ... in ... s`` for each reference figure (the ``others`` too), separated by "; "."""
    if not baseline:
        return "-"
    if not isinstance(baseline, dict):
        return str(baseline)
    entries = [baseline, *baseline.get("others", [])]
    parts = []
    for entry in entries:
        source = str(entry.get("source", "reference")).split(" (")[0]
        figure = f"rel L2 {entry['rel_l2']:.2g}" if "rel_l2" in entry else ""
        if "seconds" in entry:
            figure += f" in {entry['seconds']:g} s"
        parts.append(f"{source}: {figure}".strip(": "))
    return "; ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kanpde", description="Physics-informed PDE solving on KANs.")
    sub = parser.add_subparsers(dest="command", required=True)
    solve = sub.add_parser("solve", help="solve a problem and write its results")
    solve.add_argument("problem", nargs="?", help=f"suite name or Python file (default: {DEFAULT_PROBLEM})")
    solve.add_argument("--grid-schedule", type=_schedule, default=None, help="grid sizes, e.g. 5,10,20")
    solve.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps per grid stage")
    solve.add_argument("--out", default="out", help="output directory (default: out)")
    solve.add_argument("--seed", type=_seed, default=0)
    solve.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads")
    solve.add_argument("--quiet", action="store_true", help="no progress bar")
    solve.add_argument("--n-interior", type=_positive_int, default=None, help="interior collocation points per stage")
    solve.add_argument("--chunk-size", type=_positive_int, default=None, help="most points evaluated at once (memory)")
    solve.add_argument("--device", type=_device, default=None, help="cpu (default), cuda, cuda:1, ...")
    solve.add_argument(
        "--param", type=_param, action="append", metavar="NAME=VALUE", help="parameter value for the outputs"
    )
    solve.add_argument(
        "--distributed", action="store_true", help="shard the points over torchrun's processes (gloo/NCCL)"
    )
    solve.add_argument(
        "--time-windows",
        type=_positive_int,
        default=None,
        help="time marching over N windows (time-dependent; default: the problem's SETTINGS, else the solver "
        "chooses from the rates at t0; 1: one space-time network)",
    )
    solve.set_defaults(handler=solve_command)
    lister = sub.add_parser("list", help="list the reference problems")
    lister.set_defaults(handler=list_command)
    bench = sub.add_parser("bench", help="solve problems and compare with baselines; `bench kan` for KAN speed")
    bench.add_argument("problems", nargs=argparse.REMAINDER, help="problem names (default: all), or `kan ...`")
    bench.add_argument("--grid-schedule", type=_schedule, default=None)
    bench.add_argument("--steps", type=_positive_int, default=None)
    bench.add_argument("--seed", type=_seed, default=0)
    bench.add_argument("--threads", type=_positive_int, default=1)
    bench.set_defaults(handler=bench_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; bad input (a ValueError or TypeError, e.g. from the problem's settings) is one line on
    stderr and exit status 2; Ctrl-C exits with 130 (``kanpde solve`` first writes the result so far)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, TypeError) as err:
        print(f"kanpde: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kanpde: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
