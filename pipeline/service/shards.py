"""The worker's state, partition by partition: no Kafka here, so it is tested without a broker.

A *shard* is one partition number of the input topics. Keys are system names and the input topics
are co-partitioned, so a system's submissions, completions and health reports all land in one shard,
which one worker owns at a time; its learned state lives in the shared :class:`Processor` and moves
with the shard (checkpoint on revoke, restore on assign).

For each input topic of a shard the state tracks the messages in flight, in offset order; a message is
*finished* once it is learned from, dead-lettered or skipped. The finished prefix is the shard's
position: what a checkpoint covers and what may be acknowledged (committed) to Kafka.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.processor import STATE_FORMAT, Processor
from pipeline.schemas import InvalidEvent, topic_for
from pipeline.service.checkpoint import Checkpoint
from pipeline.service.envelope import DEFAULT_MAX_BYTES, Rejected, dead_letter, decode
from pipeline.service.merge import EventTimeMerger

Output = tuple[str, str | None, dict[str, Any]]  # topic (as declared), key, record

# At equal event times completions come first, then health, then submissions (as in the timeline).
SUBMISSIONS, COMPLETIONS = "hpc.job-submissions", "hpc.job-completions"
INPUTS = (COMPLETIONS, "hpc.node-health", SUBMISSIONS)
DEAD_LETTERS = "hpc.dead-letters"


@dataclass
class Message:
    """One input message as the worker holds it; ``handle`` is what the transport commits once a
    checkpoint covers the message (the worker: its topic partition and offset)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    handle: Any = None
    fetched_ms: int | None = None  # when the consumer fetched it (see merge.read_to_end)
    event: dict[str, Any] | None = None
    finished: bool = False


@dataclass
class Shard:
    """One partition number of the inputs: its merger, messages in flight and checkpoint coverage."""

    index: int
    merger: EventTimeMerger
    positions: dict[str, int]
    accepted: dict[str, int] = field(default_factory=dict)
    covered: dict[str, dict[str, int]] = field(default_factory=dict)
    systems: set[str] = field(default_factory=set)
    inflight: dict[str, deque[Message]] = field(default_factory=dict)
    acknowledgeable: list[Any] = field(default_factory=list)
    since_checkpoint: int = 0
    checkpointed_at: float = field(default_factory=time.time)

    def finish(self, message: Message) -> None:
        message.finished = True
        queue = self.inflight[message.topic]
        while queue and queue[0].finished:
            done = queue.popleft()
            self.positions[done.topic] = done.offset
            if done.handle is not None:
                self.acknowledgeable.append(done.handle)


class ShardedProcessor:
    """Routes input messages through decoding, dedup and event-time merge into one :class:`Processor`.

    Parameters
    ----------
    processor
        The pure core; it holds the learned state of every system of every owned shard.
    max_bytes, max_wait_s, grace_s
        Message size limit (see :func:`decode`) and merger patience (see :class:`EventTimeMerger`).
    prefix
        The deployment's topic prefix, so that a dead letter names the topic it really came from.

    Topics are named here as topics.yaml declares them; the Kafka shell adds any deployment prefix.
    """

    def __init__(self, processor: Processor, *, max_bytes: int = DEFAULT_MAX_BYTES, max_wait_s: float = 1.0,
                 grace_s: float = 0.0, prefix: str = ""):
        self.processor = processor
        self.inputs = list(INPUTS)
        self.max_bytes, self.max_wait_s, self.grace_s = max_bytes, max_wait_s, grace_s
        self.prefix = prefix
        self.shards: dict[int, Shard] = {}

    def assign(self, index: int, checkpoints: list[Checkpoint]) -> list[Checkpoint]:
        """Take a shard, restoring the checkpoints that fit this worker; return those refused as incompatible."""
        merger = EventTimeMerger(self.inputs, self.max_wait_s, self.grace_s, eager=(SUBMISSIONS,))
        shard = Shard(index, merger, {t: -1 for t in self.inputs}, inflight={t: deque() for t in self.inputs})
        usable: list[Checkpoint] = []
        refused: list[Checkpoint] = []
        for cp in checkpoints:
            fits = cp.shard == index and cp.strategy == self.processor.strategy \
                and tuple(cp.targets) == self.processor.targets and cp.state_format == STATE_FORMAT
            (usable if fits else refused).append(cp)
        for cp in usable:
            self.processor.systems[cp.system] = cp.state
            shard.systems.add(cp.system)
            shard.covered[cp.system] = {t: cp.positions.get(t, -1) for t in self.inputs}
        if usable:  # messages below every restored position touched no state that was not saved
            shard.positions = {t: min(c[t] for c in shard.covered.values()) for t in self.inputs}
        shard.accepted = dict(shard.positions)
        self.shards[index] = shard
        return refused

    def revoke(self, index: int) -> None:
        """Give a shard up: forget its systems and anything queued (the new owner reads them again)."""
        shard = self.shards.pop(index, None)
        if shard is not None:
            for system in shard.systems:
                self.processor.systems.pop(system, None)

    def accept(self, message: Message) -> tuple[str, list[Output]]:
        """Take one message in; return its outcome (queued, duplicate, dead-letter) and any dead letter."""
        shard = self.shards[message.partition]
        shard.merger.heard(message.topic, time.monotonic())
        if message.offset <= shard.accepted[message.topic]:
            return "duplicate", []  # redelivered (after a restart or rebalance): already taken in
        shard.accepted[message.topic] = message.offset
        shard.inflight[message.topic].append(message)
        try:
            message.event = decode(message.value, message.key, message.topic, self.max_bytes)
        except Rejected as rejected:
            shard.finish(message)
            return "dead-letter", [self._dead_letter(message, rejected)]
        covered = shard.covered.get(message.event["system"])
        if covered is not None and message.offset <= covered[message.topic]:
            shard.finish(message)
            return "duplicate", []
        shard.merger.push(message.topic, message, message.event, time.monotonic())
        return "queued", []

    def release(self, index: int, caught_up: Callable[[str, Message], bool | None]
                ) -> list[tuple[Message, list[Output]]]:
        """Process every queued message of a shard that event-time order allows, with its outputs.

        A completion whose own submission has not been seen does not pass a submissions topic that
        looks read to its end (it waits, at most the merger's ``max_wait_s``): a producer that sends
        a finished job's two events together (the Slurm bridge) can have them appended in either
        order within one request, and a fetch in between sees the completion alone.
        """
        shard = self.shards[index]

        def ready(topic: str, message: Message) -> bool | None:
            state = caught_up(topic, message)
            if state and topic == SUBMISSIONS and message.topic == COMPLETIONS and message.event is not None \
                    and not self.processor.submitted(message.event["system"], message.event["job_id"]):
                return None
            return state

        done: list[tuple[Message, list[Output]]] = []
        # again until nothing is ready: a completion held for its submission passes once that is processed
        while released := shard.merger.pop_ready(time.monotonic(), ready):
            done += [(message, self._process(shard, message)) for message in released]
        return done

    def _process(self, shard: Shard, message: Message) -> list[Output]:
        event = message.event
        assert event is not None  # decoded when it was accepted, or it would not be queued
        try:
            records = self.processor.apply(event)
        except InvalidEvent as error:  # valid on the wire, unusable here (e.g. an unknown target)
            outputs = [self._dead_letter(message, Rejected.from_invalid(error))]
        else:
            shard.systems.add(event["system"])
            outputs = [(topic_for(r["schema"]), r["system"], r) for r in records]
        shard.finish(message)
        shard.since_checkpoint += 1
        return outputs

    def snapshot(self, index: int) -> tuple[list[Checkpoint], list[Any]]:
        """Checkpoints of every system of a shard, and the message handles they make safe to acknowledge."""
        shard = self.shards[index]
        now = time.time()
        checkpoints = []
        for system in sorted(shard.systems):
            covered = shard.covered.get(system, {})
            positions = {t: max(shard.positions[t], covered.get(t, -1)) for t in self.inputs}
            checkpoints.append(Checkpoint(system, index, positions, self.processor.systems[system],
                                          self.processor.strategy, self.processor.targets, now, STATE_FORMAT))
        handles, shard.acknowledgeable = shard.acknowledgeable, []
        shard.since_checkpoint, shard.checkpointed_at = 0, now
        return checkpoints, handles

    def _dead_letter(self, message: Message, rejected: Rejected) -> Output:
        record = dead_letter(message.value, message.key, self.prefix + message.topic, message.partition,
                             message.offset, rejected)
        return DEAD_LETTERS, None, record
