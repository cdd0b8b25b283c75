"""Standard Workload Format traces (Parallel Workloads Archive), plain or gzip.

Feitelson, Tsafrir & Krakov, "Experience with using the Parallel Workloads Archive", JPDC 74(10),
2014. Each data line is one job with 18 numeric fields, ``-1`` for missing; header lines start with
``;``. Per job the source yields a job-submission at submit time and, when the job ran (run time
> 0), a job-completion at submit + wait + run with outcome ``runtime_s``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.sources.base import SourceError, SourceStats, open_text
from pipeline.sources.timeline import Event, behind, interleave

FIELDS = (
    "job number", "submit time", "wait time", "run time", "allocated processors",
    "average cpu time", "used memory", "requested processors", "requested time",
    "requested memory", "status", "user id", "group id", "executable number", "queue number",
    "partition number", "preceding job number", "think time",
)
_STATUS = {1: "completed", 0: "failed", 5: "cancelled", 2: "partial", 3: "partial", 4: "partial"}


def system_from_filename(path: str | Path) -> str:
    """``SDSC-SP2-1998-4.2-cln.swf.gz`` -> ``SDSC-SP2``: the name before the year."""
    name = Path(path).name.split(".swf")[0]
    match = re.match(r"(.+?)-(19|20)\d\d\b", name)
    return match.group(1) if match else name


class SwfSource:
    """Events from one SWF file, in stream order.

    The standard sorts a log's lines by submit time, and a sorted log streams. A log that is not
    (some conversions are not) is read whole and sorted by submit time; ``stats.reordered`` counts
    its lines that came after a later one.

    Parameters
    ----------
    path
        The ``.swf`` or ``.swf.gz`` file.
    system
        System name for the events; default: from the file name (``SDSC-SP2``).
    lenient
        Skip malformed lines (counted in ``stats.skipped``) instead of raising
        :class:`~pipeline.sources.base.SourceError`.
    """

    kind = "swf"

    def __init__(self, path: str | Path, system: str | None = None, lenient: bool = False):
        self.path = Path(path)
        self.system = system or system_from_filename(path)
        self.lenient = lenient
        self.header: dict[str, Any] = {"queues": {}, "partitions": {}}
        self.stats = SourceStats()
        self._job_numbers: set[int] = set()

    def __iter__(self) -> Iterator[Event]:
        self.stats = SourceStats()
        self.stats.reordered = self._lines_behind()
        pairs = self._jobs()
        if self.stats.reordered:  # the standard sorts lines by submit time, but not every log is
            pairs = iter(sorted(pairs, key=lambda pair: pair[0]["time"]))  # stable: equal times keep file order
        return interleave(pairs)

    def _lines_behind(self) -> int:
        """How many job lines come after a line submitted later: a quick first pass, so that a sorted
        log (the rule) streams and only an unsorted one is read whole and sorted."""
        with open_text(self.path, errors="replace") as lines:
            return sum(1 for _ in behind(_submit_times(lines)))

    def _jobs(self) -> Iterator[tuple[Event, Event | None]]:
        self._job_numbers = set()
        # header comments are free text, often Latin-1 in the archive's older logs; data lines are numbers
        with open_text(self.path, errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if line.startswith(";"):
                    self._header_line(number, line)
                    continue
                if not line.strip():
                    continue
                try:
                    pair = self._job(number, line)
                except SourceError as error:
                    if not self.lenient:
                        raise
                    self.stats.skipped[f"malformed: {error.field}"] += 1
                    continue
                if pair is not None:
                    self.stats.jobs += 1
                    yield pair

    def _header_line(self, number: int, line: str) -> None:
        key, _, value = line[1:].partition(":")
        key, value = key.strip(), value.strip()
        if key == "UnixStartTime":
            try:
                self.header["unix_start_time"] = int(value)
            except ValueError:
                raise SourceError(self.path, number, "UnixStartTime", f"{value!r} is not an integer") from None
        elif key == "TimeZoneString":
            self.header["time_zone"] = value
        elif key == "MaxProcs":
            self.header["max_procs"] = value.split()[0] if value else None
        elif key in ("Queue", "Partition"):
            parts = value.split(None, 1)
            if len(parts) == 2 and parts[0].lstrip("-").isdigit():
                # UniLu Gaia's header aligns its names in columns ("default        default")
                self.header["queues" if key == "Queue" else "partitions"][int(parts[0])] = " ".join(parts[1].split())

    def _numbers(self, number: int, line: str) -> list[float]:
        parts = line.split()
        if len(parts) != len(FIELDS):
            raise SourceError(self.path, number, "line", f"expected 18 fields, found {len(parts)}")
        values = []
        for index, text in enumerate(parts):
            try:
                values.append(float(text))
            except ValueError:
                raise SourceError(self.path, number, f"field {index + 1} ({FIELDS[index]})",
                                  f"{text!r} is not a number") from None
        return values

    def _check_number(self, number: int, f: list[float]) -> None:
        if int(f[0]) in self._job_numbers:
            raise SourceError(self.path, number, "field 1 (job number)",
                              f"job {int(f[0])} appeared on an earlier line: each job needs its own number")
        self._job_numbers.add(int(f[0]))

    def _job(self, number: int, line: str) -> tuple[Event, Event | None] | None:
        f = self._numbers(number, line)
        if f[1] < 0:
            raise SourceError(self.path, number, "field 2 (submit time)", f"{f[1]:g} is negative")
        if f[3] <= 0:  # the job never ran (or its run time is unknown): nothing to learn or score
            self.stats.skipped["no positive run time"] += 1
            return None
        # the standard makes every header line optional: without UnixStartTime times count from the epoch
        submit = self.header.get("unix_start_time", 0) + f[1]
        self._check_number(number, f)
        procs = f[7] if f[7] > 0 else f[4]
        submission: Event = {
            "schema": "job-submission/1", "job_id": str(int(f[0])), "system": self.system, "time": submit,
            "user": f"u{int(f[11])}" if f[11] >= 0 else None,
            "group": f"g{int(f[12])}" if f[12] >= 0 else None,
            "queue": self.header["queues"].get(int(f[14]), str(int(f[14]))) if f[14] >= 0 else None,
            "app": f"x{int(f[13])}" if f[13] >= 0 else None,
            "num_procs": int(procs) if procs > 0 else None,
            "requested_walltime_s": f[8] if f[8] > 0 else None,
            "features": {},
        }
        if f[15] >= 0:
            submission["features"]["partition"] = self.header["partitions"].get(int(f[15]), str(int(f[15])))
        if f[9] > 0:
            submission["features"]["requested_memory_kb"] = f[9]
        submission = {k: v for k, v in submission.items() if v is not None}
        start = submit + max(f[2], 0.0)
        observed = {"wait_s": max(f[2], 0.0)}
        if f[5] >= 0:
            observed["cpu_time_s"] = f[5]
        if f[6] >= 0:
            observed["used_memory_kb"] = f[6]
        completion: Event = {
            **submission, "schema": "job-completion/1", "start_time": start, "end_time": start + f[3],
            "status": _STATUS.get(int(f[10]), "unknown"), "outcome": {"runtime_s": f[3]},
            "observed_features": observed,
        }
        return submission, completion


def _submit_times(lines: Iterable[str]) -> Iterator[float]:
    """Field 2 of each job line that has a number there (the main pass names the lines that do not)."""
    for line in lines:
        fields = line.split(None, 2)
        if len(fields) < 2 or line.startswith(";"):
            continue
        try:
            yield float(fields[1])
        except ValueError:
            continue
