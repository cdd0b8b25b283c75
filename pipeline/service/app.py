"""``perfstream worker``: the faust-streaming app around the shared Processor, top to bottom.

One task consumes the three input topics (co-partitioned, keyed by system) in batches straight from
an aiokafka consumer: faust's per-message delivery (a stream event, two waiter tasks and an ack per
message) costs ~150 us per event, more than the learning. Offsets are committed only once a checkpoint
covers them, so Kafka's committed offsets never run ahead of the saved state. faust runs the rest:
the producer, the timers, the worker's lifecycle and signals.

Decoding, dead letters, de-duplication and event-time merging live in
:class:`~pipeline.service.shards.ShardedProcessor`; learning lives in the Processor; this file only wires
them to Kafka, Prometheus and the rebalance protocol.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faust.app.base import BootStrategy

from pipeline.processor import STATE_FORMAT, Processor
from pipeline.schemas import topics_by_direction
from pipeline.service.checkpoint import freeze, sign
from pipeline.service.config import WorkerConfig
from pipeline.service.merge import read_to_end
from pipeline.service.metrics import WorkerMetrics
from pipeline.service.shards import DEAD_LETTERS, INPUTS, SUBMISSIONS, Message, Output, ShardedProcessor
from pipeline.service.store import MAX_CHECKPOINT_BYTES, partition_bounds, read_checkpoints

log = logging.getLogger("perfstream.worker")

CHECKPOINTS = "hpc.checkpoints"
FAUST_DATADIR = str(Path(tempfile.gettempdir()) / "perfstream-faust-{conf.id}")
assert set(INPUTS) == set(topics_by_direction("in")), "topics.yaml and the worker disagree on the inputs"


class Worker:
    """The worker's faust app (:attr:`app`): the input task, two timers, and the rebalance and
    shutdown hooks, around one :class:`ShardedProcessor`."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self.app = faust.App(
            config.group, broker=config.kafka.faust_broker(), broker_credentials=config.kafka.faust_credentials(),
            key_serializer="raw", value_serializer="raw",
            producer_max_request_size=MAX_CHECKPOINT_BYTES, topic_disable_leader=True, web_enabled=False,
            datadir=FAUST_DATADIR,  # faust wants one though the worker keeps no tables; not the working directory
        )
        self.app.boot_strategy = BootStrategy(self.app, enable_kafka_consumer=False)  # the input task has its own
        self.metrics = WorkerMetrics()
        self.metrics.heartbeat.set_to_current_time()  # starting counts as a beat: the loop then has --max-age to tick
        self.state = ShardedProcessor(Processor(config.strategy, config.targets), max_bytes=config.max_message_bytes,
                                      max_wait_s=config.max_wait_s, grace_s=config.order_grace_s,
                                      prefix=config.kafka.topic_prefix)
        self.name = config.kafka.topic  # topics.yaml name -> this deployment's name
        self.declared = {self.name(topic): topic for topic in INPUTS}
        self.next_offset: dict[TopicPartition, int] = {}  # per input partition: the offset after the last delivered
        self.end_at_assignment: dict[TopicPartition, int] = {}  # its end when assigned, until a fetch reports one
        self.settled = asyncio.Event()  # clear from the start of a rebalance until its partitions are restored
        # one checkpoint at a time: an older one sealed off the loop must not reach the compacted topic
        # after a newer one of the same system
        self.checkpointing = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None  # made by the input task, in the app's loop
        self.app.task(self.learn_and_predict)
        self.app.timer(interval=0.02)(self.release_waiting)
        self.app.timer(interval=1.0)(self.housekeeping)
        # mode-streaming 0.7 types receivers with a required keyword `signal` (mypy_extensions.NamedArg) that
        # mypy matches to no method of ours, even one spelling `signal` out; faust passes it as a keyword
        self.app.on_before_shutdown.connect(self.on_shutdown)  # type: ignore[arg-type]

    # -- the input task and the timers

    async def learn_and_predict(self) -> None:
        """Consume the inputs until shutdown; anything else that ends this loop stops the worker."""
        config = self.config
        self.consumer = AIOKafkaConsumer(
            **config.kafka.aiokafka(), group_id=config.group, enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=int(1000 * config.session_timeout_s),
            heartbeat_interval_ms=1000, max_poll_records=config.batch_size,
            partition_assignment_strategy=(RangePartitionAssignor,))  # co-partitioned: shard N of every input together
        self.consumer.subscribe(list(self.declared), listener=_Rebalance(self))
        await self.consumer.start()
        try:
            while True:
                await self.take(await self.consumer.getmany(timeout_ms=100))
        except ConsumerStoppedError:
            return  # on_shutdown stopped it after the last checkpoint
        except Exception as error:  # a worker that stopped consuming must not look alive
            await self.app.crash(error)
            raise

    async def take(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Accept a fetched batch, then release and process what event-time order allows."""
        touched = set()
        # when each partition was fetched (it is not refetched while its records are held), read
        # before the first await: a rebalance may take a partition away meanwhile
        fetched = {tp: self._polled(tp) for tp in batches}
        for tp, records in batches.items():
            for raw in records:
                if not self.settled.is_set():
                    await self.settled.wait()
                if tp.partition not in self.state.shards:
                    self.metrics.events.labels(self.declared[tp.topic], "stale").inc()
                    continue  # fetched before a rebalance took its partition away: the new owner reads it
                self.next_offset[tp] = raw.offset + 1
                message = Message(self.declared[tp.topic], tp.partition, raw.offset, raw.key, raw.value,
                                  raw.timestamp / 1000, (tp, raw.offset), fetched[tp])
                outcome, dead = self.state.accept(message)
                if outcome != "queued":
                    self.metrics.events.labels(self.declared[tp.topic], outcome.replace("-", "_")).inc()
                    await self.publish(dead, message)
                touched.add(tp.partition)
        for shard in touched:
            await self.release(shard)
            record = self.state.shards.get(shard)
            if record is not None and record.since_checkpoint >= self.config.checkpoint_every_events:
                await self.checkpoint(shard)

    async def release_waiting(self) -> None:
        """Release what waited on a quiet topic or a grace period: no new message would wake the task."""
        if self.settled.is_set():
            for shard in list(self.state.shards):
                await self.release(shard)

    async def housekeeping(self) -> None:
        """Checkpoint on time, refresh the gauges."""
        self.metrics.heartbeat.set_to_current_time()
        if not self.settled.is_set():
            return
        now = time.time()
        for shard in list(self.state.shards):
            self._observe_lag(shard)
            record = self.state.shards.get(shard)
            if record is None:
                continue
            if record.since_checkpoint and now - record.checkpointed_at >= self.config.checkpoint_every_s:
                await self.checkpoint(shard)
            self.metrics.checkpoint_age.labels(str(shard)).set(now - record.checkpointed_at)
        self.metrics.observe_state(self.state.processor)

    def _highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end as the consumer's last fetch reported it (``None``: no fetch yet)."""
        return self.consumer.highwater(tp) if self.consumer else None

    def _observe_lag(self, shard: int) -> None:
        for topic in self.declared:
            tp = TopicPartition(topic, shard)
            end = self._highwater(tp)
            if end is not None and tp in self.next_offset:
                self.metrics.lag.labels(self.declared[topic], str(shard)).set(max(0, end - self.next_offset[tp]))

    # -- releasing, publishing and checkpointing a shard

    def _caught_up(self, shard: int) -> Callable[[str, Message], bool | None]:
        """Whether this worker has read an input topic's partition ``shard`` to its end, as of the
        fetch that brought ``message`` (``None``: not known yet; see :func:`read_to_end`)."""
        def check(topic: str, message: Message) -> bool | None:
            tp = TopicPartition(self.name(topic), shard)
            end, nxt = self._highwater(tp), self.next_offset.get(tp)
            end = self.end_at_assignment.get(tp) if end is None else end
            # a submission may pass an old end: early, it can only miss a straggler from its past
            fetched = None if message.topic == SUBMISSIONS else message.fetched_ms
            return read_to_end(end, nxt, self._polled(tp), fetched)
        return check

    def _polled(self, tp: TopicPartition) -> int | None:
        """When the consumer's last fetch reported the partition's end (ms; ``None``: not yet)."""
        return self.consumer.last_poll_timestamp(tp) if self.consumer else None

    async def release(self, shard: int) -> None:
        if shard not in self.state.shards:  # revoked while the caller awaited
            return
        for message, outputs in self.state.release(shard, self._caught_up(shard)):
            dead = bool(outputs) and outputs[0][0] == DEAD_LETTERS
            self.metrics.events.labels(message.topic, "dead_letter" if dead else "processed").inc()
            await self.publish(outputs, message)

    async def publish(self, outputs: list[Output], message: Message) -> None:
        for topic, key, record in outputs:
            await self.app.producer.send(self.name(topic), key.encode() if key else None, orjson.dumps(record),
                                         None, None, None)
            self.metrics.observe_output(record, message.timestamp)

    async def checkpoint(self, shard: int) -> None:
        async with self.checkpointing:
            await self._checkpoint(shard)

    async def _checkpoint(self, shard: int) -> None:
        checkpoints, handles = self.state.snapshot(shard)
        # freeze every system before the first await: the task may learn more meanwhile
        frozen = [(cp.system.encode(), freeze(cp)) for cp in checkpoints]
        key = self.config.checkpoint_key
        sealed = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [(system, sign(pickled, key)) for system, pickled in frozen])
        for system, blob in sealed:
            await self.app.producer.send(self.name(CHECKPOINTS), system, blob, shard, None, None)
        await self.app.producer.flush()
        offsets: dict[TopicPartition, int] = {}
        for tp, offset in handles:  # only now may Kafka's committed offsets move past these messages
            offsets[tp] = max(offsets.get(tp, 0), offset + 1)
        if offsets and self.consumer:
            try:
                await self.consumer.commit(offsets)
            except KafkaError as error:  # harmless: the checkpoint's positions keep redelivery from counting twice
                log.warning("commit after the checkpoint of shard %d failed: %r", shard, error)
        self.metrics.checkpoints.labels("written").inc(len(checkpoints))
        if checkpoints:
            log.info("checkpoint of shard %d: %s", shard, ", ".join(cp.system for cp in checkpoints))

    # -- rebalances and shutdown

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """A rebalance began: checkpoint what may move. State stays until the new assignment is known."""
        self.settled.clear()
        for shard in sorted({tp.partition for tp in revoked if tp.topic in self.declared} & set(self.state.shards)):
            await self.checkpoint(shard)

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Drop the shards that moved away, restore the ones that arrived; kept shards go on as they were.

        A kept partition may be delivered again from its committed offset or not at all: the shard's
        accepted offsets make either safe, so nothing is dropped or learned twice.
        """
        by_topic = {self.declared[topic]: sorted(tp.partition for tp in assigned if tp.topic == topic)
                    for topic in self.declared}
        if len({tuple(partitions) for partitions in by_topic.values()}) > 1:  # a system's events would be split
            await self.app.crash(RuntimeError(
                f"the input topics are not co-partitioned (assigned {by_topic}): give them the same partition "
                "count (perfstream topics check)"))
            return
        shards = {tp.partition for tp in assigned if tp.topic in self.declared}
        for shard in set(self.state.shards) - shards:
            self.state.revoke(shard)
            self._forget(shard)
        new = sorted(shards - set(self.state.shards))
        if new:
            await self.restore(new)
        await self.find_bounds(shards)
        self.settled.set()
        self.metrics.shards.set(len(self.state.shards))

    async def restore(self, shards: list[int]) -> None:
        config, state, metrics = self.config, self.state, self.metrics
        found, forged = await asyncio.get_running_loop().run_in_executor(
            None, read_checkpoints, config.kafka, self.name(CHECKPOINTS), shards, config.checkpoint_key,
            config.previous_checkpoint_keys)
        metrics.checkpoints.labels("refused_signature").inc(len(forged))
        for shard in shards:
            refused = state.assign(shard, found[shard])
            metrics.checkpoints.labels("refused_incompatible").inc(len(refused))
            metrics.checkpoints.labels("restored").inc(len(found[shard]) - len(refused))
            for cp in refused:
                log.warning("checkpoint of %s built by %s %s (state format %d), not %s %s (%d): not loaded",
                            cp.system, cp.strategy, cp.targets, cp.state_format, state.processor.strategy,
                            state.processor.targets, STATE_FORMAT)
            log.info("shard %d assigned: %d systems restored, resuming after offsets %s", shard,
                     len(found[shard]) - len(refused), state.shards[shard].positions)

    async def find_bounds(self, shards: set[int]) -> None:
        """Where each partition's delivery starts and ends, so that "caught up" is known before any fetch."""
        partitions = [(topic, shard) for topic in self.declared for shard in shards]
        bounds = await asyncio.get_running_loop().run_in_executor(
            None, partition_bounds, self.config.kafka, self.config.group, partitions)
        for (topic, shard), (start, end) in bounds.items():
            self.next_offset.setdefault(TopicPartition(topic, shard), start)
            self.end_at_assignment[TopicPartition(topic, shard)] = end

    def _forget(self, shard: int) -> None:
        """Drop a shard that moved away from the gauges and the offsets."""
        self.metrics.forget_shard(shard, INPUTS)
        for topic in self.declared:
            self.next_offset.pop(TopicPartition(topic, shard), None)
            self.end_at_assignment.pop(TopicPartition(topic, shard), None)

    async def on_shutdown(self, app: faust.App, **_: Any) -> None:
        """Checkpoint and commit everything, then leave the group (aiokafka calls no revoke on stop)."""
        for shard in sorted(self.state.shards):
            await self.checkpoint(shard)
        if self.consumer:
            await self.consumer.stop()


class _Rebalance(ConsumerRebalanceListener):
    """aiokafka's rebalance callbacks, handed to the worker."""

    def __init__(self, worker: Worker):
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.worker.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.worker.on_assigned(set(assigned))


def run_worker(config: WorkerConfig, loglevel: str = "info") -> None:
    """Serve metrics and run the worker until SIGTERM/SIGINT (then checkpoint and stop)."""
    worker = Worker(config)
    worker.metrics.serve(config.metrics_port, config.metrics_address)
    runner = faust.Worker(worker.app, loglevel=loglevel, quiet=True)
    runner.spinner = None  # at log level warning faust spins a terminal spinner on every DEBUG record
    runner.execute_from_commandline()
