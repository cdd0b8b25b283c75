"""Event-time order across the input topics of one partition, as a live system would see it.

Submissions, completions and health reports arrive on three topics that Kafka does not order
against each other. Processing them as they come would let a lagging submission be predicted after
its own job's completion was learned: a label leak. The merger holds each topic's events in FIFO
queues and releases the one with the smallest :func:`~pipeline.sources.timeline.order_key` once every
other topic either has a later event queued or is caught up with its partition's end. A topic known to
be behind is waited for (its data is on the way); one whose state is unknown, at most ``max_wait_s``
(the idea of Kafka Streams' ``max.task.idle.ms``). Waiting on wall-clock time alone would break the
order exactly when it matters: while a backlog is being read.

"Caught up" is only as fresh as the last fetch, and a producer batching per partition may write an
event to one topic after a later event to another. ``grace_s`` holds events at that frontier until each
empty topic has been silent that long (latency for order); when every topic has events queued the
order is certain and nothing waits. Events of ``eager`` topics (submissions) pass the frontier at
once: releasing a submission early can only leave out a straggler from its past (its prediction
misses one label or health report still in flight), never show it anything from its future, and the
prediction is what a scheduler waits for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from pipeline.sources.timeline import order_key


def read_to_end(end: int | None, next_offset: int | None, polled: int | None, fetched: int | None
                ) -> bool | None:
    """Whether a partition is read to its end before an event fetched at ``fetched`` (ms), as far
    as the consumer's fetches tell: ``None`` (unknown) without an end or a position, or when the end
    is from a fetch older than the event's (``polled`` < ``fetched``).

    A consumer leaves a partition out of its fetches while it still holds fetched records of it;
    once they are consumed the partition looks read to the end it had then, while another input,
    fetched since, already holds later events. Releasing those past it let completions overtake
    their own jobs' submissions when a trace was published at full speed into a running worker
    (UniLu Gaia: 1,691 of 51,859 submissions dead-lettered as late; SDSC-SP2: 47 of 54,034).

    >>> read_to_end(end=10, next_offset=10, polled=5, fetched=5)
    True
    >>> read_to_end(end=10, next_offset=10, polled=4, fetched=5) is None   # an end older than the event
    True
    >>> read_to_end(end=10, next_offset=7, polled=6, fetched=5)   # behind
    False
    """
    if end is None or next_offset is None:
        return None
    if next_offset < end:
        return False
    return None if polled is not None and fetched is not None and polled < fetched else True


class EventTimeMerger:
    """Merges several FIFO streams of events into one, smallest event time first.

    Parameters
    ----------
    topics
        The input topics, in tie-break order.
    max_wait_s
        How long the oldest queued event may wait for an empty topic whose position is unknown.
    grace_s
        How long an empty, caught-up topic must have been silent before events are released past it.
    eager
        Topics whose events are released past a caught-up frontier without the grace.

    Examples
    --------
    >>> m = EventTimeMerger(["subs", "ends"], max_wait_s=1.0)
    >>> m.push("subs", "s1", {"schema": "job-submission/1", "time": 5}, now=0.0)
    >>> m.pop_ready(now=5.0, caught_up=lambda topic, head: False)   # "ends" is behind: an earlier event may come
    []
    >>> m.push("ends", "e0", {"schema": "job-completion/1", "time": 0, "end_time": 4}, now=5.1)
    >>> m.pop_ready(now=5.1, caught_up=lambda topic, head: topic == "ends")
    ['e0', 's1']
    """

    def __init__(self, topics: list[str], max_wait_s: float = 1.0, grace_s: float = 0.0,
                 eager: tuple[str, ...] = ()):
        self.queues: dict[str, deque[tuple[tuple[float, int, int], float, Any]]] = {t: deque() for t in topics}
        self.rank = {t: i for i, t in enumerate(topics)}
        self.max_wait_s, self.grace_s, self.eager = max_wait_s, grace_s, frozenset(eager)
        self.last_heard = dict.fromkeys(topics, float("-inf"))

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def heard(self, topic: str, now: float) -> None:
        """A message arrived on ``topic`` (queued or not): it is not silent."""
        self.last_heard[topic] = now

    def push(self, topic: str, item: Any, event: dict[str, Any], now: float) -> None:
        """Queue ``item`` (anything; returned by :meth:`pop_ready`) whose event is ``event``."""
        self.queues[topic].append(((*order_key(event), self.rank[topic]), now, item))
        self.last_heard[topic] = now

    def pop_ready(self, now: float, caught_up: Callable[[str, Any], bool | None]) -> list[Any]:
        """Release, in order, every queued item that no other topic can still precede.

        ``caught_up(topic, item)`` says whether a topic has nothing more to deliver before ``item``,
        the next in line: True (caught up), False (behind: wait for it) or None (unknown: wait at
        most ``max_wait_s``).
        """
        released: list[Any] = []
        while True:
            heads = [(q[0], topic) for topic, q in self.queues.items() if q]
            if not heads:
                return released
            (_, arrived, item), topic = min(heads, key=lambda head: head[0][0])
            empty = [t for t, q in self.queues.items() if not q]
            states = [caught_up(t, item) for t in empty]
            behind = False in states or (None in states and now - arrived < self.max_wait_s)
            straggler_possible = any(now - self.last_heard[t] < self.grace_s for t in empty)
            if behind or (straggler_possible and topic not in self.eager):
                return released
            self.queues[topic].popleft()
            released.append(item)

    def drain(self) -> list[Any]:
        """Everything still queued, forgetting it (for a partition taken away)."""
        items = [entry[2] for q in self.queues.values() for entry in q]
        for q in self.queues.values():
            q.clear()
        return items
