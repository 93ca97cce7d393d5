"""kanpde: physics-informed PDE solving on Kolmogorov-Arnold Networks, and a fast general-purpose KAN library."""

from .kan import KAN as KAN
from .kan import KANLayer as KANLayer

__version__ = "0.1.0"

__all__ = ["KAN", "KANLayer", "__version__"]
