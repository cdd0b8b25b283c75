"""How long a job's kind was away: the live face of forgetting.

The task matrix scores old jobs at the end of the stream, as of today; a service never predicts an
old job, but it does see a kind of job come back after months away (a user's yearly campaign, a
benchmark rerun after an upgrade). Those predictions show whether a learner kept what it knew of
that kind, or let it go stale, in the prequential stream itself. A job's kind is who ran what, how
big, how long requested and where (its string features): the history's job signature
(:meth:`~pipeline.learning.history.History.signature`) without the health status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pipeline.evaluation import metrics
from pipeline.learning.history import History
from pipeline.learning.job import Job
from pipeline.sources.timeline import Event, event_time

JobKey = tuple[str, str]
DAY = 86_400.0
# the groups of the report: first seen, and back after at least this many days
ABSENCES = (30, 90)


def job_kind(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """The job's system and its signature with no health known. Pure.

    >>> job_kind({"job_id": "1", "system": "s", "time": 0, "user": "u", "app": "x", "num_procs": 4,
    ...           "features": {"fs": "a", "gib": 2}})
    ('s', 'u', 'x', None, 4, (('fs', 'a'),))
    """
    return event["system"], *History.signature(Job.from_event(event))


def days_away(events: Iterable[Event], learned: set[JobKey]) -> dict[JobKey, float | None]:
    """For each learned job, the days from the last completion of its kind before its submission
    (``None``: its kind had not completed yet). Only learned jobs count as having been seen."""
    last: dict[tuple[Any, ...], float] = {}
    away: dict[JobKey, float | None] = {}
    for event in events:
        if "job_id" not in event or (event["system"], event["job_id"]) not in learned:
            continue
        kind = job_kind(event)
        if event["schema"].startswith("job-submission"):
            seen = last.get(kind)
            away[event["system"], event["job_id"]] = None if seen is None else (event["time"] - seen) / DAY
        elif event["schema"].startswith("job-completion"):
            last[kind] = event_time(event)
    return away


def by_absence(jobs: Sequence[JobKey], predicted: Sequence[float], observed: Sequence[float],
               away: Mapping[JobKey, float | None]) -> dict[str, dict[str, Any]]:
    """Prequential errors of the jobs seen for the first time and of those back after each of
    :data:`ABSENCES` days, with their share of the predictions; empty groups are left out."""
    days = np.array([np.nan if (d := away.get(job)) is None else d for job in jobs], float)
    p, o = np.asarray(predicted, float), np.asarray(observed, float)
    groups = {"first seen": np.isnan(days)}
    groups.update({f"back after {n}+ days": days >= n for n in ABSENCES})
    summaries: dict[str, dict[str, Any]] = {}
    for name, mask in groups.items():
        if mask.any():
            summaries[name] = {**metrics.prequential_summary(p[mask], o[mask]), "share": float(mask.mean())}
    return summaries
