"""deploy/k8s validates against the Kubernetes API's schemas and wires the worker as the docs say.

Core resources go through kubernetes-validate in strict mode (unknown fields are errors); the PodMonitor
through the Prometheus Operator's own CRD schema (`deploy/local/schemas.sh podmonitor` fetches it).
"""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import DEPLOY, cli_variables, fetched_schema

from pipeline.cli import _parser

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
RESOURCES = {doc["kind"]: doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())}
DEPLOYMENT = RESOURCES["Deployment"]
WORKER = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]


def podmonitor_crd_schema() -> dict:
    crd = yaml.safe_load(fetched_schema("podmonitor").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would prune: not declared where the schema lists every allowed field."""
    if isinstance(value, dict) and "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        found = [f"{path}.{key}" for key in value if key not in schema["properties"]]
        for key, item in value.items():
            if key in schema["properties"]:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, list) and "items" in schema:
        return [f for i, item in enumerate(value) for f in unknown_fields(item, schema["items"], f"{path}[{i}]")]
    return []


@pytest.mark.parametrize("kind", sorted(set(RESOURCES) - {"PodMonitor"}))
def test_core_resources_are_valid_for_the_kubernetes_api_strictly(kind):
    kubernetes_validate.validate(RESOURCES[kind], kubernetes_validate.utils.latest_version(), strict=True)


def test_the_strict_validator_rejects_a_misspelt_field():
    broken = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"periodSeconds": 10}
    with pytest.raises(jsonschema.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.utils.latest_version(), strict=True)


def test_podmonitor_is_valid_for_the_prometheus_operator_crd():
    schema = podmonitor_crd_schema()
    jsonschema.validate(RESOURCES["PodMonitor"], schema)
    assert not unknown_fields(RESOURCES["PodMonitor"], schema)
    misspelt = {**RESOURCES["PodMonitor"], "spec": {**RESOURCES["PodMonitor"]["spec"], "podMetricEndpoints": []}}
    assert unknown_fields(misspelt, schema) == [".spec.podMetricEndpoints"]


def test_kustomization_lists_every_manifest_but_the_one_shot_job():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"topics-job.yaml"}


def test_checkpoint_key_comes_from_a_secret_and_settings_from_the_configmap():
    [key] = [e for e in WORKER["env"] if e["name"] == "PERFSTREAM_CHECKPOINT_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["name"] == "perfstream-checkpoint-key"
    assert WORKER["envFrom"] == [{"configMapRef": {"name": RESOURCES["ConfigMap"]["metadata"]["name"]}}]
    assert "PERFSTREAM_CHECKPOINT_KEY" not in RESOURCES["ConfigMap"]["data"]


def test_configmap_sets_only_variables_the_cli_reads():
    assert set(RESOURCES["ConfigMap"]["data"]) <= cli_variables()


def test_probes_run_the_health_command_on_the_configured_port():
    port = int(RESOURCES["ConfigMap"]["data"]["PERFSTREAM_METRICS_PORT"])
    assert WORKER["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = WORKER[probe]["exec"]["command"]
        assert command[:2] == ["perfstream", "health"], probe
        _parser().parse_args(command[1:])  # the health command reads PERFSTREAM_METRICS_PORT for its URL


def test_worker_args_parse_with_the_real_cli():
    _parser().parse_args(WORKER["args"])
    _parser().parse_args(RESOURCES["Job"]["spec"]["template"]["spec"]["containers"][0]["args"])


def test_service_and_podmonitor_select_the_worker_pods_on_the_metrics_port():
    pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert RESOURCES["Service"]["spec"]["selector"].items() <= pod_labels.items()
    assert RESOURCES["PodMonitor"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert RESOURCES["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert RESOURCES["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"


def test_prometheus_job_label_is_the_one_the_alerts_match():
    job_label = RESOURCES["PodMonitor"]["spec"]["jobLabel"]
    assert RESOURCES["Deployment"]["spec"]["template"]["metadata"]["labels"][job_label] == "perfstream"


def test_worker_has_resources_a_grace_period_for_its_checkpoint_and_no_root():
    pod = DEPLOYMENT["spec"]["template"]["spec"]
    assert WORKER["resources"]["requests"]["memory"] and WORKER["resources"]["limits"]["memory"]
    assert pod["terminationGracePeriodSeconds"] >= 60
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert WORKER["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"mountPath": "/tmp", "name": "tmp"} in WORKER["volumeMounts"]  # faust's data dir is under /tmp
