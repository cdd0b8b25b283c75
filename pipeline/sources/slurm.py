"""Slurm job records as perfstream events: ``sacct --parsable2`` output and jobcomp/kafka JSON.

Both kinds of record describe a finished job. Each becomes a job-submission at its submit time and,
when the job ran for a positive number of seconds, a job-completion with outcome ``runtime_s``.
The submission carries only what was known when the job was submitted (request, user, partition,
name); allocated nodes and the wait go into the completion.

Facts about the inputs this relies on:

- sacct prints times in the local time zone, or as epoch seconds with ``SLURM_TIME_FORMAT=%s``;
  ``Unknown`` / ``None`` for times that never happened. ``Timelimit`` is ``[D-]HH:MM:SS`` or bare
  minutes, ``TimelimitRaw`` minutes, ``ElapsedRaw`` seconds. ``State`` may read ``CANCELLED by 1000``.
- ``sacct --completion`` (jobs from a jobcomp/filetxt log, when there is no slurmdbd) prints the
  *start* time under ``Submit`` and the submit time under ``Eligible`` (seen with Slurm 22.05);
  normally ``Submit <= Eligible``, so the earlier of the two is the submit time in both cases.
- jobcomp/kafka (Slurm >= 23.02) sends one JSON object per job. Seen from Slurm 24.11's plugin:
  ``jobid``, ``username``, ``groupname``, ``@submit``, ``@eligible``, ``@start``, ``@end`` (UTC, also
  when slurmctld runs in another zone), ``elapsed`` (s), ``time_limit`` (s, absent when unlimited),
  ``total_cpus``, ``total_nodes``, ``nodes`` (a hostlist), ``partition``, ``state``, ``job_name``; no
  cluster name (``--system`` gives it). ``cluster``, ``account`` and ``qos`` are read when a record
  has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from pipeline.sources.base import SourceError, SourceStats, open_text
from pipeline.sources.timeline import Event, interleave

STATUS = {"COMPLETED": "completed", "FAILED": "failed", "OUT_OF_MEMORY": "failed", "NODE_FAIL": "failed",
          "BOOT_FAIL": "failed", "CANCELLED": "cancelled", "TIMEOUT": "timeout", "DEADLINE": "timeout",
          "PREEMPTED": "partial", "REQUEUED": "partial"}
SACCT_FORMAT = ("JobID,Cluster,User,Group,Account,Partition,QOS,JobName,Submit,Eligible,Start,End,ElapsedRaw,"
                "TimelimitRaw,NNodes,NCPUS,ReqCPUS,NodeList,State")
MAX_NODES = 100_000  # the event schemas' limit on a node list
MAX_ARRAY_TASKS = 100_000  # Slurm's MaxArraySize is 1001 by default and at most 4,000,001


class SlurmRecordError(ValueError):
    """One field of one record is unusable."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field, self.reason = field_name, reason


@dataclass
class SlurmJob:
    """What perfstream takes from one Slurm job record, whichever tool wrote it."""

    job_id: str
    system: str
    submit: float
    start: float | None
    end: float | None
    state: str
    user: str | None = None
    group: str | None = None
    partition: str | None = None
    name: str | None = None
    num_nodes: int | None = None
    num_procs: int | None = None
    time_limit_s: float | None = None
    nodes: list[str] = field(default_factory=list)
    features: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """The job's identity across records: its system and id."""
        return self.system, self.job_id

    @property
    def runtime_s(self) -> float:
        return self.end - self.start if self.start is not None and self.end is not None else 0.0

    def events(self) -> tuple[Event, Event | None]:
        """The job-submission, and the job-completion if the job ran (None otherwise)."""
        submission: Event = {"schema": "job-submission/1", "job_id": self.job_id, "system": self.system,
                             "time": self.submit, "user": self.user, "group": self.group, "queue": self.partition,
                             "app": self.name, "num_nodes": self.num_nodes, "num_procs": self.num_procs,
                             "requested_walltime_s": self.time_limit_s, "features": self.features}
        submission = {k: v for k, v in submission.items() if v is not None}
        if self.start is None or self.runtime_s <= 0:
            return submission, None
        completion: Event = {**submission, "schema": "job-completion/1", "start_time": self.start,
                             "end_time": self.end, "status": STATUS.get(self.state, "unknown"),
                             "outcome": {"runtime_s": self.runtime_s},
                             "observed_features": {"wait_s": max(0.0, self.start - self.submit)}}
        if self.nodes:
            completion["nodes"] = self.nodes
        return submission, completion


def parse_time(text: str | None, zone: tzinfo | None = None, field_name: str = "time") -> float | None:
    """Epoch seconds from a Slurm time: epoch digits, or ISO 8601 (naive ones in ``zone``, default local).

    >>> parse_time("1795932082"), parse_time("2026-11-29T06:01:22Z"), parse_time("Unknown")
    (1795932082.0, 1795932082.0, None)
    """
    if text is None or text.strip() in ("", "Unknown", "None", "N/A"):
        return None
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SlurmRecordError(field_name, f"{text!r} is neither epoch seconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone else moment.astimezone()
    return moment.timestamp()


def parse_duration(text: str, bare_unit_s: float = 60.0, field_name: str = "duration") -> float | None:
    """Seconds from ``[D-]HH:MM:SS``, ``MM:SS`` or a bare number of ``bare_unit_s`` (Slurm: minutes).

    >>> parse_duration("1-02:03:04"), parse_duration("05:00"), parse_duration("30"), parse_duration("UNLIMITED")
    (93784.0, 300.0, 1800.0, None)
    """
    text = text.strip()
    if text in ("", "UNLIMITED", "Partition_Limit", "INVALID", "Unknown"):
        return None
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text)
    if match:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) * bare_unit_s
    raise SlurmRecordError(field_name, f"{text!r} is not a Slurm duration")


def expand_hostlist(text: Any, field_name: str = "nodes") -> list[str]:
    """Node names from a Slurm hostlist.

    >>> expand_hostlist("cn[01-03,07],gpu5")
    ['cn01', 'cn02', 'cn03', 'cn07', 'gpu5']
    """
    if text is not None and not isinstance(text, str):
        raise SlurmRecordError(field_name, f"{text!r} is not a hostlist")
    if not text or text.strip() in ("None assigned", "(null)", "None"):
        return []
    names: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\][^,\[]*)*", text):
        names += _expand_one(part, field_name)
        if len(names) > MAX_NODES:
            raise SlurmRecordError(field_name, f"more than {MAX_NODES} nodes")
    return names


def _expand_one(name: str, field_name: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", name)
    if not match:
        return [name]
    head, tail = name[:match.start()], name[match.end():]
    out = []
    for item in match.group(1).split(","):
        low, _, high = item.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise SlurmRecordError(field_name, f"bad range {item!r} in {name!r}")
        for number in range(int(low), int(high or low) + 1):
            out += _expand_one(f"{head}{number:0{len(low)}d}{tail}", field_name)
    return out


def array_tasks(job: SlurmJob) -> list[SlurmJob]:
    """A job array still waiting as one record (``30_[1-7:2,9%4]``) as its tasks, each under the id
    it will run as (``30_1``, ``30_3``, ...); any other job as itself.

    >>> waiting = SlurmJob("30_[1-5:2,8%2]", "c", 0.0, None, None, "PENDING")
    >>> [task.job_id for task in array_tasks(waiting)]
    ['30_1', '30_3', '30_5', '30_8']
    """
    match = re.fullmatch(r"(\d+)_\[([^\]]*)\]", job.job_id)
    if not match:
        return [job]
    base, spec = match.group(1), match.group(2).split("%")[0]  # after % : how many may run at once
    numbers: list[int] = []
    for part in spec.split(","):
        task = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not task:
            raise SlurmRecordError("JobID", f"{part!r} in {job.job_id!r} is not an array range")
        low, step = int(task.group(1)), int(task.group(3) or 1)
        if step < 1:
            raise SlurmRecordError("JobID", f"{part!r} in {job.job_id!r} has a step of 0")
        span = range(low, int(task.group(2) or low) + 1, step)
        if len(numbers) + len(span) > MAX_ARRAY_TASKS:  # counted before it is spelled out
            raise SlurmRecordError("JobID", f"{job.job_id!r} has more than {MAX_ARRAY_TASKS} tasks")
        numbers += span
    return [replace(job, job_id=f"{base}_{number}") for number in numbers]


def _count(text: Any, field_name: str) -> int | None:
    if text in (None, ""):
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise SlurmRecordError(field_name, f"{text!r} is not a whole number") from None
    return value if value > 0 else None


def _owner(text: str | None) -> str | None:
    """``root(0)`` (sacct --completion) -> ``root``."""
    return text.split("(", 1)[0] or None if text else None


def _features(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def _time(values: Mapping[str, Any], name: str, zone: tzinfo | None) -> float | None:
    return parse_time(values.get(name), zone, name)


def sacct_job(row: Mapping[str, str], system: str | None = None, zone: tzinfo | None = None) -> SlurmJob | None:
    """One ``sacct --parsable2`` row (column name -> text) as a job; None for a job step's row."""
    job_id = row.get("JobID") or row.get("JobIDRaw")
    if not job_id:
        raise SlurmRecordError("JobID", "missing")
    if "." in job_id:
        return None  # a step (batch, extern, 0, ...): the allocation's own row describes the job
    system = system or (row.get("Cluster") if row.get("Cluster") != "unknown" else None)
    if not system:  # sacct --completion prints "unknown": the jobcomp log does not know the cluster
        raise SlurmRecordError("Cluster", "no cluster name in the record: pass the system's name")
    submits = [t for t in (_time(row, "Submit", zone), _time(row, "Eligible", zone)) if t is not None]
    if not submits:
        raise SlurmRecordError("Submit", "no submit time")
    if not row.get("State"):
        raise SlurmRecordError("State", "missing")
    limit_column = "TimelimitRaw" if row.get("TimelimitRaw") else "Timelimit"
    limit = parse_duration(row[limit_column], 60.0, limit_column) if row.get(limit_column) else None
    return SlurmJob(
        job_id=job_id, system=system, submit=min(submits), start=_time(row, "Start", zone),
        end=_time(row, "End", zone), state=row["State"].split()[0], user=_owner(row.get("User")),
        group=_owner(row.get("Group")), partition=row.get("Partition") or None, name=row.get("JobName") or None,
        num_nodes=_count(row.get("NNodes"), "NNodes"),
        num_procs=_count(row.get("ReqCPUS"), "ReqCPUS") or _count(row.get("NCPUS"), "NCPUS"),
        time_limit_s=limit, nodes=expand_hostlist(row.get("NodeList"), "NodeList"),
        features=_features(account=row.get("Account"), qos=row.get("QOS")))


def jobcomp_job(record: Any, system: str | None = None) -> SlurmJob:
    """One record of Slurm's jobcomp/kafka (or jobcomp/elasticsearch) plugin as a job."""
    if not isinstance(record, Mapping):
        raise SlurmRecordError("record", f"a JSON {type(record).__name__}, not an object")
    if not isinstance(record.get("jobid"), int) or record["jobid"] <= 0:
        raise SlurmRecordError("jobid", f"{record.get('jobid')!r} is not a positive job number")
    system = system or record.get("cluster")
    if not system:
        raise SlurmRecordError("cluster", "no cluster name in the record: pass the system's name")
    submit = _time(record, "@submit", UTC)
    if submit is None:
        raise SlurmRecordError("@submit", "missing")
    if not isinstance(record.get("state"), str) or not record["state"]:
        raise SlurmRecordError("state", "missing")
    limit = record.get("time_limit")
    if limit is not None and (not isinstance(limit, int | float) or limit <= 0):
        raise SlurmRecordError("time_limit", f"{limit!r} is not a positive number of seconds")
    return SlurmJob(
        job_id=str(record["jobid"]), system=str(system), submit=submit, start=_time(record, "@start", UTC),
        end=_time(record, "@end", UTC), state=record["state"].split()[0],
        user=record.get("username") or _id_name("uid", record.get("user_id")),
        group=record.get("groupname") or _id_name("gid", record.get("group_id")),
        partition=record.get("partition") or None, name=record.get("job_name") or None,
        num_nodes=_count(record.get("total_nodes"), "total_nodes"),
        num_procs=_count(record.get("total_cpus"), "total_cpus"), time_limit_s=limit,
        nodes=expand_hostlist(record.get("nodes")),
        features=_features(account=record.get("account"), qos=record.get("qos")))


def _id_name(prefix: str, number: Any) -> str | None:
    return f"{prefix}{number}" if isinstance(number, int) else None


def parse_sacct(lines: Iterable[tuple[int, str]], system: str | None = None, zone: tzinfo | None = None
                ) -> Iterator[tuple[int, str, SlurmJob | SlurmRecordError]]:
    """``(line number, line, job)`` for each job of numbered ``sacct --parsable2`` lines, whose first
    non-blank line is the header; a row that cannot be used comes with its error instead of a job, and
    job steps are left out. A header without the needed columns ends the output with its error (field
    ``header``).
    """
    header: list[str] | None = None
    for number, line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        values = line.split("|")
        if header is None:
            header = values
            missing = [n for n in ("JobID", "Start", "End", "State") if n not in header]
            if "Submit" not in header and "Eligible" not in header:
                missing.append("Submit")
            if missing:
                yield number, line, SlurmRecordError("header", f"no column {', '.join(missing)} (is this "
                                                     "`sacct --parsable2` output with its header line?)")
                return
            continue
        try:
            job = sacct_job(_row(header, values), system, zone)
        except SlurmRecordError as error:
            yield number, line, error
            continue
        if job is not None:
            yield number, line, job


def _row(header: list[str], values: list[str]) -> dict[str, str]:
    """A sacct line's fields by column. sacct does not escape its delimiter: a job name holding ``|``
    (Slurm allows it) splits into more fields than the header has; the job name is the one column
    of free text, so the extra fields are its own."""
    extra = len(values) - len(header)
    if extra > 0 and "JobName" in header:
        at = header.index("JobName")
        values = [*values[:at], "|".join(values[at:at + extra + 1]), *values[at + extra + 1:]]
    if len(values) != len(header):
        raise SlurmRecordError("line", f"{len(values)} fields, the header has {len(header)}")
    return dict(zip(header, values, strict=True))


class SacctSource:
    """Events from a file of ``sacct --parsable2`` output (its header line names the columns).

    Parameters
    ----------
    path
        The file, plain or gzip; ``sacct --parsable2 --format=`` :data:`SACCT_FORMAT` writes the most
        useful one, any format with JobID, Submit (or Eligible), Start, End and State works.
    system
        The system's name; default: each row's Cluster column.
    zone
        Time zone of naive times (sacct prints local time); default: this machine's.
    lenient
        Skip unusable rows (counted in ``stats.skipped``) instead of raising
        :class:`~pipeline.sources.base.SourceError`.
    """

    kind = "sacct"

    def __init__(self, path: str | Path, system: str | None = None, zone: tzinfo | None = None,
                 lenient: bool = False):
        self.path, self.system, self.zone, self.lenient = Path(path), system, zone, lenient
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Event]:
        self.stats = SourceStats()
        with open_text(self.path) as lines:
            jobs = list(self._jobs(enumerate(lines, start=1)))
        jobs.sort(key=lambda job: job.submit)  # sacct lists by job id; the stream goes by submit time
        return interleave(self._pairs(jobs))

    def _pairs(self, jobs: Iterable[SlurmJob]) -> Iterator[tuple[Event, Event | None]]:
        for job in jobs:
            submission, completion = job.events()
            if completion is None:
                self.stats.skipped["no positive run time"] += 1
                continue
            self.stats.jobs += 1
            yield submission, completion

    def _jobs(self, lines: Iterable[tuple[int, str]]) -> Iterator[SlurmJob]:
        for number, _, item in parse_sacct(lines, self.system, self.zone):
            if not isinstance(item, SlurmRecordError):
                yield item
            elif self.lenient and item.field != "header":  # without its header nothing else can be read
                self.stats.skipped[f"malformed: {item.field}"] += 1
            else:
                raise SourceError(self.path, number, item.field, item.reason)
