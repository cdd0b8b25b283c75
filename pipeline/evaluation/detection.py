"""How well drift alarms match a synthetic cluster's scripted changes: delays, false alarms, recovery.

A change counts as flagged by the first drift event on its system and target at or after it and
before the system's next change of that target, of any kind (an announced change is flagged by its
own announcement; a change left unflagged until the next one is not flagged by that one's
announcement); the delay is the number of the system's jobs submitted in between. Detected alarms
farther than ``window_jobs`` after every change of their system and target are false alarms
(announcements never are). Recovery: the first ``recovery_window`` consecutive completions after
the change whose mean error is back within 10% of the mean of the system's last 1,000 before it;
reported as the system's jobs from the change to the first of them (``recovered_from_jobs``: a
learner that is right at once scores 0) and to the last (``recovery_jobs``: when a trailing window
first shows it; never less than about the window).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def detection(truth: Sequence[Mapping[str, Any]], alarms: Sequence[Mapping[str, Any]],
              events: Iterable[Mapping[str, Any]], target: str, window_jobs: int = 2000,
              completions: Sequence[tuple[float, str, float]] = (), recovery_window: int = 200) -> dict[str, Any]:
    """Delays per change of ``target`` and false alarms per 100k jobs.

    >>> subs = [{"schema": "job-submission/1", "system": "a", "time": float(t)} for t in range(1000)]
    >>> truth = [{"system": "a", "target": "runtime_s", "time": 500.0, "description": "slower"}]
    >>> alarms = [{"system": "a", "target": "runtime_s", "time": 530.5, "detector": "shift-up"},
    ...           {"system": "a", "target": "runtime_s", "time": 100.0, "detector": "adwin"}]
    >>> report = detection(truth, alarms, subs, "runtime_s", window_jobs=200)
    >>> report["changes"][0]["delay_jobs"], report["false_alarms"]
    (30, 1)
    """
    submitted: dict[str, list[float]] = {}
    for event in events:
        if event["schema"].startswith("job-submission"):
            submitted.setdefault(event["system"], []).append(float(event["time"]))
    for times in submitted.values():
        times.sort()

    def jobs_between(system: str, start: float, end: float) -> int:
        times = submitted.get(system, [])
        return bisect.bisect(times, end) - bisect.bisect(times, start)

    changes, explained = [], set()
    relevant = [c for c in truth if c["target"] == target]
    for number, change in enumerate(relevant):
        until = min((c["time"] for c in relevant if c["system"] == change["system"] and c["time"] > change["time"]),
                    default=float("inf"))
        after = sorted((a["time"], i) for i, a in enumerate(alarms)
                       if (a["system"], a["target"]) == (change["system"], target)
                       and change["time"] <= a["time"] < until)
        delay = jobs_between(change["system"], change["time"], after[0][0]) if after else None
        explained |= {i for t, i in after if jobs_between(change["system"], change["time"], t) <= window_jobs}
        recovered = _recovery(change, completions, recovery_window)
        changes.append({"system": change["system"], "description": change.get("description", ""),
                        "delay_jobs": delay, "detector": alarms[after[0][1]]["detector"] if after else None,
                        "recovered_from_jobs": None if recovered is None
                        else jobs_between(change["system"], change["time"], recovered[0]),
                        "recovery_jobs": None if recovered is None
                        else jobs_between(change["system"], change["time"], recovered[1]),
                        "regime_returns": any(c.get("component") == change.get("component") for c in relevant[:number])
                        and change.get("factor") == 1.0})
    false = [a for i, a in enumerate(alarms)
             if a["target"] == target and i not in explained and a["detector"] != "known-change"]
    n_jobs = sum(len(times) for times in submitted.values())
    by_detector: dict[str, int] = {}
    for alarm in false:
        by_detector[alarm["detector"]] = by_detector.get(alarm["detector"], 0) + 1
    return {"changes": changes, "false_alarms": len(false), "false_alarms_by_detector": by_detector,
            "false_alarms_per_100k_jobs": 1e5 * len(false) / n_jobs if n_jobs else None}


def _recovery(change: Mapping[str, Any], completions: Sequence[tuple[float, str, float]],
              window: int) -> tuple[float, float] | None:
    """The times of the first and last of the first ``window`` completions after ``change`` whose mean
    error is back within 10% of the level before (None: never)."""
    mine = [(t, e) for t, system, e in completions if system == change["system"]]
    before = [e for t, e in mine if t < change["time"]][-1000:]
    after = [(t, e) for t, e in mine if t >= change["time"]]
    if not before or len(after) < window:
        return None
    level, total = sum(before) / len(before), sum(e for _, e in after[:window])
    for i in range(window, len(after) + 1):
        if total / window <= 1.1 * level:
            return after[i - window][0], after[i - 1][0]
        if i < len(after):
            total += after[i][1] - after[i - window][1]
    return None
