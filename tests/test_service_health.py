"""``perfstream health``, the probe Docker and Kubernetes run against a worker."""

from __future__ import annotations

import subprocess

from kafka_support import PERFSTREAM


def health(worker, *extra: str) -> subprocess.CompletedProcess:
    url = f"http://127.0.0.1:{worker.port}/metrics"
    return subprocess.run([str(PERFSTREAM), "health", "--url", url, *extra], capture_output=True, text=True,
                          timeout=60)


def test_a_running_worker_is_healthy(kafka, workers):
    worker = workers("healthy")
    worker.wait_owning(1)
    result = health(worker)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("alive: last heartbeat")


def test_a_heartbeat_older_than_the_limit_is_unhealthy(kafka, workers):
    worker = workers("stale-heartbeat")
    worker.wait_owning(1)
    result = health(worker, "--max-age", "0")
    assert result.returncode == 2
    assert "event loop last ticked" in result.stderr


def test_a_stopped_worker_is_unhealthy(kafka, workers):
    worker = workers("stopped")
    worker.wait_owning(1)
    worker.stop()
    result = health(worker)
    assert result.returncode == 2
    assert "does not answer" in result.stderr
