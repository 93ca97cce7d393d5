"""The inverse-problem examples run with a small budget and identify their unknowns (measured values noted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kanpde_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread() -> object:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_heat_sensors_value_with_error_bar(tmp_path: Path) -> None:
    result = load("inverse_heat_sensors").main((4,), 20, out=tmp_path)
    k, sd = result.unknowns["k"], result.uncertainty["k"]
    assert abs(k - 0.1) <= 3 * sd and 1e-4 < sd < 3e-3  # measured k = 0.09946 +- 0.00072 at grid 5, 60 steps
    assert (tmp_path / "sensors.csv").read_text().startswith("x,t,u\n")


def test_source_strength_from_boundary_flux() -> None:
    result = load("inverse_source_flux").main((5,), 25)
    assert abs(result.unknowns["q"] - 2.5) <= 3 * result.uncertainty["q"]  # measured 2.500002 +- 2.5e-4
    assert result.uncertainty["q"] < 1e-3


def test_conductivity_field_small_budget() -> None:
    _, _, error = load("inverse_conductivity").main((3,), 20, formula=False)
    assert error < 5e-2
