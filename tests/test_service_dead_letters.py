"""Anything the worker cannot use goes to the dead-letter topic, whole, with the reason; the worker goes on."""

from __future__ import annotations

import base64
import json

import pytest
from kafka_support import read_topic, send_events, send_raw
from service_workloads import by_job, replay_in_process, trace_events

from pipeline.schemas import validate

SUBMIT = {"schema": "job-submission/1", "job_id": "h1", "system": "SDSC-SP2", "time": 1, "user": "u",
          "requested_walltime_s": 600}
DONE = {**SUBMIT, "schema": "job-completion/1", "start_time": 1, "end_time": 60, "status": "completed",
        "outcome": {"runtime_s": 59}}


def encoded(event: dict) -> bytes:
    return json.dumps(event).encode()


# (topic, key, value, expected category)
HOSTILE = [
    ("hpc.job-submissions", b"SDSC-SP2", b"this is not json", "not-json"),
    ("hpc.job-submissions", b"SDSC-SP2", b"\xff\xfe{\x00", "not-utf8"),
    ("hpc.job-submissions", b"SDSC-SP2", None, "not-json"),
    ("hpc.job-submissions", b"SDSC-SP2", b"[1, 2, 3]", "not-an-object"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({"schema": "job-submission/1", "system": "SDSC-SP2"}),
     "schema-violation"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({**SUBMIT, "time": "yesterday", "num_nodes": "many"}),
     "schema-violation"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({**SUBMIT, "schema": "job-submission/7"}), "unknown-version"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({**SUBMIT, "schema": "weather/1"}), "unknown-schema"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({**SUBMIT, "features": {"blob": "x" * 300_000}}), "oversized"),
    ("hpc.job-submissions", b"SDSC-SP2", encoded({**DONE, "job_id": "h2"}), "wrong-topic"),
    ("hpc.job-submissions", b"another-system", encoded({**SUBMIT, "job_id": "h3"}), "wrong-key"),
    ("hpc.job-completions", b"SDSC-SP2", encoded({**DONE, "job_id": "h4", "outcome": {"io_throughput_mibps": 3.0}}),
     "unknown-target"),
]


@pytest.fixture
def dead_letters(kafka, workers, swf_slice):
    """Hostile messages, then a real trace slice, through one worker; its dead letters and predictions."""
    send_raw(kafka, "hpc.job-submissions", [(k, v) for t, k, v, _ in HOSTILE if t == "hpc.job-submissions"])
    send_raw(kafka, "hpc.job-completions", [(k, v) for t, k, v, _ in HOSTILE if t == "hpc.job-completions"])
    events = trace_events(swf_slice, 400)
    send_events(kafka, events)
    worker = workers("dead-letters")
    expected = by_job(replay_in_process(events))
    predictions = read_topic(kafka, "hpc.predictions", until=len(expected), timeout=120)
    letters = read_topic(kafka, "hpc.dead-letters", until=len(HOSTILE), timeout=60)
    return worker, letters, predictions, expected


def test_each_hostile_message_is_a_dead_letter_with_its_category(dead_letters):
    _, letters, _, _ = dead_letters
    assert sorted(d["category"] for d in letters) == sorted(case[3] for case in HOSTILE)


def test_dead_letters_carry_the_raw_bytes_and_where_they_came_from(dead_letters, kafka):
    _, letters, _, _ = dead_letters
    raw_values = {v or b"" for _, _, v, _ in HOSTILE}
    for letter in letters:
        validate(letter)
        assert base64.b64decode(letter["raw_base64"]) in raw_values
        assert letter["topic"].startswith(kafka.topic_prefix) and letter["offset"] >= 0
        assert letter["reason"]


def test_the_worker_keeps_predicting_after_hostile_input(dead_letters):
    worker, _, predictions, expected = dead_letters
    worker.assert_alive()
    assert by_job(predictions) == expected


def test_dead_letters_are_counted_by_category(dead_letters):
    worker, _, _, _ = dead_letters
    assert worker.total('perfstream_dead_letters_total{category="not-json"}') == 2
    assert worker.total("perfstream_dead_letters_total") == len(HOSTILE)
