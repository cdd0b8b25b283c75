"""``perfstream slurm``: Slurm's job records into perfstream's input topics.

Two feeds: the ``sacct`` command run over a time window (once, or again every few seconds with
``follow``), and the topic that Slurm's jobcomp/kafka plugin publishes to. Every usable record becomes
a job-submission and a job-completion (see :mod:`pipeline.sources.slurm`); every unusable one a
dead-letter/1 record with the reason, and the bridge goes on. Records of the plugin's topic are
committed only after what they produced is on the broker (at least once).

Both describe finished jobs, so a job's prediction comes after it ran. Following sacct with
``pending`` also asks each round for the jobs not finished yet and publishes each one's submission
as soon as it is listed: its prediction is then made while it waits or runs, and its completion
follows alone when it ends.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import Counter, OrderedDict
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from pipeline.schemas import InvalidEvent, topic_for, validate
from pipeline.service.config import KafkaSettings
from pipeline.service.envelope import Rejected, dead_letter, json_object
from pipeline.sources.slurm import SACCT_FORMAT, SlurmJob, SlurmRecordError, array_tasks, jobcomp_job, parse_sacct
from pipeline.sources.timeline import Event, order_key

log = logging.getLogger("perfstream.slurm")

OVERLAP_S = 600.0
FINISHED = "CD,F,TO,CA,NF,OOM,PR,DL,BF"  # sacct's short state names
UNFINISHED = "PD,R,S,RQ"  # pending, running, suspended, requeued (Slurm 22.05 refuses CF)
JobKey = tuple[str, str]  # (system, job id)


@dataclass
class Tally:
    """What a bridge did: jobs published, records skipped (job steps, never ran), records dead-lettered."""

    jobs: int = 0
    skipped: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    ahead: int = 0  # submissions published before their job ended (following sacct with pending)

    def __str__(self) -> str:
        dead = ", ".join(f"{n} {c}" for c, n in sorted(self.dead.items())) or "none"
        ahead = f", {self.ahead} of them submitted ahead of their end" if self.ahead else ""
        return f"{self.jobs} jobs published{ahead}, {self.skipped} records skipped, dead letters: {dead}"


class Outbox:
    """Events to the input topics and rejects to the dead-letter topic, through one producer."""

    def __init__(self, settings: KafkaSettings, tally: Tally):
        self.settings, self.tally = settings, tally
        self.producer = KafkaProducer(**settings.kafka_python(), linger_ms=5, client_id="perfstream-slurm")

    def jobs(self, jobs: Iterable[SlurmJob], submitted: Container[JobKey] = ()) -> None:
        """Publish finished jobs' events in stream order, without the submission of a job in
        ``submitted`` (published ahead); an event our schemas refuse is dead-lettered instead."""
        events: list[Event] = []
        for job in jobs:
            submission, completion = job.events()
            if completion is None:
                self.tally.skipped += 1
                continue
            if not self._valid(submission, completion):
                continue
            ahead = job.key in submitted
            events += [completion] if ahead else [submission, completion]
            self.tally.jobs += 1
            self.tally.ahead += ahead
        self._send(events)

    def submissions(self, jobs: Iterable[SlurmJob]) -> list[SlurmJob]:
        """Publish the submissions of jobs not finished yet; return the jobs whose submission went out."""
        events: list[Event] = []
        sent: list[SlurmJob] = []
        for job in jobs:
            submission, _ = job.events()
            if self._valid(submission):
                events.append(submission)
                sent.append(job)
        self._send(events)
        return sent

    def _valid(self, *events: Event) -> bool:
        """Whether our schemas accept every one of a job's events; if not, the last (the fullest) is
        dead-lettered with the reason."""
        try:
            for event in events:
                validate(event)
        except InvalidEvent as error:
            self.reject(orjson.dumps(events[-1]), "slurm", 0, 0, Rejected.from_invalid(error))
            return False
        return True

    def _send(self, events: list[Event]) -> None:
        for event in sorted(events, key=order_key):
            self.producer.send(self.settings.topic(topic_for(event["schema"], "in")), orjson.dumps(event),
                               key=event["system"].encode())

    def reject(self, raw: bytes, topic: str, partition: int, offset: int, rejected: Rejected) -> None:
        self.tally.dead[rejected.category] += 1
        record = dead_letter(raw, None, topic, partition, offset, rejected)
        self.producer.send(self.settings.topic(topic_for(record["schema"])), orjson.dumps(record))

    def flush(self) -> None:
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()


def sacct_command(since: str, until: str = "now", completion: bool = False, states: str = FINISHED) -> list[str]:
    """The sacct invocation: allocations in ``states`` during the window, the columns perfstream reads."""
    command = ["sacct", "--parsable2", "--allocations", f"--format={SACCT_FORMAT}", f"--starttime={since}",
               f"--endtime={until}", f"--state={states}"]
    if completion:  # no slurmdbd: read the jobcomp/filetxt log instead of the accounting database
        command.insert(1, "--completion")
    return command


def run_sacct(command: list[str]) -> list[str]:
    """sacct's output lines, times as epoch seconds so that no time zone is guessed."""
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "SLURM_TIME_FORMAT": "%s"},
                            timeout=300)
    if result.returncode != 0:
        raise OSError(f"{' '.join(command[:2])} failed ({result.returncode}): {result.stderr.strip()[:500]}")
    return result.stdout.splitlines()


def sacct_jobs(lines: list[str], system: str | None, outbox: Outbox) -> Iterator[SlurmJob]:
    """Jobs of sacct output; unusable rows go to dead letters (topic ``sacct``, offset = line number)."""
    for number, line, item in parse_sacct(enumerate(lines, start=1), system):
        if isinstance(item, SlurmRecordError):
            outbox.reject(line.encode(), "sacct", 0, number, Rejected("schema-violation", str(item)))
        else:
            yield item


def follow_sacct(settings: KafkaSettings, *, since: str, system: str | None = None, completion: bool = False,
                 every_s: float | None = None, pending: bool = False, seen_max: int = 1_000_000) -> Iterator[Tally]:
    """Publish the jobs sacct reports since ``since``; with ``every_s``, ask again forever, new jobs only.

    With ``pending``, each round first publishes the submissions of jobs not finished yet (from the
    accounting database: the job-completion log knows finished jobs only); a job whose submission
    went out ahead gets its completion alone when it ends. The bridge remembers which in memory: a
    restarted one publishes the submissions of jobs still waiting or running again (the worker
    predicts them again; its latest prediction of a job is the one scored).

    Yields the running tally after each round. When following, a failing sacct (slurmdbd restarting,
    say) is logged and asked again next round with the same window, so no job is missed.
    """
    if pending and completion:
        raise ValueError("--pending needs the accounting database: the job-completion log lists finished jobs only")
    tally, published = Tally(), Published(seen_max)
    outbox = Outbox(settings, tally)
    try:
        while True:
            asked_at = time.time()
            try:
                if pending:  # before the finished jobs: one that ends in between is then announced first
                    unfinished = run_sacct(sacct_command(since, states=UNFINISHED))
                    published.announce(sacct_jobs(unfinished, system, outbox), outbox)
                lines = run_sacct(sacct_command(since, completion=completion))
            except OSError as error:
                if every_s is None:
                    raise
                log.warning("%s; asking again in %.0f s", error, every_s)
            else:
                published.publish(sacct_jobs(lines, system, outbox), outbox)
                # the next window overlaps this one by minutes: records written late are not missed,
                # and jobs seen already are not published again
                since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(asked_at - OVERLAP_S))
                yield tally
            if every_s is None:
                return
            time.sleep(every_s)
    finally:
        outbox.close()


class Published:
    """Which jobs a following bridge has published: finished ones, and unfinished ones whose
    submission went out ahead of their end; each kept to the most recent ``most``."""

    def __init__(self, most: int):
        self.most = most
        self.finished: OrderedDict[JobKey, None] = OrderedDict()
        self.ahead: OrderedDict[JobKey, None] = OrderedDict()

    def announce(self, jobs: Iterable[SlurmJob], outbox: Outbox) -> None:
        """Publish the submissions of unfinished jobs not published yet."""
        tasks: list[SlurmJob] = []
        for job in jobs:
            if job.end is not None:  # sacct lists jobs in those states at any time in the window: it ended since
                continue
            try:
                tasks += array_tasks(job)  # a job array waiting as one row: its tasks
            except SlurmRecordError as error:
                outbox.reject(job.job_id.encode(), "sacct", 0, 0, Rejected("schema-violation", str(error)))
        new = [job for job in tasks if job.key not in self.ahead and job.key not in self.finished]
        self._add(self.ahead, outbox.submissions(new))
        outbox.flush()

    def publish(self, jobs: Iterable[SlurmJob], outbox: Outbox) -> None:
        """Publish the finished jobs not published yet (only the completion of one announced ahead)."""
        new = [job for job in jobs if job.key not in self.finished]
        outbox.jobs(new, self.ahead)
        outbox.flush()
        self._add(self.finished, new)
        for job in new:
            self.ahead.pop(job.key, None)

    def _add(self, table: OrderedDict[JobKey, None], jobs: Iterable[SlurmJob]) -> None:
        for job in jobs:
            table[job.key] = None
        while len(table) > self.most:
            table.popitem(last=False)


def bridge_jobcomp(settings: KafkaSettings, topic: str, *, group: str = "perfstream-slurm-jobcomp",
                   system: str | None = None, idle_timeout_s: float | None = None) -> Iterator[Tally]:
    """Consume jobcomp/kafka records from ``topic`` (Slurm's name for it, no prefix) and publish their events.

    Yields the running tally after each batch; stops after ``idle_timeout_s`` without records (None: never).
    """
    tally = Tally()
    outbox = Outbox(settings, tally)
    consumer = KafkaConsumer(topic, **settings.kafka_python(), group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id="perfstream-slurm-jobcomp")
    idle_since = time.monotonic()
    try:
        while idle_timeout_s is None or time.monotonic() - idle_since < idle_timeout_s:
            batches = consumer.poll(timeout_ms=500)
            if not batches:
                continue
            idle_since = time.monotonic()
            jobs = [job for records in batches.values() for job in _jobcomp_jobs(records, system, outbox)]
            outbox.jobs(jobs)
            outbox.flush()
            consumer.commit()  # only now: what these records produced is on the broker
            yield tally
    finally:
        consumer.close()
        outbox.close()


def _jobcomp_jobs(records: list[Any], system: str | None, outbox: Outbox) -> Iterator[SlurmJob]:
    for message in records:
        try:
            yield jobcomp_job(json_object(message.value), system)
        except Rejected as rejected:
            outbox.reject(message.value, message.topic, message.partition, message.offset, rejected)
        except SlurmRecordError as error:
            outbox.reject(message.value, message.topic, message.partition, message.offset,
                          Rejected("schema-violation", str(error)))

