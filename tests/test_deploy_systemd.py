"""deploy/systemd: the Slurm bridge's and annotator's units, checked by systemd's own tools and
perfstream's parser.

systemd-analyze (Debian's systemd package; .ci/run installs it when missing) loads each unit as
systemd would and rates its sandbox. No systemd runs here to start them: their command lines are the
ones the Slurm tests run (test_slurm_adapter.py), parsed here by perfstream's own parser.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import DEPLOY, cli_variables
from kafka_support import PERFSTREAM

from pipeline.cli import _parser

BRIDGE = DEPLOY / "systemd" / "perfstream-slurm.service"
ANNOTATOR = DEPLOY / "systemd" / "perfstream-slurm-annotate.service"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ENVIRONMENT = DEPLOY / "systemd" / "slurm.env"
INSTALLED_AT = "/opt/perfstream/bin/perfstream"


def systemd_analyze(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze not found: install Debian's systemd package (.ci/run does)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def installed_here(unit: Path, tmp_path: Path) -> Path:
    """The unit with this checkout's perfstream in place of /opt's (verify checks the program exists)."""
    installed = tmp_path / unit.name
    installed.write_text(unit.read_text().replace(INSTALLED_AT, str(PERFSTREAM)))
    return installed


def command_line(unit: Path) -> tuple[str, argparse.Namespace]:
    """The unit's program and its arguments as perfstream parses them (it exits on a flag it lacks)."""
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    program, *arguments = shlex.split(line.removeprefix("ExecStart="))
    return program, _parser().parse_args(arguments)


def test_there_are_both_units():
    assert UNITS == [ANNOTATOR, BRIDGE]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.stem)
def test_systemd_loads_the_unit_without_a_complaint(unit, tmp_path):
    result = systemd_analyze("verify", str(installed_here(unit, tmp_path)))
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.stem)
def test_the_unit_runs_sandboxed(unit, tmp_path):
    # an exposure over 4.0 fails (the threshold counts tenths; 10.0 is no sandbox at all)
    result = systemd_analyze("security", "--offline=true", "--threshold=40", str(installed_here(unit, tmp_path)))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_the_bridge_unit_follows_sacct_with_pending_jobs_and_serves_metrics():
    program, args = command_line(BRIDGE)
    assert program == INSTALLED_AT
    assert (args.feed, args.follow, args.pending, args.metrics_port) == ("sacct", 30.0, True, 9109)


def test_the_annotator_unit_annotates_as_slurms_own_user():
    program, args = command_line(ANNOTATOR)
    assert program == INSTALLED_AT and args.feed == "annotate" and args.target == "runtime_s"
    assert "\nUser=slurm\n" in ANNOTATOR.read_text()  # Slurm lets only administrators set AdminComment


def test_the_annotator_unit_serves_metrics_on_a_port_of_its_own():
    _, annotator = command_line(ANNOTATOR)
    _, bridge = command_line(BRIDGE)
    assert annotator.metrics_port == 9110 != bridge.metrics_port  # both may run on one host


def test_the_bridge_units_environment_file_sets_only_variables_perfstream_reads():
    names = {line.split("=", 1)[0] for line in ENVIRONMENT.read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert names and names <= cli_variables(), sorted(names - cli_variables())
