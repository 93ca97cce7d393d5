"""Output and persistence: HDF5 + XDMF fields, meshio exports, checkpoints.

h5py and meshio are imported here only (and only when a name that needs them is used), so that ``import kanpde``
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = ["export_hdf5", "export_mesh", "save_checkpoint", "load_checkpoint", "atomic_path"]

_LAZY = {
    "export_hdf5": "hdf5",
    "export_mesh": "mesh",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "atomic_path": "atomic",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), also=__all__)


if TYPE_CHECKING:
    from .atomic import atomic_path
    from .checkpoint import load_checkpoint, save_checkpoint
    from .hdf5 import export_hdf5
    from .mesh import export_mesh
