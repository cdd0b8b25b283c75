"""docs/operations.md covers every flag, variable, topic and alert there is, so it cannot fall behind."""

from __future__ import annotations

import argparse

import pytest
import yaml
from deploy_support import REPO, cli_variables

from pipeline.cli import _parser

GUIDE = (REPO / "docs" / "operations.md").read_text()
OPERATED = ("worker", "health", "topics", "publish", "tail", "slurm sacct", "slurm jobcomp", "slurm annotate", "fetch")


def subcommand(path: str) -> argparse.ArgumentParser:
    parser = _parser()
    for name in path.split():
        [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[name]
    return parser


@pytest.mark.parametrize("command", OPERATED)
def test_every_flag_of_the_operated_commands_is_documented(command):
    flags = {option for action in subcommand(command)._actions for option in action.option_strings
             if option.startswith("--") and option != "--help"}
    missing = sorted(flag for flag in flags if f"`{flag}`" not in GUIDE)
    assert not missing


def test_every_environment_variable_is_documented():
    missing = sorted(name for name in cli_variables() if f"`{name}`" not in GUIDE)
    assert not missing


def test_every_topic_is_documented():
    topics = yaml.safe_load((REPO / "topics" / "topics.yaml").read_text())["topics"]
    assert all(f"`{name}`" in GUIDE for name in topics)


def test_every_alert_has_a_runbook_entry():
    groups = yaml.safe_load((REPO / "deploy" / "prometheus" / "rules.yml").read_text())["groups"]
    alerts = [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]
    assert alerts and all(f"| `{alert}` |" in GUIDE for alert in alerts)


def test_the_rollout_section_names_the_current_state_format():
    from pipeline.processor import STATE_FORMAT

    assert f"format {STATE_FORMAT} since" in GUIDE
