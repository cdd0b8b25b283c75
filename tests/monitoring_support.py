"""The monitoring files of deploy/, and a real Prometheus server for the tests that check them.

promtool and prometheus come from Debian's ``prometheus`` package (`.ci/run` installs it). A test that
needs them fails, never skips, when they are missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from deploy_support import DEPLOY

from pipeline.service.metrics import WorkerMetrics
from pipeline.service.slurm_annotate import Annotated
from pipeline.service.slurm_bridge import Tally
from pipeline.service.slurm_metrics import AnnotatedCollector, TallyCollector

PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "perfstream.json"
# what Grafana puts in place of its variables before a query reaches Prometheus
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$system": ".*"}
SERIES_NAME = re.compile(r"\b(perfstream[_:][a-zA-Z0-9_:]+|up)\b")


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: install Debian's prometheus package (.ci/run does)"
    return path


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def exported_series() -> set[str]:
    """Every series name a worker, a Slurm bridge or the Slurm annotator can expose, from their
    collectors, plus Prometheus's own ``up``."""
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    families = [*WorkerMetrics().registry.collect(), *TallyCollector("sacct", Tally()).collect(),
                *AnnotatedCollector(Annotated()).collect()]
    return {f.name + s for f in families for s in suffixes[f.type]} | {"up"}


def recorded_series() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def series_in(expr: str) -> set[str]:
    return set(SERIES_NAME.findall(expr))


def dashboard_queries() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, annotations and variable queries."""
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    queries += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    return queries


def as_prometheus_sees_it(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


@dataclass
class PrometheusServer:
    """``prometheus`` scraping ``targets`` every second and evaluating rules.yml every second."""

    home: Path
    port: int
    targets: list[str]
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> PrometheusServer:
        self.home.mkdir(parents=True, exist_ok=True)
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(RULES)],
                  "scrape_configs": [{"job_name": "perfstream", "static_configs": [{"targets": self.targets}]}]}
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (self.home / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [tool("prometheus"), f"--config.file={self.home / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.home / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited: {self.log()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"prometheus not ready after {timeout} s: {self.log()}")

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:  # a bad query is a 400 with the parser's message
            body = json.load(error)
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def log(self) -> str:
        path = self.home / "prometheus.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
