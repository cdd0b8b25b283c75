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
import contextlib
import logging
import tempfile
import time
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
from pipeline.service.checkpoint import seal
from pipeline.service.config import WorkerConfig
from pipeline.service.metrics import WorkerMetrics
from pipeline.service.shards import DEAD_LETTERS, INPUTS, Message, Output, ShardedProcessor
from pipeline.service.store import MAX_CHECKPOINT_BYTES, partition_bounds, read_checkpoints

log = logging.getLogger("perfstream.worker")

CHECKPOINTS = "hpc.checkpoints"
FAUST_DATADIR = str(Path(tempfile.gettempdir()) / "perfstream-faust-{conf.id}")
assert set(INPUTS) == set(topics_by_direction("in")), "topics.yaml and the worker disagree on the inputs"


def create_app(config: WorkerConfig) -> faust.App:
    """The worker's faust app: the input task, two timers, and the rebalance and shutdown hooks."""
    app = faust.App(
        config.group, broker=config.kafka.faust_broker(), broker_credentials=config.kafka.faust_credentials(),
        key_serializer="raw", value_serializer="raw",
        producer_max_request_size=MAX_CHECKPOINT_BYTES, topic_disable_leader=True, web_enabled=False,
        datadir=FAUST_DATADIR,  # faust wants one though the worker keeps no tables; not the working directory
    )
    app.boot_strategy = BootStrategy(app, enable_kafka_consumer=False)  # the input task has its own consumer
    metrics = WorkerMetrics()
    metrics.heartbeat.set_to_current_time()  # starting counts as a beat: the loop then has --max-age to tick
    state = ShardedProcessor(Processor(config.strategy, config.targets), max_bytes=config.max_message_bytes,
                             max_wait_s=config.max_wait_s, grace_s=config.order_grace_s,
                             prefix=config.kafka.topic_prefix)
    name = config.kafka.topic  # topics.yaml name -> this deployment's name
    declared = {name(topic): topic for topic in INPUTS}
    next_offset: dict[TopicPartition, int] = {}  # per input partition: the offset after the last message delivered
    end_at_assignment: dict[TopicPartition, int] = {}  # the partition's end when assigned, until a fetch reports one
    settled = asyncio.Event()  # clear from the start of a rebalance until its partitions are restored
    inputs: list[AIOKafkaConsumer] = []  # the one consumer, once the input task has made it in the app's loop

    def caught_up(shard: int):
        def check(topic: str) -> bool | None:
            tp = TopicPartition(name(topic), shard)
            end, nxt = inputs[0].highwater(tp), next_offset.get(tp)
            end = end_at_assignment.get(tp) if end is None else end
            return None if end is None or nxt is None else nxt >= end
        return check

    async def publish(outputs: list[Output], message: Message) -> None:
        for topic, key, record in outputs:
            await app.producer.send(name(topic), key.encode() if key else None, orjson.dumps(record),
                                    None, None, None)
            schema = record["schema"]
            if schema == "prediction/1":
                metrics.predictions.labels(record["system"], record["target"], record["stage"]).inc()
                if record["stage"] == "submission":
                    metrics.latency.observe(max(0.0, time.time() - message.timestamp))
            elif schema == "drift-event/1":
                metrics.drift_alarms.labels(record["system"], record["target"], record["detector"],
                                            record.get("component", "")).inc()
            elif schema == "dead-letter/1":
                metrics.dead_letters.labels(record["category"]).inc()

    async def release(shard: int) -> None:
        if shard not in state.shards:  # revoked while the caller awaited
            return
        for message, outputs in state.release(shard, caught_up(shard)):
            dead = bool(outputs) and outputs[0][0] == DEAD_LETTERS
            metrics.events.labels(message.topic, "dead_letter" if dead else "processed").inc()
            await publish(outputs, message)

    async def checkpoint(shard: int) -> None:
        checkpoints, handles = state.snapshot(shard)
        # seal every system before the first await: the agent may learn more while a send waits
        sealed = [(cp.system.encode(), seal(cp, config.checkpoint_key)) for cp in checkpoints]
        for key, blob in sealed:
            await app.producer.send(name(CHECKPOINTS), key, blob, shard, None, None)
        await app.producer.flush()
        offsets: dict[TopicPartition, int] = {}
        for tp, offset in handles:  # only now may Kafka's committed offsets move past these messages
            offsets[tp] = max(offsets.get(tp, 0), offset + 1)
        if offsets:
            try:
                await inputs[0].commit(offsets)
            except KafkaError as error:  # harmless: the checkpoint's positions keep redelivery from counting twice
                log.warning("commit after the checkpoint of shard %d failed: %r", shard, error)
        metrics.checkpoints.labels("written").inc(len(checkpoints))
        if checkpoints:
            log.info("checkpoint of shard %d: %s", shard, ", ".join(cp.system for cp in checkpoints))

    async def restore(shards: list[int]) -> None:
        found, forged = await asyncio.get_running_loop().run_in_executor(
            None, read_checkpoints, config.kafka, name(CHECKPOINTS), shards, config.checkpoint_key,
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

    async def find_bounds(shards: set[int]) -> None:
        """Where each partition's delivery starts and ends, so that "caught up" is known before any fetch."""
        partitions = [(topic, shard) for topic in declared for shard in shards]
        bounds = await asyncio.get_running_loop().run_in_executor(
            None, partition_bounds, config.kafka, config.group, partitions)
        for (topic, shard), (start, end) in bounds.items():
            next_offset.setdefault(TopicPartition(topic, shard), start)
            end_at_assignment[TopicPartition(topic, shard)] = end

    class Rebalance(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
            await on_revoked(set(revoked))

        async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
            await on_assigned(set(assigned))

    async def take(batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Accept a fetched batch, then release and process what event-time order allows."""
        touched = set()
        for tp, records in batches.items():
            for raw in records:
                if not settled.is_set():
                    await settled.wait()
                if tp.partition not in state.shards:
                    metrics.events.labels(declared[tp.topic], "stale").inc()
                    continue  # fetched before a rebalance took its partition away: the new owner reads it
                next_offset[tp] = raw.offset + 1
                message = Message(declared[tp.topic], tp.partition, raw.offset, raw.key, raw.value,
                                  raw.timestamp / 1000, (tp, raw.offset))
                outcome, dead = state.accept(message)
                if outcome != "queued":
                    metrics.events.labels(declared[tp.topic], outcome.replace("-", "_")).inc()
                    await publish(dead, message)
                touched.add(tp.partition)
        for shard in touched:
            await release(shard)
            if shard in state.shards and state.shards[shard].since_checkpoint >= config.checkpoint_every_events:
                await checkpoint(shard)

    @app.task
    async def learn_and_predict() -> None:
        """Consume the inputs until shutdown; anything else that ends this loop stops the worker."""
        consumer = AIOKafkaConsumer(
            **config.kafka.aiokafka(), group_id=config.group, enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=int(1000 * config.session_timeout_s),
            heartbeat_interval_ms=1000, max_poll_records=config.batch_size,
            partition_assignment_strategy=(RangePartitionAssignor,))  # co-partitioned: shard N of every input together
        consumer.subscribe(list(declared), listener=Rebalance())
        inputs.append(consumer)
        await consumer.start()
        try:
            while True:
                await take(await consumer.getmany(timeout_ms=100))
        except ConsumerStoppedError:
            return  # on_shutdown stopped it after the last checkpoint
        except Exception as error:  # a worker that stopped consuming must not look alive
            await app.crash(error)
            raise

    @app.timer(interval=0.02)
    async def release_waiting() -> None:
        """Release what waited on a quiet topic or a grace period: no new message would wake the agent."""
        if settled.is_set():
            for shard in list(state.shards):
                await release(shard)

    @app.timer(interval=1.0)
    async def housekeeping() -> None:
        """Checkpoint on time, refresh the gauges."""
        metrics.heartbeat.set_to_current_time()
        if not settled.is_set():
            return
        now = time.time()
        for shard in list(state.shards):
            for topic in declared:
                tp = TopicPartition(topic, shard)
                end = inputs[0].highwater(tp)
                if end is not None and tp in next_offset:
                    metrics.lag.labels(declared[topic], str(shard)).set(max(0, end - next_offset[tp]))
            record = state.shards.get(shard)
            if record is None:
                continue
            if record.since_checkpoint and now - record.checkpointed_at >= config.checkpoint_every_s:
                await checkpoint(shard)
            metrics.checkpoint_age.labels(str(shard)).set(now - record.checkpointed_at)
        metrics.observe_state(state.processor)

    async def on_revoked(revoked: set[TopicPartition]) -> None:
        """A rebalance began: checkpoint what may move. State stays until the new assignment is known."""
        settled.clear()
        for shard in sorted({tp.partition for tp in revoked if tp.topic in declared} & set(state.shards)):
            await checkpoint(shard)

    async def on_assigned(assigned: set[TopicPartition]) -> None:
        """Drop the shards that moved away, restore the ones that arrived; kept shards go on as they were.

        A kept partition may be delivered again from its committed offset or not at all: the shard's
        accepted offsets make either safe, so nothing is dropped or learned twice.
        """
        by_topic = {declared[topic]: sorted(tp.partition for tp in assigned if tp.topic == topic) for topic in declared}
        if len({tuple(partitions) for partitions in by_topic.values()}) > 1:  # a system's events would be split
            await app.crash(RuntimeError(f"the input topics are not co-partitioned (assigned {by_topic}): give them "
                                         "the same partition count (perfstream topics check)"))
            return
        shards = {tp.partition for tp in assigned if tp.topic in declared}
        for shard in set(state.shards) - shards:
            state.revoke(shard)
            forget_gauges(shard)
        new = sorted(shards - set(state.shards))
        if new:
            await restore(new)
        await find_bounds(shards)
        settled.set()
        metrics.shards.set(len(state.shards))

    def forget_gauges(shard: int) -> None:
        series = [(metrics.checkpoint_age, (str(shard),))]
        series += [(metrics.lag, (topic, str(shard))) for topic in INPUTS]
        for gauge, labels in series:
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
        for topic in declared:
            next_offset.pop(TopicPartition(topic, shard), None)
            end_at_assignment.pop(TopicPartition(topic, shard), None)

    @app.on_before_shutdown.connect
    async def on_shutdown(app: faust.App, **_: Any) -> None:
        """Checkpoint and commit everything, then leave the group (aiokafka calls no revoke on stop)."""
        for shard in sorted(state.shards):
            await checkpoint(shard)
        if inputs:
            await inputs[0].stop()

    app.perfstream_metrics = metrics  # the CLI starts its endpoint; tests read it
    return app


def run_worker(config: WorkerConfig, loglevel: str = "info") -> None:
    """Serve metrics and run the worker until SIGTERM/SIGINT (then checkpoint and stop)."""
    app = create_app(config)
    app.perfstream_metrics.serve(config.metrics_port, config.metrics_address)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None  # at log level warning faust spins a terminal spinner on every DEBUG record
    worker.execute_from_commandline()
