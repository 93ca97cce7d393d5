"""Loss balancing: weights for the loss terms, recomputed at the start of every grid stage.

The loss is ``sum_i w_i mean(r_i^2)`` over the PDE term and the condition terms. When one term is much cheaper to
lower than another, a first-order optimiser lowers it and ignores the other (the boundary data of a Laplace problem
left unmet, the solution collapsing toward a constant). The schemes below set the condition weights from the state
of the network at the start of a stage; the PDE term keeps weight 1 and every weight is clipped to
``[WEIGHT_MIN, WEIGHT_MAX]``:

- ``"adaptive"`` (gradient norms, the learning-rate annealing of Wang, Teng & Perdikaris 2021):
  ``w_i = |grad L_pde| / |grad L_i|``, so that every term pulls the parameters as hard as the PDE term.
- ``"ntk"`` (neural tangent kernel traces, Wang, Yu & Perdikaris 2022): ``w_i = tr K_pde / tr K_i`` with
  ``tr K_i = mean over the rows of |d r / d theta|^2``: every term gets the same share of the Gauss-Newton matrix
  ``J^T J``. It does not depend on the residuals, only on how strongly each term's rows depend on the parameters.
- ``"residual"`` (relative progress, in the spirit of ReLoBRaLo, Bischof & Kraus 2021): ``w_i = (L_i / L_i^0) /
  (L_pde / L_pde^0)`` with ``L^0`` the term's loss at the start of the solve: a term that has fallen less than the
  PDE term gets more weight.

Measured with the Levenberg-Marquardt default on seven problems with conditions as loss terms
(``docs/benchmarks.md``, "Harder problems", fixed steps): "ntk" beat equal weights on five (the square with four
holes 3.5e-4 -> 6.3e-6, the L-shape 1.2e-2 -> 3.1e-3) and lost on two whose initial value dominates (Allen-Cahn's
kink 3.2e-7 -> 2.4e-6); the geometric mean of its error ratio to equal weights was 0.42, that of "adaptive" 0.85,
that of "residual" 1.26. Why it suits Levenberg-Marquardt: the damping is relative to the mean diagonal of
``J^T J``, which the PDE rows (second derivatives) dominate by orders of magnitude under equal weights, so the
directions that move the boundary values are damped away. So "ntk" is the default where it applies
(:func:`default_scheme`).

Example:
    >>> from kanpde.pde.balancing import clipped
    >>> clipped({"pde": 1.0, "dirichlet": 1e9})
    {'pde': 1.0, 'dirichlet': 10000.0}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from .approximation import Approximation
from .distributed import SINGLE, Communicator
from .fields import JetRequest
from .gauss_newton import ResidualSystem
from .objective import LossObjective
from .problem import Problem
from .residuals import ResidualTerms

__all__ = [
    "SCHEMES", "WEIGHT_MIN", "WEIGHT_MAX", "clipped", "default_scheme", "gradient_norm_weights", "ntk_weights",
    "progress_weights",
]  # fmt: skip

SCHEMES = ("adaptive", "ntk", "residual")
"""The names ``weights=`` accepts for a balancing scheme (see the module docstring)."""

WEIGHT_MIN, WEIGHT_MAX = 1e-2, 1e4
"""Bounds of a balanced condition weight (the PDE term has weight 1)."""

NTK_ROWS = 2000
"""Most rows of each term whose Jacobian enters the NTK trace (the first ones: the points are quasi-random)."""


def default_scheme(problem: Problem, request: JetRequest, *, imposed: bool) -> str | None:
    """The balancing of a solver built without ``weights``: "ntk" when the problem keeps a condition as a loss
    term (``imposed``: the hard constraint imposes every condition, leaving the PDE term alone), has no
    observations or unknowns (whose weights carry their noise model) and its residual runs on the jet path (the
    Jacobian rows the traces need); else None (every weight 1)."""
    if imposed or not problem.conditions or problem.data or problem.unknowns or request.autograd:
        return None
    return "ntk"


def clipped(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` with the PDE term at 1 and every other weight clipped to ``[WEIGHT_MIN, WEIGHT_MAX]``."""
    return {"pde": 1.0} | {k: min(max(float(v), WEIGHT_MIN), WEIGHT_MAX) for k, v in weights.items() if k != "pde"}


def _ratios(reference: float, values: Mapping[str, float]) -> dict[str, float]:
    """``reference / value`` for every term (a vanishing value gets the largest weight)."""
    return clipped({name: reference / max(value, 1e-300) for name, value in values.items()})


def gradient_norm_weights(
    objective_for: Callable[[dict[str, float]], LossObjective], names: list[str]
) -> dict[str, float]:
    """``w_i = |grad L_pde| / |grad L_i|``: the gradient of each term alone (``objective_for(weights)`` builds the
    loss with the given weights)."""
    norms = {}
    for name in names:
        objective = objective_for({other: float(other == name) for other in names})
        objective.backward()
        total: Tensor | float = 0.0  # summed in the order of the parameters
        for p in objective.params:
            if p.grad is not None:
                total = total + (p.grad * p.grad).sum()
        norms[name] = float(torch.sqrt(torch.as_tensor(total)))
        for p in objective.params:
            p.grad = None
    reference = norms.pop("pde")
    return _ratios(reference, norms)


def ntk_weights(
    approx: Approximation,
    shard: ResidualTerms,
    counts: Mapping[str, int],
    *,
    comm: Communicator = SINGLE,
    rows: int = NTK_ROWS,
) -> dict[str, float]:
    """``w_i = tr K_pde / tr K_i`` from the mean squared row norm of each term's Jacobian (on at most ``rows`` rows
    of each term on every rank, summed over the ranks so that every rank gets the same weights)."""
    system = ResidualSystem(approx, shard, {}, counts=counts, chunk_size=rows)
    params = system.parameters()
    first = system.chunks[0].terms
    sums = torch.zeros(2 * len(first), dtype=torch.float64)
    for i, term in enumerate(first):
        if term.n_rows == 0:
            continue
        with torch.no_grad():
            jac = system.jacobian(params, term)
        sums[2 * i] = float(jac.square().sum())
        sums[2 * i + 1] = float(jac.shape[0])
    comm.sum_(sums)
    traces = {t.label: float(sums[2 * i]) / max(float(sums[2 * i + 1]), 1.0) for i, t in enumerate(first)}
    reference = traces.pop("pde")
    return _ratios(reference, traces)


def progress_weights(current: Mapping[str, float], initial: Mapping[str, float]) -> dict[str, float]:
    """``w_i = (L_i / L_i^0) / (L_pde / L_pde^0)``: terms that fell less than the PDE term weigh more (unweighted
    mean squares now and at the start of the solve; a term missing from ``initial``, or all terms when the PDE term
    is, keep weight 1)."""
    if "pde" not in initial:
        return clipped({name: 1.0 for name in current})
    pde = current["pde"] / max(initial["pde"], 1e-300)
    return clipped(
        {name: value / max(initial[name], 1e-300) / max(pde, 1e-300) if name in initial else 1.0
         for name, value in current.items()}
    )  # fmt: skip
