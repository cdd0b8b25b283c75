"""From raw Kafka message bytes to a checked event, or to a dead letter that says why not.

Everything the worker cannot use is kept whole: the dead letter carries the value's bytes (base64),
where it came from and the reason, so nothing is lost and an operator can replay it after a fix.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from pipeline.schemas import InvalidEvent, topics, validate

DEFAULT_MAX_BYTES = 256 * 1024  # a job event is ~1 KB; anything this big is a mistake or an attack


class Rejected(ValueError):
    """A message the worker will not process; ``category`` counts it, ``reason`` explains it."""

    def __init__(self, category: str, reason: str):
        super().__init__(f"{category}: {reason}")
        self.category = category
        self.reason = reason

    @classmethod
    def from_invalid(cls, error: InvalidEvent) -> Rejected:
        return cls(error.code, str(error))


def json_object(raw: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """A message's value as a JSON object; raise :class:`Rejected` (oversized, not-utf8, not-json,
    not-an-object) when it is not one."""
    if raw is None:
        raise Rejected("not-json", "empty message (null value)")
    if len(raw) > max_bytes:
        raise Rejected("oversized", f"{len(raw)} bytes, more than the limit of {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected("not-utf8", str(error)) from None
    try:
        value = orjson.loads(text)
    except ValueError as error:
        raise Rejected("not-json", str(error)) from None
    if not isinstance(value, dict):
        raise Rejected("not-an-object", f"the value is a JSON {type(value).__name__}, not an object")
    return value


def decode(raw: bytes | None, key: bytes | None, topic: str, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Parse and check one input message from ``topic``; raise :class:`Rejected` when unusable.

    Checks, in order: size, UTF-8, JSON object, the schema, that the kind belongs on this topic, and
    that the key is the event's system (keys place a system's events on one partition, with its state).

    >>> decode(b'{"schema": "node-health/1", "system": "a", "component": "fs", "time": 1, "status": "ok"}',
    ...        b"a", "hpc.node-health")["status"]
    'ok'
    >>> decode(b"\\xff", None, "hpc.node-health")
    Traceback (most recent call last):
    ...
    pipeline.service.envelope.Rejected: not-utf8: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte
    """
    event = json_object(raw, max_bytes)
    try:
        kind = validate(event)
    except InvalidEvent as error:
        raise Rejected.from_invalid(error) from None
    allowed = topics()[topic]["kinds"]
    if allowed and event["schema"] not in allowed:
        raise Rejected("wrong-topic", f"a {kind} event does not belong on {topic} (it takes {', '.join(allowed)})")
    if key is not None and key != event["system"].encode("utf-8"):
        raise Rejected("wrong-key", f"key {key!r} is not the event's system {event['system']!r}")
    return event


def dead_letter(raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int,
                rejected: Rejected) -> dict[str, Any]:
    """The dead-letter/1 record for a rejected message."""
    return {
        "schema": "dead-letter/1", "topic": topic, "partition": partition, "offset": offset,
        "key_base64": base64.b64encode(key).decode("ascii") if key is not None else None,
        "raw_base64": base64.b64encode(raw or b"").decode("ascii"),
        "reason": rejected.reason[:4096], "category": rejected.category, "time": time.time(),
    }
