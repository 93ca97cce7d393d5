"""Memory estimates checked before heavy work: a request that cannot fit is refused with the estimate.

The estimates are deliberately simple and on the low side (they count the large arrays, not every temporary), so
that nothing that fits is refused; what they catch are requests that are off by orders of magnitude
(``n_interior=10**9``, a grid of ``10**7`` intervals, an export ``resolution=10**9``), which would otherwise be
killed by the operating system after minutes of work. The limit is the memory of the machine
(``os.sysconf``: physical pages times page size), or that of the CUDA device for tensors placed there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

__all__ = ["memory_limit", "check_memory", "format_bytes", "kan_parameters", "stage_bytes"]

# Numbers kept per (point, edge) by one jet evaluation with its autograd graph: value, first and second
# derivatives of the k + 1 local basis functions and of the SiLU part, and the propagated jet. Measured about 60
# for a [2, 10, 1] KAN with a Laplacian jet (DEFAULT_CHUNK_SIZE's note: ~1 GB for 65,536 points); 16 keeps the
# estimate low.
_NUMBERS_PER_POINT_EDGE = 16
_LBFGS_HISTORY = 50  # curvature pairs kept by the solver's L-BFGS (kanpde.kan.training.make_optimizer)


def memory_limit(device: torch.device | str = "cpu") -> int:
    """Bytes of memory of the machine (CPU) or of the CUDA device; a very large number when unknown."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not a POSIX system: no limit known
        return 2**62


def format_bytes(n_bytes: float) -> str:
    """``1.5 GiB``-style text."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def check_memory(estimate: float, what: str, *, device: torch.device | str = "cpu", hint: str = "") -> None:
    """Raise ``ValueError`` when ``estimate`` bytes exceed :func:`memory_limit` of ``device``.

    Args:
        estimate: bytes the work would need at least.
        what: the arguments responsible and their values, for the message (e.g. ``"n_interior=1000000000"``).
        device: where the memory would be taken.
        hint: what to do instead (appended to the message).
    """
    limit = memory_limit(device)
    if estimate > limit:
        where = "the CUDA device" if torch.device(device).type == "cuda" else "this machine"
        raise ValueError(
            f"{what} needs at least {format_bytes(estimate)} of memory (estimated), more than the "
            f"{format_bytes(limit)} of {where}" + (f"; {hint}" if hint else "")
        )


def kan_parameters(width: Sequence[int], grid: int, k: int) -> int:
    """Parameters of a KAN: per edge ``grid + k`` spline coefficients and two scales."""
    return sum(a * b for a, b in zip(width[:-1], width[1:])) * (grid + k + 2)


def stage_bytes(
    width: Sequence[int],
    grid: int,
    k: int,
    *,
    n_points: int,
    n_coords: int,
    chunk_size: int,
    itemsize: int,
    optimizer: str,
) -> int:
    """A low estimate of the memory of one training stage.

    ``points * n_coords * itemsize`` for the stored points (times 3: points, normals and the sampler's float64
    copy), the parameters with the optimiser's state (L-BFGS keeps 50 pairs of parameter-sized vectors;
    Levenberg-Marquardt a ``n_params x n_params`` normal matrix and a Jacobian of ``chunk_size`` rows), and one
    chunk's jet graph (``min(n_points, chunk_size) * n_edges * 16`` numbers).

    Args:
        width, grid, k: the KAN of the stage.
        n_points: collocation points of the stage (interior and every condition).
        n_coords: columns of a point.
        chunk_size: most points evaluated at once.
        itemsize: bytes per number (8 for float64).
        optimizer: "lbfgs", "adam" or "lm".
    """
    n_params = kan_parameters(width, grid, k)
    n_edges = sum(a * b for a, b in zip(width[:-1], width[1:]))
    chunk = min(n_points, chunk_size)
    numbers = 3 * n_points * n_coords + chunk * n_edges * _NUMBERS_PER_POINT_EDGE
    if optimizer == "lm":
        numbers += n_params * n_params + chunk * n_params
    elif optimizer == "adam":
        numbers += 4 * n_params
    else:
        numbers += (2 * _LBFGS_HISTORY + 4) * n_params
    return numbers * itemsize
