"""Checkpoints on a real broker: a forged one is refused and never unpickled; the metrics say so."""

from __future__ import annotations

import os
import pickle
import re

from kafka import KafkaProducer
from kafka_support import REPO, read_topic, send_events
from service_workloads import by_job, complete, replay_in_process, trace_events

from pipeline.service.checkpoint import MAGIC, Checkpoint, seal


class Booby:
    """Unpickling this runs a shell command: what an attacker would put in a forged checkpoint."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def write_checkpoints(kafka, system: str, blob: bytes) -> None:
    producer = KafkaProducer(**kafka.kafka_python(), max_request_size=8 * 1024 * 1024)
    for partition in range(6):  # wherever the worker looks for this system
        producer.send(kafka.topic("hpc.checkpoints"), value=blob, key=system.encode(), partition=partition)
    producer.flush()
    producer.close()


def test_forged_checkpoints_are_refused_never_unpickled_and_the_system_rebuilt(kafka, workers, swf_slice, tmp_path):
    marker = tmp_path / "pwned"
    forged = MAGIC + b"\0" * 32 + pickle.dumps(Booby(str(marker)))
    wrong_key = seal(Checkpoint("SDSC-SP2", 0, {}, Booby(str(marker)), "select", ("runtime_s",), 0.0), b"not the key")
    write_checkpoints(kafka, "SDSC-SP2", forged)
    write_checkpoints(kafka, "SDSC-SP2", wrong_key)  # the newest record per partition wins: refuse both kinds
    events = trace_events(swf_slice, 600)
    expected = by_job(replay_in_process(events))
    send_events(kafka, events)

    worker = workers("forged")
    published = read_topic(kafka, "hpc.predictions", until=complete(expected), timeout=120)

    assert not marker.exists()
    assert worker.total('perfstream_checkpoints_total{outcome="refused_signature"}') == 6
    assert by_job(published) == expected  # rebuilt from the input topics, as if no checkpoint existed


def test_a_worker_of_another_strategy_does_not_load_the_checkpoint(kafka, workers, swf_slice):
    events = trace_events(swf_slice, 600)
    send_events(kafka, events)
    first = workers("strategy-change", "--strategy", "naive")
    read_topic(kafka, "hpc.predictions", until=len(events), timeout=120)
    first.stop()

    second = workers("strategy-change", "--strategy", "last2")
    second.wait_owning(6)

    assert second.total('perfstream_checkpoints_total{outcome="refused_incompatible"}') == 1


def test_metrics_endpoint_serves_every_series_the_readme_documents(kafka, workers, swf_slice):
    events = trace_events(swf_slice, 400)
    send_events(kafka, events)
    worker = workers("metrics")
    read_topic(kafka, "hpc.predictions", until=len(events), timeout=120)
    worker.wait_owning(6)

    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"`(perfstream_[a-z_]+)`", readme))
    served = worker.series()

    assert len(documented) >= 10
    assert documented <= served, f"documented but not served: {sorted(documented - served)}"


def test_a_key_rotation_keeps_the_learned_state(kafka, workers, swf_slice, tmp_path):
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    old.write_text("the-old-checkpoint-key")
    new.write_text("the-new-checkpoint-key")
    events = trace_events(swf_slice, 600)
    send_events(kafka, events)
    first = workers("rotation", "--checkpoint-key-file", str(old))
    read_topic(kafka, "hpc.predictions", until=len(events), timeout=120)
    first.stop()  # checkpoints with the old key on the way out

    during = workers("rotation", "--checkpoint-key-file", str(new), "--previous-checkpoint-key-file", str(old))
    during.wait_owning(6)
    assert during.total('perfstream_checkpoints_total{outcome="restored"}') == 1
    assert during.total('perfstream_checkpoints_total{outcome="refused_signature"}') == 0
    during.stop()  # ... and now with the new key

    after = workers("rotation", "--checkpoint-key-file", str(new))
    after.wait_owning(6)
    assert after.total('perfstream_checkpoints_total{outcome="restored"}') == 1
    assert after.total('perfstream_checkpoints_total{outcome="refused_signature"}') == 0


def test_without_the_previous_key_an_old_checkpoint_is_refused(kafka, workers, swf_slice, tmp_path):
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    old.write_text("the-old-checkpoint-key")
    new.write_text("the-new-checkpoint-key")
    send_events(kafka, trace_events(swf_slice, 200))
    first = workers("no-rotation", "--checkpoint-key-file", str(old))
    read_topic(kafka, "hpc.predictions", until=200, timeout=120)
    first.stop()

    second = workers("no-rotation", "--checkpoint-key-file", str(new))
    second.wait_owning(6)
    assert second.total('perfstream_checkpoints_total{outcome="refused_signature"}') == 1
