"""The KAN function space: B-spline kernels, layers, networks, grid extension, training.

Imports torch and numpy only (sympy, h5py, meshio and matplotlib stay unloaded).
"""

from .jet import Jet as Jet
from .layer import KANLayer as KANLayer
from .network import KAN as KAN
from .training import FitHistory as FitHistory

__all__ = ["KAN", "KANLayer", "Jet", "FitHistory"]
