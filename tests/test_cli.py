"""``perfstream`` end to end, as a user runs it (a real subprocess, the installed console script)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.schemas import validate

PERFSTREAM = Path(sys.executable).parent / "perfstream"  # the console script of this environment


def perfstream(*args, cwd=None, env=None):
    assert PERFSTREAM.is_file(), f"{PERFSTREAM} missing: install the project (pip install -e '.[test]')"
    return subprocess.run([PERFSTREAM, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def test_evaluate_writes_table_json_and_plots(swf_slice, tmp_path):
    result = perfstream("evaluate", swf_slice, "--strategies", "naive,last2,median", "--tasks", "3",
                        "--json", tmp_path / "r.json", "--report", tmp_path / "report", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "last2" in result.stdout and "whole-seq" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["command"].startswith("perfstream evaluate")
    assert report["versions"]["river"] and report["source_stats"]["jobs"] > 1000
    for name in ("report.json", "table.txt", "rolling_error.png", "task_matrix.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_evaluate_with_date_tasks_on_tokio(cori_slice, tmp_path):
    result = perfstream("evaluate", cori_slice, "--kind", "tokio", "--strategies", "naive,median",
                        "--tasks", "2017-02-20", "--json", tmp_path / "r.json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["target"] == "io_throughput_mibps" and len(report["tasks"]) == 2


def test_evaluate_with_blanked_fields_says_which_in_its_report(swf_slice, tmp_path):
    result = perfstream("evaluate", swf_slice, "--strategies", "naive,last2", "--tasks", "2",
                        "--blank", "user,requested_walltime_s", "--json", tmp_path / "r.json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["source"].endswith("without user, requested_walltime_s")
    assert "--blank user,requested_walltime_s" in report["command"]


def test_replay_writes_valid_prediction_records(swf_slice, tmp_path):
    out = tmp_path / "predictions.jsonl"
    result = perfstream("replay", swf_slice, "--out", out, "--strategy", "last2", "--quiet")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for record in records:
        validate(record)
    stages = [r["stage"] for r in records if r["schema"] == "prediction/1"]
    assert stages.count("submission") == stages.count("completion") > 1000


def test_replay_output_replays_as_a_jsonl_source(swf_slice, tmp_path):
    """Events written as JSON lines read back through the jsonl source into the same predictions."""
    from pipeline.sources.swf import SwfSource

    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in SwfSource(swf_slice)))
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert perfstream("replay", swf_slice, "--out", a, "--quiet").returncode == 0
    assert perfstream("replay", events, "--out", b, "--quiet").returncode == 0
    assert a.read_text() == b.read_text()


def test_demo_runs_the_synthetic_cluster_into_a_report(tmp_path):
    result = perfstream("demo", "--jobs", "6000", "--strategies", "naive,last2", "--report", tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    assert "synthetic cluster" in result.stdout
    assert (tmp_path / "demo" / "rolling_error.png").is_file()
    assert json.loads((tmp_path / "demo" / "report.json").read_text())["ground_truth"]


@pytest.mark.parametrize("args, message", [
    (["evaluate", "missing.swf"], "missing.swf: no such file"),
    (["evaluate", "data.txt"], "cannot tell the kind"),
    (["evaluate", "synthetic", "--kind", "synthetic", "--jobs", "500", "--strategies", "magic"],
     "unknown strategy 'magic'"),
    (["evaluate", "synthetic", "--kind", "synthetic", "--jobs", "500", "--tasks", "spring"], "--tasks"),
    (["evaluate", "missing.swf", "--blank", "walltime"], "cannot leave out 'walltime'"),  # before the file
])
def test_user_errors_end_in_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "data.txt").write_text("x")
    result = perfstream(*args, "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_line_is_named_and_lenient_counts_it(swf_slice, tmp_path):
    lines = swf_slice.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if not line.startswith(";"))
    lines[index] = lines[index].replace(lines[index].split()[1], "soon", 1)
    swf_slice.write_text("".join(lines))
    strict = perfstream("replay", swf_slice, "--out", tmp_path / "o.jsonl", "--quiet")
    assert strict.returncode == 2
    assert f"{swf_slice}:{index + 1}: field 2 (submit time): 'soon' is not a number" in strict.stderr
    lenient = perfstream("replay", swf_slice, "--out", tmp_path / "o.jsonl", "--quiet", "--lenient")
    assert lenient.returncode == 0 and "malformed: field 2 (submit time)" in lenient.stdout


def test_evaluate_over_seeds_reports_each_seed_and_the_spread(swf_slice, tmp_path):
    result = perfstream("evaluate", swf_slice, "--strategies", "naive,last2", "--tasks", "2", "--seeds", "0,1",
                        "--json", tmp_path / "r.json", "--report", tmp_path / "report", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "across seeds 0, 1: mean [min, max]" in result.stdout
    combined = json.loads((tmp_path / "r.json").read_text())
    assert combined["seeds"] == [0, 1] and [r["seed"] for r in combined["reports"]] == [0, 1]
    last2 = combined["across_seeds"]["last2"]["whole_sequence_error"]
    assert last2["values"] == [r["strategies"]["last2"]["whole_sequence_error"] for r in combined["reports"]]
    assert last2["min"] < last2["max"]  # the seeds hold out different jobs
    for name in ("seed-0/report.json", "seed-1/table.txt", "across_seeds.json", "across_seeds.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_evaluate_refuses_one_seed_and_several_at_once(swf_slice):
    result = perfstream("evaluate", swf_slice, "--seed", "1", "--seeds", "0,1", "--quiet")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


@pytest.mark.parametrize("seeds", ["0,x", "3", "1,1"])
def test_evaluate_refuses_seeds_that_are_not_two_or_more_distinct_integers(swf_slice, seeds):
    result = perfstream("evaluate", swf_slice, "--seeds", seeds, "--quiet")
    assert result.returncode == 2 and "--seeds" in result.stderr and repr(seeds) in result.stderr


def test_a_bad_worker_setting_in_the_environment_is_named_and_other_commands_still_run(swf_slice, tmp_path):
    env = {**os.environ, "PERFSTREAM_MAX_WAIT": "soon"}
    worker = perfstream("worker", env=env)
    assert worker.returncode == 2 and "argument --max-wait: invalid float value: 'soon'" in worker.stderr
    replay = perfstream("replay", swf_slice, "--out", tmp_path / "o.jsonl", "--quiet", env=env)
    assert replay.returncode == 0, replay.stderr
