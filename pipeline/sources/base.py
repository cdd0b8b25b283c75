"""What every source shares: stats of what was read and skipped, and located errors."""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class SourceError(ValueError):
    """Bad input, located: ``file:line: field: reason``."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, reason: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")
        self.path, self.line, self.field, self.reason = str(path), line, field, reason


@dataclass
class SourceStats:
    """Counts a report shows next to its numbers: jobs read, lines skipped and why."""

    jobs: int = 0
    health_events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"jobs": self.jobs, "health_events": self.health_events, "skipped": dict(self.skipped)}


def open_text(path: str | Path) -> IO[str]:
    """Open a plain or gzip-compressed text file (by its magic bytes, not its name)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", errors="strict")
    return path.open("rt", encoding="utf-8", errors="strict")
