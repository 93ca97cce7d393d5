"""``J^T J`` summed block by block, with the symmetric rank-k update of BLAS where it is available.

``J^T J`` is symmetric, so BLAS's ``syrk`` computes one triangle for half the multiplications of a general matrix
product; on CPU (float32/float64) the Gram matrix of Levenberg-Marquardt is accumulated that way (measured on
8000 x 810 in float64, 1 thread: about 0.85 s against 1.7 s for ``J.T @ J``), elsewhere by ``addmm``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["Gram"]


def _syrk(dtype: torch.dtype):  # type: ignore[no-untyped-def]
    try:
        from scipy.linalg import blas
    except ImportError:  # pragma: no cover - scipy is a dependency
        return None
    return {torch.float64: blas.dsyrk, torch.float32: blas.ssyrk}.get(dtype)


class Gram:
    """Accumulates ``sum_b J_b^T J_b`` over row blocks ``J_b`` of shape ``(n_rows_b, n)``.

    Args:
        n: columns of every block.
        like: a tensor whose dtype and device the result takes.
    """

    def __init__(self, n: int, like: Tensor) -> None:
        self.syrk = _syrk(like.dtype) if like.device.type == "cpu" else None
        if self.syrk is not None:
            import numpy as np

            self.upper = np.zeros((n, n), dtype=np.float64 if like.dtype == torch.float64 else np.float32, order="F")
        else:
            self.full = torch.zeros(n, n, dtype=like.dtype, device=like.device)

    def add(self, block: Tensor) -> None:
        """Add ``block^T block``. Shapes: block ``(n_rows, n)``."""
        if self.syrk is None:
            self.full.addmm_(block.T, block)
            return
        # A C-ordered (rows, n) array is an F-ordered (n, rows) one: block^T without a copy, and trans=0 is
        # (block^T)(block^T)^T.
        array = block.detach().contiguous().numpy().T
        self.upper = self.syrk(1.0, array, beta=1.0, c=self.upper, trans=0, lower=0, overwrite_c=1)

    def result(self) -> Tensor:
        """The symmetric sum, shape ``(n, n)``."""
        if self.syrk is None:
            return self.full
        upper = torch.from_numpy(self.upper).triu()
        return upper + upper.triu(1).T
