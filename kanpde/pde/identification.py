"""What an inverse problem identified: the unknowns' values, their uncertainty, the unknown fields and formulas.

Uncertainty (Gauss-Newton / Laplace approximation at the solution). The solve minimises
``L = sum_i w_i / N_i |r_i|^2`` over the network's parameters and the unknowns ``theta``. Reading ``L`` as a
negative log-posterior scaled so that each observation block is its Gaussian likelihood,
``|r_data|^2 / (2 sigma^2)``, the physics and condition blocks keep the weight they had relative to the data in
training (a prior that asks the network to solve the PDE). The posterior covariance of all parameters is then
``(J^T J)^-1`` for the Jacobian ``J`` of the residual rows scaled by ``1 / sigma`` (data) and
``sqrt(s w_i / N_i)`` (other terms; ``s`` the mean of ``N_j / (w_j sigma_j^2)`` over the data sets ``j``, which
makes the physics rows as strong relative to the data as in the loss). The unknowns' block of that covariance
marginalises the network. ``sigma`` is the ``noise`` of the observations, or, when None, estimated from the data
residual, ``sigma^2 = |r_data|^2 / (N - p)`` (``p`` unknown constants).

``J^T J`` is singular along network directions that neither the data nor the physics constrain; they are damped
by a tiny relative Tikhonov term, ``(J^T J + 1e-12 mean(diag(J^T J)) I)^-1`` (computed through an eigen-
decomposition). Unlike a pseudo-inverse, which would drop such directions and report a falsely small variance for
an unknown that the data cannot determine, the damping gives that unknown a huge standard deviation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .gauss_newton import ResidualSystem
from .residuals import ObservationTerm, ResidualTerms, term_weight

if TYPE_CHECKING:
    from .solution import Solution
    from .solver import Solver

__all__ = ["DAMPING", "MAX_PARAMETERS", "identify", "laplace_uncertainty", "unknown_field"]

DAMPING = 1e-12
"""Relative damping of the network directions that ``J^T J`` leaves undetermined (see the module docstring)."""
MAX_PARAMETERS = 20_000
"""Most trained numbers for which the uncertainty is computed (``J^T J`` has their square entries)."""


def _inverse(solver: Solver | Solution) -> Any:
    inverse = getattr(solver.approximation, "inverse", None)
    if inverse is None:
        raise ValueError("this problem has no unknowns: pass unknowns=[...] or an kp.Unknown as a value")
    return inverse


def laplace_uncertainty(solver: Solver, terms: ResidualTerms, counts: dict[str, int]) -> dict[str, float]:
    """Standard deviations of the unknown constants (see the module docstring), by name.

    Args:
        solver: the solver after its solve (its current parameters are the solution).
        terms: this rank's residual terms of the last stage.
        counts: rows of each term over all ranks.
    """
    inverse = _inverse(solver)
    names = list(inverse.constants)
    data = [t for t in terms.terms if isinstance(t, ObservationTerm)]
    if not data:
        return {n: math.inf for n in names}  # nothing observed: nothing constrains the unknowns' scale
    plain = ResidualSystem(
        solver.approximation, terms, {}, counts=counts, chunk_size=solver.chunk_size, comm=solver.comm
    )
    params = plain.parameters()
    n_params = sum(p.numel() for p in params.values())
    if n_params > MAX_PARAMETERS:
        warnings.warn(f"uncertainty: {n_params} parameters exceed {MAX_PARAMETERS}; not computed", stacklevel=3)
        return {n: math.nan for n in names}
    _, mean_squares = plain.loss(params)
    sigma2 = {}
    for term, obs in zip(data, solver.problem.data):
        n = counts[term.label]
        if obs.noise is not None:
            sigma2[term.label] = obs.noise**2
        else:
            floor = (1e-14 * float(obs.values.abs().max().clamp_min(1.0))) ** 2
            sigma2[term.label] = max(mean_squares[term.label] * n / max(n - len(names), 1), floor)
    weights = solver.weights
    strength = sum(counts[t.label] / (term_weight(weights, t.label) * sigma2[t.label]) for t in data) / len(data)
    likelihood = {t.label: counts[t.label] / sigma2[t.label] for t in data}
    likelihood |= {t.label: strength * term_weight(weights, t.label) for t in terms.terms if t.label not in likelihood}
    system = ResidualSystem(
        solver.approximation, terms, likelihood, counts=counts, chunk_size=solver.chunk_size, comm=solver.comm
    )
    normal, _, _, _ = system.normal_equations(params)
    eigenvalues, vectors = torch.linalg.eigh(normal)
    damping = DAMPING * float(normal.diagonal().mean())
    offsets, offset = {}, 0
    for name in system.names:
        offsets[name] = offset
        offset += params[name].numel()
    index = [offsets[f"a.inverse.raw.{n}"] for n in names]
    rows = vectors[index]
    covariance = (rows / (eigenvalues.clamp_min(0) + damping)) @ rows.T
    out = {}
    for i, name in enumerate(names):
        raw = params[f"a.inverse.raw.{name}"].detach().clone().requires_grad_(True)
        (slope,) = torch.autograd.grad(inverse.constants[name].transform(raw), raw)
        out[name] = float(slope.abs() * covariance[i, i].clamp_min(0).sqrt())
    return out


def identify(solver: Solver, terms: ResidualTerms, counts: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    """``(values, standard deviations)`` of the unknown constants after a solve (fields: see
    :func:`unknown_field`)."""
    inverse = _inverse(solver)
    with torch.no_grad():
        values = {name: float(v) for name, v in inverse.values().items()}
    if not values:
        return {}, {}
    try:
        uncertainty = laplace_uncertainty(solver, terms, counts)
    except RuntimeError as err:  # e.g. a residual of order >= 3 (autograd), which torch.func cannot batch here
        warnings.warn(f"uncertainty: not computed ({err})", stacklevel=3)
        uncertainty = {name: math.nan for name in values}
    return values, uncertainty


def unknown_field(solver: Solver | Solution, name: str) -> Callable[[Tensor], Tensor]:
    """The identified field ``name``: ``points -> values``, ``(n_points, n_coords) -> (n_points,)``; points may
    also hold only the field's own coordinates (e.g. ``(x, y)`` for a field of a heat problem in ``(x, y, t)``)."""
    inverse = _inverse(solver)
    if name not in inverse.field_specs:
        raise ValueError(f"unknown_field: no UnknownField named {name!r}; the problem has {list(inverse.field_specs)}")
    own = inverse.field_coords(name)
    n_coords = len(solver.problem.coords)

    def field(points: Tensor) -> Tensor:
        points = torch.as_tensor(points)
        if points.ndim != 2 or points.shape[1] not in (len(own), n_coords):
            raise ValueError(
                f"points must have shape (n_points, {len(own)}) for {own} or (n_points, {n_coords}), "
                f"got {tuple(points.shape)}"
            )
        points = points.to(solver.dtype).to(solver.device)
        if points.shape[1] < n_coords:
            points = torch.cat([points, points.new_zeros(len(points), n_coords - points.shape[1])], dim=1)
        with torch.no_grad():
            return inverse(name, points, None).value[:, 0]

    return field
