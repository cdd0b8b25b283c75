"""What a model may know about a job when it predicts: the request and the system's health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any

Scalar = float | str


@dataclass(frozen=True, slots=True)
class Job:
    """A job as its submission describes it, plus the health snapshot at prediction time.

    Only fields known before the job runs live here; measured outcomes travel separately, so a
    model cannot read a label by accident.
    """

    job_id: str
    system: str
    time: float
    user: str | None = None
    group: str | None = None
    queue: str | None = None
    app: str | None = None
    num_nodes: int | None = None
    num_procs: int | None = None
    requested_walltime_s: float | None = None
    features: Mapping[str, Scalar] = field(default_factory=dict)
    health: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any], health: Mapping[str, float] | None = None) -> Job:
        """Build from a job-submission or job-completion event (completion extras are ignored).

        Names are interned: history tables key tens of thousands of records by them, and one copy of
        "user12" serves them all instead of one per record.
        """
        features = {intern(k): intern(v) if isinstance(v, str) else v
                    for k, v in event.get("features", {}).items() if not isinstance(v, bool)}
        return cls(
            job_id=event["job_id"], system=event["system"], time=float(event["time"]),
            user=_interned(event.get("user")), group=_interned(event.get("group")),
            queue=_interned(event.get("queue")), app=_interned(event.get("app")),
            num_nodes=event.get("num_nodes"), num_procs=event.get("num_procs"),
            requested_walltime_s=event.get("requested_walltime_s"),
            features=features, health=health if health is not None else {},
        )


def _interned(name: str | None) -> str | None:
    return None if name is None else intern(name)
