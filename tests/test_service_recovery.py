"""Workers die, join and leave; the learned state follows its partitions and nothing is lost or learned twice."""

from __future__ import annotations

import signal
import time

from kafka_support import read_topic, send_events
from service_workloads import (
    by_job,
    complete,
    explain,
    replay_in_process,
    several_systems,
    split_between_times,
    trace_events,
)


def wait_until(condition, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached within {timeout} s")


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


def test_state_moves_with_partitions_when_a_second_worker_joins(kafka, workers, swf_slice):
    events = several_systems(trace_events(swf_slice), [f"system-{i}" for i in range(6)])
    expected = by_job(replay_in_process(events))
    half = split_between_times(events, len(events) // 2)
    send_events(kafka, events[:half])
    first = workers("rebalance", "--order-grace", "0.5")  # the second half is published while it runs
    wait_until(lambda: first.total("perfstream_events_total") >= half, what="first half processed")

    second = workers("rebalance", "--order-grace", "0.5")
    wait_until(lambda: first.total("perfstream_owned_shards") < 6 and second.total("perfstream_owned_shards") > 0,
               what="partitions shared by both workers")
    send_events(kafka, events[half:])
    published = read_topic(kafka, "hpc.predictions", until=complete(expected), timeout=240)

    assert by_job(published) == expected, explain(by_job(published), expected, first, second)
    assert second.total('perfstream_checkpoints_total{outcome="restored"}') >= 1
