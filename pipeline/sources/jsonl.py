"""JSON lines of events in the topic schemas, one event per line, replayed in file order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.schemas import InvalidEvent, validate
from pipeline.sources.base import SourceError, SourceStats, open_text
from pipeline.sources.timeline import Event


class JsonlSource:
    """Validated events from a ``.jsonl`` file (plain or gzip).

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
        with open_text(self.path) as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    event = self._parse(number, line)
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
