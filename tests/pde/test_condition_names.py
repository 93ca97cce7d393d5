"""Condition names: ``name=`` on every condition, readable defaults for masks, unique labels, fields checked
when the problem is built."""

from __future__ import annotations

import pytest
import torch

import kanpde as kp
from kanpde.io.recipe import problem_from_recipe, problem_recipe


def inlet(points: torch.Tensor) -> torch.Tensor:
    return points[:, 0] < 0.5


def _square(bcs) -> kp.Poisson:
    return kp.Poisson(kp.Rectangle((0, 0), (1, 1)), f=1, bcs=bcs)


def test_every_condition_takes_a_name() -> None:
    conditions = [kp.Dirichlet(0, on="xmin", name="wall"), kp.Neumann(0, on="xmax", name="outlet"),
                  kp.Robin(1, 1, 0, on="ymin", name="skin"), kp.Periodic("y", name="cycle")]  # fmt: skip
    assert [c.label for c in conditions] == ["wall", "outlet", "skin", "cycle"]
    heat = kp.Heat(kp.Interval(0, 1), time=(0, 1), initial=0, bcs=[kp.Dirichlet(0, name="ends")])
    assert [c.label for c in heat.conditions] == ["ends", "initial"]


def test_masks_get_readable_unique_default_labels() -> None:
    problem = _square([kp.Dirichlet(0, on=lambda p: p[:, 1] < 0.5), kp.Dirichlet(1, on=lambda p: p[:, 1] >= 0.5),
                       kp.Neumann(0, on=inlet), kp.Dirichlet(0, on="xmin"), kp.Dirichlet(0, on="xmin")])  # fmt: skip
    labels = [c.label for c in problem.conditions]
    assert labels == ["dirichlet[mask]", "dirichlet[mask 2]", "neumann[inlet]", "dirichlet[xmin]",
                      "dirichlet[xmin 2]"]  # fmt: skip
    assert not any("'" in label for label in labels)
    systems = kp.PDE(kp.Interval(0, 1), lambda u: u.t - u.xx, time=(0, 1), initial=[0, 1], n_fields=2,
                     bcs=[kp.Dirichlet(0, field=0), kp.Dirichlet(0, field=1)])  # fmt: skip
    assert [c.label for c in systems.conditions] == ["dirichlet", "dirichlet[2]", "initial", "initial[field 1]"]


def test_names_are_used_in_history_weights_and_errors() -> None:
    problem = _square([kp.Dirichlet(0, on=inlet, name="inlet"), kp.Dirichlet(0, on=lambda p: p[:, 0] >= 0.5)])
    solver = kp.Solver(problem, width=[2, 3, 1], grid=3, n_interior=40, n_boundary=16, n_test=100,
                       weights={"inlet": 4.0})  # fmt: skip
    solver.solve(grid_schedule=[3], steps=2, progress=False)
    assert set(solver.history[-1].terms) == {"pde", "inlet", "dirichlet[mask]"}
    with pytest.raises(ValueError, match="'inlet'"):
        kp.Solver(problem, width=[2, 3, 1], weights={"inlt": 1.0})
    never = _square([kp.Dirichlet(0, on=lambda p: p[:, 0] > 5, name="nowhere")])
    with pytest.raises(ValueError, match="^nowhere: the `on` mask selected"):
        kp.Solver(never, width=[2, 3, 1], n_interior=40, n_boundary=16).solve(grid_schedule=[3], steps=1)


def test_repeated_or_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two conditions are named 'wall'"):
        _square([kp.Dirichlet(0, on="xmin", name="wall"), kp.Dirichlet(0, on="xmax", name="wall")])
    with pytest.raises(ValueError, match="not 'pde'"):
        kp.Dirichlet(0, name="pde")
    with pytest.raises(ValueError, match="name must be"):
        kp.Neumann(0, name="")
    with pytest.raises(TypeError, match="name must be a string"):
        kp.Robin(1, 1, 0, name=3)
    # a default label equal to a given name is numbered, not merged with it
    problem = _square([kp.Dirichlet(0, on="xmin", name="dirichlet"), kp.Dirichlet(1)])
    assert [c.label for c in problem.conditions] == ["dirichlet", "dirichlet[2]"]


def test_field_is_checked_when_the_problem_is_made() -> None:
    with pytest.raises(ValueError, match=r"periodic\[x\]: field=1.5 is not a field"):
        kp.Heat(kp.Interval(0, 1), initial=0, bcs=[kp.Periodic("x", field=1.5)])
    with pytest.raises(ValueError, match=r"outlet: field=2 is not a field of this problem"):
        kp.PDE(kp.Interval(0, 1), lambda u: u.xx, bcs=[kp.Dirichlet(0, field=2, name="outlet")])


def test_names_survive_the_recipe() -> None:
    problem = _square([kp.Dirichlet(0, on="xmin", name="wall"), kp.Neumann(0, on="xmax"), kp.Periodic("y")])
    recipe = problem_recipe(problem)
    rebuilt = problem_from_recipe(recipe)
    assert [c.label for c in rebuilt.conditions] == ["wall", "neumann[xmax]", "periodic[y]"]
    old = {**recipe, "bcs": [{k: v for k, v in c.items() if k != "name"} for c in recipe["bcs"]]}
    assert [c.label for c in problem_from_recipe(old).conditions] == ["dirichlet[xmin]", "neumann[xmax]",
                                                                      "periodic[y]"]  # fmt: skip
    bad = {**recipe, "bcs": [{**recipe["bcs"][0], "name": "pde"}]}
    with pytest.raises(ValueError, match=r"bcs\[0\].*not 'pde'"):
        problem_from_recipe(bad)


def test_a_weight_by_kind_reaches_named_conditions() -> None:
    """``weights={"dirichlet": 4}`` weighs every Dirichlet term, a named one too; a term's own name wins."""
    problem = _square([kp.Dirichlet(0, on=inlet, name="inlet"), kp.Dirichlet(0, on=lambda p: p[:, 0] >= 0.5)])

    def loss(weights: dict[str, float]) -> float:
        solver = kp.Solver(problem, width=[2, 3, 1], grid=3, n_interior=40, n_boundary=16, n_test=100,
                           weights=weights, seed=0)  # fmt: skip
        solver.solve(grid_schedule=[3], steps=2, progress=False)
        return solver.history[-1].loss

    by_kind = loss({"dirichlet": 4.0})
    assert by_kind == pytest.approx(loss({"inlet": 4.0, "dirichlet[mask]": 4.0}), rel=1e-12)
    assert by_kind != pytest.approx(loss({"dirichlet[mask]": 4.0}), rel=1e-6)
    solver = kp.Solver(problem, width=[2, 3, 1], weights={"dirichlet": 4.0, "inlet": 2.0})
    assert solver.weights["inlet"] == 2.0 and solver.weights["dirichlet[mask]"] == 4.0
