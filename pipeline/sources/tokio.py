"""TOKIO "Year in the Life" per-job summaries of NERSC Cori (CSV, plain or gzip).

Lockwood et al., "A Year in the Life of a Parallel File System", SC18. One row per benchmark job.
The header has one name fewer than each row (the first field is an unnamed index), so names are
shifted by one. A Slurm job ran several benchmarks in turn, one row each, so a row's id is
``<jobid>.<n>``, numbered in start order. Per row the source yields a job-submission at the start
with what is known before the run (application, node type, process count, target file system), a
job-completion at the end with ``io_throughput_mibps`` and ``runtime_s`` (run-time counters travel
as ``observed_features``, never on the submission), and a node-health event for the scratch file
system for each distinct ``fshealth_*`` snapshot, at the snapshot's own time.

``_datetime_start``/``_datetime_end`` hold Pacific wall-clock time written as epoch seconds (they
sit 7 or 8 hours, by daylight saving, before Darshan's own UTC stamps); they are converted to UTC
so that jobs and health snapshots share one clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

from pipeline.sources.base import SourceError, SourceStats, open_text
from pipeline.sources.timeline import Event, interleave, merge

_PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
_OBSERVED_PREFIXES = ("darshan_", "fs_", "jobsdb_", "topology_")
_HEALTH_METRICS = {
    "ost_avg_full_pct": "fshealth_ost_avg_full_pct",
    "ost_most_full_pct": "fshealth_ost_most_full_pct",
    "ost_least_full_pct": "fshealth_ost_least_full_pct",
    "ost_count": "fshealth_ost_count",
    "overloaded_ost_count": "fshealth_ost_overloaded_ost_count",
    "overloaded_oss_count": "fshealth_ost_overloaded_oss_count",
    "overloaded_pct": "fshealth_ost_overloaded_pct",
}
SCRATCH = "cscratch"


def pacific_wall_clock_to_utc(seconds: float) -> float:
    """Epoch seconds that encode Pacific wall-clock time -> true UTC epoch seconds."""
    wall = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=_PACIFIC)
    return wall.timestamp()


def _number_steps(jobs: list[tuple[Event, Event | None]]) -> None:
    """One Slurm job ran many benchmarks, one row each: ids become ``<jobid>.<n>`` by start order."""
    steps: dict[str, int] = {}
    for submission, completion in jobs:
        job_id = submission["job_id"]
        steps[job_id] = steps.get(job_id, -1) + 1
        submission["job_id"] = f"{job_id}.{steps[job_id]}"
        if completion is not None:
            completion["job_id"] = submission["job_id"]


class TokioSource:
    """Events from a TOKIO summaries CSV, in stream order.

    Parameters
    ----------
    path
        The ``cori-summaries_*.csv.gz`` file.
    system
        System name for the events (default ``cori``).
    lenient
        Skip malformed rows (counted in ``stats.skipped``) instead of raising.
    """

    kind = "tokio"

    def __init__(self, path: str | Path, system: str = "cori", lenient: bool = False):
        self.path, self.system, self.lenient = Path(path), system, lenient
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Event]:
        self.stats = SourceStats()
        jobs, health = self._read()
        jobs.sort(key=lambda pair: pair[0]["time"])
        _number_steps(jobs)
        health.sort(key=lambda event: event["time"])
        self.stats.health_events = len(health)
        return merge(interleave(jobs), health)

    def _read(self) -> tuple[list[tuple[Event, Event | None]], list[Event]]:
        jobs, health, seen_snapshots = [], [], set()
        with open_text(self.path) as text:
            reader = csv.reader(text)
            names = ["_row", *next(reader, [])]
            for row in reader:
                try:
                    if len(row) != len(names):
                        raise SourceError(self.path, reader.line_num, "row",
                                          f"expected {len(names)} fields, found {len(row)}")
                    record = dict(zip(names, row, strict=True))
                    pair = self._job(reader.line_num, record)
                    snapshot = self._health(reader.line_num, record)
                except SourceError as error:
                    if not self.lenient:
                        raise
                    self.stats.skipped[f"malformed: {error.field}"] += 1
                    continue
                if pair is None:
                    self.stats.skipped["no positive outcome"] += 1
                else:
                    jobs.append(pair)
                    self.stats.jobs += 1
                if snapshot is not None and snapshot["time"] not in seen_snapshots:
                    seen_snapshots.add(snapshot["time"])
                    health.append(snapshot)
        return jobs, health

    def _optional_number(self, line: int, record: dict[str, str], name: str) -> float | None:
        """Field ``name`` as a finite number, ``None`` when empty."""
        return None if record.get(name, "") == "" else self._number(line, record, name)

    def _number(self, line: int, record: dict[str, str], name: str) -> float:
        """Field ``name`` as a finite number; a :class:`SourceError` naming it otherwise."""
        text = record.get(name, "")
        try:
            value = float(text)
        except ValueError:
            raise SourceError(self.path, line, name, f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise SourceError(self.path, line, name, f"{text!r} is not finite")
        return value

    def _job(self, line: int, record: dict[str, str]) -> tuple[Event, Event | None] | None:
        start = pacific_wall_clock_to_utc(self._number(line, record, "_datetime_start"))
        end = pacific_wall_clock_to_utc(self._number(line, record, "_datetime_end"))
        parts = record.get("darshan_app", "").rstrip("/").split("/")
        if len(parts) < 2 or not parts[-1]:
            raise SourceError(self.path, line, "darshan_app", f"{record.get('darshan_app')!r} names no application")
        nprocs = self._optional_number(line, record, "darshan_nprocs")
        submission: Event = {
            "schema": "job-submission/1", "job_id": record["_jobid"] or f"row{record['_row']}",
            "system": self.system, "time": start, "app": parts[-1],
            "features": {"node_type": parts[-2].removeprefix("bin.cori-"),
                         "file_system": record.get("_file_system") or "datawarp"},
        }
        if nprocs and nprocs >= 1:
            submission["num_procs"] = int(nprocs)
        outcome = {}
        throughput = self._optional_number(line, record, "darshan_agg_perf_by_slowest_posix")
        if throughput and throughput > 0:
            outcome["io_throughput_mibps"] = throughput
        if end > start:
            outcome["runtime_s"] = end - start
        if not outcome:
            return None
        observed = {}
        for name, text in record.items():
            if name.startswith(_OBSERVED_PREFIXES) and text:
                try:
                    value = float(text)
                except ValueError:
                    continue  # paths and API names: descriptive strings, not counters
                if math.isfinite(value):
                    observed[name] = value
        completion: Event = {**submission, "schema": "job-completion/1", "start_time": start,
                             "end_time": end, "status": "completed", "outcome": outcome,
                             "observed_features": observed}
        return submission, completion

    def _health(self, line: int, record: dict[str, str]) -> Event | None:
        stamp = self._optional_number(line, record, "fshealth_ost_actual_timestamp")
        if stamp is None:
            return None
        metrics = {}
        for metric, column in _HEALTH_METRICS.items():
            value = self._optional_number(line, record, column)
            if value is not None:
                metrics[metric] = value
        overloaded = metrics.get("overloaded_ost_count", 0) > 0
        return {"schema": "node-health/1", "system": self.system, "component": SCRATCH,
                "component_type": "file-system", "time": stamp,
                "status": "degraded" if overloaded else "ok", "metrics": metrics}
