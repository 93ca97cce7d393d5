"""What an extraction achieved: per-edge fits and the formula's error, reported truthfully."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["EdgeReport", "SymbolicReport"]


class EdgeReport(NamedTuple):
    """How one edge was matched: ``name`` with ``r2``/``rmse`` on the traced activations; ``dropped`` when the
    edge was set to "0" because its activation was negligible (or masked), so its ``r2`` says nothing."""

    layer: int
    i: int
    j: int
    name: str
    r2: float
    rmse: float
    dropped: bool


@dataclass(frozen=True)
class SymbolicReport:
    """The truth about an extraction.

    Attributes:
        edges: one entry per edge, layer by layer.
        rmse: RMSE of the symbolic network (the formula) against the target on the sample points.
        relative_rmse: ``rmse`` divided by the target's standard deviation.
        rmse_network: RMSE against the KAN it came from (``None`` when not given).
        exact_fit: ``relative_rmse <= exact_rtol`` (and finite): the formula reproduces the target.
        exact_rtol: the tolerance used.
        r2_threshold: edges below it (and not dropped) are listed in :attr:`poor_edges`.
    """

    edges: tuple[EdgeReport, ...]
    rmse: float
    relative_rmse: float
    rmse_network: float | None
    exact_fit: bool
    exact_rtol: float
    r2_threshold: float

    @property
    def poor_edges(self) -> tuple[EdgeReport, ...]:
        """Live edges whose best candidate has R^2 below ``r2_threshold``."""
        return tuple(e for e in self.edges if not e.dropped and not e.r2 >= self.r2_threshold)

    def __str__(self) -> str:
        lines = [f"{'edge':>12}  {'function':<10} {'R^2':>14}"]
        for e in self.edges:
            note = " (dropped)" if e.dropped else (" (poor)" if e in self.poor_edges else "")
            lines.append(f"{f'{e.layer}:{e.i}->{e.j}':>12}  {e.name:<10} {e.r2:>14.10f}{note}")
        network = "" if self.rmse_network is None else f", vs network {self.rmse_network:.3e}"
        lines.append(f"formula RMSE {self.rmse:.3e} (relative {self.relative_rmse:.3e}){network}")
        lines.append(f"exact fit: {self.exact_fit} (relative tolerance {self.exact_rtol:g})")
        return "\n".join(lines)
