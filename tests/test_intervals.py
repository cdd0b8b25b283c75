"""Prediction intervals: pooled, and per basis of prediction (Mondrian conformal)."""

import random

import pytest

from pipeline.learning.interval import GroupedInterval, ResidualInterval


def _coverage(interval: GroupedInterval, group: str, scale: float, rng: random.Random, n: int = 2000) -> float:
    """Share of ``n`` new residuals of ``group`` (Gaussian, sd ``scale``) inside its interval of 1.0."""
    hits = 0
    for _ in range(n):
        residual = rng.gauss(0.0, scale)
        low, high = interval.bounds(1.0, group)
        hits += low <= 10.0**residual <= high
        interval.update(residual, group)
    return hits / n


def _mixed_stream(interval: GroupedInterval, rng: random.Random) -> None:
    """Half the predictions rest on a job's own runs (sd 0.05 decades), half are guesses (sd 0.5)."""
    for _ in range(2000):
        interval.update(rng.gauss(0.0, 0.05), "own runs")
        interval.update(rng.gauss(0.0, 0.5), "guess")


def test_each_basis_is_covered_at_the_asked_rate():
    rng = random.Random(1)
    interval = GroupedInterval(coverage=0.8)
    _mixed_stream(interval, rng)
    assert _coverage(interval, "own runs", 0.05, rng) == pytest.approx(0.8, abs=0.04)
    assert _coverage(interval, "guess", 0.5, rng) == pytest.approx(0.8, abs=0.04)


def test_one_pooled_interval_covers_the_good_predictions_too_often_and_the_guesses_too_seldom():
    rng = random.Random(1)
    pooled = GroupedInterval(coverage=0.8, min_group=10**9)  # no group ever has enough: pooled only
    _mixed_stream(pooled, rng)
    assert _coverage(pooled, "own runs", 0.05, rng, n=500) > 0.95
    assert _coverage(pooled, "guess", 0.5, rng, n=500) < 0.7


def test_a_basis_uses_the_pooled_interval_until_it_has_enough_residuals():
    interval = GroupedInterval(coverage=0.8, window=100, min_group=50)
    for r in range(-50, 51):
        interval.update(r / 100)  # no basis: pooled only
    for _ in range(49):
        interval.update(0.0, "own runs")
    assert interval.bounds(100.0, "own runs") == interval.bounds(100.0)
    interval.update(0.0, "own runs")
    assert interval.bounds(100.0, "own runs") == (100.0, 100.0)  # its own: every residual was 0


def test_an_unknown_basis_gets_the_pooled_interval():
    interval = GroupedInterval(coverage=0.8, window=100)
    for r in range(-50, 51):
        interval.update(r / 100, "seen")
    assert interval.bounds(100.0, "never seen") == interval.bounds(100.0)


def test_an_interval_before_any_residual_is_a_decade_each_way():
    assert ResidualInterval().bounds(100.0) == pytest.approx((10.0, 1000.0))
