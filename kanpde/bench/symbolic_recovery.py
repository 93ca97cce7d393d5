"""Symbolic recovery: does the formula extracted from a trained network equal the exact one?

Two kinds of cases:

- PDE problems of the suite (``problems/``) with elementary solutions, plus two sums of sines in 2-D and 3-D
  defined here: each is solved with a modest budget (below), then ``solution_formula(solver)`` extracts the
  formula (distilled from the trained solution through its separable structure, else composed from the
  network's edges) and verifies it against the PDE and the conditions;
- the KAN paper's regression formulas (Liu et al. 2024, sec. 2.5 and 4): a ``kp.KAN`` is fitted to 1000 samples
  (grid 5, then extended to 10) and ``auto_symbolic`` replaces its edges by library functions; when that formula
  is not the exact one, the trained KAN is distilled like a PDE solution (``recover_formula``).

A case counts as recovered when ``sympy.simplify(formula - exact) == 0`` (within 60 s). The table shows the
formula, that verdict, the seconds (training, extraction) and, when not recovered, why.

Run:  python -m kanpde.bench.symbolic_recovery [--cases poisson_1d,xy,...] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy
import torch

import kanpde as kp
from kanpde.symbolic.recover import RecoveryError, recover_formula
from kanpde.symbolic.solution import solution_formula
from kanpde.symbolic.verify import simplifies_to_zero

X, Y, Z, T = sympy.symbols("x y z t")
PI = sympy.pi


@dataclass(frozen=True)
class PDECase:
    """A problem, its exact solution, and the budget it is solved with."""

    name: str
    make: Callable[[], kp.Problem]
    exact: sympy.Expr
    width: list[int]
    grid_schedule: list[int]
    steps: int
    n_interior: int | None = None


@dataclass(frozen=True)
class RegressionCase:
    """A formula (``exact`` in sympy, ``fn`` in torch) to fit with a KAN of ``width`` on ``[-1, 1]^d``."""

    name: str
    exact: sympy.Expr
    fn: Callable[[torch.Tensor], torch.Tensor]
    width: list[int]
    steps: int = 50
    seed: int = 0
    options: dict[str, Any] | None = None


def _suite(name: str) -> Callable[[], kp.Problem]:
    def make() -> kp.Problem:
        root = str(Path(__file__).resolve().parents[2])
        if root not in sys.path:
            sys.path.insert(0, root)
        import problems

        return problems.load(name).make_problem()  # type: ignore[no-any-return]

    return make


def _sum_of_sines(dim: int) -> Callable[[], kp.Problem]:
    """``-Laplace(u) = f`` on ``[0, 1]^dim`` with ``u = sum_i sin(pi x_i)``, the Dirichlet data side by side (so
    the solver learns ``u`` itself, not ``u`` minus a lift that would already be ``u``)."""
    names = "xyz"[:dim]
    exact = " + ".join(f"sin(pi*{c})" for c in names)
    source = " + ".join(f"pi**2*sin(pi*{c})" for c in names)

    def make() -> kp.Problem:
        box = kp.Box((0.0,) * dim, (1.0,) * dim)
        sides = [f"{c}{end}" for c in names for end in ("min", "max")]
        return kp.Poisson(box, f=source, bcs=[kp.Dirichlet(exact, on=s) for s in sides], exact=exact)

    return make


PDE_CASES = [
    PDECase("poisson_1d", _suite("poisson_1d"), sympy.sin(PI * X), [1, 5, 1], [5, 10], 30, 500),
    PDECase("poisson_1d_neumann", _suite("poisson_1d_neumann"), (X + 1) ** 2, [1, 5, 1], [5], 30, 500),
    PDECase("poisson_1d_robin", _suite("poisson_1d_robin"), (X + 1) ** 2, [1, 5, 1], [5], 30, 500),
    PDECase("poisson_2d_sin", _suite("poisson_2d_sin"), sympy.sin(PI * X) * sympy.sin(PI * Y), [2, 10, 1], [5, 10], 50),
    PDECase("poisson_2d_csg", _suite("poisson_2d_csg"), sympy.exp(X) * sympy.sin(Y), [2, 10, 1], [5, 10], 50, 4000),
    PDECase("heat_1d", _suite("heat_1d"), sympy.exp(-(PI**2) * T) * sympy.sin(PI * X), [2, 10, 1], [5, 10], 50, 4000),
    PDECase(
        "heat_1d_modes",
        _suite("heat_1d_modes"),
        sympy.exp(-(PI**2) * T / 10) * sympy.sin(PI * X) + sympy.exp(-9 * PI**2 * T / 10) * sympy.sin(3 * PI * X) / 2,
        [2, 10, 1],
        [5, 10],
        50,
        4000,
    ),  # fmt: skip
    PDECase("sum_of_sines_2d", _sum_of_sines(2), sympy.sin(PI * X) + sympy.sin(PI * Y), [2, 10, 1], [5, 10], 50, 4000),
    PDECase(
        "sum_of_sines_3d",
        _sum_of_sines(3),
        sympy.sin(PI * X) + sympy.sin(PI * Y) + sympy.sin(PI * Z),
        [3, 6, 1],
        [5],
        50,
        4000,
    ),  # fmt: skip
    PDECase(
        "laplace_2d_sinh",
        _suite("laplace_2d_sinh"),
        sympy.sin(PI * X) * sympy.sinh(PI * Y) / sympy.sinh(PI),
        [2, 10, 1],
        [5, 10],
        50,
        4000,
    ),  # fmt: skip
    PDECase(
        "poisson_3d",
        _suite("poisson_3d"),
        sympy.sin(PI * X) * sympy.sin(PI * Y) * sympy.sin(PI * Z),
        [3, 10, 1],
        [5],
        50,
        6000,
    ),  # fmt: skip
    PDECase(
        "poisson_2d_sin_y2",
        _suite("poisson_2d_sin_y2"),
        sympy.sin(PI * X) * sympy.sin(PI * Y**2),
        [2, 10, 1],
        [5, 10],
        50,
        4000,
    ),  # fmt: skip
    PDECase(
        "poisson_1d_periodic",
        _suite("poisson_1d_periodic"),
        sympy.sin(2 * PI * X) + sympy.cos(4 * PI * X) / 2,
        [1, 10, 1],
        [5, 10, 20],
        50,
        1000,
    ),  # fmt: skip
]

X1, X2, X3, X4 = sympy.symbols("x1 x2 x3 x4")


def _c(p: torch.Tensor, i: int) -> torch.Tensor:
    return p[:, i]


REGRESSION_CASES = [
    RegressionCase(
        "kan: sin(pi x) + y^2",
        sympy.sin(PI * X) + Y**2,
        lambda p: torch.sin(math.pi * _c(p, 0)) + _c(p, 1) ** 2,
        [2, 1, 1],
        seed=1,
    ),  # fmt: skip
    RegressionCase(
        "kan: exp(sin(pi x) + y^2)",
        sympy.exp(sympy.sin(PI * X) + Y**2),
        lambda p: torch.exp(torch.sin(math.pi * _c(p, 0)) + _c(p, 1) ** 2),
        [2, 1, 1],
        seed=3,
    ),  # fmt: skip
    RegressionCase(
        "kan: x*y", X * Y, lambda p: _c(p, 0) * _c(p, 1), [2, 2, 1], options={"library": {0: ["x"]}, "flip": True}
    ),
    RegressionCase("kan: x^2 + y^2", X**2 + Y**2, lambda p: _c(p, 0) ** 2 + _c(p, 1) ** 2, [2, 1]),
    RegressionCase(
        "kan: sqrt(x^2 + y^2 + 1)",
        sympy.sqrt(X**2 + Y**2 + 1),
        lambda p: torch.sqrt(_c(p, 0) ** 2 + _c(p, 1) ** 2 + 1),
        [2, 1, 1],
    ),  # fmt: skip
    RegressionCase(
        "kan: exp((sin(pi(x1^2+x2^2)) + sin(pi(x3^2+x4^2)))/2)",
        sympy.exp((sympy.sin(PI * (X1**2 + X2**2)) + sympy.sin(PI * (X3**2 + X4**2))) / 2),
        lambda p: torch.exp(
            (
                torch.sin(math.pi * (_c(p, 0) ** 2 + _c(p, 1) ** 2))
                + torch.sin(math.pi * (_c(p, 2) ** 2 + _c(p, 3) ** 2))
            )
            / 2
        ),
        [4, 2, 1, 1],
        steps=100,
    ),  # fmt: skip
    RegressionCase(
        "kan: J0(20x)", sympy.besselj(0, 20 * X), lambda p: torch.special.bessel_j0(20 * _c(p, 0)), [1, 1], steps=100
    ),
]


def _equal(expr: sympy.Expr | None, exact: sympy.Expr) -> bool | None:
    """``sympy.simplify(expr - exact) == 0`` (None when it did not finish within 60 s)."""
    return False if expr is None else simplifies_to_zero(expr - exact, seconds=60.0)


def _short(expr: Any, width: int = 70) -> str:
    text = str(expr)
    return text if len(text) <= width else text[: width - 3] + "..."


def run_pde(case: PDECase) -> dict[str, Any]:
    problem = case.make()
    solver = kp.Solver(problem, width=case.width, n_interior=case.n_interior, seed=0)
    start = time.perf_counter()
    result = solver.solve(grid_schedule=case.grid_schedule, steps=case.steps, progress=False)
    solve_seconds = time.perf_counter() - start
    start = time.perf_counter()
    try:
        found = solution_formula(solver.solution)
    except ValueError as err:
        return {"case": case.name, "formula": None, "equal": False, "train": solve_seconds,
                "extract": time.perf_counter() - start, "reason": str(err), "rel_l2": result.rel_l2}  # fmt: skip
    extract_seconds = time.perf_counter() - start
    equal = _equal(found.expr, case.exact)
    reason = ""
    if not equal:
        verification = found.verification.summary if found.verification is not None else "not verified"
        notes = "; ".join(f"{c.route}: {c.note}" for c in found.candidates if c.expr is None)
        reason = f"{verification}" + (f" [{notes}]" if notes else "")
    return {"case": case.name, "formula": found.expr, "equal": equal, "train": solve_seconds,
            "extract": extract_seconds, "reason": reason, "rel_l2": result.rel_l2, "route": found.route}  # fmt: skip


def run_regression(case: RegressionCase) -> dict[str, Any]:
    options = dict(case.options or {})
    flip = options.pop("flip", False)
    dim = case.width[0]
    x = torch.rand(1000, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    y = case.fn(x)[:, None]
    start = time.perf_counter()
    model = kp.KAN(case.width, grid=5, k=3, seed=case.seed, dtype=torch.float64)
    if flip:  # x*y needs hidden nodes x + y and x - y: a mixed-sign start (see tests/symbolic/test_extract.py)
        with torch.no_grad():
            model.layers[0].scale_base[1, 1] *= -1  # type: ignore[index,operator,has-type]
    model.fit(x, y, steps=case.steps, progress=False)
    model = model.refine(10)  # grid extension: a finer grid, the same function, trained further
    model.fit(x, y, steps=case.steps, progress=False)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    network = model.auto_symbolic(x, y=y, **options)
    names = ["x1", "x2", "x3", "x4"] if dim == 4 else ["x", "y", "z"][:dim]
    expr = network.formula(names)
    equal, route, reason = _equal(expr, case.exact), "kan edges", ""
    report = network.report
    if not equal and report is not None:
        poor = ", ".join(f"{e.layer}:{e.i}->{e.j} {e.name} R^2={e.r2:.4f}" for e in report.poor_edges)
        reason = f"kan edges: formula relative RMSE {report.relative_rmse:.1e} (exact fit: {report.exact_fit})"
        reason += f"; poorly fitted edges: {poor}" if poor else ""

        def trained(p: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return model(p)[:, 0]

        try:  # the other route: distil the trained KAN through its separable structure
            recovery = recover_formula(trained, [-1.0] * dim, [1.0] * dim, coords=names, snap_tols=(1e-4, 1e-3))
            if _equal(recovery.expr, case.exact):
                expr, equal, route, reason = recovery.expr, True, "recover (from the KAN)", ""
            else:
                reason += f"; recover: relative RMSE {recovery.relative_rmse:.1e}, {_short(recovery.expr, 60)}"
        except RecoveryError as err:
            reason += f"; recover: {err}"
    extract_seconds = time.perf_counter() - start
    return {"case": case.name, "formula": expr, "equal": equal, "train": train_seconds, "extract": extract_seconds,
            "reason": reason, "rel_l2": None, "route": route}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    start = time.perf_counter()
    rows = []
    print(
        f"{'case':52s} {'recovered formula':70s} {'exact':>5s} {'train s':>8s} {'extract s':>9s}  {'route':22s} "
        "reason when not"
    )
    cases: list[PDECase | RegressionCase] = [*PDE_CASES, *REGRESSION_CASES]
    for case in cases:
        if wanted and case.name not in wanted:
            continue
        row = run_pde(case) if isinstance(case, PDECase) else run_regression(case)
        rows.append(row)
        verdict = {True: "yes", False: "no", None: "?"}[row["equal"]]
        print(
            f"{row['case']:52s} {_short(row['formula']):70s} {verdict:>5s} {row['train']:8.1f} {row['extract']:9.1f}  "
            f"{row.get('route', '-'):22s} {row['reason']}",
            flush=True,
        )
    recovered = sum(1 for r in rows if r["equal"])
    total = time.perf_counter() - start
    print(f"recovered exactly: {recovered} of {len(rows)}; total {total:.0f} s ({math.ceil(total / 60)} min)")


if __name__ == "__main__":
    main()
