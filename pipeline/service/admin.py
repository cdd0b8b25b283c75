"""``perfstream topics create|check``: the topics of topics.yaml on a real cluster, and drift from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from pipeline.schemas import topics
from pipeline.service.config import KafkaSettings

TOPIC_EXISTS = 36  # Kafka's TOPIC_ALREADY_EXISTS error code


@dataclass(frozen=True)
class Drift:
    """One difference between a declared topic and the cluster's."""

    topic: str
    setting: str
    declared: str
    actual: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.setting} is {self.actual}, declared {self.declared}"


def _declared_config(spec: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in spec.get("config", {}).items()}


def create_topics(settings: KafkaSettings) -> tuple[list[str], list[str]]:
    """Create every declared topic that is missing; return (created, already there)."""
    admin = KafkaAdminClient(**settings.kafka_python(), client_id="perfstream-topics")
    try:
        wanted = {settings.topic(name): {"num_partitions": spec["partitions"],
                                         "replication_factor": spec["replication_factor"],
                                         "configs": _declared_config(spec)}
                  for name, spec in topics().items()}
        response = admin.create_topics(wanted, raise_errors=False, wait_for_metadata=True)
    finally:
        admin.close()
    created, existing = [], []
    for result in response["topics"]:
        if result["error_code"] == 0:
            created.append(result["name"])
        elif result["error_code"] == TOPIC_EXISTS:
            existing.append(result["name"])
        else:
            raise RuntimeError(f"creating {result['name']}: {result['error_message']} (code {result['error_code']})")
    return created, existing


def check_topics(settings: KafkaSettings) -> list[Drift]:
    """Every way the cluster's topics differ from topics.yaml (missing, partitions, replication, config)."""
    admin = KafkaAdminClient(**settings.kafka_python(), client_id="perfstream-topics")
    try:
        declared = {settings.topic(name): spec for name, spec in topics().items()}
        present = set(admin.list_topics())
        drifts = [Drift(name, "existence", "present", "missing") for name in declared if name not in present]
        names = [name for name in declared if name in present]
        if not names:
            return drifts
        described = {t["name"]: t for t in admin.describe_topics(names)}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names],
                                         config_filter="all")["topic"]
    finally:
        admin.close()
    for name in names:
        spec, partitions = declared[name], described[name]["partitions"]
        if len(partitions) != spec["partitions"]:
            drifts.append(Drift(name, "partitions", str(spec["partitions"]), str(len(partitions))))
        replicas = min(len(p["replica_nodes"]) for p in partitions)
        if replicas != spec["replication_factor"]:
            drifts.append(Drift(name, "replication_factor", str(spec["replication_factor"]), str(replicas)))
        for setting, value in _declared_config(spec).items():
            actual = configs[name].get(setting, {}).get("value")
            if actual != value:
                drifts.append(Drift(name, setting, value, str(actual)))
    return drifts
