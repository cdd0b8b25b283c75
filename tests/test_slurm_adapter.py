"""Real Slurm jobs through ``perfstream slurm`` into Kafka and back as predictions.

A one-node Slurm (deploy/local/slurm.sh: munged, MariaDB, slurmdbd, slurmctld, slurmd from Debian's
packages, plus a jobcomp/filetxt log) runs jobs submitted with sbatch; the adapter reads them with
the real sacct, from the accounting database or the job-completion log, and publishes them; a real
worker predicts them. The jobcomp/kafka plugin needs Slurm >= 23.02 (Debian 12
ships 22.05), so its feed is tested with records in the plugin's format built from the same real jobs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka_support import PERFSTREAM, REPO, cli_arguments, cli_env, free_port, read_topic
from service_workloads import wait_until

SYSTEM = "perfstream-ci"  # the ClusterName of deploy/local/slurm.sh
SLURM_SH = REPO / "deploy" / "local" / "slurm.sh"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running one-node Slurm of this module's own; yields the environment its clients need."""
    env = {**os.environ, "PERFSTREAM_SLURM_HOME": str(tmp_path_factory.mktemp("slurm")),
           "PERFSTREAM_SLURM_PORT": str(free_port(span=4))}
    started = subprocess.run(["bash", str(SLURM_SH), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    env["SLURM_CONF"] = f"{env['PERFSTREAM_SLURM_HOME']}/slurm.conf"
    yield env
    subprocess.run(["bash", str(SLURM_SH), "stop"], env=env, capture_output=True, timeout=120)


def sbatch(env: dict, script: str, name: str, minutes: int, tmp_path) -> str:
    result = subprocess.run(["sbatch", "--parsable", "-J", name, "-t", str(minutes), "-o", "/dev/null",
                             "--wrap", script], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def run_jobs(env: dict, tmp_path, count: int) -> tuple[list[str], str]:
    """Submit ``count`` short jobs of three kinds and one that fails at once; wait until all finished."""
    ran = [sbatch(env, f"sleep {1 + i % 3}", f"app-{'abc'[i % 3]}", 1 + i % 3, tmp_path) for i in range(count)]
    failed = sbatch(env, "exit 3", "broken", 1, tmp_path)
    wait_until(lambda: not subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout.strip(),
               180, "every job finished")
    return ran, failed


def slurm_command(kafka, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(PERFSTREAM), "slurm", *args, *cli_arguments(kafka)],
                          env={**cli_env(kafka), "SLURM_CONF": env["SLURM_CONF"]}, capture_output=True, text=True,
                          timeout=timeout)


def follow_sacct(kafka, env: dict) -> subprocess.Popen:
    """``perfstream slurm sacct --follow 1`` running in the background."""
    return subprocess.Popen([str(PERFSTREAM), "slurm", "sacct", "--since", "now-1hours", "--follow", "1",
                             *cli_arguments(kafka)], env={**cli_env(kafka), "SLURM_CONF": env["SLURM_CONF"]},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def predictions_by_stage(kafka, expected_jobs: int) -> dict[str, set[str]]:
    records = read_topic(kafka, "hpc.predictions", until=2 * expected_jobs, timeout=120)
    stages: dict[str, set[str]] = {"submission": set(), "completion": set()}
    for record in records:
        stages[record["stage"]].add(record["job_id"])
    return stages


def test_sbatch_jobs_flow_through_sacct_into_kafka_and_come_back_as_predictions(kafka, workers, slurm, tmp_path):
    ran, failed = run_jobs(slurm, tmp_path, 30)
    result = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
    assert result.returncode == 0, result.stderr
    published = int(result.stdout.split("jobs published")[0].split()[-1])
    assert published >= 30  # earlier tests' jobs are in the database too
    workers("slurm")
    stages = predictions_by_stage(kafka, published)
    assert set(ran) <= stages["submission"] and set(ran) <= stages["completion"]
    assert failed not in stages["submission"]  # it ran 0 s: nothing to learn
    submissions = {s["job_id"]: s for s in read_topic(kafka, "hpc.job-submissions", until=published)}
    assert {submissions[j]["system"] for j in ran} == {SYSTEM}  # from the records' Cluster column
    assert {submissions[j]["app"] for j in ran} == {"app-a", "app-b", "app-c"}
    assert {submissions[j]["requested_walltime_s"] for j in ran} == {60.0, 120.0, 180.0}


def test_the_job_completion_log_gives_the_jobs_the_database_gives(kafka, slurm, tmp_path):
    ran, _ = run_jobs(slurm, tmp_path, 6)
    from_database = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
    from_log = slurm_command(kafka, slurm, "sacct", "--completion", "--system", SYSTEM, "--since", "now-1hours")
    assert from_database.returncode == 0 and from_log.returncode == 0, from_database.stderr + from_log.stderr
    completions = read_topic(kafka, "hpc.job-completions")
    by_job: dict[str, list[tuple]] = {}
    for c in completions:
        by_job.setdefault(c["job_id"], []).append((c["time"], c["start_time"], c["end_time"], c["user"]))
    for job in ran:  # the log's sacct prints the start under Submit: the adapter still finds the submit time
        assert len(by_job[job]) == 2 and by_job[job][0] == by_job[job][1], by_job[job]


def test_following_sacct_publishes_new_jobs_once(kafka, workers, slurm, tmp_path):
    follower = follow_sacct(kafka, slurm)
    try:
        time.sleep(3)  # a few rounds with nothing new
        ran, _ = run_jobs(slurm, tmp_path, 6)
        wait_until(lambda: set(ran) <= {s["job_id"] for s in read_topic(kafka, "hpc.job-submissions", idle=1)},
                   60, "the new jobs published")
        time.sleep(3)  # more rounds: no job may be published again
        submissions = read_topic(kafka, "hpc.job-submissions")
    finally:
        follower.terminate()
        follower.wait(30)
    ids = [s["job_id"] for s in submissions]
    assert len(ids) == len(set(ids)), "a job was published twice"


def jobcomp_record(row: dict[str, str]) -> dict:
    """A record shaped as jobcomp/kafka sends it (field names and units of Slurm's jobcomp_common.c)."""
    iso = lambda epoch: datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    return {"jobid": int(row["JobID"]), "username": row["User"].split("(")[0], "groupname": row["Group"],
            "@submit": iso(min(row["Submit"], row["Eligible"])), "@start": iso(row["Start"]), "@end": iso(row["End"]),
            "elapsed": int(row["ElapsedRaw"]), "partition": row["Partition"], "nodes": row["NodeList"],
            "total_cpus": int(row["NCPUS"]), "total_nodes": int(row["NNodes"]), "state": row["State"],
            "time_limit": int(row["TimelimitRaw"]) * 60, "job_name": row["JobName"], "exit_code": "0:0"}


def test_jobcomp_records_from_their_topic_become_predictions_and_bad_ones_dead_letters(kafka, workers, slurm,
                                                                                          tmp_path):
    ran, _ = run_jobs(slurm, tmp_path, 8)
    out = subprocess.run(["sacct", "--completion", "--parsable2", "--format=JobID,User,Group,Submit,Eligible,"
                          "Start,End,ElapsedRaw,Partition,NodeList,NCPUS,NNodes,State,TimelimitRaw,JobName"],
                         env={**slurm, "SLURM_TIME_FORMAT": "%s"}, capture_output=True, text=True, check=True).stdout
    header, *lines = out.splitlines()
    rows = [dict(zip(header.split("|"), line.split("|"), strict=True)) for line in lines]
    records = [json.dumps(jobcomp_record(r)).encode() for r in rows if r["JobID"] in ran]
    hostile = [b"not json", b"[1, 2]", b'{"jobid": "x", "state": "COMPLETED"}', b"\xff\xfe",
               json.dumps({**jobcomp_record(rows[0]), "@submit": "yesterday"}).encode()]
    topic = f"slurm-jobcomp-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka.kafka_python())
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(**kafka.kafka_python())
    for value in records + hostile:
        producer.send(topic, value)
    producer.flush()
    producer.close()

    result = slurm_command(kafka, slurm, "jobcomp", "--from-topic", topic, "--idle-timeout", "5", "--system", SYSTEM)
    assert result.returncode == 0, result.stderr
    assert f"{len(records)} jobs published" in result.stdout
    workers("jobcomp")
    stages = predictions_by_stage(kafka, len(records))
    assert stages["submission"] == set(ran)
    dead = read_topic(kafka, "hpc.dead-letters", until=len(hostile))
    assert sorted(d["category"] for d in dead) == ["not-an-object", "not-json", "not-utf8", "schema-violation",
                                                   "schema-violation"]
    assert all(d["topic"] == topic for d in dead)
    assert any("@submit" in d["reason"] for d in dead) and any("jobid" in d["reason"] for d in dead)


def test_following_sacct_survives_slurmdbd_going_away_and_misses_no_job(kafka, slurm, tmp_path):
    follower = follow_sacct(kafka, slurm)
    try:
        time.sleep(3)
        dbd_pid = (Path(slurm["PERFSTREAM_SLURM_HOME"]) / "slurmdbd.pid").read_text().strip()
        os.kill(int(dbd_pid), signal.SIGTERM)
        ran, _ = run_jobs(slurm, tmp_path, 4)  # slurmctld keeps their records until slurmdbd is back
        time.sleep(3)  # rounds in which sacct fails
        assert follower.poll() is None, follower.stderr.read()
        restarted = subprocess.run(["bash", str(SLURM_SH), "start"], env=slurm, capture_output=True, text=True,
                                   timeout=120)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        wait_until(lambda: set(ran) <= {s["job_id"] for s in read_topic(kafka, "hpc.job-submissions", idle=1)},
                   120, "the jobs run while slurmdbd was away published")
    finally:
        follower.terminate()
        _, errors = follower.communicate(timeout=30)
    assert "asking again" in errors
    ids = [s["job_id"] for s in read_topic(kafka, "hpc.job-submissions")]
    assert len(ids) == len(set(ids))
