"""The import rules of DESIGN.md and STYLE.md, read from the source with ``ast`` (nothing is imported).

- ``kanpde.kan`` imports nothing from ``pde``, ``io``, ``plot``, ``symbolic`` (or the package root) at module level;
- nothing imports ``kanpde.plot`` at module level but the CLI (convenience methods import it inside functions);
- sub-packages depend one way, ``kan <- pde <- io``, ``kan <- symbolic``, ``plot`` and the CLI on top: an import
  against that order happens only inside a function listed in ``BACK_EDGES`` (the convenience methods, such as
  ``Solver.save`` or ``KAN.plot``), so module-level imports form no circle and a new circle has to be named here;
- no module inside the package imports the package root ``kanpde`` (that circle was removed: the version lives in
  ``kanpde/_version.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kanpde"

#: Layers, low to high: a module may import its own layer's and lower layers' modules at module level.
#: The package root is the public facade: above what it re-exports, below the tools that use it.
LAYER = {"_lazy": 0, "_version": 0, "_timeout": 0, "_shapes": 0, "kan": 1, "pde": 2, "io": 3, "symbolic": 3, "plot": 4,
         "kanpde": 5, "bench": 6, "cli": 7, "__main__": 8}  # fmt: skip

#: Imports against the layering, each inside a convenience function (module, function) -> target sub-package.
#: io/, plot/ and symbolic/ read a trained solution through the public methods of kanpde.pde.solution.Solution (never
#: the solver's training state); what remains are the contract's convenience methods, which hand the solution (or, for
#: checkpoints, the solver's settings and TrainState) to them: the Solution's exports, formula and plot, and the
#: Solver's save/load. The Solver's own export_hdf5, export_mesh, symbolic and plot delegate to its solution.
BACK_EDGES = {
    ("kanpde.kan.network", "plot"): "plot",
    ("kanpde.kan.network", "auto_symbolic"): "symbolic",
    ("kanpde.pde.solution", "recipe"): "io",
    ("kanpde.pde.solution", "export_hdf5"): "io",
    ("kanpde.pde.solution", "export_mesh"): "io",
    ("kanpde.pde.solution", "load"): "io",
    ("kanpde.pde.solution", "symbolic"): "symbolic",
    ("kanpde.pde.solution", "plot"): "plot",
    ("kanpde.pde.solver", "save"): "io",
    ("kanpde.pde.solver", "load"): "io",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "kanpde.pde.solver"
    target: str  # the imported module, e.g. "kanpde.io.hdf5"
    function: str | None  # the enclosing function, None at module level (TYPE_CHECKING blocks included)
    line: int


def _module_name(path: Path) -> tuple[str, str]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        name = ".".join(parts[:-1])
        return name, name
    name = ".".join(parts)
    return name, name.rpartition(".")[0]


def _imports(path: Path) -> list[Import]:
    module, package = _module_name(path)
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, function or child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    stem = ".".join(base + ([child.module] if child.module else []))
                else:
                    stem = child.module or ""
                names = [stem] if child.module else [f"{stem}.{a.name}" for a in child.names]
                found.extend(Import(module, name, function, child.lineno) for name in names)
            visit(child, function)

    visit(ast.parse(path.read_text(), filename=str(path)), None)
    return found


def _subpackage(name: str) -> str | None:
    """``kanpde.pde.solver`` -> ``pde``; ``kanpde`` -> ``kanpde``; outside the package -> None."""
    parts = name.split(".")
    if parts[0] != "kanpde":
        return None
    if len(parts) == 1 or not ((PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()):
        return "kanpde"
    return parts[1]


ALL = [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in _imports(path)]


def _between_subpackages(imports: list[Import]) -> list[tuple[str, str, Import]]:
    edges = []
    for imp in imports:
        source, target = _subpackage(imp.module), _subpackage(imp.target)
        if source and target and source != target:
            edges.append((source, target, imp))
    return edges


def test_the_parser_sees_module_level_and_function_level_imports() -> None:
    solver = [imp for imp in ALL if imp.module == "kanpde.pde.solver"]
    assert any(imp.target == "kanpde.kan" and imp.function is None for imp in solver)
    assert any(imp.target == "kanpde.io.checkpoint" and imp.function == "save" for imp in solver)
    assert len({imp.module for imp in ALL}) > 50


def test_kan_imports_nothing_from_pde_io_plot_symbolic_at_module_level() -> None:
    bad = [imp for imp in ALL if imp.module.startswith("kanpde.kan") and imp.function is None
           and _subpackage(imp.target) not in (None, "kan", "_lazy", "_version", "_timeout", "_shapes")]  # fmt: skip
    assert not bad, bad


def test_only_the_cli_imports_plot_at_module_level() -> None:
    bad = [imp for imp in ALL if _subpackage(imp.target) == "plot" and imp.function is None
           and _subpackage(imp.module) not in ("plot", "cli")]  # fmt: skip
    assert not bad, bad


def test_no_module_inside_the_package_imports_the_package_root() -> None:
    bad = [imp for imp in ALL if _subpackage(imp.target) == "kanpde" and imp.module != "kanpde"
           and _subpackage(imp.module) not in ("cli", "bench", "__main__")]  # fmt: skip
    assert not bad, bad


def test_imports_against_the_layering_are_the_named_convenience_methods() -> None:
    unknown = [sub for sub in {s for s, _, _ in _between_subpackages(ALL)} if sub not in LAYER]
    assert not unknown, f"new sub-package(s) {unknown}: give them a layer in tests/test_imports.py"
    against = {}
    for source, target, imp in _between_subpackages(ALL):
        if LAYER[target] >= LAYER[source]:
            assert imp.function is not None, f"{imp.module}:{imp.line} imports {imp.target} at module level"
            against[(imp.module, imp.function)] = target
    assert against == BACK_EDGES


def _circles(edges: set[tuple[str, str]]) -> set[frozenset[str]]:
    reach = {a: {b for x, b in edges if x == a} for a, _ in edges}
    changed = True
    while changed:
        changed = False
        for a in reach:
            extra = set().union(*(reach.get(b, set()) for b in reach[a])) - reach[a]
            if extra:
                reach[a] |= extra
                changed = True
    return {frozenset((a, b)) for a in reach for b in reach[a] if a != b and a in reach.get(b, set())}


def test_module_level_imports_form_no_circle() -> None:
    edges = {(s, t) for s, t, imp in _between_subpackages(ALL) if imp.function is None}
    assert _circles(edges) == set()
    assert ("pde", "kan") in edges and ("io", "pde") in edges  # the graph is the real one


@pytest.mark.parametrize("pair", [("io", "kanpde"), ("pde", "kanpde"), ("kan", "kanpde")])
def test_removed_circles_stay_removed(pair: tuple[str, str]) -> None:
    edges = {(s, t) for s, t, _ in _between_subpackages(ALL)}  # every level: module, TYPE_CHECKING, functions
    assert ("kanpde", "pde") in edges  # the root re-exports pde names (TYPE_CHECKING imports)
    assert frozenset(pair) not in _circles(edges)
