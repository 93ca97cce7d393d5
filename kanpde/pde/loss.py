"""The mean-square loss of the L-BFGS/Adam path: each term's mean squared residual and their weighted sum.

The residual rows come from the engine (:mod:`kanpde.pde.residuals`); this module only reduces them.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from .residuals import FieldSource, ResidualTerms, term_residuals, term_weight

__all__ = ["mean_squares", "total_loss"]


def mean_squares(terms: ResidualTerms, source: FieldSource, *, part: bool = False) -> dict[str, Tensor]:
    """Each term's mean squared residual (unweighted), by label: ``sum(|r|^2) / N``, ``|r|^2`` summed over a row's
    components and ``N`` the term's rows.

    Args:
        terms: the terms (a stage's, or one chunk or shard of them).
        source: the trial function.
        part: ``terms`` is one chunk (or rank's shard) of a larger set: each term is then its contribution
            ``sum(|r|^2) / count`` (``count``: the rows of the whole), so parts add up to the whole.
    """
    losses = {}
    for term, residual in zip(terms.terms, term_residuals(terms.terms, source)):
        squares = residual.square()
        if part:
            losses[term.label] = squares.sum() / term.count
        else:  # one component per row (the common case): the mean as it is, without a sum over one column
            losses[term.label] = squares.mean() if squares.shape[1] == 1 else squares.sum(dim=1).mean()
    return losses


def total_loss(losses: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """``sum_term weight[term] * loss[term]``; a term without a weight counts once (see :func:`term_weight`)."""
    total = None
    for name, value in losses.items():
        term = term_weight(weights, name) * value
        total = term if total is None else total + term
    assert total is not None
    return total
