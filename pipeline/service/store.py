"""Reading the compacted checkpoint topic: the latest sealed checkpoint of each system of a shard."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, TopicPartition

from pipeline.service.checkpoint import Checkpoint, ForgedCheckpoint, unseal
from pipeline.service.config import KafkaSettings

log = logging.getLogger(__name__)

MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024  # as the topic's max.message.bytes in topics.yaml


def read_checkpoints(settings: KafkaSettings, topic: str, shard: int, key: bytes
                     ) -> tuple[list[Checkpoint], list[tuple[str, str]]]:
    """The newest checkpoint per system in partition ``shard`` of ``topic``, and those refused.

    A refused checkpoint (bad signature, wrong format) is returned as (record key, reason) and is
    never unpickled; the worker then rebuilds that system from the input topics' retained history.
    """
    consumer = KafkaConsumer(**settings.kafka_python(), group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES, fetch_max_bytes=MAX_CHECKPOINT_BYTES,
                             client_id=f"perfstream-restore-{shard}")
    try:
        tp = TopicPartition(topic, shard)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        latest: dict[bytes, bytes | None] = {}
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    latest[record.key] = record.value
    finally:
        consumer.close()
    restored, refused = [], []
    for record_key, blob in latest.items():
        if blob is None:  # a tombstone: the system was retired
            continue
        name = record_key.decode("utf-8", "replace") if record_key else "?"
        try:
            restored.append(unseal(blob, key))
        except ForgedCheckpoint as error:
            log.error("refused checkpoint %s in %s[%d]: %s", name, topic, shard, error)
            refused.append((name, str(error)))
    return restored, refused
