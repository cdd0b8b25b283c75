import numpy as np

from pipeline.schemas import validate
from pipeline.sources.synthetic import CHUNK, DEFAULT_SCRIPT, SyntheticCluster
from pipeline.sources.timeline import event_time


def test_same_seed_same_stream_other_seed_other_stream():
    assert list(SyntheticCluster(2000, seed=3)) == list(SyntheticCluster(2000, seed=3))
    assert list(SyntheticCluster(2000, seed=3)) != list(SyntheticCluster(2000, seed=4))


def test_events_are_valid_and_in_stream_order():
    events = list(SyntheticCluster(4000, seed=1))
    for event in events:
        validate(event)
    times = [event_time(e) for e in events]
    assert times == sorted(times)


def test_chunks_join_into_one_stream_per_system():
    cluster = SyntheticCluster(2 * (2 * CHUNK + 500), seed=5)
    submissions = [e for e in cluster if e["schema"] == "job-submission/1"]
    for system in cluster.systems:
        mine = [e for e in submissions if e["system"] == system]
        assert [e["job_id"] for e in mine] == [f"{system}-{i}" for i in range(2 * CHUNK + 500)]
        times = [e["time"] for e in mine]
        assert times == sorted(times) and len(set(times)) == len(times)


def test_ground_truth_records_every_scripted_change():
    cluster = SyntheticCluster(10_000, seed=0)
    list(cluster)
    assert len(cluster.truth) == len(DEFAULT_SCRIPT)
    assert all(change["job_index"] == int(change["at"] * 5000) for change in cluster.truth)


def test_announced_changes_are_node_health_events_and_silent_ones_are_not():
    cluster = SyntheticCluster(10_000, seed=0)
    health = [e for e in cluster if e["schema"] == "node-health/1"]
    announced = [c for c in DEFAULT_SCRIPT if c.announced]
    assert len(health) == len(announced)
    assert {e["change"]["type"] for e in health if "change" in e} == {"hardware-replacement", "config",
                                                                        "software-patch"}


def _median_runtime(events, system, group, after, before):
    runtimes = [e["outcome"]["runtime_s"] for e in events
                if e["schema"] == "job-completion/1" and e["system"] == system
                and e["features"]["node_group"] == group and after <= e["time"] < before]
    return float(np.median(runtimes))


def test_a_degraded_node_group_runs_its_jobs_slower():
    cluster = SyntheticCluster(40_000, seed=2)
    events = list(cluster)
    degrade, replace = (c for c in cluster.truth if c["component"] == "g1")
    before = _median_runtime(events, "alpha", "g1", 0, degrade["time"])
    during = _median_runtime(events, "alpha", "g1", degrade["time"], replace["time"])
    others_before = _median_runtime(events, "alpha", "g0", 0, degrade["time"])
    others_during = _median_runtime(events, "alpha", "g0", degrade["time"], replace["time"])
    # the job mix drifts too, so compare g1's change with g0's over the same periods
    assert (during / before) / (others_during / others_before) > 1.5


def test_a_hundred_thousand_jobs_stay_cheap():
    cluster = SyntheticCluster(100_000, seed=0)
    assert sum(1 for _ in cluster) == 2 * 100_000 + cluster.stats.health_events
