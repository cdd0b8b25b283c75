"""Alerting and recording rules, and the Grafana dashboard, checked by real tools.

promtool checks the rules and runs each alert's unit cases; a real Prometheus server scrapes a real
worker on a real broker, evaluates the rules, and runs every query of the dashboard.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from kafka_support import free_port, read_topic, send_events
from monitoring_support import (
    DASHBOARD,
    PROMETHEUS_DIR,
    RULES,
    PrometheusServer,
    as_prometheus_sees_it,
    dashboard_queries,
    exported_series,
    recorded_series,
    rules,
    series_in,
    tool,
)
from service_workloads import trace_events, wait_until


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=PROMETHEUS_DIR)


def test_rules_pass_promtool_check():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_cases_say():
    result = promtool("test", "rules", "rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_unit_cases_that_fire_it():
    cases = yaml.safe_load((PROMETHEUS_DIR / "rules.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in cases for case in test["alert_rule_test"] if case["exp_alerts"]}
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts == fired, f"alerts without a firing case: {sorted(alerts - fired)}"


def test_the_alerts_the_issue_asks_for_exist():
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    for wanted in ("Drift", "RollingError", "DeadLetters", "CheckpointStale", "ConsumerLag", "WorkerDown"):
        assert any(wanted in alert for alert in alerts), wanted


def test_rules_name_only_series_a_worker_or_a_slurm_bridge_exports():
    known = exported_series() | recorded_series()
    for rule in rules():
        unknown = series_in(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: {sorted(unknown)}"


def test_every_dashboard_query_names_series_a_worker_or_a_slurm_bridge_exports():
    known = exported_series() | recorded_series()
    for expr in dashboard_queries():
        assert series_in(expr), f"names no series: {expr}"
        assert series_in(expr) <= known, f"{expr}: {sorted(series_in(expr) - known)}"


def test_dashboard_shows_what_operators_need():
    board = json.loads(DASHBOARD.read_text())
    exprs = " ".join(dashboard_queries())
    for series in ("perfstream_rolling_abs_log10_error", "perfstream_predictions_total", "perfstream_events_total",
                   "perfstream_dead_letters_total", "perfstream_prediction_latency_seconds_bucket",
                   "perfstream_checkpoint_age_seconds", "perfstream_consumer_lag"):
        assert series in exprs, series
    drift = board["annotations"]["list"]
    assert any("perfstream_drift_alarms_total" in a.get("expr", "") for a in drift)
    assert all(p["datasource"]["uid"] == "prometheus" for p in board["panels"])


def test_compose_prometheus_config_passes_promtool(tmp_path):
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["rule_files"] = [str(RULES)]  # in compose the file is mounted at /etc/prometheus/rules.yml
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def scraped_worker(kafka, workers, swf_slice, tmp_path):
    """A worker that has predicted a trace slice, and a Prometheus server that scrapes it."""
    events = trace_events(swf_slice, 300)
    send_events(kafka, events)
    worker = workers("monitored")
    read_topic(kafka, "hpc.predictions", until=len(events), timeout=120)
    server = PrometheusServer(tmp_path / "prometheus", free_port(), [f"127.0.0.1:{worker.port}"]).start()
    yield worker, server
    server.stop()


def test_prometheus_scrapes_the_worker_and_evaluates_every_rule(scraped_worker):
    _, server = scraped_worker
    wait_until(lambda: server.query("sum(perfstream_predictions_total) > 0"), 60, "a scrape with predictions")
    wait_until(lambda: server.query("perfstream:predictions:rate5m"), 60, "a recording rule's first value")
    groups = server.api("rules")["groups"]
    evaluated = [rule for group in groups for rule in group["rules"]]
    assert len(evaluated) == len(rules())
    broken = [(rule["name"], rule.get("lastError")) for rule in evaluated if rule["health"] != "ok"]
    assert not broken
    assert server.query('up{job="perfstream"} == 1')


def test_every_dashboard_query_runs_on_prometheus(scraped_worker):
    _, server = scraped_worker
    wait_until(lambda: server.query("sum(perfstream_predictions_total) > 0"), 60, "a scrape with predictions")
    for expr in dashboard_queries():
        server.query(as_prometheus_sees_it(expr))  # raises with Prometheus's parse error if it fails
    systems = server.api("label/system/values", **{"match[]": "perfstream_predictions_total"})
    assert systems, "the dashboard's system variable would offer nothing"
