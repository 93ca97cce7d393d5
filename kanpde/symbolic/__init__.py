"""Symbolic extraction: candidate library, edge fitting, KAN -> sympy formula, recovery of a trained solution's
closed form and its verification against the PDE (the only sub-package importing sympy).

Example:
    >>> import torch, kanpde as kp
    >>> from kanpde.symbolic import fit_edge
    >>> x = torch.linspace(-1, 1, 100, dtype=torch.float64)
    >>> fit_edge(x, 3 * x**2 + 1, library=["x", "x^2", "x^3", "sin", "exp"])[0].name
    'x^2'
"""

from .constants import SimpleValue as SimpleValue
from .constants import simple_values as simple_values
from .extract import auto_symbolic as auto_symbolic
from .fit import SymbolicFit as SymbolicFit
from .fit import fit_edge as fit_edge
from .fit import select as select
from .library import BUILTINS as BUILTINS
from .library import DEFAULT_LIBRARY as DEFAULT_LIBRARY
from .library import Library as Library
from .library import SymbolicFunction as SymbolicFunction
from .library import function_names as function_names
from .library import get_function as get_function
from .library import register_function as register_function
from .library import unregister_function as unregister_function
from .library import using_library as using_library
from .network import SymbolicLayer as SymbolicLayer
from .network import SymbolicNetwork as SymbolicNetwork
from .recover import Recovery as Recovery
from .recover import RecoveryError as RecoveryError
from .recover import recover_formula as recover_formula
from .report import EdgeReport as EdgeReport
from .report import SymbolicReport as SymbolicReport
from .simplify import simplify_expression as simplify_expression
from .solution import SolutionFormula as SolutionFormula
from .solution import field_formula as field_formula
from .solution import solution_formula as solution_formula
from .template import Template as Template
from .verify import TermCheck as TermCheck
from .verify import Verification as Verification
from .verify import verify_formula as verify_formula

__all__ = [
    "BUILTINS",
    "DEFAULT_LIBRARY",
    "Library",
    "EdgeReport",
    "Recovery",
    "RecoveryError",
    "SolutionFormula",
    "SimpleValue",
    "SymbolicFit",
    "SymbolicFunction",
    "SymbolicLayer",
    "SymbolicNetwork",
    "SymbolicReport",
    "Template",
    "TermCheck",
    "Verification",
    "auto_symbolic",
    "field_formula",
    "fit_edge",
    "function_names",
    "get_function",
    "recover_formula",
    "register_function",
    "select",
    "simple_values",
    "simplify_expression",
    "solution_formula",
    "unregister_function",
    "using_library",
    "verify_formula",
]
