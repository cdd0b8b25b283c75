"""The worker's Prometheus series. Names follow Prometheus conventions (``_total``, ``_seconds``).

Counters move as messages flow; gauges that describe state (rolling error, buffer sizes, checkpoint
age, consumer lag) are refreshed by the worker's periodic tick.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from pipeline.processor import Processor

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WorkerMetrics:
    """Every series the worker exports, in its own registry (served by :meth:`serve`)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.events = Counter("perfstream_events_total", "Input messages by topic and outcome "
                              "(processed, dead_letter, duplicate)", ["topic", "outcome"], registry=registry)
        self.dead_letters = Counter("perfstream_dead_letters_total", "Rejected input messages by reason category",
                                    ["category"], registry=registry)
        self.predictions = Counter("perfstream_predictions_total", "Predictions published",
                                   ["system", "target", "stage"], registry=registry)
        self.drift_alarms = Counter("perfstream_drift_alarms_total", "Drift alarms, component shifts and announced "
                                    "changes", ["system", "target", "detector", "component"], registry=registry)
        self.latency = Histogram("perfstream_prediction_latency_seconds", "From a submission's Kafka timestamp "
                                 "to its prediction handed to the producer", buckets=LATENCY_BUCKETS,
                                 registry=registry)
        self.rolling_error = Gauge("perfstream_rolling_abs_log10_error", "Mean |log10(predicted/observed)| "
                                   "over the recent completions", ["system", "target"], registry=registry)
        self.coverage = Gauge("perfstream_interval_coverage", "Share of the recent completions within their "
                              "predicted interval (aimed at 0.8)", ["system", "target"], registry=registry)
        self.buffer_size = Gauge("perfstream_buffer_size", "Samples held by the strategy's replay buffer",
                                 ["system", "target"], registry=registry)
        self.checkpoints = Counter("perfstream_checkpoints_total", "Checkpoints by outcome (written, restored, "
                                   "refused_signature, refused_incompatible)", ["outcome"], registry=registry)
        self.checkpoint_age = Gauge("perfstream_checkpoint_age_seconds", "Seconds since each owned shard's last "
                                    "checkpoint", ["shard"], registry=registry)
        self.lag = Gauge("perfstream_consumer_lag", "Messages behind the end of each owned input partition",
                         ["topic", "partition"], registry=registry)
        self.heartbeat = Gauge("perfstream_heartbeat_timestamp_seconds", "When the worker's event loop last ran "
                               "its housekeeping tick (every second): liveness", registry=registry)
        self.shards = Gauge("perfstream_owned_shards", "Input partitions this worker owns", registry=registry)

    def serve(self, port: int, address: str) -> None:
        """Start the HTTP endpoint (``/metrics``) in a background thread."""
        start_http_server(port, address, registry=self.registry)

    def observe_state(self, processor: Processor) -> None:
        """Refresh the per-system gauges from the learned state."""
        for system, state in processor.systems.items():
            for target, ts in state.targets.items():
                if ts.errors:
                    self.rolling_error.labels(system, target).set(sum(ts.errors) / len(ts.errors))
                    self.coverage.labels(system, target).set(sum(ts.hits) / len(ts.hits))
                self.buffer_size.labels(system, target).set(ts.strategy.buffer_size)

    def observe_output(self, record: Mapping[str, Any], received: float) -> None:
        """Count a published record; a submission's prediction also times its latency from ``received``
        (the input message's Kafka timestamp, epoch seconds)."""
        schema = record["schema"]
        if schema == "prediction/1":
            self.predictions.labels(record["system"], record["target"], record["stage"]).inc()
            if record["stage"] == "submission":
                self.latency.observe(max(0.0, time.time() - received))
        elif schema == "drift-event/1":
            self.drift_alarms.labels(record["system"], record["target"], record["detector"],
                                     record.get("component", "")).inc()
        elif schema == "dead-letter/1":
            self.dead_letters.labels(record["category"]).inc()

    def forget_shard(self, shard: int, topics: Iterable[str]) -> None:
        """Drop the gauges of a shard this worker no longer owns, so they do not report stale values."""
        series = [(self.checkpoint_age, (str(shard),))] + [(self.lag, (topic, str(shard))) for topic in topics]
        for gauge, labels in series:
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
