"""``perfstream slurm annotate``: each waiting job's prediction written back into Slurm.

Admins and their tools look at Slurm, not at Kafka. This follows ``hpc.predictions`` and sets the
``AdminComment`` of each job predicted at its submission (``scontrol update``), where ``scontrol
show job`` shows it and the accounting database keeps it (``sacct -o AdminComment``; squeue 22.05
has no such column). It replaces what the field held. Slurm lets only administrators set it (root,
its SlurmUser).

Offsets are committed after each batch's updates (at least once: a crash repeats a few, and the
same text is written again). Predictions older than ``max_age_s`` are passed over: their jobs have
long ended.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer

from pipeline.schemas import InvalidEvent, validate
from pipeline.service.config import KafkaSettings
from pipeline.service.envelope import Rejected, json_object
from pipeline.service.tools import polled

log = logging.getLogger("perfstream.slurm")

PREDICTIONS = "hpc.predictions"
GONE = ("Invalid job id", "already completed", "already finished")  # scontrol's words for a job that ended


@dataclass
class Annotated:
    """What an annotator did: jobs annotated, jobs that had ended first, updates Slurm refused."""

    written: int = 0
    gone: int = 0
    refused: int = 0

    def __str__(self) -> str:
        return f"{self.written} jobs annotated, {self.gone} ended before, {self.refused} refused"


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
    return subprocess.run(["scontrol", "update", f"JobId={job_id}", f"AdminComment={text}"], capture_output=True,
                          text=True, timeout=60)


def annotate(settings: KafkaSettings, system: str, *, target: str = "runtime_s",
             group: str = "perfstream-slurm-annotate", max_age_s: float = 86_400.0,
             idle_timeout_s: float | None = None) -> Iterator[Annotated]:
    """Write ``system``'s ``target`` predictions made at submission into its jobs' AdminComment.

    Yields the running tally after each batch; stops after ``idle_timeout_s`` without records (None: never).
    """
    tally = Annotated()
    consumer = KafkaConsumer(settings.topic(PREDICTIONS), **settings.kafka_python(), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             client_id="perfstream-slurm-annotate")
    try:
        for batches in polled(consumer, idle_timeout_s):
            if not batches:
                continue
            oldest_ms = (time.time() - max_age_s) * 1000
            for records in batches.values():
                for message in records:
                    record = _wanted(message.value, system, target)
                    if record is not None and message.timestamp >= oldest_ms:
                        _write(record, tally)
            consumer.commit()
            yield tally
    finally:
        consumer.close()


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


def _write(record: Mapping[str, Any], tally: Annotated) -> None:
    result = scontrol_update(record["job_id"], annotation(record))
    if result.returncode == 0:
        tally.written += 1
    elif any(words in result.stderr for words in GONE):
        tally.gone += 1
    else:
        tally.refused += 1
        log.warning("scontrol refused to annotate job %s: %s", record["job_id"], result.stderr.strip()[:300])
