import pytest

from pipeline.sources.timeline import interleave, merge


def sub(job, t):
    return {"schema": "job-submission/1", "job_id": job, "time": t}


def end(job, t, e):
    return {"schema": "job-completion/1", "job_id": job, "time": t, "end_time": e}


def health(t):
    return {"schema": "node-health/1", "time": t}


def labels(events):
    first_letter = {"job-submission/1": "s", "job-completion/1": "c", "node-health/1": "n"}
    return [f"{first_letter[e['schema']]}{e.get('job_id', '')}" for e in events]


def test_completion_comes_before_a_submission_at_the_same_time():
    stream = interleave([(sub("a", 0), end("a", 0, 10)), (sub("b", 10), end("b", 10, 20))])
    assert labels(stream) == ["sa", "ca", "sb", "cb"]


def test_long_job_completes_after_later_submissions():
    stream = interleave([(sub("a", 0), end("a", 0, 100)), (sub("b", 1), end("b", 1, 2)), (sub("c", 3), None)])
    assert labels(stream) == ["sa", "sb", "cb", "sc", "ca"]


def test_out_of_order_submissions_are_refused():
    with pytest.raises(ValueError, match="out of submit-time order"):
        list(interleave([(sub("a", 5), None), (sub("b", 1), None)]))


def test_health_merges_between_completions_and_submissions():
    jobs = interleave([(sub("a", 0), end("a", 0, 5)), (sub("b", 5), None)])
    assert labels(merge(jobs, [health(5)])) == ["sa", "ca", "n", "sb"]
