"""Replay memories: bounded, uniform over the whole history, fair to old regimes."""

from collections import Counter

import pytest

from pipeline.learning.replay import ReservoirBuffer, StratifiedBuffer


def test_reservoir_never_exceeds_its_capacity():
    buffer = ReservoirBuffer(50, seed=1)
    for i in range(100_000):
        buffer.add(i)
        assert len(buffer) <= 50
    assert buffer.seen == 100_000


def test_reservoir_keeps_every_item_with_equal_probability():
    kept = Counter()
    trials, n, capacity = 2000, 200, 20
    for seed in range(trials):
        buffer = ReservoirBuffer(capacity, seed=seed)
        for i in range(n):
            buffer.add(i)
        kept.update(buffer.items)
    expected = trials * capacity / n  # 200 per item
    early = sum(kept[i] for i in range(50)) / 50
    late = sum(kept[i] for i in range(150, 200)) / 50
    assert early == pytest.approx(expected, rel=0.1) and late == pytest.approx(expected, rel=0.1)
    assert max(kept.values()) < 1.5 * expected


def test_sampling_an_empty_reservoir_gives_nothing():
    assert ReservoirBuffer(5).sample(3) == []


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        ReservoirBuffer(0)


def test_stratified_buffer_keeps_a_short_old_regime():
    buffer = StratifiedBuffer(300, seed=2)
    for i in range(100_000):
        buffer.add("old" if i < 200 else "new", i)
    assert len(buffer) <= 300
    assert len(buffer.strata["old"]) == 150
    uniform = ReservoirBuffer(300, seed=2)
    for i in range(100_000):
        uniform.add(i)
    assert sum(i < 200 for i in uniform.items) < 10  # what a uniform reservoir keeps of it


def test_stratified_samples_come_from_every_regime():
    buffer = StratifiedBuffer(90, seed=3)
    for regime in ("a", "b", "c"):
        for i in range(1000):
            buffer.add(regime, (regime, i))
    drawn = Counter(regime for regime, _ in buffer.sample(3000))
    assert set(drawn) == {"a", "b", "c"} and min(drawn.values()) > 800
    assert all(r == "b" for r, _ in buffer.sample(20, regime="b"))


def test_dropping_a_regime_frees_its_items():
    buffer = StratifiedBuffer(100, seed=0)
    buffer.add("a", 1)
    buffer.add("b", 2)
    buffer.drop("a")
    assert list(buffer.strata) == ["b"] and buffer.sample(1, regime="a") == []
