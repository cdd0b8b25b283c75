"""The worker on a real broker gives exactly the predictions of an in-process replay of the same events."""

from __future__ import annotations

import json
import time

from kafka_support import perfstream, read_topic, send_events
from service_workloads import by_job, replay_in_process

from pipeline.sources import open_source


def test_worker_predictions_equal_an_in_process_replay(kafka, workers, swf_slice):
    events = list(open_source(swf_slice))
    expected = by_job(replay_in_process(events))
    send_events(kafka, events)
    workers("e2e").wait_owning(6)

    published = read_topic(kafka, "hpc.predictions", until=len(expected), timeout=180)

    assert by_job(published) == expected


def test_every_submission_and_completion_is_answered_once(kafka, workers, swf_slice):
    events = list(open_source(swf_slice))
    send_events(kafka, events)
    workers("e2e-count")

    published = read_topic(kafka, "hpc.predictions", until=len(events), timeout=180)

    stages = sorted((r["job_id"], r["stage"]) for r in published)
    assert stages == sorted((e["job_id"], e["schema"].split("-")[1].split("/")[0]) for e in events)
    assert all("error" in r for r in published if r["stage"] == "completion")


def test_a_trace_published_at_full_speed_into_a_running_worker_has_no_late_submission(kafka, workers, sp2):
    """The consumer leaves a partition out of its fetches while it holds records of it, so a drained
    submissions partition can look read to an end that is already old (merge.read_to_end). Before
    that was checked, 47 of SDSC-SP2's submissions published this way came after their own jobs'
    completions and went to the dead letters."""
    events = list(open_source(str(sp2)))
    worker = workers("live")
    worker.wait_owning(6)

    send_events(kafka, events)

    deadline = time.monotonic() + 300
    while worker.total("perfstream_events_total") < len(events) and time.monotonic() < deadline:
        time.sleep(1)
    assert worker.total("perfstream_events_total") == len(events)
    assert worker.total('perfstream_events_total{outcome="dead_letter"') == 0


def test_a_completion_a_moment_ahead_of_its_own_submission_waits_for_it(kafka, workers, swf_slice):
    """A producer that sends a finished job's two events together (the Slurm bridge does) can have
    them appended to their partitions in either order within one request; a fetch in between saw
    the completion alone and the submission became a late dead letter."""
    events = list(open_source(swf_slice))
    job = events[0]["job_id"]
    submission, completion = (e for e in events if e["job_id"] == job)
    worker = workers("ahead")
    worker.wait_owning(6)

    send_events(kafka, [completion])
    time.sleep(0.3)  # well within the worker's --max-wait (1 s)
    send_events(kafka, [submission])

    predictions = read_topic(kafka, "hpc.predictions", until=2, timeout=60)
    assert [(r["job_id"], r["stage"]) for r in predictions] == [(job, "submission"), (job, "completion")]
    assert worker.total('perfstream_events_total{outcome="dead_letter"') == 0


def test_publish_command_replays_a_trace_and_tail_prints_it(kafka, swf_slice):
    sent = perfstream(kafka, "publish", str(swf_slice), "--limit", "200", "--rate", "2000")
    assert sent.returncode == 0, sent.stderr
    assert "published 200 events" in sent.stdout

    tailed = perfstream(kafka, "tail", "hpc.job-submissions", "--from-beginning", "--idle-timeout", "3",
                        "--system", "SDSC-SP2")

    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert tailed.returncode == 0, tailed.stderr
    assert records and all(r["schema"] == "job-submission/1" and r["system"] == "SDSC-SP2" for r in records)
