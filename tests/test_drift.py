"""Drift detectors: quiet on stationary streams, prompt on real shifts, visible as records."""

import random

from pipeline.learning.drift import DriftMonitor
from pipeline.processor import Processor
from pipeline.schemas import validate
from pipeline.sources.synthetic import SyntheticCluster


def errors_with_shift(n, at, shift, seed=0, scale=0.1):
    rng = random.Random(seed)
    return [max(0.0, abs(rng.gauss(0, scale)) + (shift if i >= at else 0.0)) for i in range(n)]


def alarms_of(errors, **options):
    monitor = DriftMonitor(**options)
    return [a for i, e in enumerate(errors) for a in monitor.update(e, float(i))]


def test_a_rise_in_error_is_caught_within_a_hundred_jobs():
    alarms = alarms_of(errors_with_shift(10_000, 6000, 0.2))
    first = alarms[0]
    assert 6000 <= first.position < 6100
    assert first.error_after > first.error_before


def test_a_fall_in_error_is_caught_too():
    rng = random.Random(3)
    errors = [abs(rng.gauss(0, 0.3)) if i < 6000 else abs(rng.gauss(0, 0.05)) for i in range(10_000)]
    alarms = alarms_of(errors)
    assert any(a.detector == "page-hinkley-down" and 6000 <= a.position < 6300 for a in alarms)
    assert all(a.position >= 6000 for a in alarms)


def test_heavy_tailed_stationary_errors_raise_no_alarm():
    rng = random.Random(5)
    errors = [abs(rng.lognormvariate(-1.5, 1.0)) for _ in range(100_000)]
    assert alarms_of(errors) == []


def test_no_alarm_during_warmup():
    assert alarms_of(errors_with_shift(3000, 500, 1.0), warmup=3000) == []


def test_at_most_one_false_alarm_per_100k_jobs_of_a_stationary_cluster():
    """200k jobs with no scripted change, predicted and learned by naive: at most 2 alarms."""
    events = list(SyntheticCluster(200_000, script=(), seed=7))
    processor = Processor("naive", ("runtime_s",))
    alarms = [r for e in events for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    assert len(alarms) <= 2, alarms


def test_announced_changes_become_valid_drift_event_records():
    cluster = SyntheticCluster(20_000, seed=1)
    processor = Processor("naive", ("runtime_s",))
    records = [r for e in cluster for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    known = [r for r in records if r["detector"] == "known-change"]
    announced = [c for c in cluster.truth if c["change_type"] is not None]
    assert len(known) == len(announced)
    for record in records:
        validate(record)
