"""How long a job's kind had been away: counted from what the learner saw complete, nothing else."""

import pytest

from pipeline.evaluation.absence import by_absence, days_away

DAY = 86_400.0


def _job(job_id, submit, end, user="u", procs=4):
    common = {"job_id": job_id, "system": "s", "time": submit * DAY, "user": user, "num_procs": procs}
    return ({**common, "schema": "job-submission/1"},
            {**common, "schema": "job-completion/1", "start_time": submit * DAY, "end_time": end * DAY})


def _stream(*jobs):
    events = [event for job in jobs for event in job]
    return sorted(events, key=lambda e: e["end_time"] if "end_time" in e else e["time"])


def test_a_kind_is_away_from_its_last_learned_completion_to_the_next_submission():
    first, held_out, back, stranger = _job("1", 0, 1), _job("2", 30, 31), _job("3", 41, 42), _job("4", 41, 42, user="v")
    away = days_away(_stream(first, held_out, back, stranger), learned={("s", "1"), ("s", "3"), ("s", "4")})
    # the held-out job of day 30 never completed for the learner: the kind was away 40 days, not 10
    assert away == {("s", "1"): None, ("s", "3"): 40.0, ("s", "4"): None}


def test_a_kind_with_another_size_is_another_kind():
    away = days_away(_stream(_job("1", 0, 1), _job("2", 100, 101, procs=8)), learned={("s", "1"), ("s", "2")})
    assert away[("s", "2")] is None


def test_the_report_groups_are_first_seen_and_back_after_30_and_90_days():
    jobs = [("s", str(i)) for i in range(5)]
    away = dict(zip(jobs, [None, None, 10.0, 45.0, 200.0], strict=True))
    groups = by_absence(jobs, [10, 10, 10, 10, 100], [10, 10, 10, 100, 10], away)
    assert {name: g["n"] for name, g in groups.items()} == {
        "first seen": 2, "back after 30+ days": 2, "back after 90+ days": 1}
    assert groups["back after 90+ days"]["mean_abs_log10"] == pytest.approx(1.0)
    assert groups["first seen"]["share"] == pytest.approx(0.4)
