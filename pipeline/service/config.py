"""Connection and worker settings, from flags or ``PERFSTREAM_*`` environment variables.

One :class:`KafkaSettings` feeds every client: kafka-python for the tools and the checkpoint store,
faust (aiokafka) for the worker, so credentials are configured once.
"""

from __future__ import annotations

import argparse
import os
import ssl
from dataclasses import dataclass
from typing import Any

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def env(name: str, default: str | None = None) -> str | None:
    """``PERFSTREAM_<NAME>`` from the environment, else ``default``."""
    return os.environ.get(f"PERFSTREAM_{name}", default)


@dataclass(frozen=True)
class KafkaSettings:
    """Where the brokers are and how to authenticate to them."""

    bootstrap: str = "127.0.0.1:19092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_prefix: str = ""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> KafkaSettings:
        return cls(args.bootstrap, args.security_protocol, args.sasl_mechanism, args.sasl_username,
                   args.sasl_password, args.ssl_cafile, args.ssl_certfile, args.ssl_keyfile, args.topic_prefix)

    def topic(self, declared: str) -> str:
        """The cluster's name of a topic of topics.yaml: several deployments can share a cluster by prefix."""
        return self.topic_prefix + declared

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's producer, consumer and admin client."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","),
                                  "security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            kwargs.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password)
        if self.security_protocol.endswith("SSL"):
            kwargs.update(ssl_cafile=self.ssl_cafile, ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile)
        return kwargs

    def faust_broker(self) -> str:
        return ";".join(f"kafka://{server}" for server in self.bootstrap.split(","))

    def faust_credentials(self) -> Any:
        """faust's ``broker_credentials`` for these settings (None for plaintext)."""
        import faust

        context = self.ssl_context()
        if self.security_protocol.startswith("SASL"):
            return faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                         mechanism=self.sasl_mechanism, ssl_context=context)
        return faust.SSLCredentials(context) if context is not None else None

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's consumer (the worker's input path)."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","),
                                  "security_protocol": self.security_protocol, "ssl_context": self.ssl_context()}
        if self.security_protocol.startswith("SASL"):
            kwargs.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                          sasl_plain_password=self.sasl_password)
        return kwargs

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the asyncio clients (None without TLS)."""
        if not self.security_protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection flags every Kafka command shares; each defaults to its environment variable."""
    group = parser.add_argument_group("kafka connection (flags override PERFSTREAM_* variables)")
    group.add_argument("--bootstrap", default=env("BOOTSTRAP", "127.0.0.1:19092"),
                       help="comma list of host:port (PERFSTREAM_BOOTSTRAP; default 127.0.0.1:19092)")
    group.add_argument("--security-protocol", choices=SECURITY_PROTOCOLS,
                       default=env("SECURITY_PROTOCOL", "PLAINTEXT"), help="(PERFSTREAM_SECURITY_PROTOCOL)")
    group.add_argument("--sasl-mechanism", choices=SASL_MECHANISMS, default=env("SASL_MECHANISM", "PLAIN"),
                       help="(PERFSTREAM_SASL_MECHANISM)")
    group.add_argument("--sasl-username", default=env("SASL_USERNAME"), help="(PERFSTREAM_SASL_USERNAME)")
    group.add_argument("--sasl-password", default=env("SASL_PASSWORD"),
                       help="(PERFSTREAM_SASL_PASSWORD; prefer the variable: flags show in ps)")
    group.add_argument("--ssl-cafile", default=env("SSL_CAFILE"), help="(PERFSTREAM_SSL_CAFILE)")
    group.add_argument("--ssl-certfile", default=env("SSL_CERTFILE"), help="(PERFSTREAM_SSL_CERTFILE)")
    group.add_argument("--ssl-keyfile", default=env("SSL_KEYFILE"), help="(PERFSTREAM_SSL_KEYFILE)")
    group.add_argument("--topic-prefix", default=env("TOPIC_PREFIX", ""),
                       help="prepended to every topic name of topics.yaml (PERFSTREAM_TOPIC_PREFIX)")


@dataclass(frozen=True)
class WorkerConfig:
    """Everything ``perfstream worker`` is configured with (see ``perfstream worker --help``)."""

    kafka: KafkaSettings
    checkpoint_key: bytes
    previous_checkpoint_keys: tuple[bytes, ...] = ()  # still accepted while a key rotation is under way
    group: str = "perfstream"
    strategy: str = "default"
    targets: tuple[str, ...] = ("runtime_s",)
    checkpoint_every_events: int = 50_000
    checkpoint_every_s: float = 60.0
    metrics_port: int = 9108
    metrics_address: str = "0.0.0.0"
    batch_size: int = 1000  # most input messages taken in per fetch
    max_wait_s: float = 1.0
    order_grace_s: float = 0.01
    max_message_bytes: int = 256 * 1024
    session_timeout_s: float = 10.0
