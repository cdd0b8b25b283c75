"""``perfstream slurm annotate``: each waiting job's prediction written back into Slurm.

Admins and their tools look at Slurm, not at Kafka. This follows ``hpc.predictions`` and sets the
``AdminComment`` of each job predicted at its submission (``scontrol update``), where ``scontrol
show job`` shows it and the accounting database keeps it (``sacct -o AdminComment``; squeue 22.05
has no such column). It replaces what the field held. Slurm lets only administrators set it (root,
its SlurmUser).

A waiting job array is annotated as a whole, once, with its first task's prediction: updating a
waiting task alone splits it off the array's single record into one of its own, and a large array
annotated task by task would fill slurmctld's job table (``MaxJobCount``). Tasks inherit the text
when they start.

Offsets are committed after each batch's updates (at least once: a crash repeats a few, and the
same text is written again). While slurmctld does not answer (``scontrol ping``), the batch waits
and is tried again: no prediction is lost to a controller restart. Predictions older than
``max_age_s`` are passed over: their jobs have long ended.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer

from pipeline.schemas import InvalidEvent, validate
from pipeline.service.config import KafkaSettings
from pipeline.service.envelope import Rejected, json_object
from pipeline.service.recent import Recent
from pipeline.service.tools import polled

log = logging.getLogger("perfstream.slurm")

PREDICTIONS = "hpc.predictions"
GONE = ("Invalid job id", "already completed", "already finished")  # scontrol's words for a job that ended


@dataclass
class Annotated:
    """What an annotator did: jobs (or whole arrays) annotated, array tasks whose array was annotated
    already, jobs that had ended first, updates Slurm refused."""

    written: int = 0
    in_array: int = 0
    gone: int = 0
    refused: int = 0
    unreachable: int = 0  # rounds in which slurmctld did not answer (their predictions waited)
    last_round: float = 0.0  # when nothing last waited for slurmctld (Unix time; 0: not yet)

    def __str__(self) -> str:
        waited = f", slurmctld away {self.unreachable} times" if self.unreachable else ""
        arrays = f" (and {self.in_array} tasks of arrays annotated whole)" if self.in_array else ""
        return f"{self.written} jobs annotated{arrays}, {self.gone} ended before, {self.refused} refused{waited}"


def annotation(record: Mapping[str, Any]) -> str:
    """The text a prediction record becomes in Slurm.

    >>> annotation({"target": "runtime_s", "predicted": 1234.4, "low": 800.0, "high": 2000.0,
    ...             "basis": "own runs", "model": {"strategy": "consensus", "version": 1}})
    'perfstream runtime_s 1234 (80%: 800-2000; own runs; consensus)'
    """
    basis = f"; {record['basis']}" if record.get("basis") else ""
    return (f"perfstream {record['target']} {record['predicted']:.4g} (80%: {record['low']:.4g}-{record['high']:.4g}"
            f"{basis}; {record['model']['strategy']})")


def scontrol_update(job_id: str, text: str) -> subprocess.CompletedProcess[str]:
    command = ["scontrol", "update", f"JobId={job_id}", f"AdminComment={text}"]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", "scontrol update timed out after 60 s")


def controller_up() -> bool:
    """Whether slurmctld answers (``scontrol ping``)."""
    try:
        return subprocess.run(["scontrol", "ping"], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def annotate(settings: KafkaSettings, system: str, *, target: str = "runtime_s",
             group: str = "perfstream-slurm-annotate", max_age_s: float = 86_400.0,
             idle_timeout_s: float | None = None, retry_s: float = 10.0,
             tally: Annotated | None = None) -> Iterator[Annotated]:
    """Write ``system``'s ``target`` predictions made at submission into its jobs' AdminComment.

    Yields the running tally (``tally``, or a new one) after each batch; stops after
    ``idle_timeout_s`` without records (None: never). A batch that finds slurmctld away is tried
    again after ``retry_s``, from its first prediction not written.
    """
    if shutil.which("scontrol") is None:
        raise OSError("scontrol is not on PATH: the annotator runs where Slurm's client commands and slurm.conf are")
    annotator = Annotator(system, target, max_age_s, tally or Annotated())
    consumer = KafkaConsumer(settings.topic(PREDICTIONS), **settings.kafka_python(), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             client_id="perfstream-slurm-annotate")
    try:
        for batches in polled(consumer, idle_timeout_s):
            if not batches:
                annotator.tally.last_round = time.time()
                continue
            if annotator.write_batch(batches, consumer):
                annotator.tally.last_round = time.time()
            else:
                annotator.tally.unreachable += 1
                log.warning("slurmctld does not answer (scontrol ping); trying again in %.0f s", retry_s)
                time.sleep(retry_s)
            consumer.commit()
            yield annotator.tally
    finally:
        consumer.close()


class Annotator:
    """Writes one system's predictions of one target into Slurm, counting how each went in ``tally``;
    remembers the last ``arrays`` job arrays it annotated."""

    def __init__(self, system: str, target: str, max_age_s: float, tally: Annotated, arrays: int = 100_000):
        self.system, self.target, self.max_age_s, self.tally = system, target, max_age_s, tally
        self.arrays: Recent[str] = Recent(arrays)

    def write_batch(self, batches: Mapping[Any, list[Any]], consumer: KafkaConsumer) -> bool:
        """Write a poll's predictions; when slurmctld is away, rewind ``consumer`` to the first one not
        written and return False."""
        oldest_ms = (time.time() - self.max_age_s) * 1000
        partitions = list(batches.items())
        for index, (partition, records) in enumerate(partitions):
            for message in records:
                record = _wanted(message.value, self.system, self.target)
                if record is not None and message.timestamp >= oldest_ms and not self.write(record):
                    consumer.seek(partition, message.offset)
                    for later, rest in partitions[index + 1:]:
                        consumer.seek(later, rest[0].offset)
                    return False
        return True

    def write(self, record: Mapping[str, Any]) -> bool:
        """Annotate one job, or its array, and count how it went; False, counting nothing, when
        slurmctld is away."""
        job_id, tally = record["job_id"], self.tally
        array = job_id.split("_")[0] if "_" in job_id else None  # task 7 of array 1234 runs as 1234_7
        if array in self.arrays:
            tally.in_array += 1
            return True
        result = scontrol_update(array or job_id, annotation(record))
        if result.returncode == 0:
            tally.written += 1
            if array:
                self.arrays.add([array])
        elif any(words in result.stderr for words in GONE):
            tally.gone += 1
        elif not controller_up():  # 22.05 words an unreachable controller "Unexpected message received"
            return False
        else:
            tally.refused += 1
            log.warning("scontrol refused to annotate job %s: %s", job_id, result.stderr.strip()[:300])
        return True


def _wanted(raw: bytes | None, system: str, target: str) -> dict[str, Any] | None:
    """The record when it is a submission-time prediction of ``target`` on ``system``."""
    try:
        record = json_object(raw)
        validate(record)
    except (Rejected, InvalidEvent):  # the workers write this topic; anything else on it is not ours to judge
        return None
    ours = (record["schema"] == "prediction/1" and record["stage"] == "submission" and record["system"] == system
            and record["target"] == target)
    return record if ours else None
