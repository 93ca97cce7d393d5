"""The `kanpde` command: list, solve (with outputs), errors for unknown problems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kanpde.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_list_names_the_suite(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "poisson_2d_sin" in out and "heat_1d" in out


def test_solve_writes_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert (
        main(["solve", "poisson_1d", "--grid-schedule", "5", "--steps", "10", "--out", str(tmp_path), "--quiet"]) == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["problem"] == "poisson_1d" and summary["rel_l2"] < 1e-2
    assert [s["grid"] for s in summary["stages"]] == [5]


def test_solve_a_python_file(tmp_path: Path) -> None:
    problem_file = tmp_path / "my_problem.py"
    problem_file.write_text(
        "import kanpde as kp\nproblem = kp.Poisson(kp.Interval(0, 1), f=2, bcs=[kp.Dirichlet(0)], exact='x*(1-x)')\n"
    )
    assert (
        main(
            [
                "solve",
                str(problem_file),
                "--grid-schedule",
                "5",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "o"),
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "summary.json").exists()


def test_unknown_problem_is_explained(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown problem"):
        main(["solve", "no_such_problem", "--out", str(tmp_path)])


def test_python_dash_m_kanpde() -> None:
    out = subprocess.run([sys.executable, "-m", "kanpde", "--help"], capture_output=True, text=True, check=True)
    assert "solve" in out.stdout and "bench" in out.stdout


def test_a_named_file_of_a_package_keeps_its_relative_imports(tmp_path: Path) -> None:
    from kanpde.cli import resolve_problem

    package = tmp_path / "my_problems"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_shared.py").write_text("SOURCE = '2'\n")
    (package / "bar.py").write_text(
        "import kanpde as kp\nfrom ._shared import SOURCE\n"
        "problem = kp.Poisson(kp.Interval(0, 1), f=SOURCE, bcs=[kp.Dirichlet(0)])\n"
    )
    name, module = resolve_problem(str(package / "bar.py"))
    assert name == "bar" and Path(module.__file__) == package / "bar.py" and module.problem.f.is_constant
    suite_name, suite_module = resolve_problem(str(ROOT / "problems" / "heat_1d.py"))  # the suite, by path
    assert suite_name == "heat_1d" and suite_module.__name__ == "problems.heat_1d"
