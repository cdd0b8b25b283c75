"""What a worker reads from Kafka when it is given partitions: checkpoints, and where consumption starts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaConsumer, TopicPartition

from pipeline.service.checkpoint import Checkpoint, ForgedCheckpoint, unseal
from pipeline.service.config import KafkaSettings

log = logging.getLogger(__name__)

MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024  # as the topic's max.message.bytes in topics.yaml


def read_checkpoints(settings: KafkaSettings, topic: str, shards: list[int], key: bytes,
                     previous: Sequence[bytes] = ()) -> tuple[dict[int, list[Checkpoint]], list[tuple[str, str]]]:
    """The newest checkpoint of each system in the given partitions of ``topic``, and those refused.

    A refused checkpoint (bad signature, wrong format) is returned as (record key, reason) and is
    never unpickled; the worker then rebuilds that system from the input topics' retained history.
    Checkpoints signed with ``key`` or one of the ``previous`` keys (a rotation under way) load.
    """
    consumer = KafkaConsumer(**settings.kafka_python(), group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES, fetch_max_bytes=MAX_CHECKPOINT_BYTES,
                             client_id="perfstream-restore")
    latest: dict[tuple[int, bytes], bytes | None] = {}
    try:
        partitions = [TopicPartition(topic, shard) for shard in shards]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    latest[(tp.partition, record.key)] = record.value
    finally:
        consumer.close()
    restored: dict[int, list[Checkpoint]] = {shard: [] for shard in shards}
    refused = []
    for (shard, record_key), blob in latest.items():
        if blob is None:  # a tombstone: the system was retired
            continue
        name = record_key.decode("utf-8", "replace") if record_key else "?"
        try:
            restored[shard].append(unseal(blob, key, previous))
        except ForgedCheckpoint as error:
            log.error("refused checkpoint %s in %s[%d]: %s", name, topic, shard, error)
            refused.append((name, str(error)))
    return restored, refused


def partition_bounds(settings: KafkaSettings, group: str, partitions: list[tuple[str, int]]
                     ) -> dict[tuple[str, int], tuple[int, int]]:
    """For each partition: where the group's consumption starts (committed offset, else log start) and its end."""
    consumer = KafkaConsumer(**settings.kafka_python(), group_id=group, enable_auto_commit=False,
                             client_id="perfstream-offsets")
    try:
        tps = [TopicPartition(topic, partition) for topic, partition in partitions]
        beginnings, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (consumer.committed(tp) or beginnings[tp], ends[tp]) for tp in tps}
    finally:
        consumer.close()
