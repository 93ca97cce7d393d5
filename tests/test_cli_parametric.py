"""``kanpde solve problem.py --param mu=1.3``: the outputs of a parametric problem at one parameter value."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import kanpde as kp
from kanpde.cli import _parameter_values, main

PROBLEM = """import kanpde as kp
mu = kp.Parameter("mu", (0.5, 2.0))
problem = kp.Poisson(kp.Interval(0, 1), f="mu*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="mu*sin(pi*x)",
                     parameters=[mu])
SETTINGS = {"width": [2, 4, 1], "n_interior": 200, "n_test": 500}
"""


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    path = tmp_path / "family.py"
    path.write_text(PROBLEM)
    return path


def test_solve_exports_at_the_given_parameter(
    problem_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The formula search is tested in tests/symbolic and tests/pde/test_parametric.py; here it would take minutes.
    monkeypatch.setattr("kanpde.cli.write_formula", lambda solver, out: (None, []))
    out = tmp_path / "o"
    args = ["solve", str(problem_file), "--grid-schedule", "4", "--steps", "20", "--out", str(out), "--quiet"]
    assert main([*args, "--param", "mu=1.5"]) == 0
    assert json.loads((out / "summary.json").read_text())["parameters"] == {"mu": 1.5}
    with h5py.File(out / "solution.h5") as f:
        assert list(f.attrs["parameter_values"]) == [1.5]
        x = f["mesh/points"][:, 0]
        assert np.allclose(f["exact/u"][:], 1.5 * np.sin(np.pi * x))
        assert np.abs(f["fields/u"][:] - 1.5 * np.sin(np.pi * x)).max() < 1e-3
    assert (out / "solution.png").exists()


def test_default_is_the_middle_of_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    import kanpde as kp

    problem = kp.Poisson(
        kp.Interval(0, 1), f="mu", bcs=[kp.Dirichlet(0)],
        parameters=[kp.Parameter("mu", (0.5, 2.0)), kp.Parameter("k", (0, 1))],
    )  # fmt: skip
    assert _parameter_values(problem, [("k", 0.3)]) == {"k": 0.3, "mu": 1.25}
    assert "mu=1.25 for the outputs" in capsys.readouterr().out
    assert _parameter_values(problem, [("k", 3.0), ("mu", 1.0)]) == {"k": 3.0, "mu": 1.0}
    assert "--param k=3 lies outside its range [0, 1]: extrapolation" in capsys.readouterr().err


def test_unknown_parameter_is_one_line_before_solving(
    problem_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["solve", str(problem_file), "--out", str(out), "--quiet", "--param", "nu=1"]) == 2
    assert "the problem has no parameter 'nu'; its parameters are mu" in capsys.readouterr().err
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize("param", ["mu", "mu=abc", "mu=inf", "=1"])
def test_malformed_param_is_refused_by_the_parser(
    problem_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], param: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", str(problem_file), "--out", str(tmp_path / "o"), "--param", param])
    assert exit_info.value.code == 2
    assert "--param must look like NAME=NUMBER" in capsys.readouterr().err


def test_param_naming_a_make_problem_argument_says_what_param_sets(capsys: pytest.CaptureFixture[str]) -> None:
    # `kanpde solve poisson_2d_c_pinnacle --param radius=0.15` said only "it has no parameters", while the suite
    # module takes radius=... (its PARAMETERS): the message now says --param does not set it.
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match=r"'radius' is an argument of make_problem\(\)") as caught:
        _parameter_values(problem, [("radius", 0.15)], ("radius",))
    assert "it has no parameters" in str(caught.value)
    with pytest.raises(ValueError) as other:
        _parameter_values(problem, [("r", 0.15)], ("radius",))
    assert "make_problem" not in str(other.value)
