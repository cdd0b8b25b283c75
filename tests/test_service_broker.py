"""What production does to the broker: it restarts, and it wants credentials."""

from __future__ import annotations

import dataclasses
import time

from kafka_support import SASL_PASSWORD, SASL_USER, WorkerProcess, fresh_settings, perfstream, read_topic, send_events
from service_workloads import by_job, complete, explain, replay_in_process, trace_events, wait_until


def test_worker_reconnects_after_a_broker_restart_and_loses_nothing(private_broker, sp2, tmp_path):
    kafka = fresh_settings(private_broker.bootstrap)
    events = trace_events(sp2, 30_000)
    expected = by_job(replay_in_process(events))
    send_events(kafka, events)
    worker = WorkerProcess(kafka, "restart").start(tmp_path)
    try:
        wait_until(lambda: worker.total("perfstream_events_total") >= len(events) // 10, what="a tenth processed")
        private_broker.stop()
        time.sleep(3)
        worker.assert_alive()
        private_broker.start()
        published = read_topic(kafka, "hpc.predictions", until=complete(expected), timeout=300)

        worker.assert_alive()
        assert by_job(published) == expected, explain(by_job(published), expected, worker)
    finally:
        worker.stop()


def sasl(settings, password: str):
    return dataclasses.replace(settings, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                               sasl_username=SASL_USER, sasl_password=password)


def test_worker_and_tools_connect_through_a_sasl_listener(private_broker, swf_slice, tmp_path):
    kafka = fresh_settings(private_broker.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                           sasl_mechanism="PLAIN", sasl_username=SASL_USER, sasl_password=SASL_PASSWORD)
    sent = perfstream(kafka, "publish", str(swf_slice), "--limit", "300")
    worker = WorkerProcess(kafka, "sasl").start(tmp_path)
    try:
        published = read_topic(kafka, "hpc.predictions", until=300, timeout=120)
    finally:
        worker.stop()

    assert sent.returncode == 0, sent.stderr
    assert len(published) == 300


def test_tools_are_refused_without_the_right_credentials(private_broker, swf_slice):
    kafka = fresh_settings(private_broker.bootstrap)
    wrong = sasl(dataclasses.replace(kafka, bootstrap=private_broker.sasl_bootstrap), "wrong-password")

    checked = perfstream(wrong, "topics", "check", timeout=120)
    sent = perfstream(wrong, "publish", str(swf_slice), "--limit", "10", timeout=120)

    assert checked.returncode == 2 and "perfstream: error:" in checked.stderr
    assert sent.returncode == 2 and "perfstream: error:" in sent.stderr


def test_worker_is_refused_without_the_right_credentials(private_broker, tmp_path):
    kafka = fresh_settings(private_broker.bootstrap)
    wrong = sasl(dataclasses.replace(kafka, bootstrap=private_broker.sasl_bootstrap), "wrong-password")
    worker = WorkerProcess(wrong, "sasl-refused").start(tmp_path)

    status = worker.process.wait(60)

    assert status != 0
    assert "Authentication failed" in worker.log.read_text()
