"""``perfstream slurm``: Slurm's job records into perfstream's input topics.

Two feeds: the ``sacct`` command run over a time window (once, or again every few seconds with
``follow``), and the topic that Slurm's jobcomp/kafka plugin publishes to. Every usable record becomes
a job-submission and a job-completion (see :mod:`pipeline.sources.slurm`); every unusable one a
dead-letter/1 record with the reason, and the bridge goes on. Records of the plugin's topic are
committed only after what they produced is on the broker (at least once).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from pipeline.schemas import InvalidEvent, topic_for, validate
from pipeline.service.config import KafkaSettings
from pipeline.service.envelope import Rejected, dead_letter, json_object
from pipeline.sources.slurm import SACCT_FORMAT, SlurmJob, SlurmRecordError, jobcomp_job, parse_sacct
from pipeline.sources.timeline import Event, order_key

log = logging.getLogger("perfstream.slurm")

OVERLAP_S = 600.0


@dataclass
class Tally:
    """What a bridge did: jobs published, records skipped (job steps, never ran), records dead-lettered."""

    jobs: int = 0
    skipped: int = 0
    dead: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        dead = ", ".join(f"{n} {c}" for c, n in sorted(self.dead.items())) or "none"
        return f"{self.jobs} jobs published, {self.skipped} records skipped, dead letters: {dead}"


class Outbox:
    """Events to the input topics and rejects to the dead-letter topic, through one producer."""

    def __init__(self, settings: KafkaSettings, tally: Tally):
        self.settings, self.tally = settings, tally
        self.producer = KafkaProducer(**settings.kafka_python(), linger_ms=5, client_id="perfstream-slurm")

    def jobs(self, jobs: Iterable[SlurmJob]) -> None:
        """Publish jobs' events in stream order; an event our schemas refuse is dead-lettered instead."""
        events: list[Event] = []
        for job in jobs:
            submission, completion = job.events()
            if completion is None:
                self.tally.skipped += 1
                continue
            try:
                validate(submission)
                validate(completion)
            except InvalidEvent as error:
                self.reject(orjson.dumps(completion), "slurm", 0, 0, Rejected.from_invalid(error))
                continue
            events += [submission, completion]
            self.tally.jobs += 1
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


def sacct_command(since: str, until: str = "now", completion: bool = False) -> list[str]:
    """The sacct invocation: finished allocations in the window, the columns perfstream reads."""
    command = ["sacct", "--parsable2", "--allocations", f"--format={SACCT_FORMAT}", f"--starttime={since}",
               f"--endtime={until}", "--state=CD,F,TO,CA,NF,OOM,PR,DL,BF"]
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
                 every_s: float | None = None, seen_max: int = 1_000_000) -> Iterator[Tally]:
    """Publish the jobs sacct reports since ``since``; with ``every_s``, ask again forever, new jobs only.

    Yields the running tally after each round. When following, a failing sacct (slurmdbd restarting,
    say) is logged and asked again next round with the same window, so no job is missed.
    """
    tally, seen = Tally(), OrderedDict[tuple[str, str], None]()
    outbox = Outbox(settings, tally)
    try:
        while True:
            asked_at = time.time()
            try:
                lines = run_sacct(sacct_command(since, completion=completion))
            except OSError as error:
                if every_s is None:
                    raise
                log.warning("%s; asking again in %.0f s", error, every_s)
            else:
                _publish_new(sacct_jobs(lines, system, outbox), seen, seen_max, outbox)
                # the next window overlaps this one by minutes: records written late are not missed,
                # and jobs seen already are not published again
                since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(asked_at - OVERLAP_S))
                yield tally
            if every_s is None:
                return
            time.sleep(every_s)
    finally:
        outbox.close()


def _publish_new(jobs: Iterable[SlurmJob], seen: OrderedDict[tuple[str, str], None], seen_max: int,
                 outbox: Outbox) -> None:
    new = [job for job in jobs if (job.system, job.job_id) not in seen]
    outbox.jobs(new)
    outbox.flush()
    for job in new:
        seen[(job.system, job.job_id)] = None
    while len(seen) > seen_max:
        seen.popitem(last=False)


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

