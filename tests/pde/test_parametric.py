"""Parametric problems: parameters as extra input columns, one solve for a family (kanpde.pde.parameters)."""

from __future__ import annotations

import math
import warnings
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest
import sympy
import torch

import kanpde as kp
from kanpde.pde.approximation import function_jet
from kanpde.pde.fields import Fields, probe
from kanpde.pde.parameters import ExtrapolationWarning, ParameterProduct
from kanpde.symbolic.verify import verify_formula

F64 = torch.float64
SQUARE = ((-1, -1), (1, 1))


def poisson_family(**options: object) -> kp.Poisson:
    mu = kp.Parameter("mu", (0.5, 2.0))
    return kp.Poisson(
        kp.Rectangle(*SQUARE), f="mu*2*pi**2*sin(pi*x)*sin(pi*y)", bcs=[kp.Dirichlet(0)],
        exact="mu*sin(pi*x)*sin(pi*y)", parameters=[mu], **options,
    )  # fmt: skip


def heat_family() -> kp.Heat:
    k = kp.Parameter("k", (0.05, 0.2))
    return kp.Heat(
        kp.Interval(0, 1), time=(0, 1), diffusivity="k", initial="sin(pi*x)", bcs=[kp.Dirichlet(0)],
        exact="exp(-pi**2*k*t)*sin(pi*x)", parameters=[k],
    )  # fmt: skip


def sine_family(low: float = 0.5, high: float = 1.5) -> kp.Poisson:
    """-u'' = mu^2 pi^2 sin(mu pi x) on [0, 1], u = sin(mu pi x) on the boundary: u depends nonlinearly on mu."""
    mu = kp.Parameter("mu", (low, high))
    return kp.Poisson(
        kp.Interval(0, 1), f="mu**2*pi**2*sin(mu*pi*x)", bcs=[kp.Dirichlet("sin(mu*pi*x)")],
        exact="sin(mu*pi*x)", parameters=[mu],
    )  # fmt: skip


def sine_member(mu: float) -> kp.Poisson:
    return kp.Poisson(
        kp.Interval(0, 1), f=f"{mu}**2*pi**2*sin({mu}*pi*x)", bcs=[kp.Dirichlet(f"sin({mu}*pi*x)")],
        exact=f"sin({mu}*pi*x)",
    )  # fmt: skip


# -- the parameter box is one more set of columns on every point set ------------------------------------------------
def test_columns_order_space_time_then_parameters() -> None:
    problem = heat_family()
    assert problem.coords == ("x", "t", "k")
    assert isinstance(problem.domain, ParameterProduct)
    assert problem.domain.bounds == ((0.0, 0.0, 0.05), (1.0, 1.0, 0.2))
    assert [p.name for p in problem.parameters] == ["k"]
    assert poisson_family().coords == ("x", "y", "mu")
    assert kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)]).parameters == ()


@pytest.mark.parametrize("sampler", ["sobol", "halton", "lhs", "random", "uniform"])
def test_every_sampler_covers_the_parameter_range(sampler: str) -> None:
    domain = poisson_family().domain
    g = torch.Generator().manual_seed(0)
    interior = domain.sample_interior(1000, generator=g, sampler=sampler)
    assert interior.shape == (1000, 3)
    assert bool(((interior[:, 2] > 0.5) & (interior[:, 2] < 2.0)).all())
    assert float(interior[:, 2].min()) < 0.6 and float(interior[:, 2].max()) > 1.9
    points, normals = domain.sample_boundary(800, generator=g, sampler=sampler)
    assert bool(domain.space.on_boundary(points[:, :2]).all())
    assert bool((normals[:, 2] == 0).all()) and torch.allclose(normals[:, :2].norm(dim=1), torch.ones(800, dtype=F64))
    assert float(points[:, 2].min()) < 0.6 and float(points[:, 2].max()) > 1.9
    # paired at random: the parameter does not follow the position along the boundary
    assert abs(float(np.corrcoef(points[:, 0].numpy(), points[:, 2].numpy())[0, 1])) < 0.2


def test_sides_and_initial_slice_cover_the_parameter_range() -> None:
    problem = heat_family()
    g = torch.Generator().manual_seed(1)
    start = problem.domain.sample_initial(500, generator=g)
    assert bool((start[:, 1] == 0).all()) and float(start[:, 2].min()) < 0.06 and float(start[:, 2].max()) > 0.19
    points, normals = problem.domain.sample_side("xmin", 200, generator=g)
    assert bool((points[:, 0] == 0).all()) and bool((normals[:, 2] == 0).all())
    assert bool(((points[:, 2] >= 0.05) & (points[:, 2] <= 0.2)).all())
    assert bool(problem.domain.side_mask("xmin", points).all())


def test_values_use_parameter_names() -> None:
    problem = poisson_family()
    points = torch.tensor([[0.5, 0.5, 2.0], [0.5, -0.5, 0.5]], dtype=F64)
    f = problem.f(points)
    assert torch.allclose(f, torch.tensor([4 * math.pi**2, -(math.pi**2)], dtype=F64))
    exact = problem.exact_values(points)
    assert exact is not None and torch.allclose(exact[:, 0], torch.tensor([2.0, -0.5], dtype=F64))
    bc = kp.Poisson(
        kp.Interval(0, 1), f=0, bcs=[kp.Dirichlet(sympy.Symbol("mu") * sympy.Symbol("x"))],
        parameters=[kp.Parameter("mu", (1, 2))],
    ).conditions[0]  # fmt: skip
    assert torch.allclose(bc.value(torch.tensor([[1.0, 1.5]], dtype=F64)), torch.tensor([1.5], dtype=F64))


def test_residual_reads_parameters_and_their_derivatives() -> None:
    """Laplacian and gradient are in space only; u.d('mu') is the sensitivity; u.param is the column."""
    coords = ("x", "y", "mu")
    fn = lambda p: p[:, 2] * p[:, 0] ** 2 * p[:, 1] ** 3  # noqa: E731
    request = probe(lambda u: -u.laplacian - u.param("mu"), coords, 1, F64)
    assert request.level == 2 and request.laplacian_dims == (0, 1)
    points = torch.tensor([[0.3, -0.7, 1.5], [0.9, 0.2, 0.6]], dtype=F64)
    u = Fields(function_jet(fn, points, request), points, coords)
    x, y, mu = points.unbind(1)
    assert torch.allclose(u.laplacian, mu * (2 * y**3 + 6 * x**2 * y))
    assert torch.allclose(u.d("mu"), x**2 * y**3)
    assert torch.allclose(u.grad, torch.stack([2 * mu * x * y**3, 3 * mu * x**2 * y**2], dim=1))
    assert torch.equal(u.param("mu"), mu) and torch.equal(u.coord("mu"), mu)
    assert torch.allclose(u.x, 2 * mu * x * y**3)  # one-letter shortcuts still work next to a longer name
    problem = kp.PDE(
        kp.Rectangle(*SQUARE), lambda u: -u.laplacian - u.param("mu") * u.x, bcs=[kp.Dirichlet(0)],
        parameters=[kp.Parameter("mu", (0, 1))],
    )  # fmt: skip
    assert problem.coords == coords


def test_network_width_includes_parameters() -> None:
    problem = poisson_family()
    assert kp.Solver(problem, seed=0).width == [3, 10, 1]
    with pytest.raises(ValueError, match=r"width\[0\].*mu"):
        kp.Solver(problem, width=[2, 5, 1])


def test_hard_constraint_ignores_parameter_columns() -> None:
    """u = b N + g with b the distance in space: the Dirichlet value mu*x holds exactly for every mu."""
    mu = kp.Parameter("mu", (0.5, 2.0))
    problem = kp.Poisson(kp.Rectangle(*SQUARE), f=0, bcs=[kp.Dirichlet("mu*x")], parameters=[mu])
    solver = kp.Solver(problem, width=[3, 4, 1], grid=3, seed=0)
    assert solver.approximation.constraint is not None
    points, _ = problem.domain.sample_boundary(200, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(solver.predict(points), points[:, 2] * points[:, 0], atol=1e-12)
    inside = problem.domain.sample_interior(200, generator=torch.Generator().manual_seed(0))
    assert float((solver.predict(inside) - inside[:, 2] * inside[:, 0]).abs().max()) > 1e-6  # b N is not zero there


def test_heat_hard_constraint_keeps_initial_value_for_every_parameter() -> None:
    problem = heat_family()
    solver = kp.Solver(problem, width=[3, 4, 1], grid=3, seed=0)
    start = problem.domain.sample_initial(100, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(solver.predict(start), torch.sin(math.pi * start[:, 0]), atol=1e-12)


# -- predict, errors per member, sensitivities ------------------------------------------------------------------
def test_predict_takes_parameter_values_or_columns() -> None:
    solver = kp.Solver(poisson_family(), width=[3, 4, 1], grid=3, seed=0)
    points = torch.tensor([[0.1, 0.2], [-0.3, 0.4]], dtype=F64)
    by_name = solver.predict(points, mu=1.3)
    appended = solver.predict(torch.cat([points, torch.full((2, 1), 1.3, dtype=F64)], dim=1))
    assert by_name.shape == (2,) and torch.equal(by_name, appended)
    per_point = solver.predict(points, mu=[1.3, 0.7])
    assert per_point[0] == by_name[0] and per_point[1] != by_name[1]
    with pytest.raises(ValueError, match="parameter 'mu' has no value"):
        solver.predict(points)
    with pytest.raises(TypeError, match="'nu'.*parameters are \\('mu',\\)"):
        solver.predict(points, mu=1.0, nu=2.0)
    with pytest.raises(ValueError, match="not both"):
        solver.predict(torch.zeros(2, 3, dtype=F64), mu=1.0)
    with pytest.raises(ValueError, match="mu must be a finite number"):
        solver.predict(points, mu=math.nan)
    with pytest.warns(ExtrapolationWarning, match=r"mu=3 lies outside the parameter range \[0.5, 2\]"):
        solver.predict(points, mu=3.0)
    with pytest.warns(ExtrapolationWarning, match="extrapolation"):
        solver.predict(torch.tensor([[0.0, 0.0, 0.1]], dtype=F64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solver.predict(points, mu=2.0)  # the ends of the range are inside


def test_predict_on_a_problem_without_parameters_refuses_parameter_values() -> None:
    problem = kp.Poisson(kp.Interval(0, 1), f=1, bcs=[kp.Dirichlet(0)], exact="x*(1-x)/2")
    solver = kp.Solver(problem, width=[1, 3, 1], grid=3, seed=0, n_interior=100, n_test=200)
    with pytest.raises(TypeError, match="'mu'.*no parameters"):
        solver.predict(torch.zeros(2, 1, dtype=F64), mu=1.0)
    result = solver.solve(grid_schedule=[3], steps=2, progress=False)
    with pytest.raises(ValueError, match="no parameters"):
        result.errors_at(mu=[1.0])


def test_sensitivity_is_the_derivative_of_the_prediction() -> None:
    solver = kp.Solver(sine_family(), width=[2, 4, 1], grid=4, seed=0)
    x = torch.linspace(0.05, 0.95, 7, dtype=F64)[:, None]
    h = 1e-5
    fd = (solver.predict(x, mu=1.0 + h) - solver.predict(x, mu=1.0 - h)) / (2 * h)
    assert torch.allclose(solver.predict(x, mu=1.0, derivative="mu"), fd, atol=1e-8)
    second = solver.predict(x, mu=1.0, derivative=("x", "mu"))
    dx = solver.predict(x, mu=1.0, derivative="x")
    assert second.shape == (7,) and not torch.allclose(second, dx)
    with pytest.raises(ValueError, match="derivative must name"):
        solver.predict(x, mu=1.0, derivative="nu")


def test_family_solve_and_sensitivity_against_separate_solves() -> None:
    """One solve over mu in [0.5, 1.5]; du/dmu at mu = 1 against a central difference of two separate solves."""
    solver = kp.Solver(sine_family(), width=[2, 5, 1], seed=0, n_interior=300, n_test=1000)
    result = solver.solve(grid_schedule=[5], steps=40, progress=False)
    assert result.rel_l2 is not None and result.rel_l2 < 1e-6  # measured 1.2e-9
    members = result.errors_at(mu=[0.5, 1.0, 1.5])
    assert [m.values for m in members] == [{"mu": 0.5}, {"mu": 1.0}, {"mu": 1.5}]
    assert all(m.rel_l2 is not None and m.rel_l2 < 1e-6 for m in members)
    x = torch.linspace(0.05, 0.95, 19, dtype=F64)[:, None]
    separate = []
    for value in (0.99, 1.01):
        member = kp.Solver(sine_member(value), width=[1, 5, 1], seed=0, n_interior=200, n_test=1000)
        member.solve(grid_schedule=[8], steps=40, progress=False)
        separate.append(member.predict(x))
    fd = (separate[1] - separate[0]) / 0.02
    sensitivity = solver.predict(x, mu=1.0, derivative="mu")
    exact = math.pi * x[:, 0] * torch.cos(math.pi * x[:, 0])  # d/dmu sin(mu pi x) at mu = 1
    assert float((sensitivity - exact).norm() / exact.norm()) < 1e-6
    # the central difference is O(h^2) off: (0.01 pi)^2 / 6, about 1.6e-4 relative
    assert float((sensitivity - fd).norm() / fd.norm()) < 5e-4


# -- formulas in the parameters ---------------------------------------------------------------------------------
def test_verification_treats_parameters_as_symbols() -> None:
    problem = poisson_family()
    x, y, mu = sympy.symbols("x y mu")
    assert verify_formula(mu * sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y), problem).is_solution is True
    wrong = verify_formula(mu**2 * sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y), problem)
    assert wrong.is_solution is False and wrong.pde.exact_zero is False
    heat = heat_family()
    x, t, k = sympy.symbols("x t k")
    assert verify_formula(sympy.exp(-(sympy.pi**2) * k * t) * sympy.sin(sympy.pi * x), heat).is_solution is True


# -- export -----------------------------------------------------------------------------------------------------
def test_export_one_member_and_a_sweep(tmp_path: object) -> None:
    solver = kp.Solver(poisson_family(), width=[3, 4, 1], grid=3, seed=0)
    h5, _ = solver.export_hdf5(tmp_path / "one.h5", resolution=5, mu=1.3)  # type: ignore[operator]
    with h5py.File(h5) as f:
        nodes = torch.from_numpy(f["mesh/points"][:])
        shape = np.sin(np.pi * f["mesh/points"][:, 0]) * np.sin(np.pi * f["mesh/points"][:, 1])
        assert np.allclose(f["fields/u"][:], solver.predict(nodes, mu=1.3).numpy())
        assert np.allclose(f["exact/u"][:], 1.3 * shape)
        assert list(f.attrs["parameter_names"]) == ["mu"] and list(f.attrs["parameter_values"]) == [1.3]
    h5, xdmf = solver.export_hdf5(tmp_path / "sweep.h5", resolution=5, mu=[0.5, 1, 2])  # type: ignore[operator]
    with h5py.File(h5) as f:
        assert f.attrs["sweep"] == "mu"
        assert [f[f"fields/u/t000{i}"].attrs["time"] for i in range(3)] == [0.5, 1.0, 2.0]
        assert np.allclose(f["exact/u/t0002"][:], 2 * shape)
    collection = ET.parse(xdmf).getroot().find("Domain/Grid")
    assert collection is not None and collection.get("CollectionType") == "Temporal"
    assert [float(t.get("Value", "nan")) for t in collection.iter("Time")] == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="parameter 'mu' has no value"):
        solver.export_hdf5(tmp_path / "none.h5", resolution=5)  # type: ignore[operator]
    with pytest.raises(TypeError, match="'nu'"):
        solver.export_hdf5(tmp_path / "bad.h5", resolution=5, mu=1.0, nu=2)  # type: ignore[operator]
    heat = kp.Solver(heat_family(), width=[3, 4, 1], grid=3, seed=0)
    with pytest.raises(ValueError, match="sweep of a time-dependent problem"):
        heat.export_hdf5(tmp_path / "heat.h5", resolution=5, k=[0.1, 0.2])  # type: ignore[operator]
    h5, _ = heat.export_hdf5(tmp_path / "heat.h5", resolution=5, times=3, k=0.1)  # type: ignore[operator]
    with h5py.File(h5) as f:
        assert list(f["grid/t"][:]) == [0.0, 0.5, 1.0]


# -- bad input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("mu", (2.0, 0.5)), ValueError, "low < high"),
        (("mu", (1.0, 1.0)), ValueError, "low < high"),
        (("mu", (0.0, math.inf)), ValueError, "range high must be a finite number"),
        (("mu", (math.nan, 1.0)), ValueError, "range low must be a finite number"),
        (("mu", 1.0), ValueError, "range must be a pair"),
        (("mu", ("a", 1.0)), TypeError, "range low must be a real number"),
        (("x", (0, 1)), ValueError, "clashes with a coordinate"),
        (("t", (0, 1)), ValueError, "clashes with a coordinate"),
        (("x4", (0, 1)), ValueError, "clashes with a coordinate"),
        (("sin", (0, 1)), ValueError, "clashes with a function or constant"),
        (("pi", (0, 1)), ValueError, "clashes with a function or constant"),
        (("2mu", (0, 1)), ValueError, "identifier"),
        ((3, (0, 1)), ValueError, "identifier"),
    ],
)
def test_bad_parameter(args: tuple[object, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        kp.Parameter(*args)  # type: ignore[arg-type]


def test_bad_parameters_argument() -> None:
    square = kp.Rectangle(*SQUARE)
    mu = kp.Parameter("mu", (0, 1))
    with pytest.raises(ValueError, match="'mu' is given twice"):
        kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], parameters=[mu, kp.Parameter("mu", (1, 2))])
    with pytest.raises(TypeError, match="parameters must contain kp.Parameter"):
        kp.Poisson(square, f=1, bcs=[kp.Dirichlet(0)], parameters=[("mu", (0, 1))])
    with pytest.raises(TypeError, match="parameters must be a list"):
        kp.Heat(kp.Interval(0, 1), initial=0, bcs=[kp.Dirichlet(0)], parameters="mu")
    with pytest.raises(ValueError, match="unknown symbol.*'nu'"):
        kp.Poisson(square, f="nu*x", bcs=[kp.Dirichlet(0)], parameters=[mu])
    with pytest.raises(ValueError, match="diffusivity must be positive"):
        problem = kp.Heat(
            kp.Interval(0, 1), diffusivity="k", initial=0, bcs=[kp.Dirichlet(0)],
            parameters=[kp.Parameter("k", (-1, 1))],
        )  # fmt: skip
        kp.Solver(problem, width=[3, 3, 1], grid=3)


# -- the figures (slow) -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_poisson_family_accuracy_and_formula() -> None:
    """mu in [0.5, 2]: rel L2 over the whole box and one formula mu*sin(pi*x)*sin(pi*y).

    The issue asks for 1e-5: the default schedule (grids 5, 10, 30, 100 steps) reaches 8.5e-6 (553 s wall on a
    machine shared four ways, one thread); grids 5, 10, 20 reach 1.3e-5 (1.7e-5 before the Levenberg-Marquardt
    damping was carried across stages).
    """
    solver = kp.Solver(poisson_family(), seed=0)
    result = solver.solve(progress=False)  # the defaults
    assert result.rel_l2 is not None and result.rel_l2 <= 1e-5  # measured 8.50e-6
    x, y, mu = sympy.symbols("x y mu")
    assert sympy.simplify(solver.symbolic() - mu * sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y)) == 0


@pytest.mark.slow
def test_heat_family_accuracy() -> None:
    """k in [0.05, 0.2], exact exp(-pi^2 k t) sin(pi x): rel L2 over the whole box <= 1e-4."""
    solver = kp.Solver(heat_family(), seed=0)
    result = solver.solve(grid_schedule=[5, 10], steps=50, progress=False)
    assert result.rel_l2 is not None and result.rel_l2 <= 1e-4  # measured 4.5e-6 (92 s CPU, one thread)


def test_checkpoint_of_a_parametric_solver_round_trips_with_the_problem(tmp_path: object) -> None:
    solver = kp.Solver(sine_family(), width=[2, 4, 1], grid=3, seed=0, n_interior=100, n_test=200)
    solver.solve(grid_schedule=[3], steps=3, progress=False)
    path = solver.save(tmp_path / "family.pt")  # type: ignore[operator]
    loaded = kp.Solver.load(path, problem=sine_family())
    x = torch.linspace(0, 1, 5, dtype=F64)[:, None]
    assert torch.equal(loaded.predict(x, mu=0.7), solver.predict(x, mu=0.7))


def test_benchmark_compares_one_family_solve_with_separate_solves() -> None:
    from kanpde.bench.parametric import compare

    out = compare("sine", [3], 2, n_values=2)
    assert out["values"] == [0.5, 1.5] and out["width"] == [2, 10, 1]
    assert len(out["parametric_errors"]) == 2 and len(out["separate_errors"]) == 2  # type: ignore[arg-type]
    assert all(s > 0 for s in out["parametric_seconds"] + out["separate_seconds"])  # type: ignore[operator]
