"""TOKIO "Year in the Life" per-job summaries (CSV, plain or gzip): NERSC's Cori and Edison.

Lockwood et al., "A Year in the Life of a Parallel File System", SC18. One row per benchmark job.
The header has one name fewer than each row (the first field is an unnamed index), so names are
shifted by one. A Slurm job ran several benchmarks in turn, one row each, so a row's id is
``<jobid>.<n>``, numbered in start order. Per row the source yields a job-submission at the start
with what is known before the run (application, node type, process count, target file system), a
job-completion at the end with ``io_throughput_mibps`` and ``runtime_s`` (run-time counters travel
as ``observed_features``, never on the submission), and a node-health event for the row's file
system for each distinct ``fshealth_*`` snapshot of it, at the snapshot's own time.

The files are named after their system (``edison-summaries_2017-02-14-2018-02-15.csv.gz``), and so
are the events. ``_datetime_start``/``_datetime_end`` hold wall-clock time written as epoch seconds:
Pacific at NERSC (7 or 8 hours, by daylight saving, before Darshan's own UTC stamps), and the
publishers say ALCF's Mira file was converted from Chicago time as if it were Pacific. So a row is
put on UTC by the whole hours between its start and Darshan's start stamp (``darshan_start_time``),
which every row of Cori's file has and which agrees with the Pacific reading on all 11,232 of them;
a row without that stamp is read as Pacific. Jobs and health snapshots then share one clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
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
# DataWarp, Cori's burst buffer: TOKIO leaves ``_file_system`` empty for the runs that wrote to it
BURST_BUFFER = "datawarp"


def pacific_wall_clock_to_utc(seconds: float) -> float:
    """Epoch seconds that encode Pacific wall-clock time -> true UTC epoch seconds."""
    wall = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=_PACIFIC)
    return wall.timestamp()


def system_from_filename(path: str | Path) -> str:
    """``edison-summaries_2017-02-14-2018-02-15.csv.gz`` -> ``edison``: the name's first word.

    >>> system_from_filename("data/cori-summaries_2017-02-14-2018-02-15.csv.gz")
    'cori'
    """
    match = re.match(r"[A-Za-z0-9]+", Path(path).name)
    return match.group(0).lower() if match else "tokio"


def node_type(binary_dir: str) -> str:
    """The node type a benchmark binary was built for, from its directory: ``bin.cori-knl`` -> ``knl``;
    a machine of one node type is named by itself (``bin.edison`` -> ``edison``)."""
    machine, _, node = binary_dir.removeprefix("bin.").partition("-")
    return node or machine


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
        The ``cori-summaries_*.csv.gz`` (or ``edison-summaries_*``) file.
    system
        System name for the events; default: from the file name (``cori``).
    lenient
        Skip malformed rows (counted in ``stats.skipped``) instead of raising.
    """

    kind = "tokio"

    def __init__(self, path: str | Path, system: str | None = None, lenient: bool = False):
        self.path, self.lenient = Path(path), lenient
        self.system = system or system_from_filename(path)
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
        jobs, health, seen_snapshots = [], [], set()  # snapshots by file system and time
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
                    self.stats.skipped["ends when or before it starts"] += 1
                else:
                    jobs.append(pair)
                    self.stats.jobs += 1
                if snapshot is not None and (snapshot["component"], snapshot["time"]) not in seen_snapshots:
                    seen_snapshots.add((snapshot["component"], snapshot["time"]))
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
        start, end = self._utc_times(line, record)
        if end <= start:  # its completion would come before its submission in the stream
            return None
        parts = record.get("darshan_app", "").rstrip("/").split("/")
        if len(parts) < 2 or not parts[-1]:
            raise SourceError(self.path, line, "darshan_app", f"{record.get('darshan_app')!r} names no application")
        nprocs = self._optional_number(line, record, "darshan_nprocs")
        submission: Event = {
            "schema": "job-submission/1", "job_id": record["_jobid"] or f"row{record['_row']}",
            "system": self.system, "time": start, "app": parts[-1],
            "features": {"node_type": node_type(parts[-2]),
                         "file_system": record.get("_file_system") or BURST_BUFFER},
        }
        if nprocs and nprocs >= 1:
            submission["num_procs"] = int(nprocs)
        outcome = {}
        throughput = self._optional_number(line, record, "darshan_agg_perf_by_slowest_posix")
        if throughput and throughput > 0:
            outcome["io_throughput_mibps"] = throughput
        outcome["runtime_s"] = end - start
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

    def _utc_times(self, line: int, record: dict[str, str]) -> tuple[float, float]:
        """The row's start and end on UTC (see the module's docstring for why whole hours)."""
        start = self._number(line, record, "_datetime_start")
        end = self._number(line, record, "_datetime_end")
        darshan_start = self._optional_number(line, record, "darshan_start_time")
        if darshan_start is None:
            return pacific_wall_clock_to_utc(start), pacific_wall_clock_to_utc(end)
        offset = 3600.0 * round((darshan_start - start) / 3600.0)
        return start + offset, end + offset

    def _health(self, line: int, record: dict[str, str]) -> Event | None:
        """The row's snapshot of its file system's OSTs, if it has one (only Lustre rows do)."""
        stamp = self._optional_number(line, record, "fshealth_ost_actual_timestamp")
        file_system = record.get("_file_system")
        if stamp is None or not file_system:
            return None
        metrics = {}
        for metric, column in _HEALTH_METRICS.items():
            value = self._optional_number(line, record, column)
            if value is not None:
                metrics[metric] = value
        overloaded = metrics.get("overloaded_ost_count", 0) > 0
        return {"schema": "node-health/1", "system": self.system, "component": file_system,
                "component_type": "file-system", "time": stamp,
                "status": "degraded" if overloaded else "ok", "metrics": metrics}
