"""kafka-python tools around the topics: ``perfstream publish``, ``perfstream tail``, and the poll loop
of the Slurm commands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from pipeline.schemas import topic_for
from pipeline.service.config import KafkaSettings
from pipeline.sources.timeline import event_time


def pacing(speedup: float | None, rate: float | None) -> Callable[[dict[str, Any]], float]:
    """Seconds to wait before each event: by its event time / ``speedup``, or ``1/rate``, or not at all."""
    if speedup:
        origin: float | None = None

        def by_time(event: dict[str, Any]) -> float:
            nonlocal origin
            t = event_time(event)
            origin = t if origin is None else origin
            return (t - origin) / speedup
        return by_time
    if rate:
        count = iter(range(1 << 62))
        return lambda event: next(count) / rate
    return lambda event: 0.0


def publish(events: Iterable[dict[str, Any]], settings: KafkaSettings, *, speedup: float | None = None,
            rate: float | None = None) -> Iterator[dict[str, Any]]:
    """Send events to their input topics, keyed by system, in the given (time) order; yield each once sent."""
    producer = KafkaProducer(**settings.kafka_python(), linger_ms=5, batch_size=256 * 1024,
                             client_id="perfstream-publish")
    due, start = pacing(speedup, rate), time.monotonic()
    try:
        for event in events:
            wait = start + due(event) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            producer.send(settings.topic(topic_for(event["schema"], "in")), json.dumps(event).encode(),
                          key=event["system"].encode())
            yield event
        producer.flush()
    finally:
        producer.close()


def polled(consumer: KafkaConsumer, idle_timeout_s: float | None) -> Iterator[dict[Any, list[Any]]]:
    """What each ``consumer.poll`` brings (empty when nothing came), until ``idle_timeout_s`` pass
    without a record (None: forever)."""
    idle_since = time.monotonic()
    while idle_timeout_s is None or time.monotonic() - idle_since < idle_timeout_s:
        batches = consumer.poll(timeout_ms=500)
        if batches:
            idle_since = time.monotonic()
        yield batches


def tail(topic: str, settings: KafkaSettings, *, system: str | None = None, from_beginning: bool = False,
         idle_timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
    """Records of ``topic`` (named as in topics.yaml) as they arrive, optionally one system's only.

    Stops after ``idle_timeout_s`` without a record, or never when it is None.
    """
    consumer = KafkaConsumer(settings.topic(topic), **settings.kafka_python(), group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest" if from_beginning else "latest",
                             consumer_timeout_ms=int(idle_timeout_s * 1000) if idle_timeout_s else float("inf"),
                             client_id="perfstream-tail")
    try:
        for message in consumer:
            try:
                record = json.loads(message.value)
            except (TypeError, ValueError):
                record = {"undecodable": repr(message.value[:200])}
            if system is None or record.get("system") == system:
                yield record
    finally:
        consumer.close()
