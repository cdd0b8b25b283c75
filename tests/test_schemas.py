import json

import jsonschema
import pytest

from pipeline.schemas import InvalidEvent, schema, topics, topics_dir, validate

KINDS = ["job-submission", "job-completion", "node-health", "prediction", "model-metrics", "drift-event",
         "dead-letter"]
SUBMISSION = {"schema": "job-submission/1", "job_id": "7", "system": "sp2", "time": 1.0e9, "user": "u1",
              "num_procs": 4, "requested_walltime_s": 3600, "features": {"partition": "batch", "mem": 1.5}}


@pytest.mark.parametrize("kind", KINDS)
def test_every_contract_is_valid_draft_2020_12(kind):
    jsonschema.Draft202012Validator.check_schema(schema(kind))
    assert schema(kind)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_kind_a_topic_carries_has_a_contract():
    carried = {kind.split("/")[0] for topic in topics().values() for kind in topic["kinds"]}
    assert carried == set(KINDS)
    assert all((topics_dir() / f"{kind}.schema.json").is_file() for kind in carried)


def test_checkpoint_topic_is_compacted():
    assert topics()["hpc.checkpoints"]["config"]["cleanup.policy"] == "compact"


def test_valid_submission_passes_and_names_its_kind():
    assert validate(SUBMISSION) == "job-submission"


@pytest.mark.parametrize("broken, field", [
    ({**SUBMISSION, "num_procs": 0}, "num_procs"),
    ({**SUBMISSION, "num_procs": "four"}, "num_procs"),
    ({**SUBMISSION, "requested_walltime_s": -5}, "requested_walltime_s"),
    ({**SUBMISSION, "surprise": 1}, None),
    ({k: v for k, v in SUBMISSION.items() if k != "system"}, None),
    ({**SUBMISSION, "features": {"nested": {"a": 1}}}, "features.nested"),
])
def test_invalid_submission_is_rejected_with_a_reason(broken, field):
    with pytest.raises(InvalidEvent) as error:
        validate(broken)
    assert error.value.reason
    if field:
        assert error.value.field == field


def test_unknown_schema_version_is_named():
    with pytest.raises(InvalidEvent, match="unknown schema version 'job-submission/2'"):
        validate({**SUBMISSION, "schema": "job-submission/2"})


def test_unknown_kind_is_named():
    with pytest.raises(InvalidEvent, match="unknown schema 'job-wish/1'"):
        validate({**SUBMISSION, "schema": "job-wish/1"})


def test_missing_schema_tag_is_rejected():
    with pytest.raises(InvalidEvent, match="schema"):
        validate(json.loads('{"job_id": "1"}'))


def test_completion_outcomes_must_be_positive():
    completion = {**SUBMISSION, "schema": "job-completion/1", "start_time": 1.0e9, "end_time": 1.0e9 + 5,
                  "status": "completed", "outcome": {"runtime_s": 0}}
    with pytest.raises(InvalidEvent) as error:
        validate(completion)
    assert error.value.field == "outcome.runtime_s"


def test_a_completion_that_ends_before_its_submit_time_is_rejected():
    completion = {**SUBMISSION, "schema": "job-completion/1", "start_time": SUBMISSION["time"],
                  "end_time": SUBMISSION["time"] - 5, "status": "completed", "outcome": {"runtime_s": 5}}
    with pytest.raises(InvalidEvent, match="before the job's submit time") as error:
        validate(completion)
    assert error.value.field == "end_time"


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_non_finite_numbers_are_rejected_as_such(number):
    with pytest.raises(InvalidEvent) as error:
        validate({**SUBMISSION, "features": {"mem": number}})
    assert (error.value.field, error.value.reason) == ("features.mem", "NaN and infinity are not JSON numbers")
