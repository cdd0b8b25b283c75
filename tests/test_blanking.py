"""Stress-test streams: job fields left out as a site's logs might lack them."""

import pytest

from pipeline.evaluation.blanking import blank
from pipeline.learning.job import Job

SUBMISSION = {"schema": "job-submission/1", "job_id": "1", "system": "s", "time": 0.0, "user": "u1",
              "queue": "q", "requested_walltime_s": 600, "features": {"partition": "batch", "fs": "scratch"}}
COMPLETION = {**SUBMISSION, "schema": "job-completion/1", "start_time": 1.0, "end_time": 61.0,
              "status": "completed", "outcome": {"runtime_s": 60.0}}
HEALTH = {"schema": "node-health/1", "system": "s", "component": "scratch", "component_type": "file-system",
          "time": 0.0, "status": "ok", "user": "not a job's"}


def test_blanked_fields_leave_every_job_event_and_nothing_else():
    submission, completion = blank([SUBMISSION, COMPLETION], ["user", "requested_walltime_s"])
    for event in (submission, completion):
        assert "user" not in event and "requested_walltime_s" not in event
        assert event["queue"] == "q" and event["features"] == SUBMISSION["features"]
    assert completion["outcome"] == {"runtime_s": 60.0}


def test_a_blanked_job_is_read_as_one_whose_log_lacks_the_field():
    (submission,) = blank([SUBMISSION], ["requested_walltime_s"])
    assert Job.from_event(submission).requested_walltime_s is None


def test_features_are_blanked_one_by_one():
    (submission,) = blank([SUBMISSION], ["features.partition"])
    assert submission["features"] == {"fs": "scratch"}


def test_other_events_pass_unchanged():
    assert blank([HEALTH], ["user"]) == [HEALTH]


def test_the_original_events_are_untouched():
    blank([SUBMISSION], ["user", "features.partition"])
    assert SUBMISSION["user"] == "u1" and "partition" in SUBMISSION["features"]


@pytest.mark.parametrize("field", ["walltime", "job_id", "time", "outcome", "features."])
def test_only_optional_job_fields_can_be_blanked(field):
    with pytest.raises(ValueError, match=f"cannot leave out '{field}'"):
        blank([SUBMISSION], [field])
