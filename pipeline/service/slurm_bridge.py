"""``perfstream slurm``: Slurm's job records into perfstream's input topics.

Two feeds: the ``sacct`` command run over a time window (once, or again every few seconds with
``follow``), and the topic that Slurm's jobcomp/kafka plugin publishes to. Every usable record becomes
a job-submission and a job-completion (see :mod:`pipeline.sources.slurm`); every unusable one a
dead-letter/1 record with the reason, and the bridge goes on. Records of the plugin's topic are
committed only after what they produced is on the broker (at least once).

Both describe finished jobs, so a job's prediction comes after it ran. Following sacct with
``pending`` also asks each round for the jobs not finished yet and publishes each one's submission
as soon as it is listed: its prediction is then made while it waits or runs, and its completion
follows alone when it ends. A sacct bridge reads back on start which of the jobs it is about to
publish are on the input topics already (a bridge before it published them), and publishes the rest.
An unusable record goes to the dead letters once, however many rounds (or bridges) list it again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import time
from collections import Counter
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.schemas import InvalidEvent, topic_for, validate
from pipeline.service.config import KafkaSettings
from pipeline.service.envelope import Rejected, dead_letter, json_object
from pipeline.service.recent import Recent
from pipeline.service.tools import polled
from pipeline.sources.slurm import SACCT_FORMAT, SlurmJob, SlurmRecordError, array_tasks, jobcomp_job, parse_sacct
from pipeline.sources.timeline import Event, order_key

log = logging.getLogger("perfstream.slurm")

OVERLAP_S = 600.0
FINISHED = "CD,F,TO,CA,NF,OOM,PR,DL,BF"  # sacct's short state names
UNFINISHED = "PD,R,S,RQ"  # pending, running, suspended, requeued (Slurm 22.05 refuses CF)
JobKey = tuple[str, str]  # (system, job id)


@dataclass
class Tally:
    """What a bridge did: jobs published, jobs skipped (never ran, or ran 0 s), records dead-lettered;
    and whether it is still at work (its Prometheus series are read from here, in another thread)."""

    jobs: int = 0
    skipped: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    ahead: int = 0  # jobs published whose submission had gone out before they ended
    announced: int = 0  # submissions published before their job ended (following sacct with pending)
    failures: int = 0  # rounds in which sacct failed
    last_round: float = 0.0  # when sacct last answered, or the plugin's topic was last polled (epoch s)

    def __str__(self) -> str:
        dead = ", ".join(f"{n} {c}" for c, n in sorted(self.dead.items())) or "none"
        ahead = f", {self.ahead} of them submitted ahead of their end" if self.ahead else ""
        return f"{self.jobs} jobs published{ahead}, {self.skipped} records skipped, dead letters: {dead}"


class Outbox:
    """Events to the input topics and rejects to the dead-letter topic, through one producer.

    Each reject goes once (the last ``remember`` are known by their :func:`reject_digest`): a
    following sacct bridge lists a record again in every round whose window holds it, a waiting job
    for as long as it waits. Rejects wait for :meth:`flush`, so that a bridge can first
    :meth:`recall` those its predecessor sent.
    """

    def __init__(self, settings: KafkaSettings, tally: Tally, remember: int = 100_000):
        self.settings, self.tally = settings, tally
        self.producer = KafkaProducer(**settings.kafka_python(), linger_ms=5, client_id="perfstream-slurm")
        self.rejected: Recent[bytes] = Recent(remember)
        self.refusals: dict[bytes, dict[str, Any]] = {}  # dead letters to send at the next flush, by digest

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
        self.tally.announced += len(sent)
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
        """Dead-letter ``raw`` (read from ``topic``) with the reason, at the next :meth:`flush`."""
        digest = reject_digest(topic, raw)
        if digest not in self.rejected and digest not in self.refusals:
            self.refusals[digest] = dead_letter(raw, None, topic, partition, offset, rejected)

    def recall(self, digests: Iterable[bytes]) -> None:
        """Take over the rejects an earlier bridge sent: they go no more."""
        self.rejected.add(digests)

    def flush(self) -> None:
        """Send the rejects not sent before, then wait until the broker has everything."""
        for digest, record in self.refusals.items():
            if digest not in self.rejected:
                self.rejected.add([digest])
                self.tally.dead[record["category"]] += 1
                self.producer.send(self.settings.topic(topic_for(record["schema"])), orjson.dumps(record))
        self.refusals.clear()
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()


def sacct_command(since: str, until: str = "now", completion: bool = False, states: str = FINISHED) -> list[str]:
    """The sacct invocation: every user's allocations in ``states`` during the window, the columns
    perfstream reads (for any user but root, sacct lists the user's own jobs unless asked for all)."""
    command = ["sacct", "--parsable2", "--allocations", "--allusers", f"--format={SACCT_FORMAT}",
               f"--starttime={since}", f"--endtime={until}", f"--state={states}"]
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
                 every_s: float | None = None, pending: bool = False, seen_max: int = 1_000_000,
                 tally: Tally | None = None) -> Iterator[Tally]:
    """Publish the jobs sacct reports since ``since``; with ``every_s``, ask again forever, new jobs only.

    With ``pending``, each round first publishes the submissions of jobs not finished yet (from the
    accounting database: the job-completion log knows finished jobs only); a job whose submission
    went out ahead gets its completion alone when it ends.

    Before its first round's jobs go out, the bridge reads back which of them are on the input topics,
    and which unusable records on the dead-letter topic (:func:`on_topics`): a bridge restarted, or
    run again over the same window, publishes only what its predecessor did not. After that it
    remembers what it published in memory.

    Yields the running tally (``tally``, or a new one) after each round. When following, a failing
    sacct (slurmdbd restarting, say) is logged, counted and asked again next round with the same
    window, so no job is missed.
    """
    if pending and completion:
        raise ValueError("--pending needs the accounting database: the job-completion log lists finished jobs only")
    tally, published = tally or Tally(), Published(seen_max)
    outbox = Outbox(settings, tally)
    recalled = False
    try:
        while True:
            asked_at = time.time()
            try:
                # the unfinished first: a job that ends in between is then announced, then completed
                unfinished = run_sacct(sacct_command(since, states=UNFINISHED)) if pending else []
                lines = run_sacct(sacct_command(since, completion=completion))
            except OSError as error:
                tally.failures += 1
                if every_s is None:
                    raise
                log.warning("%s; asking again in %.0f s", error, every_s)
            else:
                tally.last_round = time.time()
                waiting = waiting_tasks(sacct_jobs(unfinished, system, outbox), outbox)
                finished = list(sacct_jobs(lines, system, outbox))
                if not recalled:  # a bridge restarted: what its predecessor published goes out no more
                    earlier = on_topics(settings, waiting + finished)
                    published.recall(earlier)
                    outbox.recall(earlier.rejected)
                    recalled = True
                published.announce(waiting, outbox)
                published.publish(finished, outbox)
                # the next window overlaps this one by minutes: records written late are not missed,
                # and jobs seen already are not published again
                since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(asked_at - OVERLAP_S))
                yield tally
            if every_s is None:
                return
            time.sleep(every_s)
    finally:
        outbox.close()


def waiting_tasks(jobs: Iterable[SlurmJob], outbox: Outbox) -> list[SlurmJob]:
    """The jobs of sacct's unfinished rows that have not ended, a waiting job array as its tasks."""
    tasks: list[SlurmJob] = []
    for job in jobs:
        if job.end is not None:  # sacct lists jobs in those states at any time in the window: it ended since
            continue
        try:
            tasks += array_tasks(job)
        except SlurmRecordError as error:
            outbox.reject(job.job_id.encode(), "sacct", 0, 0, Rejected("schema-violation", str(error)))
    return tasks


@dataclass
class Earlier:
    """What an earlier bridge left on the topics: jobs with a submission, jobs with a completion, and
    the :func:`reject_digest` of each record it dead-lettered."""

    submitted: set[JobKey] = field(default_factory=set)
    completed: set[JobKey] = field(default_factory=set)
    rejected: set[bytes] = field(default_factory=set)


def on_topics(settings: KafkaSettings, jobs: list[SlurmJob], timeout_s: float = 300.0) -> Earlier:
    """Which of ``jobs`` have a submission, and which a completion, on the input topics, and which
    Slurm records are on the dead-letter topic.

    Reads the records written since the earliest of the jobs' submit times (less ``OVERLAP_S``, for
    clocks that disagree), up to the topics' ends as they are when it starts.
    """
    wanted, earlier = {job.key for job in jobs}, Earlier()
    submissions = settings.topic(topic_for("job-submission/1", "in"))
    completions = settings.topic(topic_for("job-completion/1", "in"))
    dead = settings.topic(topic_for("dead-letter/1"))
    if wanted:
        since_ms = int((min(job.submit for job in jobs) - OVERLAP_S) * 1000)
        for message in _records_since(settings, [submissions, completions, dead], since_ms, timeout_s):
            if message.topic == dead:
                earlier.rejected |= _reject_digests(message.value)
            elif (key := _job_key(message.value)) in wanted:
                (earlier.submitted if message.topic == submissions else earlier.completed).add(key)
        log.info("read back the input topics: %d of %d jobs submitted, %d completed already; %d records "
                 "dead-lettered", len(earlier.submitted), len(wanted), len(earlier.completed), len(earlier.rejected))
    return earlier


def reject_digest(topic: str, raw: bytes) -> bytes:
    """What a dead-lettered record is known by: 16 bytes of the topic it was read from and its bytes."""
    return hashlib.blake2b(topic.encode() + b"\0" + raw, digest_size=16).digest()


def _reject_digests(raw: bytes | None) -> set[bytes]:
    """The digest of the record a dead letter holds (none for a dead letter that cannot be read).
    A worker's dead letters are read alike: their records are never a bridge's rejects."""
    try:
        letter = json_object(raw)
        return {reject_digest(letter["topic"], base64.b64decode(letter["raw_base64"]))}
    except (Rejected, KeyError, TypeError, ValueError):
        return set()


def _records_since(settings: KafkaSettings, topics: list[str], since_ms: int, timeout_s: float) -> Iterator[Any]:
    """The records of ``topics`` written since ``since_ms``, up to the ends the topics have now;
    OSError after ``timeout_s``."""
    consumer = KafkaConsumer(**settings.kafka_python(), group_id=None, enable_auto_commit=False,
                             client_id="perfstream-slurm-recall")
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        starts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        ends = consumer.end_offsets(partitions)
        left = {tp for tp in partitions if starts[tp] is not None and starts[tp].offset < ends[tp]}
        consumer.pause(*(set(partitions) - left))
        for tp in left:
            consumer.seek(tp, starts[tp].offset)
        deadline = time.monotonic() + timeout_s
        while left:
            if time.monotonic() > deadline:
                raise OSError(f"reading back {', '.join(topics)} took over {timeout_s:.0f} s")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                yield from (message for message in messages if message.offset < ends[tp])
                if consumer.position(tp) >= ends[tp]:
                    consumer.pause(tp)
                    left.discard(tp)
    finally:
        consumer.close()


def _job_key(raw: bytes | None) -> JobKey | None:
    try:
        event = json_object(raw)
    except Rejected:  # not ours to judge: the worker dead-letters it
        return None
    system, job_id = event.get("system"), event.get("job_id")
    return (system, job_id) if isinstance(system, str) and isinstance(job_id, str) else None


class Published:
    """Which jobs a following bridge has published: finished ones, and unfinished ones whose
    submission went out ahead of their end; each kept to the most recent ``most``."""

    def __init__(self, most: int):
        self.finished: Recent[JobKey] = Recent(most)
        self.ahead: Recent[JobKey] = Recent(most)

    def recall(self, earlier: Earlier) -> None:
        """Take over what an earlier bridge published: the jobs whose submission and whose completion
        are on the topics (see :func:`on_topics`)."""
        self.finished.add(earlier.completed)
        self.ahead.add(earlier.submitted - earlier.completed)

    def announce(self, jobs: Iterable[SlurmJob], outbox: Outbox) -> None:
        """Publish the submissions of unfinished jobs (see :func:`waiting_tasks`) not published yet."""
        new = [job for job in jobs if job.key not in self.ahead and job.key not in self.finished]
        self.ahead.add(job.key for job in outbox.submissions(new))
        outbox.flush()

    def publish(self, jobs: Iterable[SlurmJob], outbox: Outbox) -> None:
        """Publish the finished jobs not published yet (only the completion of one announced ahead)."""
        new = [job for job in jobs if job.key not in self.finished]
        outbox.jobs(new, self.ahead)
        outbox.flush()
        self.finished.add(job.key for job in new)
        for job in new:
            self.ahead.discard(job.key)


def bridge_jobcomp(settings: KafkaSettings, topic: str, *, group: str = "perfstream-slurm-jobcomp",
                   system: str | None = None, idle_timeout_s: float | None = None,
                   tally: Tally | None = None) -> Iterator[Tally]:
    """Consume jobcomp/kafka records from ``topic`` (Slurm's name for it, no prefix) and publish their events.

    Yields the running tally (``tally``, or a new one) after each batch; stops after ``idle_timeout_s``
    without records (None: never).
    """
    tally = tally or Tally()
    outbox = Outbox(settings, tally)
    consumer = KafkaConsumer(topic, **settings.kafka_python(), group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id="perfstream-slurm-jobcomp")
    try:
        for batches in polled(consumer, idle_timeout_s):
            tally.last_round = time.time()
            if not batches:
                continue
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

