import json

import pytest

from pipeline.sources.base import SourceError
from pipeline.sources.jsonl import JsonlSource
from pipeline.sources.synthetic import SyntheticCluster


@pytest.fixture
def events_file(tmp_path):
    path = tmp_path / "events.jsonl"
    events = list(SyntheticCluster(300, seed=2))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path, events


def test_round_trips_events_in_file_order(events_file):
    path, events = events_file
    source = JsonlSource(path)
    assert list(source) == events
    assert source.stats.jobs == 300


def test_blank_lines_are_ignored(events_file):
    path, events = events_file
    path.write_text(path.read_text().replace("\n", "\n\n", 3))
    assert list(JsonlSource(path)) == events


def _break_line(path, number, text):
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = text
    path.write_text("".join(lines))


def test_broken_json_names_file_and_line(events_file):
    path, _ = events_file
    _break_line(path, 7, '{"schema": "job-submission/1", \n')
    with pytest.raises(SourceError) as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (7, "json")
    assert str(path) in str(error.value)


def test_schema_violation_names_the_field(events_file):
    path, events = events_file
    bad = {**events[4], "num_procs": -3}
    _break_line(path, 5, json.dumps(bad) + "\n")
    with pytest.raises(SourceError) as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (5, "num_procs")


def test_lenient_skips_and_counts_invalid_lines(events_file):
    path, events = events_file
    _break_line(path, 3, "not json\n")
    source = JsonlSource(path, lenient=True)
    assert len(list(source)) == len(events) - 1
    assert source.stats.skipped["invalid: json"] == 1


def test_a_line_that_is_not_utf8_names_file_and_line(events_file):
    path, _ = events_file
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"job_id": "', b'"job_id": "M\xfcller-', 1)
    path.write_bytes(b"".join(lines))
    with pytest.raises(SourceError) as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (5, "encoding")
    assert str(path) in str(error.value) and "0xfc" in str(error.value)


def test_windows_line_endings_read_like_unix_ones(events_file):
    path, events = events_file
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert list(JsonlSource(path)) == events


def test_events_listed_job_by_job_are_put_in_stream_order(events_file):
    path, events = events_file
    completions = {e["job_id"]: e for e in events if e["schema"] == "job-completion/1"}
    by_job = [x for e in events if e["schema"] != "job-completion/1"  # each completion right after its submission
              for x in (e, completions.get(e.get("job_id"))) if x]
    path.write_text("".join(json.dumps(e) + "\n" for e in by_job))
    source = JsonlSource(path)
    assert list(source) == events
    assert source.stats.reordered > 0


def test_a_file_in_stream_order_counts_nothing_reordered(events_file):
    path, _ = events_file
    source = JsonlSource(path)
    list(source)
    assert source.stats.reordered == 0


def test_a_completion_that_ends_before_its_submission_names_file_and_line(events_file):
    path, events = events_file
    number, completion = next((i, e) for i, e in enumerate(events, start=1) if e["schema"] == "job-completion/1")
    _break_line(path, number, json.dumps({**completion, "end_time": completion["time"] - 1}) + "\n")
    with pytest.raises(SourceError) as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (number, "end_time")


def test_a_job_submitted_twice_names_file_and_line(events_file):
    path, events = events_file
    number, submission = next((i, e) for i, e in enumerate(events, start=1) if e["schema"] == "job-submission/1")
    _break_line(path, number + 1, json.dumps(submission) + "\n")
    with pytest.raises(SourceError) as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (number + 1, "job_id")


def test_a_submission_after_its_own_completion_names_file_line_and_field(events_file):
    path, events = events_file
    number, submission = next((i, e) for i, e in enumerate(events, start=1) if e["schema"] == "job-submission/1")
    ending, completion = next((i, e) for i, e in enumerate(events, start=1)
                              if e["schema"] == "job-completion/1" and e["job_id"] == submission["job_id"])
    late = {**submission, "time": completion["end_time"] + 60}  # its completion still says it came in time
    _break_line(path, number, json.dumps(late) + "\n")
    with pytest.raises(SourceError, match="not before it ended") as error:
        list(JsonlSource(path))
    assert (error.value.line, error.value.field) == (ending, "end_time")
