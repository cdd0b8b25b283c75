"""JSON lines of events in the topic schemas, one event per line, replayed in stream order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.schemas import InvalidEvent, validate
from pipeline.sources.base import SourceError, SourceStats, open_text
from pipeline.sources.timeline import Event, behind, event_time, order_key


class JsonlSource:
    """Validated events from a ``.jsonl`` file (plain or gzip), in stream order.

    A file need not be in stream order: an export listed job by job (each submission followed by
    its completion) is common, and replayed in file order it would teach each completion before the
    submissions that came while the job ran. So the whole file is read, then stably sorted
    (:func:`~pipeline.sources.timeline.order_key`); ``stats.reordered`` counts the events that stood
    after a later one.

    Parameters
    ----------
    path
        The file; blank lines are ignored.
    lenient
        Skip invalid lines (counted in ``stats.skipped``) instead of raising.
    """

    kind = "jsonl"

    def __init__(self, path: str | Path, lenient: bool = False):
        self.path, self.lenient = Path(path), lenient
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Event]:
        self.stats = SourceStats()
        events = list(self._events())
        self.stats.reordered = sum(1 for _ in behind(map(order_key, events)))
        if self.stats.reordered:
            events.sort(key=order_key)  # stable: events at the same place keep the file's order
        return iter(events)

    def _events(self) -> Iterator[Event]:
        seen: dict[str, dict[tuple[str, str], float]] = {"job-submission": {}, "job-completion": {}}
        with open_text(self.path) as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    event = self._parse(number, line)
                    self._check_job(number, event, seen)
                except SourceError as error:
                    if not self.lenient:
                        raise
                    self.stats.skipped[f"invalid: {error.field}"] += 1
                    continue
                if event["schema"].startswith("job-submission"):
                    self.stats.jobs += 1
                elif event["schema"].startswith("node-health"):
                    self.stats.health_events += 1
                yield event

    def _check_job(self, number: int, event: Event, seen: dict[str, dict[tuple[str, str], float]]) -> None:
        """A job has one submission and one completion, and is submitted before it ends: otherwise the
        stream would have it predicted after its own outcome was learned (the Processor refuses that).
        ``seen`` holds, per kind, where each job's event stands in the stream."""
        kind = event["schema"].split("/", 1)[0]
        if kind not in seen:
            return
        job, place = (event["system"], event["job_id"]), event_time(event)
        if job in seen[kind]:
            raise SourceError(self.path, number, "job_id", f"a second {kind} of job {event['job_id']} on "
                              f"{event['system']}: each job needs its own id")
        other = seen["job-completion" if kind == "job-submission" else "job-submission"].get(job)
        submitted, ended = (place, other) if kind == "job-submission" else (other, place)
        if submitted is not None and ended is not None and submitted >= ended:  # at a tie completions go first
            raise SourceError(self.path, number, "time" if kind == "job-submission" else "end_time",
                              f"job {event['job_id']} submitted at {submitted:g}, not before it ended at {ended:g}")
        seen[kind][job] = place

    def _parse(self, number: int, line: str) -> Event:
        try:
            event: Event = json.loads(line)  # anything but an object fails validation below
        except json.JSONDecodeError as error:
            raise SourceError(self.path, number, "json", error.msg) from None
        try:
            validate(event)
        except InvalidEvent as error:
            raise SourceError(self.path, number, error.field or "event", error.reason) from None
        return event

