"""Hints after a solve: a term the training left unmet, a solution that collapsed toward a constant.

A PINN can converge to a state where the loss is small in total and yet one term, usually the boundary or
initial data, is ignored: the PDE term is cheaper to lower, and a nearly constant ``u`` satisfies a source-free
PDE perfectly. Nothing in the loss curve says so. These checks compare each term's residual with the size of
the data it must match, which is the residual of ``u = 0`` on the same rows (the source for the PDE term,
``-g`` for ``u = g``, the flux for a Neumann condition; under a hard constraint ``u = b N + g``, the residual of
``g`` alone, so that a source-free PDE whose data are imposed exactly is checked too), and say in words what is off
and what to try.

Example:
    >>> from kanpde.pde.diagnostics import TermBalance, hints
    >>> balances = [TermBalance("pde", 1e-6, 0.0), TermBalance("dirichlet", 0.3, 0.5, value_spread=0.4)]
    >>> hints(balances, solution_spread=0.01)[0].split(":")[0]
    "condition 'dirichlet' is not met"
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .conditions import Dirichlet, Initial
from .fields import FieldJet, JetRequest
from .residuals import AbstractTerm, ObservationTerm, ResidualTerms, term_residuals

__all__ = ["TermBalance", "UNMET", "COLLAPSED", "term_balance", "hints"]

UNMET = 1e-2
"""A term whose RMS residual exceeds this fraction of its data's RMS is reported as not met."""

COLLAPSED = 0.05
"""A solution whose spread is below this fraction of the spread of its boundary/initial data has collapsed."""

NOISE_FACTOR = 2.0
"""Observations with a known noise are reported as not fitted when their RMS misfit exceeds this many times it."""

_IMBALANCE = 10.0  # an unmet condition is blamed on the balance when the PDE term is this much better met


@dataclass(frozen=True)
class TermBalance:
    """How well one term is met.

    Attributes:
        label: the term's label (``"pde"``, ``"dirichlet"``, a condition's name).
        rms: root-mean-square residual of the trained solution on the term's rows.
        data_rms: root-mean-square residual of ``u = 0`` on the same rows: the size of the data the term must
            match (0 for homogeneous data).
        value_spread: for a condition on the values of u (Dirichlet, initial value), the standard deviation of
            the values it prescribes; else None.
        observed: the term fits observations (``kp.Observations``), whose misfit includes their noise.
        noise: the observations' known standard deviation (``Observations(noise=...)``), or None.
    """

    label: str
    rms: float
    data_rms: float
    value_spread: float | None = None
    observed: bool = False
    noise: float | None = None

    @property
    def relative(self) -> float | None:
        """``rms / data_rms``; None for homogeneous data (nothing to compare with)."""
        return self.rms / self.data_rms if self.data_rms > 0 else None


class _ZeroSource:
    """``u = 0`` with all its derivatives, as a field source of the residual engine; unknowns (inverse problems)
    keep the values of ``trained``. Under a hard constraint ``u = b N + g`` it is ``N = 0``, i.e. ``u = g``: the
    PDE term's data is then the residual of the imposed boundary and initial values alone."""

    def __init__(self, n_fields: int, trained: object = None) -> None:
        self.n_fields = n_fields
        self.trained = trained

    def unknown_evaluator(self) -> object:
        evaluator = getattr(self.trained, "unknown_evaluator", None)
        return evaluator() if evaluator is not None else None

    def jet(self, points: Tensor, request: JetRequest, constraint: tuple[FieldJet, FieldJet] | None) -> FieldJet:
        if constraint is not None:  # a hard constraint u = b N + g: with N = 0, u is the imposed data g
            g = constraint[1]
            level = request.level
            return FieldJet(g.value, g.grad if level >= 1 else None, g.lap if level >= 2 else None,
                            g.hess if level >= 3 else None, request.laplacian_dims)  # fmt: skip
        n, d, f = points.shape[0], points.shape[1], self.n_fields
        zeros = points.new_zeros
        return FieldJet(
            zeros(n, f),
            zeros(n, f, d) if request.level >= 1 else None,
            zeros(n, f) if request.level >= 2 else None,
            zeros(n, f, d, d) if request.level >= 3 else None,
            request.laplacian_dims,
        )

    def values(self, points: Tensor) -> Tensor:
        return 0 * points[:, :1].expand(-1, self.n_fields)  # connected to the points for the autograd fallback


class _Moments:
    """Running sums of a term's residual rows, so that a batch can be checked chunk by chunk."""

    def __init__(self) -> None:
        self.n, self.total, self.squares = 0, 0.0, 0.0

    def add(self, rows: Tensor) -> None:
        rows = rows.detach()
        self.n += rows.numel()
        self.total += float(rows.sum())
        self.squares += float(rows.pow(2).sum())

    @property
    def rms(self) -> float:
        return math.sqrt(self.squares / self.n) if self.n else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(max(self.squares / self.n - (self.total / self.n) ** 2, 0.0)) if self.n > 1 else 0.0


def term_balance(terms: ResidualTerms, source: object, n_fields: int, chunk_size: int = 65_536) -> list[TermBalance]:
    """Each term's RMS residual for the trained ``source`` and for ``u = 0``, evaluated in chunks of rows.

    Args:
        terms: the residual blocks of a batch (:func:`~kanpde.pde.residuals.collocation_terms`).
        source: the trained solution as a field source (:func:`~kanpde.pde.residuals.approximation_source`).
        n_fields: number of solution fields.
        chunk_size: most rows of one term evaluated at once.
    """
    blocks = terms.terms
    trained = [_Moments() for _ in blocks]
    zero = [_Moments() for _ in blocks]
    for chunk in terms.chunks(chunk_size):
        with torch.no_grad():
            for moments, rows in zip(zero, term_residuals(chunk.terms, _ZeroSource(n_fields, source))):
                moments.add(rows)
        for moments, rows in zip(trained, term_residuals(chunk.terms, source)):  # type: ignore[arg-type]
            moments.add(rows)
    return [
        TermBalance(
            t.label,
            r.rms,
            z.rms,
            z.std if _sets_values(t) else None,
            observed=isinstance(t, ObservationTerm),
            noise=t.noise if isinstance(t, ObservationTerm) else None,
        )
        for t, r, z in zip(blocks, trained, zero)
    ]


def _sets_values(term: AbstractTerm) -> bool:
    """For u = g (Dirichlet, initial value) the residual of u = 0 is -g: its spread is that of the values."""
    return isinstance(getattr(term, "condition", None), (Dirichlet, Initial))


def _percent(x: float) -> str:
    return f"{100 * x:.2g}%"


def _data_hint(b: TermBalance, rel: float) -> str:
    """The sentence for observations fitted less closely than a condition would be (``rel`` of their values)."""
    misfit = f"data '{b.label}' is fitted to an RMS misfit of {b.rms:.2g} ({_percent(rel)} of its values)"
    remedy = f"give it a larger weight (weights={{'{b.label}': 10}}) or a finer grid"
    if b.noise is not None:
        return f"{misfit}, more than {NOISE_FACTOR:g} times its noise ({b.noise:.2g}): {remedy}."
    return (
        f"{misfit}. If the measurements' noise is smaller than that, {remedy}; at the noise level it is what noisy "
        "data give (kp.Observations(..., noise=sigma) lets this check tell)."
    )


def hints(balances: Sequence[TermBalance], solution_spread: float) -> list[str]:
    """Sentences for the summary: what the checks found and what to try; empty when all is well.

    Args:
        balances: :func:`term_balance` of the final batch.
        solution_spread: standard deviation of the solution over the interior (test) points.
    """
    data_spread = max([b.value_spread for b in balances if b.value_spread is not None] + [0.0])
    pde = [b for b in balances if b.label == "pde"]
    pde_relative = pde[0].relative if pde else None
    # A value condition is measured against the largest prescribed values, not only its own: u = 1e-5 on one side
    # met to 5e-7 is met (measured: burgers_1d, rel L2 1e-5, was reported as unmet against its own data).
    value_scale = max([b.data_rms for b in balances if b.value_spread is not None] + [0.0])
    # with observations (or unknowns) the solver's default weights are equal (balancing.default_scheme)
    balancing = (
        "the balancing weights='ntk' or 'adaptive' (with observations the default weights are equal)"
        if any(b.observed for b in balances)
        else "the balancing weights='ntk' (the default) or 'adaptive' if weights were set by hand"
    )
    out = []
    for b in balances:
        scale = b.data_rms if b.value_spread is None else max(b.data_rms, value_scale)
        rel = b.rms / scale if scale > 0 else None
        if b.label == "pde" or rel is None or rel <= UNMET:
            continue
        if b.observed:  # the misfit of measured values includes their noise: no fixed fraction tells it apart
            if b.noise is not None and b.rms <= NOISE_FACTOR * b.noise:
                continue
            out.append(_data_hint(b, rel))
            continue
        favoured = pde_relative is None or pde_relative * _IMBALANCE < rel
        cause = "; the loss balance favours the PDE" if favoured else ""
        out.append(
            f"condition '{b.label}' is not met: its RMS residual is {_percent(rel)} of its data{cause}. "
            f"Try a larger weight for it (weights={{'{b.label}': 100}}), or {balancing}."
        )
    if data_spread > 0 and solution_spread < COLLAPSED * data_spread:
        out.append(
            f"the solution is almost constant (spread {solution_spread:.2e}) while its boundary/initial data vary "
            f"by {data_spread:.2e}: training collapsed toward a constant. Try the balancing weights='ntk' (the "
            "default) if weights were set by hand, a larger weight for the boundary and initial terms, or imposing "
            "one whole-boundary Dirichlet condition exactly (hard_constraint=True)."
        )
    if pde_relative is not None and pde_relative > UNMET and not out:
        out.append(
            f"the PDE residual is {_percent(pde_relative)} of its data (the source, or the residual of the imposed "
            "boundary and initial values alone): the trial space or the training is too small. Try a larger final "
            "grid (e.g. grid_schedule=[5, 10, 20, 40]), a wider network or more steps."
        )
    return out
