"""Tests for kanpde.pde.sampling: the unit-cube samplers, make_sampler and residual-based resampling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from kanpde.pde.sampling import (
    SAMPLER_NAMES,
    AbstractSampler,
    HaltonSampler,
    LatinHypercubeSampler,
    RandomSampler,
    SobolSampler,
    UniformGridSampler,
    make_sampler,
    resample_by_residual,
)

ALL_SAMPLERS = [UniformGridSampler(), RandomSampler(), LatinHypercubeSampler(), SobolSampler(), HaltonSampler()]
SAMPLER_IDS = [type(s).__name__ for s in ALL_SAMPLERS]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- contract, parametrized over every sampler


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=SAMPLER_IDS)
@pytest.mark.parametrize(("n_points", "dim"), [(1, 1), (7, 2), (64, 2), (100, 3), (33, 5)])
def test_points_lie_in_half_open_unit_cube(sampler: AbstractSampler, n_points: int, dim: int) -> None:
    points = sampler.sample_unit(n_points, dim, generator=gen())
    assert points.shape == (n_points, dim)
    assert points.dtype == torch.float64
    assert points.device.type == "cpu"
    assert bool((points >= 0).all()) and bool((points < 1).all())


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=SAMPLER_IDS)
def test_deterministic_in_generator_state(sampler: AbstractSampler) -> None:
    first = sampler.sample_unit(50, 2, generator=gen(3))
    again = sampler.sample_unit(50, 2, generator=gen(3))
    other = sampler.sample_unit(50, 2, generator=gen(4))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=SAMPLER_IDS)
def test_generator_state_advances(sampler: AbstractSampler) -> None:
    generator = gen(0)
    assert not torch.equal(
        sampler.sample_unit(30, 2, generator=generator), sampler.sample_unit(30, 2, generator=generator)
    )


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=SAMPLER_IDS)
def test_zero_points_give_an_empty_tensor(sampler: AbstractSampler) -> None:
    assert sampler.sample_unit(0, 3, generator=gen()).shape == (0, 3)


@pytest.mark.parametrize("sampler", ALL_SAMPLERS, ids=SAMPLER_IDS)
def test_bad_arguments_are_named(sampler: AbstractSampler) -> None:
    with pytest.raises(ValueError, match="n_points"):
        sampler.sample_unit(-1, 2, generator=gen())
    with pytest.raises(ValueError, match="n_points"):
        sampler.sample_unit(2.5, 2, generator=gen())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim"):
        sampler.sample_unit(4, 0, generator=gen())
    with pytest.raises(TypeError, match="generator"):
        sampler.sample_unit(4, 2, generator=None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties of particular samplers


def test_uniform_grid_is_the_full_cell_centred_grid_for_perfect_powers() -> None:
    points = UniformGridSampler().sample_unit(16, 2, generator=gen())
    centres = (torch.arange(4, dtype=torch.float64) + 0.5) / 4
    expected = torch.cartesian_prod(centres, centres)
    assert sorted(map(tuple, points.tolist())) == sorted(map(tuple, expected.tolist()))


def test_uniform_grid_returns_exactly_n_distinct_grid_points() -> None:
    points = UniformGridSampler().sample_unit(10, 2, generator=gen())  # from the 4 x 4 grid
    assert points.shape == (10, 2)
    assert len(set(map(tuple, points.tolist()))) == 10
    torch.testing.assert_close(points * 4 - 0.5, torch.round(points * 4 - 0.5))


def test_sobol_power_of_two_is_stratified() -> None:
    points = SobolSampler().sample_unit(64, 1, generator=gen())
    counts = torch.bincount(torch.floor(points[:, 0] * 64).long(), minlength=64)
    assert bool((counts == 1).all())


def test_sobol_other_sizes_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SobolSampler().sample_unit(100, 3, generator=gen()).shape == (100, 3)


def test_latin_hypercube_has_one_point_per_stratum_in_every_dimension() -> None:
    points = LatinHypercubeSampler().sample_unit(20, 3, generator=gen())
    for axis in range(3):
        assert sorted(torch.floor(points[:, axis] * 20).long().tolist()) == list(range(20))


def test_quasi_random_samplers_cover_the_cube_more_evenly_than_random() -> None:
    def worst_cell(points: torch.Tensor) -> int:
        cells = torch.floor(points * 8).long()
        counts = torch.bincount(cells[:, 0] * 8 + cells[:, 1], minlength=64)
        return int((counts - 16).abs().max())

    sobol = worst_cell(SobolSampler().sample_unit(1024, 2, generator=gen()))
    rand = worst_cell(RandomSampler().sample_unit(1024, 2, generator=gen()))
    assert sobol < rand


# ---------------------------------------------------------------- make_sampler


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("uniform", UniformGridSampler),
        ("grid", UniformGridSampler),
        ("random", RandomSampler),
        ("lhs", LatinHypercubeSampler),
        ("latin", LatinHypercubeSampler),
        ("sobol", SobolSampler),
        ("halton", HaltonSampler),
        (" Sobol ", SobolSampler),
    ],
)
def test_make_sampler_builds_named_samplers(name: str, cls: type) -> None:
    assert type(make_sampler(name)) is cls


def test_make_sampler_passes_instances_through() -> None:
    sampler = HaltonSampler()
    assert make_sampler(sampler) is sampler
    assert set(SAMPLER_NAMES) == {"uniform", "grid", "random", "lhs", "latin", "sobol", "halton"}


def test_make_sampler_rejects_unknown_names_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="sampler") as info:
        make_sampler("montecarlo")
    message = str(info.value)
    assert "'montecarlo'" in message and "sobol" in message and "lhs" in message


def test_make_sampler_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="sampler"):
        make_sampler(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- resample_by_residual


def _peaked_candidates(n: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    candidates = RandomSampler().sample_unit(n, 2, generator=gen(1))
    residual = torch.exp(-200 * ((candidates - 0.75) ** 2).sum(dim=1))  # a sharp bump at (0.75, 0.75)
    return candidates, residual


def _near_peak(points: torch.Tensor) -> float:
    return float((((points - 0.75) ** 2).sum(dim=1) < 0.1**2).double().mean())


def test_resampling_concentrates_points_where_the_residual_is_large() -> None:
    candidates, residual = _peaked_candidates()
    chosen = resample_by_residual(candidates, residual, 500, k=2.0, c=0.0, generator=gen())
    baseline = _near_peak(candidates)  # about pi * 0.01 = 3 %
    assert _near_peak(chosen) > 5 * baseline
    # A larger c moves the distribution back towards uniform.
    smoothed = resample_by_residual(candidates, residual, 500, k=2.0, c=10.0, generator=gen())
    assert baseline < _near_peak(smoothed) < _near_peak(chosen)


def test_resampling_picks_distinct_rows_deterministically() -> None:
    candidates, residual = _peaked_candidates(300)
    chosen = resample_by_residual(candidates, residual, 200, generator=gen(5))
    again = resample_by_residual(candidates, residual, 200, generator=gen(5))
    assert chosen.shape == (200, 2)
    torch.testing.assert_close(chosen, again, rtol=0, atol=0)
    assert len(set(map(tuple, chosen.tolist()))) == 200
    rows = {tuple(row) for row in candidates.tolist()}
    assert all(tuple(row) in rows for row in chosen.tolist())
    everything = resample_by_residual(candidates, residual, 300, generator=gen(5))
    assert sorted(map(tuple, everything.tolist())) == sorted(rows)


def test_resampling_handles_zero_residual_fields_and_dtype() -> None:
    candidates = RandomSampler().sample_unit(50, 3, generator=gen()).float()
    uniform = resample_by_residual(candidates, torch.zeros(50), 10, c=0.0, generator=gen())
    assert uniform.shape == (10, 3) and uniform.dtype == torch.float32
    fields = torch.randn(50, 2, generator=gen(2), dtype=torch.float64)
    assert resample_by_residual(candidates, fields, 10, generator=gen()).shape == (10, 3)


def test_resampling_validates_its_arguments() -> None:
    candidates, residual = _peaked_candidates(20)
    with pytest.raises(ValueError, match="n_points"):
        resample_by_residual(candidates, residual, 21, generator=gen())
    with pytest.raises(ValueError, match="residual"):
        resample_by_residual(candidates, residual[:10], 5, generator=gen())
    with pytest.raises(ValueError, match="candidates"):
        resample_by_residual(candidates[:, 0], residual, 5, generator=gen())
    with pytest.raises(ValueError, match="k"):
        resample_by_residual(candidates, residual, 5, k=-1.0, generator=gen())
    with pytest.raises(ValueError, match="c"):
        resample_by_residual(candidates, residual, 5, c=float("nan"), generator=gen())
    with pytest.raises(ValueError, match="residual"):
        resample_by_residual(candidates, residual * float("inf"), 5, generator=gen())
    with pytest.raises(TypeError, match="generator"):
        resample_by_residual(candidates, residual, 5, generator=0)  # type: ignore[arg-type]


def test_numpy_integer_sizes_are_accepted() -> None:
    points = SobolSampler().sample_unit(np.int64(8), np.int32(2), generator=gen())  # type: ignore[arg-type]
    assert points.shape == (8, 2)
