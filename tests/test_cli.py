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


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        (["--n-interior", "-5"], ["--n-interior", "positive integer", "'-5'"]),
        (["--chunk-size", "0"], ["--chunk-size", "'0'"]),
        (["--device", "tpu9"], ["--device", "'tpu9'"]),
        (["--seed", str(2**70)], ["--seed", "2**62", str(2**70)]),
        (["--seed", "-1"], ["--seed", "'-1'"]),
        (["--threads", "0"], ["--threads", "'0'"]),
        (["--steps", "0"], ["--steps", "'0'"]),
        (["--steps", "ten"], ["--steps", "'ten'"]),
        (["--grid-schedule", ""], ["--grid-schedule", "''"]),
        (["--grid-schedule", "10,5"], ["--grid-schedule", "increasing"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    arguments: list[str], names: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["solve", "poisson_1d", "--out", str(tmp_path / "o"), *arguments])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(name in err for name in names), err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["solve", "poisson_1d", "--device", "cuda", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "--device" in err and "no CUDA" in err


def test_out_naming_a_file_is_refused_before_solving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    target = tmp_path / "results"
    target.write_text("not a folder")

    def no_solve(*args, **kwargs):
        raise AssertionError("solved before --out was checked")

    monkeypatch.setattr("kanpde.Solver.solve", no_solve)
    assert main(["solve", "poisson_1d", "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and str(target) in err and "not a folder" in err
    assert target.read_text() == "not a folder"


def test_bad_input_from_the_problem_settings_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "settings.py"
    problem_file.write_text(
        "import kanpde as kp\nproblem = kp.Poisson(kp.Interval(0, 1), f=2, bcs=[kp.Dirichlet(0)])\n"
        "SETTINGS = {'weights': {'pde': -1}}\n"
    )
    assert main(["solve", str(problem_file), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights['pde']" in err


def test_a_start_in_the_problem_settings_reaches_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "started.py"
    problem_file.write_text(
        "import kanpde as kp\n"
        "problem = kp.Heat(kp.Interval(0, 1), time=(0, 1), diffusivity=0.1, initial='sin(pi*x)', "
        "bcs=[kp.Dirichlet(0)], exact='exp(-0.1*pi**2*t)*sin(pi*x)')\n"
        "SETTINGS = {'width': [2, 3, 1], 'grid_schedule': [3], 'steps': 2, 'n_interior': 64, 'n_test': 64, "
        "'start': 'euler'}\n"
    )
    assert main(["bench", str(problem_file)]) == 0  # Solver(**SETTINGS) would refuse start=: it went to solve
    assert "started" in capsys.readouterr().out
    problem_file.write_text(problem_file.read_text().replace("'euler'", "'taylor'"))
    assert main(["solve", str(problem_file), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "start must be None or one of" in err


def test_ctrl_c_saves_what_it_has_and_exits_130(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "interrupted.py"
    problem_file.write_text(
        "import torch\nimport kanpde as kp\ncalls = [0]\n\n"
        "def residual(u):\n"
        "    calls[0] += 1\n"
        "    if calls[0] == 40:  # one Ctrl-C, in the second stage\n"
        "        raise KeyboardInterrupt\n"
        "    return -u.xx - torch.pi**2 * torch.sin(torch.pi * u.coord('x'))\n\n"
        "problem = kp.PDE(kp.Interval(-1, 1), residual, bcs=[kp.Dirichlet(0)], exact='sin(pi*x)')\n"
        "SETTINGS = {'width': [1, 3, 1], 'n_interior': 64, 'n_test': 64, 'optimizer': 'lbfgs'}\n"
    )
    out = tmp_path / "o"
    code = main(["solve", str(problem_file), "--grid-schedule", "3,5", "--steps", "15", "--out", str(out), "--quiet"])
    assert code == 130
    err = capsys.readouterr().err
    assert "kanpde: interrupted" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert "KeyboardInterrupt" in summary["stopped"] and summary["rel_l2"] is not None
    assert [s["grid"] for s in summary["stages"]] == [3, 5] and summary["stages"][1]["stopped"]
    assert (out / "solution.h5").exists() and (out / "solution.xdmf").exists()


def test_bench_says_when_the_solver_chose_time_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "long_wave.py"  # 3.5 periods, no time_windows in SETTINGS: the solver takes 2
    problem_file.write_text(
        "import kanpde as kp\n"
        "problem = kp.Wave(kp.Interval(0, 1), time=(0, 7), initial='sin(pi*x)', initial_velocity=0, "
        "bcs=[kp.Dirichlet(0)], exact='sin(pi*x)*cos(pi*t)')\n"
        "SETTINGS = {'width': [2, 3, 1], 'grid_schedule': [3], 'steps': 2, 'n_interior': 64, 'n_test': 64}\n"
    )
    assert main(["bench", str(problem_file)]) == 0
    assert "(2 time windows, chosen by the solver" in capsys.readouterr().out
    problem_file.write_text(problem_file.read_text().replace("'n_test': 64", "'n_test': 64, 'time_windows': 1"))
    assert main(["bench", str(problem_file)]) == 0
    assert "time windows" not in capsys.readouterr().out
