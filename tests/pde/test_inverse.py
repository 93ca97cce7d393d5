"""Inverse problems: unknown constants identified from observations, with their uncertainty."""

from __future__ import annotations

import math

import pytest
import torch

import kanpde as kp
from kanpde.pde.residuals import ObservationTerm, collocation_terms


def _heat_data(n: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` interior observations of ``exp(-pi^2 k t) sin(pi x)``, k = 0.1, with Gaussian noise."""
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(n, 2, generator=g, dtype=torch.float64) * 0.9 + 0.05
    values = torch.exp(-(math.pi**2) * 0.1 * points[:, 1]) * torch.sin(math.pi * points[:, 0])
    return points, values + noise * torch.randn(n, generator=g, dtype=torch.float64)


def _heat_solve(n: int, noise: float, seed: int) -> kp.Result:
    points, values = _heat_data(n, noise, seed)
    k = kp.Unknown("k", init=0.5, bounds=(0, None))
    problem = kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity=k, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        data=[kp.Observations(points, values, noise=noise or None)],
    )  # fmt: skip
    return kp.Solver(problem, seed=0, n_interior=400).solve(grid_schedule=[4], steps=30, progress=False)


def test_heat_unknown_diffusivity_noiseless() -> None:
    result = _heat_solve(300, 0.0, 0)
    assert abs(result.unknowns["k"] - 0.1) / 0.1 <= 1e-4
    assert 0 < result.uncertainty["k"] < 1e-5
    assert "unknown k = 0.1" in result.summary()


def test_reaction_coefficient_through_pde() -> None:
    c = kp.Unknown("c", init=1.0)
    x = torch.linspace(0.02, 0.98, 50, dtype=torch.float64)[:, None]
    problem = kp.PDE(
        kp.Interval(0, 1),
        lambda u: -u.xx + c * u.value - (math.pi**2 + 2) * torch.sin(math.pi * u.coord("x")),
        bcs=[kp.Dirichlet(0)], data=[kp.Observations(x, torch.sin(math.pi * x[:, 0]))], unknowns=[c],
    )  # fmt: skip
    result = kp.Solver(problem, width=[1, 5, 1], seed=0, n_interior=200).solve([5], steps=40, progress=False)
    assert abs(result.unknowns["c"] - 2.0) / 2.0 <= 1e-4
    assert set(result.uncertainty) == {"c"}


def test_unknown_in_source_string_and_bounds() -> None:
    """``f="q*..."`` reads the unknown by name; an interval bound keeps it inside during training."""
    q = kp.Unknown("q", init=1.5, bounds=(1.0, 4.0))
    x = torch.linspace(0.05, 0.95, 30, dtype=torch.float64)
    problem = kp.Poisson(
        kp.Interval(0, 1), f="q*pi**2*sin(pi*x)", bcs=[kp.Dirichlet(0)], unknowns=[q],
        data=[kp.Observations(x, 3 * torch.sin(math.pi * x), noise=1e-3)],
    )  # fmt: skip
    result = kp.Solver(problem, width=[1, 5, 1], seed=0, n_interior=200).solve([5], steps=40, progress=False)
    assert abs(result.unknowns["q"] - 3.0) <= 1e-4
    assert 0 < result.uncertainty["q"] < 1e-2


def test_unknown_acts_as_a_zero_dim_tensor() -> None:
    k = kp.Unknown("k", init=2.0)
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert torch.equal(k * x, torch.tensor([2.0, 4.0], dtype=torch.float64))
    assert torch.equal(x * k, k * x) and torch.equal(x / k, torch.tensor([0.5, 1.0], dtype=torch.float64))
    assert float(torch.exp(k)) == pytest.approx(math.exp(2.0)) and float(k.sqrt()) == pytest.approx(math.sqrt(2))
    assert float(1 - k) == -1.0 and float(-k) == -2.0 and float(k**2) == 4.0


@pytest.mark.parametrize("bounds", [(0, None), (None, 5.0), (-1.0, 3.0), None])
def test_reparametrisation_round_trip(bounds: tuple[float | None, float | None] | None) -> None:
    k = kp.Unknown("k", init=0.7, bounds=bounds)
    raw = torch.tensor(k.raw_of(0.7), dtype=torch.float64)
    assert float(k.transform(raw)) == pytest.approx(0.7, rel=1e-12)
    lower, upper = k.bounds
    for r in (-50.0, 50.0):
        value = float(k.transform(torch.tensor(r, dtype=torch.float64)))
        assert (lower is None or value >= lower) and (upper is None or value <= upper)


def test_observations_are_a_residual_block() -> None:
    points, values = _heat_data(20, 0.0, 0)
    k = kp.Unknown("k", init=0.5, bounds=(0, None))
    problem = kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity=k, initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        data=[kp.Observations(points, values, name="sensors")],
    )  # fmt: skip
    solver = kp.Solver(problem, seed=0, n_interior=50, weights={"data[sensors]": 10.0})
    terms = collocation_terms(problem, solver._sample_batch(3), solver.request)
    data = [t for t in terms.terms if isinstance(t, ObservationTerm)]
    assert [t.label for t in data] == ["data[sensors]"] and data[0].count == 20
    # the unknown is a trained parameter of the approximation, next to the network's
    names = [n for n, _ in solver.approximation.named_parameters()]
    assert "inverse.raw.k" in names


def test_observations_from_files(tmp_path: pytest.TempPathFactory) -> None:
    import h5py
    import numpy as np

    csv = tmp_path / "obs.csv"  # type: ignore[operator]
    csv.write_text("t,x,u\n0.5,0.25,1.0\n0.1,0.75,2.0\n")
    obs = kp.Observations.from_file(csv, noise=0.1)
    problem = kp.PDE(kp.Interval(0, 1), lambda u: u.t - u.xx, time=(0, 1), initial=0, bcs=[kp.Dirichlet(0)],
                     data=[obs])  # fmt: skip
    points, values = obs.checked(problem.coords, problem.domain, 1)
    assert points.tolist() == [[0.25, 0.5], [0.75, 0.1]] and values.tolist() == [1.0, 2.0]
    npz = tmp_path / "obs.npz"  # type: ignore[operator]
    np.savez(npz, x=np.array([0.1, 0.2]), temperature=np.array([3.0, 4.0]))
    assert kp.Observations.from_file(npz).values.tolist() == [3.0, 4.0]
    h5 = tmp_path / "obs.h5"  # type: ignore[operator]
    with h5py.File(h5, "w") as f:
        f["x"], f["u"] = np.array([0.3]), np.array([5.0])
    assert kp.Observations.from_file(h5).points.tolist() == [[0.3]]


@pytest.mark.slow
def test_noise_calibration_and_sd_scaling() -> None:
    """Noise 1e-2: the true k within 3 sd in >= 18 of 20 seeds; the sd falls about as 1/sqrt(n).

    Measured: 20 of 20 within 3 sd (z spread 0.82); sd 5.4e-4 at n = 100, 1.3e-4 at n = 1600.
    """
    inside = sum(
        abs(r.unknowns["k"] - 0.1) <= 3 * r.uncertainty["k"]
        for r in (_heat_solve(300, 1e-2, s) for s in range(100, 120))
    )
    assert inside >= 18
    sd = {n: _heat_solve(n, 1e-2, 7).uncertainty["k"] for n in (100, 1600)}
    assert 2.5 <= sd[100] / sd[1600] <= 6.5  # sqrt(16) = 4


# -- bad input: each a clear error naming the argument, before any training ----------------------------------------
def _points() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), torch.zeros(10)


def _heat(**kwargs: object) -> kp.Heat:
    options: dict[str, object] = {"diffusivity": kp.Unknown("k", init=0.5, bounds=(0, None))} | kwargs
    return kp.Heat(kp.Interval(0, 1), time=(0, 1), initial="sin(pi*x)", bcs=[kp.Dirichlet(0)], **options)  # type: ignore[arg-type]


def test_bad_observations() -> None:
    points, values = _points()
    bad = points.clone()
    bad[3, 0] = math.nan
    with pytest.raises(ValueError, match="points holds 1 NaN or inf"):
        kp.Observations(bad, values)
    with pytest.raises(ValueError, match="values holds 1 NaN or inf"):
        kp.Observations(points, torch.tensor([math.inf] + [0.0] * 9))
    with pytest.raises(ValueError, match=r"values must have shape \(10,\)"):
        kp.Observations(points, values[:7])
    with pytest.raises(ValueError, match="noise must be a positive"):
        kp.Observations(points, values, noise=-1.0)
    with pytest.raises(ValueError, match="have 3 column"):
        _heat(data=[kp.Observations(torch.rand(4, 3, dtype=torch.float64), torch.zeros(4))])
    outside = points.clone()
    outside[0, 0] = 1.5
    with pytest.raises(ValueError, match="outside the domain or time range"):
        _heat(data=[kp.Observations(outside, values)])
    late = points.clone()
    late[0, 1] = 2.0  # t beyond the time interval
    with pytest.raises(ValueError, match="outside the domain or time range"):
        _heat(data=[kp.Observations(late, values)])
    with pytest.raises(ValueError, match="observes field 1"):
        _heat(data=[kp.Observations(points, values, field=1)])
    with pytest.raises(TypeError, match="data must contain kp.Observations"):
        _heat(data=[(points, values)])


def test_bad_observation_files(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "obs.csv"  # type: ignore[operator]
    path.write_text("x,u\n0.5,1.0\n")
    with pytest.raises(ValueError, match=r"lacks the coordinate column\(s\) \['t'\]"):
        _heat(data=[kp.Observations.from_file(path)])
    with pytest.raises(ValueError, match="lacks the field's column 'temperature'"):
        kp.Observations.from_file(path, column="temperature")
    path.write_text("x,t,u\n0.5,0.1,nan\n")
    with pytest.raises(ValueError, match="values holds 1 NaN"):
        kp.Observations.from_file(path)
    path.write_text("x,t,u\n0.5,0.1,__import__('os')\n")
    with pytest.raises(ValueError, match="line 2 .* not a number"):
        kp.Observations.from_file(path)
    (tmp_path / "obs.py").write_text("")  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"must end in \.csv"):
        kp.Observations.from_file(tmp_path / "obs.py")  # type: ignore[operator]


def test_bad_unknowns() -> None:
    with pytest.raises(ValueError, match=r"init=2.0 must lie strictly inside bounds=\(0, 1\)"):
        kp.Unknown("k", init=2.0, bounds=(0, 1))
    with pytest.raises(ValueError, match="init=0 must lie strictly inside"):
        kp.Unknown("k", init=0, bounds=(0, None))
    with pytest.raises(ValueError, match="name must be an identifier"):
        kp.Unknown("2k", init=1.0)
    with pytest.raises(ValueError, match="taken by a constant or function"):
        kp.Unknown("sin", init=1.0)
    with pytest.raises(ValueError, match="'x' of .* clashes with a coordinate"):
        _heat(diffusivity=kp.Unknown("x", init=1.0, bounds=(0, None)))
    with pytest.raises(ValueError, match="two unknowns are named 'k'"):
        _heat(f="k", unknowns=[kp.Unknown("k", init=1.0)])
    with pytest.raises(TypeError, match="unknowns must contain kp.Unknown"):
        kp.PDE(kp.Interval(0, 1), lambda u: u.xx, bcs=[kp.Dirichlet(0)], unknowns=[1.0])


def test_unused_unknown_warns() -> None:
    c = kp.Unknown("c", init=1.0)
    problem = kp.PDE(kp.Interval(0, 1), lambda u: -u.xx - 1, bcs=[kp.Dirichlet(0)], unknowns=[c])
    with pytest.warns(UserWarning, match="unknown 'c' appears nowhere"):
        kp.Solver(problem, width=[1, 3, 1], seed=0)
