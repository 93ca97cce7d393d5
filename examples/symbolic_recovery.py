"""Symbolic recovery: solve a Poisson problem, read the solution back as a formula, and verify the formula.

    -Laplace(u) = pi^2 sin(pi x) - 2 on [-1, 1]^2,   u = sin(pi x) + y^2 on the boundary

The exact solution sin(pi x) + y^2 is a sum of one-variable functions, so a one-layer KAN [2, 1] can represent it
and every edge can be matched by a library function. The check does not trust the fit: the formula is put back
into the PDE and the boundary condition with sympy (exact derivatives), and compared with the exact solution.

Run:  python examples/symbolic_recovery.py     (a few seconds)
"""

from __future__ import annotations

from typing import NamedTuple

import sympy

import kanpde as kp
from kanpde.symbolic.solution import solution_formula

x, y = sympy.symbols("x y")
EXACT = sympy.sin(sympy.pi * x) + y**2
SOURCE = -(sympy.diff(EXACT, x, 2) + sympy.diff(EXACT, y, 2))  # pi^2 sin(pi x) - 2


class Recovery(NamedTuple):
    formula: sympy.Expr  # the recovered solution
    rel_l2: float  # of the trained network against the exact solution
    rel_error_exact: float  # of the formula against the exact solution, on sample points
    pde_residual: sympy.Expr  # -Laplace(formula) - f, simplified (0 when the formula solves the PDE exactly)
    boundary_residual: float  # max |formula - g| on the four sides, evaluated symbolically


def main(grid_schedule: tuple[int, ...] = (5, 10, 20), steps: int = 50) -> Recovery:
    square = kp.Rectangle((-1, -1), (1, 1))
    problem = kp.Poisson(square, f=SOURCE, bcs=[kp.Dirichlet(EXACT)], exact=EXACT)
    # hard_constraint=False: the network is the whole solution (not u = b N + g), so its formula is the solution's.
    solver = kp.Solver(problem, width=[2, 1], seed=0, hard_constraint=False)
    result = solver.solve(grid_schedule=list(grid_schedule), steps=steps, progress=False)

    # Fit every edge with a library function; snap_rtol=1 lets constants snap to pi, 1, 0 while the formula's
    # distance to the network at most doubles (the network itself is only accurate to about rel_l2).
    found = solution_formula(solver, snap_rtol=1.0)
    formula = found.expr
    print(f"network: relative L2 error {result.rel_l2:.1e}")
    print(f"formula: u = {formula}")
    print(f"         {found.rel_error_network:.1e} from the network, {found.rel_error_exact:.1e} from the exact one")

    # Verification with sympy: the PDE residual of the formula, and its boundary mismatch on the four sides.
    residual = sympy.simplify(-(sympy.diff(formula, x, 2) + sympy.diff(formula, y, 2)) - SOURCE)
    mismatch = 0.0
    for side in ({x: -1}, {x: 1}, {y: -1}, {y: 1}):
        free = y if x in side else x
        gap = sympy.lambdify(free, (formula - EXACT).subs(side), "math")
        mismatch = max(mismatch, *(abs(float(gap(-1 + 2 * i / 100))) for i in range(101)))
    print(f"verification: -Laplace(u) - f = {residual}, max boundary mismatch {mismatch:.1e}")
    return Recovery(formula, float(result.rel_l2), float(found.rel_error_exact), residual, mismatch)


if __name__ == "__main__":
    main()
