"""A real Apache Kafka broker for the integration tests, and a real worker process on it.

Where the broker comes from, in order: ``PERFSTREAM_BOOTSTRAP`` (a broker someone runs for us), else
``deploy/local/kafka.sh`` (Apache Kafka's own jars; `.ci/run` starts it), else testcontainers' Kafka
where a Docker engine runs. Tests that stop the broker or need its SASL listener start a private one
with the script, so they never disturb a shared broker.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from pipeline.service.admin import create_topics
from pipeline.service.config import KafkaSettings

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
PERFSTREAM = Path(sys.executable).parent / "perfstream"
SASL_USER, SASL_PASSWORD = "perfstream", "perfstream-secret"  # the local script's defaults
CHECKPOINT_KEY = "integration-test-checkpoint-key"


def free_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 could be bound just now.

    Drawn below the kernel's ephemeral range (32768 on Linux), where no client connection takes a
    port between this check and the server binding it.
    """
    for _ in range(200):
        port = random.randrange(20000, 32000 - span)
        if all(_bindable(port + i) for i in range(span)):
            return port
    raise RuntimeError("no free port range")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class LocalBroker:
    """A broker run by deploy/local/kafka.sh: PLAINTEXT on ``port``, SASL_PLAINTEXT on ``port + 2``."""

    port: int
    home: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.port + 2}"

    def _run(self, action: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PERFSTREAM_KAFKA_PORT": str(self.port), "PERFSTREAM_KAFKA_HOME": str(self.home)}
        return subprocess.run(["bash", str(KAFKA_SH), action], env=env, capture_output=True, text=True, timeout=300)

    def start(self) -> None:
        result = self._run("start")
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh start failed: {result.stderr}{result.stdout}")

    def stop(self) -> None:
        self._run("stop")

    def running(self) -> bool:
        return self._run("status").returncode == 0


def shared_broker() -> tuple[str, Any]:
    """The session's broker: (bootstrap, a stopper or None)."""
    if os.environ.get("PERFSTREAM_BOOTSTRAP"):
        return os.environ["PERFSTREAM_BOOTSTRAP"], None
    if shutil.which("java") and shutil.which("mvn"):
        broker = LocalBroker(int(os.environ.get("PERFSTREAM_KAFKA_PORT", "19092")),
                             Path(os.environ.get("PERFSTREAM_KAFKA_HOME", "/tmp/perfstream-kafka-19092")))
        if broker.running():
            return broker.bootstrap, None
        broker.start()
        return broker.bootstrap, broker.stop
    from testcontainers.community.kafka import KafkaContainer  # only where a Docker engine runs

    container = KafkaContainer().with_kraft()
    container.start()
    return container.get_bootstrap_server(), container.stop


def fresh_settings(bootstrap: str, **overrides: Any) -> KafkaSettings:
    """Settings with a topic prefix of its own, its topics created: tests never see each other's data."""
    settings = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.", **overrides)
    create_topics(settings)
    return settings


def exposition(port: int) -> str:
    """The text of the Prometheus endpoint on this host's ``port``; empty while it is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def samples(text: str) -> dict[str, float]:
    """A Prometheus endpoint's text as {'name{labels}': value}."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def cli_arguments(settings: KafkaSettings) -> list[str]:
    args = ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix,
            "--security-protocol", settings.security_protocol]
    if settings.sasl_username:
        args += ["--sasl-mechanism", settings.sasl_mechanism, "--sasl-username", settings.sasl_username]
    return args


def cli_env(settings: KafkaSettings) -> dict[str, str]:
    env = {**os.environ, "PERFSTREAM_CHECKPOINT_KEY": CHECKPOINT_KEY}
    if settings.sasl_password:
        env["PERFSTREAM_SASL_PASSWORD"] = settings.sasl_password
    return env


def perfstream(settings: KafkaSettings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a perfstream Kafka command (publish, tail, topics) against ``settings``."""
    return subprocess.run([str(PERFSTREAM), *args, *cli_arguments(settings)], env=cli_env(settings),
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class WorkerProcess:
    """``perfstream worker`` as a real process, with its Prometheus endpoint for readiness and counts."""

    settings: KafkaSettings
    group: str
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    def start(self, log_dir: Path) -> WorkerProcess:
        self.log = log_dir / f"worker-{self.group}-{self.port}.log"
        command = [str(PERFSTREAM), "worker", *cli_arguments(self.settings), "--group", self.group,
                   "--metrics-port", str(self.port), "--metrics-address", "127.0.0.1", *self.extra]
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(command, env=cli_env(self.settings), stdout=sink, stderr=subprocess.STDOUT)
        return self

    def exposition(self) -> str:
        """The endpoint's text; empty while the endpoint is not up yet."""
        text = exposition(self.port)
        if not text:
            self.assert_alive()
        return text

    def series(self) -> set[str]:
        """Names of the series the endpoint declares (its # TYPE lines), with or without samples yet."""
        return {line.split()[2] for line in self.exposition().splitlines() if line.startswith("# TYPE ")}

    def metrics(self) -> dict[str, float]:
        """The endpoint's samples as {'name{labels}': value}; empty while the endpoint is not up yet."""
        return samples(self.exposition())

    def total(self, prefix: str) -> float:
        """Sum of the samples whose name and labels start with ``prefix``."""
        return sum(v for k, v in self.metrics().items() if k.startswith(prefix))

    def wait_owning(self, shards: int = 1, timeout: float = 60) -> None:
        """Until the worker owns at least ``shards`` partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.total("perfstream_owned_shards") >= shards:
                return
            time.sleep(0.3)
        raise TimeoutError(f"worker owns fewer than {shards} partitions after {timeout} s; log: {self.tail()}")

    def assert_alive(self) -> None:
        assert self.process is not None and self.process.poll() is None, f"worker exited: {self.tail()}"

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text().splitlines()[-lines:]) if self.log and self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def send_events(settings: KafkaSettings, events: Iterable[dict[str, Any]]) -> int:
    """Publish events to their input topics with the project's own tool function."""
    from pipeline.service.tools import publish

    return sum(1 for _ in publish(events, settings))


def send_raw(settings: KafkaSettings, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> None:
    """Publish raw (key, value) byte pairs, as a misbehaving producer would."""
    producer = KafkaProducer(**settings.kafka_python(), max_request_size=2 * 1024 * 1024)
    for key, value in messages:
        producer.send(settings.topic(topic), value=value, key=key)
    producer.flush()
    producer.close()


def read_topic(settings: KafkaSettings, topic: str, *, until: int | Callable[[list], bool] | None = None,
               timeout: float = 60, idle: float = 3.0) -> list[dict[str, Any]]:
    """JSON records of a topic from its beginning.

    Reads until ``until`` records (or ``until(records)`` is true) or ``timeout``; without ``until``,
    until the topic has been quiet for ``idle`` seconds.
    """
    if isinstance(until, int):
        count = until
        until = lambda records: len(records) >= count  # noqa: E731
    consumer = KafkaConsumer(settings.topic(topic), **settings.kafka_python(), group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=500)
    records: list[dict[str, Any]] = []
    deadline, quiet_since = time.monotonic() + timeout, time.monotonic()
    try:
        while time.monotonic() < deadline:
            before = len(records)
            records += [json.loads(m.value) for m in consumer]
            if until is not None and until(records):
                break
            if len(records) > before:
                quiet_since = time.monotonic()
            elif until is None and time.monotonic() - quiet_since > idle:
                break
    finally:
        consumer.close()
    return records
