"""``perfstream topics create|check`` against a real cluster."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions
from kafka_support import WorkerProcess, perfstream

from pipeline.schemas import topics
from pipeline.service.admin import check_topics


def test_create_is_idempotent_and_check_finds_no_drift(kafka):
    again = perfstream(kafka, "topics", "create")

    assert again.returncode == 0, again.stderr
    assert "created: none" in again.stdout
    assert "topics match topics.yaml" in again.stdout


def test_checkpoint_topic_is_compacted(kafka):
    admin = KafkaAdminClient(**kafka.kafka_python())
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, kafka.topic("hpc.checkpoints"))],
                                     config_filter="all")["topic"][kafka.topic("hpc.checkpoints")]
    admin.close()

    assert configs["cleanup.policy"]["value"] == "compact"
    assert configs["max.message.bytes"]["value"] == str(topics()["hpc.checkpoints"]["config"]["max.message.bytes"])


def test_check_reports_drift_in_partitions_and_config(kafka):
    admin = KafkaAdminClient(**kafka.kafka_python())
    admin.create_partitions({kafka.topic("hpc.predictions"): NewPartitions(total_count=8)})
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, kafka.topic("hpc.metrics"),
                                        configs={"retention.ms": "1000"})])
    admin.close()

    drifts = {(d.topic.removeprefix(kafka.topic_prefix), d.setting) for d in check_topics(kafka)}
    result = perfstream(kafka, "topics", "check")

    assert drifts == {("hpc.predictions", "partitions"), ("hpc.metrics", "retention.ms")}
    assert result.returncode == 2
    assert "hpc.predictions: partitions is 8, declared 6" in result.stdout


def test_check_reports_missing_topics(bootstrap):
    from pipeline.service.config import KafkaSettings

    result = perfstream(KafkaSettings(bootstrap=bootstrap, topic_prefix="never-created."), "topics", "check")

    assert result.returncode == 2
    assert "never-created.hpc.job-submissions: existence is missing" in result.stdout


def test_worker_stops_on_input_topics_that_are_not_co_partitioned(kafka, tmp_path):
    admin = KafkaAdminClient(**kafka.kafka_python())
    admin.create_partitions({kafka.topic("hpc.node-health"): NewPartitions(total_count=8)})
    admin.close()
    worker = WorkerProcess(kafka, "split").start(tmp_path)

    status = worker.process.wait(120)

    assert status != 0
    assert "not co-partitioned" in worker.log.read_text()
