"""Training history: the loss and each loss term against the step, with grid-stage changes marked."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .network import _save_png_atomically

if TYPE_CHECKING:
    from ..pde.result import Result, StepRecord
    from ..pde.solution import Solution

__all__ = ["plot_history"]


def _records(history: object) -> list[StepRecord]:
    from ..pde.result import StepRecord

    if not isinstance(history, Sequence):  # a Result, Solution or solver: its history
        history = getattr(history, "history", history)
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise TypeError(f"history must be a list of StepRecord (solver.history or result.history), got {history!r:.80}")
    records = list(history)
    if not records:
        raise ValueError("history is empty: nothing to plot (run solver.solve(...) first)")
    if not all(isinstance(r, StepRecord) for r in records):
        raise TypeError("history must contain StepRecord entries (solver.history or result.history)")
    return records


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: zeros and negatives become NaN (not drawn)."""
    return np.where(values > 0, values, np.nan)


def plot_history(
    history: Sequence[StepRecord] | Result | Solution | Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Loss (log scale) and every loss term against the optimiser step; dashed lines where the grid changes.

    Each grid stage is labelled ``G=<grid size>`` at its start, with the wall-clock seconds since the start of the
    solve at that point.

    Args:
        history: ``solver.history`` or ``result.history`` (a :class:`~kanpde.pde.result.Result`, a
            :class:`~kanpde.pde.solution.Solution` or a solver also works).
        path: where to save the figure as PNG (atomically, parent folders created); None saves nothing.
        title: figure title (default: the final loss and time).

    Returns:
        The figure (Agg canvas, not registered with pyplot).

    Raises:
        TypeError: ``history`` is not a list of step records.
        ValueError: ``history`` is empty.
    """
    records = _records(history)
    steps = np.array([r.step for r in records], dtype=np.float64)
    loss = np.array([r.loss for r in records], dtype=np.float64)
    seconds = np.array([r.seconds for r in records], dtype=np.float64)
    names: list[str] = []
    for record in records:
        names += [name for name in record.terms if name not in names]

    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, _positive(loss), color="k", lw=2.0, label="loss (weighted total)")
    for index, name in enumerate(names):
        values = np.array([r.terms.get(name, math.nan) for r in records], dtype=np.float64)
        ax.plot(steps, _positive(values), color=f"C{index}", lw=1.2, alpha=0.9, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared residual")
    ax.grid(alpha=0.3, which="both")
    transform = ax.get_xaxis_transform()  # x in data, y in axes coordinates
    previous = None
    for record in records:
        if record.grid != previous:
            if previous is not None:
                ax.axvline(record.step, color="0.4", ls="--", lw=1.0)
            label = f" G={record.grid}\n {record.seconds:.1f} s"
            ax.text(record.step, 0.98, label, transform=transform, va="top", ha="left", fontsize=9)
            previous = record.grid
    ax.legend(loc="lower left", fontsize="small")
    if title is None:
        title = f"training history: final loss {loss[-1]:.2e} after {seconds[-1]:.1f} s"
    ax.set_title(title)
    if path is not None:
        _save_png_atomically(fig, path)
    return fig
