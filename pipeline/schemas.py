"""The topic contracts of ``topics/``, loaded once and compiled into validators.

Every message carries ``"schema": "<kind>/<version>"``; :func:`validate` checks it against
``topics/<kind>.schema.json``. Nothing in the code restates a schema by hand.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml


class InvalidEvent(ValueError):
    """An event that breaks its contract; ``reason`` says how, ``field`` where (if known).

    ``code`` is a short category for counting (a dead letter's ``category``): ``schema-violation``,
    ``unknown-schema``, ``unknown-version``, ``wrong-kind``, ``unknown-target``, ``late-submission``,
    ``duplicate-submission`` or ``duplicate-completion``.
    """

    def __init__(self, reason: str, field: str | None = None, code: str = "schema-violation"):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field
        self.code = code


def topics_dir() -> Path:
    """Where the contracts live: inside the installed package, else at the repository root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "topics", here.parent / "topics"):
        if (candidate / "topics.yaml").is_file():
            return candidate
    raise FileNotFoundError("topics/ with topics.yaml not found beside the pipeline package")


@functools.cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a message kind such as ``job-submission``."""
    path = topics_dir() / f"{kind}.schema.json"
    if not path.is_file():
        raise KeyError(kind)
    declared: dict[str, Any] = json.loads(path.read_text())
    return declared


@functools.cache
def _validator(kind: str) -> Callable[[Any], None]:
    return jsonschema_rs.validator_for(schema(kind)).validate


@functools.cache
def topics() -> dict[str, dict[str, Any]]:
    """topics.yaml: topic name -> declaration (kinds, partitions, config)."""
    declared: dict[str, dict[str, Any]] = yaml.safe_load((topics_dir() / "topics.yaml").read_text())["topics"]
    return declared


def kind_of(event: Mapping[str, Any]) -> str:
    """The kind named by an event's ``schema`` field, e.g. ``job-completion``."""
    tag = event.get("schema") if isinstance(event, Mapping) else None
    if not isinstance(tag, str) or "/" not in tag:
        raise InvalidEvent("missing or malformed 'schema' tag (want '<kind>/<version>')", "schema",
                           "unknown-schema")
    return tag.split("/", 1)[0]


def validate(event: Any) -> str:
    """Check ``event`` against the schema its tag names and return its kind.

    >>> validate({"schema": "job-submission/1", "job_id": "1", "system": "a", "time": 0})
    'job-submission'
    """
    kind = kind_of(event)
    try:
        check = _validator(kind)
    except KeyError:
        raise InvalidEvent(f"unknown schema {event['schema']!r}", "schema", "unknown-schema") from None
    expected = schema(kind)["properties"]["schema"]["const"]
    if event["schema"] != expected:
        raise InvalidEvent(f"unknown schema version {event['schema']!r} (this build reads {expected!r})",
                           "schema", "unknown-version")
    try:
        check(event)
    except jsonschema_rs.ValidationError as error:
        path = list(error.instance_path)
        # the validator sees NaN and infinity as null and would say "null is not of type number"
        reason = "NaN and infinity are not JSON numbers" if _non_finite(event, path) else error.message
        raise InvalidEvent(reason, ".".join(str(p) for p in path) or None) from None
    if kind == "job-completion" and event["end_time"] < event["time"]:
        # a schema cannot compare two fields; in stream order such a job would end before it began
        raise InvalidEvent(f"{event['end_time']:g} is before the job's submit time {event['time']:g}", "end_time")
    return kind


def _non_finite(event: Any, path: list[str | int]) -> bool:
    value = event
    for part in path:
        value = value[part]
    return isinstance(value, float) and not math.isfinite(value)


def topics_by_direction(direction: str) -> list[str]:
    """Topic names declared with this direction (``in``, ``out``, ``internal``), in declaration order."""
    return [name for name, spec in topics().items() if spec["direction"] == direction]


def topic_for(tag: str, direction: str = "out") -> str:
    """The topic of this direction that carries messages tagged ``tag`` (e.g. ``prediction/1``).

    >>> topic_for("drift-event/1")
    'hpc.metrics'
    >>> topic_for("job-completion/1", "in")
    'hpc.job-completions'
    """
    for name in topics_by_direction(direction):
        if tag in topics()[name]["kinds"]:
            return name
    raise KeyError(f"no {direction!r} topic declared for {tag}")
