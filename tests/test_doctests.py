"""The examples in kanpde's docstrings are true: every ``>>>`` example of every module runs and prints what it
shows (``doctest``, one test per module that has examples), and the public entry points have examples.

Examples run in a temporary folder (``tempfile`` also makes its folders there), so files they write go there.
Keep each example fast (well under a second): a training run in an example takes a few steps on a tiny problem.
"""

from __future__ import annotations

import doctest
import importlib
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import kanpde

PACKAGE = Path(kanpde.__file__).resolve().parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Modules whose source has a ">>>" prompt (read as text, so collecting imports nothing); __main__ runs the CLI.
MODULES = sorted(
    _module_name(path)
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py" and ">>>" in path.read_text(encoding="utf-8")
)

# The public entry points a newcomer meets first each show a short example.
ENTRY_POINTS = ["KAN", "Solver", "Poisson", "Heat", "Wave", "PDE", "Parameter", "Unknown", "Observations"]


def test_modules_with_examples_are_found() -> None:
    assert len(MODULES) >= 25
    assert {"kanpde.pde.problem", "kanpde.kan.network", "kanpde.pde.observations"} <= set(MODULES)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_has_an_example(name: str) -> None:
    docstring = getattr(kanpde, name).__doc__ or ""
    examples = doctest.DocTestParser().get_examples(docstring)
    assert examples, f"kp.{name} has no >>> example in its docstring"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    default_dtype = torch.get_default_dtype()
    module = importlib.import_module(module_name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, module_name) if t.examples]
    assert tests, f"{module_name} has '>>>' in its source, but doctest finds no example in its docstrings"
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    try:
        for test in tests:
            runner.run(test, out=report.append)
    finally:
        torch.set_default_dtype(default_dtype)
        _close_figures()
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert results.attempted == sum(len(t.examples) for t in tests)


def _close_figures() -> None:
    """Close the matplotlib figures the plotting examples made (pyplot is imported only if they ran)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
