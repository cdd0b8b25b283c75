"""deploy/docker-compose.yml is wired right: names, ports, variables, volumes, healthchecks, files.

No Docker engine runs here, so the file is read as Compose reads it (YAML with merge keys), validated
against the Compose Specification's own JSON schema (`deploy/local/schemas.sh compose`), and every
connection between its parts is checked: each perfstream command against the real CLI parser, each
scrape target against the workers' ports, each mounted file against the repository.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml
from deploy_support import DEPLOY, cli_variables, fetched_schema

from pipeline.cli import _parser

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PERFSTREAM = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("perfstream")}
WORKERS = {name: s for name, s in PERFSTREAM.items() if s["command"][0] == "worker"}


def bind_mounts(service: dict) -> list[tuple[Path, str]]:
    """(host path, container path) of a service's bind mounts (named volumes left out)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append(((DEPLOY / source).resolve(), target))
    return mounts


def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(fetched_schema("compose").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_is_valid_for_the_compose_specification():
    errors = [f"{e.json_path}: {e.message}" for e in compose_validator().iter_errors(COMPOSE)]
    assert not errors


def test_the_compose_schema_rejects_a_misspelt_key():
    broken = {**COMPOSE, "services": {**SERVICES, "kafka": {**SERVICES["kafka"], "helthcheck": {}}}}
    assert list(compose_validator().iter_errors(broken))


def test_compose_has_every_part_the_deployment_needs():
    assert {"kafka", "topics", "prometheus", "grafana", "replayer"} <= set(SERVICES)
    assert len(WORKERS) == 2


def test_kafka_is_the_official_image_in_kraft_mode():
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert set(kafka["environment"]["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_perfstream_services_reach_kafka_on_an_advertised_listener():
    advertised = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {listener.split("://")[1] for listener in advertised.split(",")}
    for name, service in PERFSTREAM.items():
        assert service["environment"]["PERFSTREAM_BOOTSTRAP"] in addresses, name


@pytest.mark.parametrize("name", sorted(PERFSTREAM))
def test_every_perfstream_command_parses_with_the_real_cli(name):
    _parser().parse_args(PERFSTREAM[name]["command"])  # argparse exits (SystemExit) on a bad flag


def test_every_perfstream_variable_is_one_the_cli_reads():
    read = cli_variables()
    for name, service in PERFSTREAM.items():
        unknown = set(service["environment"]) - read
        assert not unknown, f"{name}: {sorted(unknown)}"


def test_workers_share_one_group_and_one_checkpoint_key():
    groups = {s["environment"]["PERFSTREAM_GROUP"] for s in WORKERS.values()}
    keys = {s["environment"]["PERFSTREAM_CHECKPOINT_KEY"] for s in WORKERS.values()}
    assert len(groups) == 1 and len(keys) == 1
    assert keys.pop().startswith("${PERFSTREAM_CHECKPOINT_KEY:?"), "compose must refuse to start without a key"


def test_prometheus_scrapes_every_worker_on_its_metrics_port():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "perfstream"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    expected = {f"{s['hostname']}:{s['environment']['PERFSTREAM_METRICS_PORT']}" for s in WORKERS.values()}
    assert targets == expected


def test_prometheus_loads_the_rules_it_is_given():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounted = dict((target, source) for source, target in bind_mounts(SERVICES["prometheus"]))
    for rule_file in config["rule_files"]:
        assert mounted.get(rule_file) == (DEPLOY / "prometheus" / "rules.yml").resolve()
    assert "--config.file=/etc/prometheus/prometheus.yml" in SERVICES["prometheus"]["command"]
    assert mounted["/etc/prometheus/prometheus.yml"] == (DEPLOY / "prometheus" / "prometheus.yml").resolve()


def test_every_mounted_file_exists():
    for name, service in SERVICES.items():
        for source, _ in bind_mounts(service):
            assert source.exists(), f"{name} mounts {source}, which is not in the repository"


def test_grafana_finds_its_datasource_and_its_dashboards():
    mounted = dict((target, source) for source, target in bind_mounts(SERVICES["grafana"]))
    provisioning = mounted["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    host, port = source["url"].split("//")[1].split(":")
    assert host == "prometheus" and f"{port}:{port}" in SERVICES["prometheus"]["ports"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "perfstream.yml").read_text())["providers"]
    dashboards = mounted[provider["options"]["path"]]
    assert (dashboards / "perfstream.json").exists()
    assert source["uid"] in (dashboards / "perfstream.json").read_text()


def test_every_long_running_service_has_a_healthcheck():
    for name in ("kafka", "prometheus", "grafana", *WORKERS):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_worker_healthcheck_probes_its_own_metrics_port():
    for name, worker in WORKERS.items():
        probe = worker["healthcheck"]["test"]
        assert probe[1:3] == ["perfstream", "health"], name
        _parser().parse_args(probe[2:])
        assert probe[-1].endswith(f":{worker['environment']['PERFSTREAM_METRICS_PORT']}/metrics")


def test_start_order_kafka_healthy_then_topics_then_workers():
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in (*WORKERS, "replayer"):
        assert SERVICES[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully", name


def test_the_demo_replayer_runs_only_with_the_demo_profile():
    assert SERVICES["replayer"]["profiles"] == ["demo"]
    assert SERVICES["replayer"]["command"][:2] == ["publish", "synthetic"]


def test_dockerfile_runs_the_cli_and_exposes_the_metrics_port():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["perfstream"]' in dockerfile
    port = next(s["environment"]["PERFSTREAM_METRICS_PORT"] for s in WORKERS.values())
    assert f"EXPOSE {port}" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (DEPLOY.parent / source).exists(), line
    assert SERVICES["topics"]["build"]["dockerfile"] == "deploy/Dockerfile"
