"""Drift detectors: quiet on stationary streams, prompt on real shifts, visible as records."""

import bisect
import random

from pipeline.learning.drift import DriftMonitor
from pipeline.learning.shift import ShiftMonitor
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
    """200k jobs with no scripted change, predicted and learned by naive: at most 2 alarms of each kind."""
    events = list(SyntheticCluster(200_000, script=(), seed=7))
    processor = Processor("naive", ("runtime_s",))
    alarms = [r for e in events for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    error_stream = [a for a in alarms if "component" not in a]
    shifts = [a for a in alarms if "component" in a]
    assert len(error_stream) <= 2, error_stream
    assert len(shifts) <= 2, shifts


def residuals(n, at, shift, seed, components=("g0", "g1", "g2", "g3"), changed="g2"):
    rng = random.Random(seed)
    for i in range(n):
        component = rng.choice(components)
        # heavy-tailed noise: a few jobs are far off whatever the regime
        noise = rng.gauss(0, 0.12) if rng.random() > 0.02 else rng.gauss(0, 0.8)
        yield component, noise + (shift if i >= at and component == changed else 0.0), i


def test_a_component_whose_jobs_run_longer_is_named_within_a_few_hundred_jobs():
    monitor = ShiftMonitor()
    shifts = [s for c, r, i in residuals(30_000, 20_000, 0.25, seed=1) for s in monitor.update(c, r, i, float(i))]
    assert (shifts[0].component, shifts[0].direction) == ("g2", "up")
    assert 20_000 <= shifts[0].position < 20_400
    assert shifts[0].after > shifts[0].before
    assert {s.component for s in shifts} == {"g2"}


def test_a_component_that_got_faster_is_named_too():
    monitor = ShiftMonitor()
    shifts = [s for c, r, i in residuals(30_000, 20_000, -0.25, seed=2) for s in monitor.update(c, r, i, float(i))]
    assert (shifts[0].component, shifts[0].direction) == ("g2", "down")
    assert 20_000 <= shifts[0].position < 20_400
    assert {s.component for s in shifts} == {"g2"}


def test_stationary_heavy_tailed_residuals_raise_no_component_alarm():
    monitor = ShiftMonitor()
    assert [s for c, r, i in residuals(200_000, 10**9, 0.0, seed=3) for s in monitor.update(c, r, i, 0.0)] == []


def test_components_come_from_node_group_or_file_system_features():
    assert ShiftMonitor.component_of({"node_group": "g1", "partition": "x"}) == "node_group=g1"
    assert ShiftMonitor.component_of({"file_system": "lustre"}) == "file_system=lustre"
    assert ShiftMonitor.component_of({"partition": "x"}) is None


def first_alarm_delays(strategy, cluster):
    """Per scripted change, the affected system's jobs from the change to its first alarm (any kind)."""
    events = list(cluster)
    submitted: dict[str, list[float]] = {}
    for e in events:
        if e["schema"] == "job-submission/1":
            submitted.setdefault(e["system"], []).append(e["time"])
    processor = Processor(strategy, ("runtime_s", "io_throughput_mibps"))
    alarms = [r for e in events for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    delays = []
    for change in cluster.truth:
        times = [a["time"] for a in alarms if (a["system"], a["target"]) == (change["system"], change["target"])
                 and a["time"] >= change["time"]]
        jobs = submitted[change["system"]]
        delays.append(bisect.bisect(jobs, min(times)) - bisect.bisect(jobs, change["time"]) if times else None)
    return delays, alarms


def test_the_default_flags_every_scripted_change_within_500_jobs_of_its_system():
    delays, alarms = first_alarm_delays("default", SyntheticCluster(100_000, seed=8))
    assert all(d is not None and d <= 500 for d in delays), delays
    unannounced = [r for r in alarms if r["detector"].startswith("shift-") and r["component"] == "node_group=g2"]
    assert unannounced, "g2's unannounced slowdown was not named"
    for record in alarms:
        validate(record)


def test_the_default_names_no_component_on_a_stationary_cluster():
    processor = Processor("default", ("runtime_s", "io_throughput_mibps"))
    events = SyntheticCluster(100_000, script=(), seed=7)
    shifts = [r for e in events for r in processor.handle(e) if r["schema"] == "drift-event/1" and "component" in r]
    assert shifts == []


def test_announced_changes_become_valid_drift_event_records():
    cluster = SyntheticCluster(20_000, seed=1)
    processor = Processor("naive", ("runtime_s",))
    records = [r for e in cluster for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    known = [r for r in records if r["detector"] == "known-change"]
    announced = [c for c in cluster.truth if c["change_type"] is not None]
    assert len(known) == len(announced)
    for record in records:
        validate(record)


def test_an_announced_change_names_its_component():
    cluster = SyntheticCluster(20_000, seed=1)
    processor = Processor("naive", ("runtime_s",))
    records = [r for e in cluster for r in processor.handle(e) if r["schema"] == "drift-event/1"]
    named = [(r["system"], r["component"]) for r in records if r["detector"] == "known-change"]
    assert named == [(c["system"], c["component"]) for c in cluster.truth if c["change_type"] is not None]
