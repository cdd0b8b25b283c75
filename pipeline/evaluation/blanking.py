"""Stress tests: a stream with some job fields left out, as a site whose logs lack them would send it.

Real logs differ in what they record: many Slurm users never set a time limit, some sites hide user
names, executables are often unrecorded. A strategy tuned on traces that have a field can fall
apart on one that lacks it (docs/results.md, "Traces that lack a field"): evaluating on the development
traces with that field left out shows it before a site does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.sources.timeline import Event

# The optional fields of a job event that a log may lack (topics/job-submission.schema.json)
BLANKABLE = ("user", "group", "queue", "app", "nodes", "num_nodes", "num_procs", "requested_walltime_s")
_JOB_SCHEMAS = ("job-submission/", "job-completion/")


def check_fields(fields: Sequence[str]) -> None:
    """Raise ValueError unless each field is blankable: one of :data:`BLANKABLE` or ``features.NAME``."""
    for name in fields:
        if name not in BLANKABLE and not (name.startswith("features.") and len(name) > len("features.")):
            raise ValueError(f"cannot leave out {name!r}: a job field is one of {', '.join(BLANKABLE)}, "
                             "or features.NAME")


def blank(events: Iterable[Event], fields: Sequence[str]) -> list[Event]:
    """``events`` with ``fields`` removed from every job submission and completion (copies; the
    originals are untouched). ``features.NAME`` removes one feature.

    >>> event = {"schema": "job-submission/1", "job_id": "1", "system": "s", "time": 0.0,
    ...          "user": "u1", "requested_walltime_s": 600, "features": {"partition": "batch"}}
    >>> blank([event], ["requested_walltime_s", "features.partition"])
    [{'schema': 'job-submission/1', 'job_id': '1', 'system': 's', 'time': 0.0, 'user': 'u1', 'features': {}}]
    """
    check_fields(fields)
    top = {name for name in fields if not name.startswith("features.")}
    features = {name.removeprefix("features.") for name in fields if name.startswith("features.")}
    result = []
    for event in events:
        if event["schema"].startswith(_JOB_SCHEMAS):
            event = {k: v for k, v in event.items() if k not in top}
            if features and "features" in event:
                event["features"] = {k: v for k, v in event["features"].items() if k not in features}
        result.append(event)
    return result
