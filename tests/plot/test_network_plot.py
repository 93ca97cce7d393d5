"""Network diagrams (kanpde.plot.network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

from kanpde.kan.network import KAN
from kanpde.plot.network import plot_network

DTYPE = torch.float64
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _model(width: list[int] | None = None) -> KAN:
    return KAN(width or [2, 3, 1], grid=5, k=3, seed=0, dtype=DTYPE)


def _inputs(n_points: int = 100, dim: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n_points, dim, generator=generator, dtype=DTYPE) * 2 - 1


def _n_edges(width: list[int]) -> int:
    return sum(a * b for a, b in zip(width[:-1], width[1:], strict=True))


@pytest.mark.parametrize("width", [[2, 3, 1], [3, 2, 2, 1]])
@pytest.mark.parametrize("use_x", [False, True])
def test_returns_a_figure_with_an_axes_per_edge(width: list[int], use_x: bool) -> None:
    model = _model(width)
    fig = plot_network(model, x=_inputs(dim=width[0]) if use_x else None, n_samples=30)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 1 + _n_edges(width)
    curves = [ax for ax in fig.axes if ax.lines and len(ax.lines[0].get_xdata()) == 30]
    assert len(curves) == _n_edges(width)


def test_labels_use_given_names_and_title() -> None:
    fig = plot_network(_model(), input_names=["x", "t"], output_names=["u"], title="my net")
    texts = {text.get_text() for ax in fig.axes for text in ax.texts}
    assert {"x", "t", "u"} <= texts
    assert "my net" in {text.get_text() for text in fig.texts}  # the suptitle
    default = {text.get_text() for ax in plot_network(_model()).axes for text in ax.texts}
    assert {"x1", "x2", "y1"} <= default


def test_curve_with_x_follows_the_trace() -> None:
    model, x = _model(), _inputs(n_points=50)
    fig = plot_network(model, x=x, n_samples=500)  # more samples than points: every point, sorted
    first_edge = [ax for ax in fig.axes if ax.lines and len(ax.lines[0].get_xdata()) == 50][0]
    xs, ys = first_edge.lines[0].get_data()
    order = x[:, 0].argsort()
    with torch.no_grad():
        expected = model.layers[0].edge_activations(x).activations[order, 0, 0]
    torch.testing.assert_close(torch.as_tensor(xs), x[order, 0])
    torch.testing.assert_close(torch.as_tensor(ys), expected)


def test_writes_a_png_atomically(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "net.png"
    fig = plot_network(_model(), x=_inputs(), path=target)
    assert isinstance(fig, Figure)
    data = target.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in target.parent.iterdir()) == ["net.png"]  # no temporary file left
    plot_network(_model(), path=str(target))  # overwrites in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["net.png"]


def test_failed_save_leaves_no_temporary_and_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "net.png"
    target.write_bytes(b"old")

    def broken_savefig(self: Figure, handle, **kwargs) -> None:
        handle.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_network(_model(), path=target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.png"]


def test_model_plot_delegates(tmp_path: Path) -> None:
    model = _model()
    fig = model.plot(_inputs(), path=tmp_path / "a.png", n_samples=20)
    assert isinstance(fig, Figure) and (tmp_path / "a.png").stat().st_size > 0


def test_masked_edges_are_invisible() -> None:
    model = _model([1, 2, 1])
    with torch.no_grad():
        model.layers[0].mask[0, 1] = 0
    fig = plot_network(model)
    main = fig.axes[0]
    alphas = sorted(line.get_alpha() for line in main.lines)
    assert alphas[0] == 0.0 and alphas[1] == 0.0  # the two halves of the masked edge
    assert max(alphas) == pytest.approx(torch.tanh(torch.tensor(3.0)).item())


@pytest.mark.parametrize(
    "options, name",
    [
        ({"n_samples": 1}, "n_samples"),
        ({"figsize": (0, 3)}, "figsize"),
        ({"input_names": ["a"]}, "input_names"),
        ({"output_names": "u"}, "output_names"),
    ],
)
def test_bad_options_name_the_argument(options: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        plot_network(_model(), **options)


def test_bad_x_is_rejected() -> None:
    with pytest.raises(ValueError, match="x"):
        plot_network(_model(), x=torch.zeros(5, 3, dtype=DTYPE))


def test_plotting_does_not_use_pyplot() -> None:
    code = (
        "import sys, torch, kanpde as kp\n"
        "from kanpde.plot.network import plot_network\n"
        "plot_network(kp.KAN([2, 2, 1], seed=0, dtype=torch.float64), n_samples=10)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120
    )
