"""deploy/systemd: the Slurm bridge's unit, checked by systemd's own tools and perfstream's parser.

systemd-analyze (Debian's systemd package; .ci/run installs it when missing) loads the unit as
systemd would and rates its sandbox. No systemd runs here to start it: its command line is the one
the Slurm tests run (test_slurm_adapter.py), parsed here by perfstream's own parser.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from deploy_support import DEPLOY, cli_variables
from kafka_support import PERFSTREAM

from pipeline.cli import _parser

UNIT = DEPLOY / "systemd" / "perfstream-slurm.service"
ENVIRONMENT = DEPLOY / "systemd" / "slurm.env"
INSTALLED_AT = "/opt/perfstream/bin/perfstream"


def systemd_analyze(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze not found: install Debian's systemd package (.ci/run does)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def installed_here(tmp_path: Path) -> Path:
    """The unit with this checkout's perfstream in place of /opt's (verify checks the program exists)."""
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_AT, str(PERFSTREAM)))
    return unit


def exec_start() -> list[str]:
    (line,) = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_systemd_loads_the_bridge_unit_without_a_complaint(tmp_path):
    result = systemd_analyze("verify", str(installed_here(tmp_path)))
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_the_bridge_unit_runs_sandboxed(tmp_path):
    # an exposure over 4.0 fails (the threshold counts tenths; 10.0 is no sandbox at all)
    result = systemd_analyze("security", "--offline=true", "--threshold=40", str(installed_here(tmp_path)))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_the_bridge_unit_follows_sacct_with_pending_jobs_and_serves_metrics():
    program, *arguments = exec_start()
    args = _parser().parse_args(arguments)  # exits on a flag perfstream does not have
    assert program == INSTALLED_AT
    assert (args.feed, args.follow, args.pending, args.metrics_port) == ("sacct", 30.0, True, 9109)


def test_the_bridge_units_environment_file_sets_only_variables_perfstream_reads():
    names = {line.split("=", 1)[0] for line in ENVIRONMENT.read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert names and names <= cli_variables(), sorted(names - cli_variables())
