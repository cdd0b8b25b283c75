"""What every source shares: stats of what was read and skipped, and located errors."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class SourceError(ValueError):
    """Bad input, located: ``file:line: field: reason``."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, reason: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")
        self.path, self.line, self.field, self.reason = str(path), line, field, reason


@dataclass
class SourceStats:
    """Counts a report shows next to its numbers: jobs read, lines skipped and why, and the events a
    JSON lines file, or the job lines an SWF log, listed out of stream order (sacct and TOKIO files
    are sorted as a matter of course and not counted)."""

    jobs: int = 0
    health_events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    reordered: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"jobs": self.jobs, "health_events": self.health_events, "skipped": dict(self.skipped),
                "reordered": self.reordered}


@contextmanager
def open_text(path: str | Path, errors: str = "strict") -> Iterator[Iterator[str]]:
    """The lines of a plain or gzip-compressed UTF-8 text file (told apart by their magic bytes, not
    the name), newlines kept and ``\\r\\n`` read as ``\\n``.

    A line that is not UTF-8 raises :class:`SourceError` naming it; ``errors="replace"`` reads it
    with U+FFFD in place of its bad bytes instead (for formats whose comments are free text).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gzipped else path.open("rb") as raw:
        yield _decoded(path, raw, errors)


def _decoded(path: Path, raw: Iterable[bytes], errors: str) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        if line.endswith(b"\r\n"):
            line = line[:-2] + b"\n"
        try:
            yield line.decode("utf-8", errors)
        except UnicodeDecodeError as error:
            raise SourceError(path, number, "encoding",
                              f"byte {line[error.start]:#04x} at column {error.start + 1} is not UTF-8") from None
