"""Solution and history figures (kanpde.plot.fields, kanpde.plot.history)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

import kanpde as kp
from kanpde.plot.fields import plot_solution
from kanpde.plot.history import plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = {"n_interior": 100, "n_boundary": 32, "n_test": 200}


@pytest.fixture(scope="module")
def solved_1d() -> tuple[kp.Solver, kp.Result]:
    problem = kp.Poisson(kp.Interval(0, 1), f="pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="sin(pi*x)")
    solver = kp.Solver(problem, width=[1, 3, 1], seed=0, **FAST)
    return solver, solver.solve(grid_schedule=[3, 5], steps=3, progress=False)


def _solver(problem: kp.Problem, n_coords: int) -> kp.Solver:
    return kp.Solver(problem, width=[n_coords, 3, 1], seed=0, **FAST)


def _texts(fig: Figure) -> set[str]:
    texts = {t.get_text() for t in fig.texts}
    for ax in fig.axes:
        texts |= {ax.get_title(), ax.get_xlabel(), ax.get_ylabel()} | {t.get_text() for t in ax.texts}
    return texts


def _png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    return data


def test_1d_curve_with_exact_and_error(tmp_path: Path, solved_1d) -> None:
    solver, result = solved_1d
    fig = plot_solution(solver, tmp_path / "sub" / "u.png", result=result, resolution=51)
    _png(tmp_path / "sub" / "u.png")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["u.png"]
    top, bottom = fig.axes
    assert len(top.lines) == 2 and top.lines[1].get_linestyle() == "--"  # u and the exact solution, dashed
    assert len(top.lines[0].get_xdata()) == 51
    assert {"x", "u", "u - exact"} <= _texts(fig)
    assert f"{result.rel_l2:.2e}" in fig.texts[0].get_text()


def test_2d_maps_with_colour_bars(tmp_path: Path) -> None:
    problem = kp.Poisson(
        kp.Rectangle((0, 0), (1, 1)), f="2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
        exact="sin(pi*x)*sin(pi*y)",
    )  # fmt: skip
    fig = plot_solution(_solver(problem, 2), tmp_path / "u.png", resolution=21)
    _png(tmp_path / "u.png")
    assert len(fig.axes) == 4  # two maps and two colour bars
    assert {"x", "y", "u (KAN)", "|u - exact|"} <= _texts(fig)
    assert "relative L2 error" in fig.texts[0].get_text()


def test_2d_non_box_shows_the_residual_without_exact(tmp_path: Path) -> None:
    problem = kp.Poisson(kp.Rectangle((-1, -1), (1, 1)) - kp.Disk((0, 0), 0.4), f=1, bcs=[kp.Dirichlet(0)])
    fig = plot_solution(_solver(problem, 2), tmp_path / "hole.png", resolution=21)
    _png(tmp_path / "hole.png")
    assert "|PDE residual|" in _texts(fig) and "no exact solution" in fig.texts[0].get_text()


def test_1d_time_map_and_slices(tmp_path: Path) -> None:
    problem = kp.Heat(
        kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)], exact="exp(-pi**2*t)*sin(pi*x)"
    )
    fig = plot_solution(_solver(problem, 2), tmp_path / "heat.png", resolution=21, times=5)
    _png(tmp_path / "heat.png")
    assert {"x", "t", "u(x, t) (KAN)", "|u - exact|"} <= _texts(fig)
    slices = [ax for ax in fig.axes if ax.get_title().startswith("time slices")][0]
    assert len(slices.lines) == 8  # four times, each with its exact solution


def test_2d_time_panels(tmp_path: Path) -> None:
    problem = kp.Heat(kp.Rectangle((0, 0), (1, 1)), time=(0, 0.5), initial="sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)])
    fig = plot_solution(_solver(problem, 3), tmp_path / "heat2.png", resolution=11, times=3)
    _png(tmp_path / "heat2.png")
    titles = _texts(fig)
    assert {"u at t = 0", "u at t = 0.25", "u at t = 0.5", "|PDE residual| at t = 0.5"} <= titles


def test_3d_is_refused() -> None:
    problem = kp.Poisson(kp.Box((0, 0, 0), (1, 1, 1)), f=1, bcs=[kp.Dirichlet(0)])
    with pytest.raises(ValueError, match="export_hdf5"):
        plot_solution(kp.Solver(problem, width=[3, 2, 1]))


def test_history_with_stage_labels(tmp_path: Path, solved_1d) -> None:
    solver, result = solved_1d
    for source in (solver.history, result, solver):
        fig = plot_history(source)
        assert isinstance(fig, Figure)
    fig = plot_history(result, tmp_path / "history.png")
    _png(tmp_path / "history.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text().split("\n")[0].strip() for t in ax.texts]
    assert labels == ["G=3", "G=5"]
    assert any(t.get_text().rstrip().endswith(" s") for t in ax.texts)  # seconds annotated
    assert {line.get_label() for line in ax.lines} >= {"loss (weighted total)", "pde"}


def test_history_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        plot_history([])
    with pytest.raises(TypeError, match="StepRecord"):
        plot_history([1, 2])


def test_failed_save_leaves_no_file(tmp_path: Path, solved_1d, monkeypatch) -> None:
    def broken(self: Figure, handle, **kwargs) -> None:
        handle.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_history(solved_1d[0].history, tmp_path / "h.png")
    assert list(tmp_path.iterdir()) == []


def test_no_pyplot() -> None:
    # Agg canvases only: pyplot's global figure registry would leak figures (test_network_plot checks a subprocess).
    import kanpde.plot.fields as fields
    import kanpde.plot.history as history

    for module in (fields, history):
        source = Path(module.__file__).read_text()
        assert "matplotlib.pyplot" not in source and "import pyplot" not in source
