"""Putting events in the order a live system would see them.

A job's submission is in the stream at its submit time, its completion at its end time; at equal
times completions come first (the label arrived before the next prediction), then health reports,
then submissions. This is what keeps the replay honest: no prediction can see a label from its future.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

Event = dict[str, Any]

_PRIORITY = {"job-completion": 0, "node-health": 1, "job-submission": 2}


def event_time(event: Mapping[str, Any]) -> float:
    """Where an event stands in the stream: ``end_time`` for completions, else ``time``."""
    if event["schema"].startswith("job-completion"):
        return float(event["end_time"])
    return float(event["time"])


def order_key(event: Mapping[str, Any]) -> tuple[float, int]:
    """Sort key: time, then completions before health before submissions."""
    return event_time(event), _PRIORITY.get(event["schema"].split("/", 1)[0], 1)


def behind(keys: Iterable[Any]) -> Iterator[int]:
    """The positions of the keys that come after a greater one: where a sequence leaves its order.

    >>> list(behind([1, 3, 2, 3, 0]))
    [2, 4]
    """
    latest = None
    for index, key in enumerate(keys):
        if latest is not None and key < latest:
            yield index
        else:
            latest = key


def interleave(jobs: Iterable[tuple[Event, Event | None]]) -> Iterator[Event]:
    """Yield submissions and completions in stream order.

    ``jobs`` are (submission, completion-or-None) pairs in submit-time order; only the completions
    of running jobs are held in memory. An event that is not a job (a health report) may ride in a
    pair with no completion, at its place in time.

    >>> sub = lambda i, t: {"schema": "job-submission/1", "job_id": i, "time": t}
    >>> end = lambda i, t, e: {"schema": "job-completion/1", "job_id": i, "time": t, "end_time": e}
    >>> [(e["schema"][4], e["job_id"]) for e in interleave([(sub("a", 0), end("a", 0, 5)),
    ...                                                      (sub("b", 5), end("b", 5, 6))])]
    [('s', 'a'), ('c', 'a'), ('s', 'b'), ('c', 'b')]
    """
    running: list[tuple[tuple[float, int], int, Event]] = []
    tiebreak = itertools.count()
    last_submit = float("-inf")
    for submission, completion in jobs:
        key = order_key(submission)
        if key[0] < last_submit:
            raise ValueError(f"job {submission['job_id']} is out of submit-time order")
        last_submit = key[0]
        while running and running[0][0] <= key:
            yield heapq.heappop(running)[2]
        yield submission
        if completion is not None:
            heapq.heappush(running, (order_key(completion), next(tiebreak), completion))
    while running:
        yield heapq.heappop(running)[2]


def merge(*streams: Iterable[Event]) -> Iterator[Event]:
    """Merge streams that are each in stream order into one."""
    return heapq.merge(*streams, key=order_key)
