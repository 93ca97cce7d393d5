"""Symbolic extraction: candidate library, edge fitting, KAN -> sympy formula (the only sub-package importing sympy).

Example:
    >>> import torch, kanpde as kp
    >>> from kanpde.symbolic import fit_edge
    >>> x = torch.linspace(-1, 1, 100, dtype=torch.float64)
    >>> fit_edge(x, 3 * x**2 + 1)[0].name
    'x^2'
"""

from .constants import SimpleValue as SimpleValue
from .constants import simple_values as simple_values
from .extract import auto_symbolic as auto_symbolic
from .fit import SymbolicFit as SymbolicFit
from .fit import fit_edge as fit_edge
from .fit import select as select
from .library import DEFAULT_LIBRARY as DEFAULT_LIBRARY
from .library import SymbolicFunction as SymbolicFunction
from .library import function_names as function_names
from .library import get_function as get_function
from .library import register_function as register_function
from .library import unregister_function as unregister_function
from .network import SymbolicLayer as SymbolicLayer
from .network import SymbolicNetwork as SymbolicNetwork
from .report import EdgeReport as EdgeReport
from .report import SymbolicReport as SymbolicReport
from .simplify import simplify_expression as simplify_expression

__all__ = [
    "DEFAULT_LIBRARY",
    "EdgeReport",
    "SimpleValue",
    "SymbolicFit",
    "SymbolicFunction",
    "SymbolicLayer",
    "SymbolicNetwork",
    "SymbolicReport",
    "auto_symbolic",
    "fit_edge",
    "function_names",
    "get_function",
    "register_function",
    "select",
    "simple_values",
    "simplify_expression",
    "unregister_function",
]
