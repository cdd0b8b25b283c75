"""``perfstream health``: is a worker alive? For Docker healthchecks and Kubernetes probes.

The metrics endpoint answers from a thread of its own, so answering proves little; the heartbeat
gauge is set by the worker's event loop every second, so its age says whether the loop still runs.
"""

from __future__ import annotations

import time
import urllib.request

HEARTBEAT = "perfstream_heartbeat_timestamp_seconds"


class Unhealthy(ValueError):
    """The worker did not answer, or its event loop has not ticked for too long."""


def probe(url: str, max_age_s: float = 30.0, timeout_s: float = 5.0) -> float:
    """Seconds since the worker's last heartbeat; raise :class:`Unhealthy` if older than ``max_age_s``.

    >>> probe("http://127.0.0.1:9/metrics", timeout_s=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.service.probe.Unhealthy: http://127.0.0.1:9/metrics does not answer: ...Connection refused>
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode()
    except OSError as error:
        raise Unhealthy(f"{url} does not answer: {error}") from None
    beats = [line.split()[1] for line in text.splitlines() if line.startswith(HEARTBEAT + " ")]
    if not beats:
        raise Unhealthy(f"{url} serves no {HEARTBEAT}: not a perfstream worker?")
    age = time.time() - float(beats[0])
    if age > max_age_s:
        raise Unhealthy(f"the worker's event loop last ticked {age:.0f} s ago (limit {max_age_s:.0f} s)")
    return age
