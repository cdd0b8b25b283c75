"""Workers die, join and leave; the learned state follows its partitions and nothing is lost or learned twice."""

from __future__ import annotations

import signal

from kafka_support import read_topic, send_events
from service_workloads import (
    by_job,
    complete,
    explain,
    replay_in_process,
    several_systems,
    trace_events,
    wait_until,
)


def test_killed_worker_restarts_from_its_checkpoint_and_ends_as_an_uninterrupted_run(kafka, workers, sp2):
    events = trace_events(sp2, 30_000)
    expected = by_job(replay_in_process(events))
    send_events(kafka, events)
    first = workers("recovery", "--checkpoint-every-events", "4000")
    wait_until(lambda: first.total('perfstream_checkpoints_total{outcome="written"}') >= 2, what="two checkpoints")
    done_before_kill = first.total("perfstream_events_total")
    first.stop(signal.SIGKILL)

    second = workers("recovery", "--checkpoint-every-events", "4000")
    published = read_topic(kafka, "hpc.predictions", until=complete(expected), timeout=240)

    assert 0 < done_before_kill < len(events), "the kill did not land mid-stream"
    assert by_job(published) == expected, explain(by_job(published), expected, second)
    assert second.total('perfstream_checkpoints_total{outcome="restored"}') == 1
    assert second.total('perfstream_events_total{outcome="processed"') < len(events)  # it resumed, not restarted


def test_state_moves_with_partitions_when_a_second_worker_joins(kafka, workers, sp2):
    events = several_systems(trace_events(sp2, 8000), [f"system-{i}" for i in range(6)])
    expected = by_job(replay_in_process(events))
    send_events(kafka, events)  # all of it first: where a worker is when the second joins is all that varies
    first = workers("rebalance")
    wait_until(lambda: first.total("perfstream_events_total") >= len(events) // 10, what="a tenth processed")

    second = workers("rebalance")
    wait_until(lambda: second.total("perfstream_owned_shards") > 0, what="the second worker owning partitions")
    moved_at = first.total("perfstream_events_total")
    published = read_topic(kafka, "hpc.predictions", until=complete(expected), timeout=300)

    assert moved_at < len(events), "the second worker joined after the first had finished"
    assert by_job(published) == expected, explain(by_job(published), expected, first, second)
    assert first.total("perfstream_owned_shards") < 6
    assert second.total('perfstream_checkpoints_total{outcome="restored"}') >= 1
