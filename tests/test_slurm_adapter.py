"""Real Slurm jobs through ``perfstream slurm`` into Kafka and back as predictions.

A one-node Slurm (deploy/local/slurm.sh: munged, MariaDB, slurmdbd, slurmctld, slurmd from Debian's
packages, plus a jobcomp/filetxt log) runs jobs submitted with sbatch; the adapter reads them with
the real sacct, from the accounting database or the job-completion log, and publishes them; a real
worker predicts them. The jobcomp/kafka plugin needs Slurm >= 23.02 (Debian 12 ships 22.05): its feed
is tested on Debian 13's Slurm 24.11 (deploy/local/slurm-kafka.sh), whose plugin publishes the records.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka_support import (
    PERFSTREAM,
    REPO,
    cli_arguments,
    cli_env,
    exposition,
    free_port,
    fresh_settings,
    read_topic,
    samples,
)
from service_workloads import wait_until

from pipeline.service.slurm_annotate import annotation
from pipeline.service.slurm_bridge import sacct_command

SYSTEM = "perfstream-ci"  # the ClusterName of deploy/local/slurm.sh
SLURM_SH = REPO / "deploy" / "local" / "slurm.sh"
SLURM_KAFKA_SH = REPO / "deploy" / "local" / "slurm-kafka.sh"


@pytest.fixture(scope="module")
def slurm():
    """A running one-node Slurm of this module's own; yields the environment its clients need.

    Its home is readable by every user (pytest's temporary folders are not), as a site's slurm.conf
    and munge socket are: one test runs sacct as an unprivileged user.
    """
    home = Path(tempfile.mkdtemp(prefix="perfstream-slurm-"))
    home.chmod(0o755)
    env = {**os.environ, "PERFSTREAM_SLURM_HOME": str(home), "PERFSTREAM_SLURM_PORT": str(free_port(span=4))}
    started = subprocess.run(["bash", str(SLURM_SH), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    env["SLURM_CONF"] = f"{home}/slurm.conf"
    yield env
    subprocess.run(["bash", str(SLURM_SH), "stop"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(home, ignore_errors=True)


def sbatch(env: dict, script: str, name: str, minutes: int, tmp_path, client: tuple[str, ...],
           options: tuple[str, ...] = ()) -> str:
    result = subprocess.run([*client, "sbatch", "--parsable", "-J", name, "-t", str(minutes), "-o", "/dev/null",
                             *options, "--wrap", script], env=env, capture_output=True, text=True, cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def run_jobs(env: dict, tmp_path, count: int, client: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Submit ``count`` short jobs of three kinds and one that fails at once; wait until all finished.

    ``client`` prefixes Slurm's commands (to run them inside slurm-kafka.sh's root).
    """
    ran = [sbatch(env, f"sleep {1 + i % 3}", f"app-{'abc'[i % 3]}", 1 + i % 3, tmp_path, client)
           for i in range(count)]
    failed = sbatch(env, "exit 3", "broken", 1, tmp_path, client)
    wait_until(lambda: not subprocess.run([*client, "squeue", "-h"], env=env, capture_output=True,
                                          text=True).stdout.strip(), 180, "every job finished")
    return ran, failed


def finished_jobs(env: dict, client: tuple[str, ...] = ()) -> set[str]:
    """The ids of the finished jobs of the last hour, as the bridge's sacct command lists them."""
    result = subprocess.run([*client, *sacct_command("now-1hours")], env={**env, "SLURM_TIME_FORMAT": "%s"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line.split("|")[0] for line in result.stdout.splitlines()[1:]}


def recorded(env: dict, jobs: list[str]) -> None:
    """Until slurmdbd lists ``jobs`` as finished: it records a job's end a moment after squeue forgets it."""
    wait_until(lambda: set(jobs) <= finished_jobs(env), 30, "the jobs recorded by slurmdbd")


def slurm_command(kafka, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(PERFSTREAM), "slurm", *args, *cli_arguments(kafka)],
                          env={**cli_env(kafka), "SLURM_CONF": env.get("SLURM_CONF", "")}, capture_output=True,
                          text=True, timeout=timeout)


def follow_sacct(kafka, env: dict, *extra: str) -> subprocess.Popen:
    """``perfstream slurm sacct --follow 1`` running in the background."""
    return subprocess.Popen([str(PERFSTREAM), "slurm", "sacct", "--since", "now-1hours", "--follow", "1", *extra,
                             *cli_arguments(kafka)], env={**cli_env(kafka), "SLURM_CONF": env["SLURM_CONF"]},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def elapsed_s(env: dict, job_id: str) -> int:
    """The seconds sacct says ``job_id`` ran."""
    result = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "ElapsedRaw"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[0])


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
    # "exit 3" usually ends within the second it started (0 s: nothing to learn, not published), but
    # now and then its start and end fall either side of a second boundary
    assert (failed in stages["submission"]) == (elapsed_s(slurm, failed) > 0)
    submissions = {s["job_id"]: s for s in read_topic(kafka, "hpc.job-submissions", until=published)}
    assert {submissions[j]["system"] for j in ran} == {SYSTEM}  # from the records' Cluster column
    assert {submissions[j]["app"] for j in ran} == {"app-a", "app-b", "app-c"}
    assert {submissions[j]["requested_walltime_s"] for j in ran} == {60.0, 120.0, 180.0}


def test_the_job_completion_log_gives_the_jobs_the_database_gives(kafka, slurm, tmp_path):
    ran, _ = run_jobs(slurm, tmp_path, 6)
    elsewhere = fresh_settings(kafka.bootstrap)  # topics of its own: the second run would find the jobs published
    from_database = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
    from_log = slurm_command(elsewhere, slurm, "sacct", "--completion", "--system", SYSTEM, "--since", "now-1hours")
    assert from_database.returncode == 0 and from_log.returncode == 0, from_database.stderr + from_log.stderr

    def completions(settings) -> dict[str, tuple]:
        return {c["job_id"]: (c["time"], c["start_time"], c["end_time"], c["user"])
                for c in read_topic(settings, "hpc.job-completions")}

    database, log = completions(kafka), completions(elsewhere)
    for job in ran:  # the log's sacct prints the start under Submit: the adapter still finds the submit time
        assert database[job] == log[job]


def test_sacct_run_again_over_the_same_window_publishes_only_jobs_not_published_yet(kafka, slurm, tmp_path):
    earlier, failed_earlier = run_jobs(slurm, tmp_path, 3)
    recorded(slurm, [*earlier, failed_earlier])
    first = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
    ran, failed = run_jobs(slurm, tmp_path, 2)
    recorded(slurm, [*ran, failed])
    again = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    ids = [s["job_id"] for s in read_topic(kafka, "hpc.job-submissions")]
    assert len(ids) == len(set(ids)) and set(ran) <= set(ids)
    new = len(ran) + (elapsed_s(slurm, failed) > 0)  # a job that ran 0 s is not published
    assert f"slurm sacct: {new} jobs published," in again.stdout, again.stdout


def test_a_restarted_pending_bridge_publishes_nothing_its_predecessor_did(kafka, slurm, tmp_path):
    first = follow_sacct(kafka, slurm, "--pending")
    try:
        job = sbatch(slurm, "sleep 20", "long-app", 1, tmp_path, ())
        wait_until(lambda: job in {s["job_id"] for s in read_topic(kafka, "hpc.job-submissions", idle=1)}, 60,
                   "the waiting job announced")
    finally:
        first.terminate()
        first.wait(30)
    second = follow_sacct(kafka, slurm, "--pending")
    try:
        wait_until(lambda: job in {c["job_id"] for c in read_topic(kafka, "hpc.job-completions", idle=1)}, 120,
                   "the job's completion published by the second bridge")
        time.sleep(3)
    finally:
        second.terminate()
        out, errors = second.communicate(timeout=30)
    submitted = [s["job_id"] for s in read_topic(kafka, "hpc.job-submissions")]
    completed = [c["job_id"] for c in read_topic(kafka, "hpc.job-completions")]
    assert submitted.count(job) == 1 and len(submitted) == len(set(submitted))
    assert completed.count(job) == 1 and len(completed) == len(set(completed))
    assert ", 1 of them submitted ahead of their end" in errors + out, errors + out


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


def test_a_following_bridge_dead_letters_an_unusable_record_once_though_every_round_lists_it(kafka, slurm,
                                                                                              tmp_path):
    follower = follow_sacct(kafka, slurm)
    try:
        # sacct prints a newline in a job name as it is: the job's row comes as two lines, neither usable
        job = sbatch(slurm, "sleep 1", "two\nlines", 1, tmp_path, ())
        wait_until(lambda: len(dead_lettered_rows(kafka)) >= 2, 60, "the job's two lines dead-lettered")
        time.sleep(3)  # rounds more, whose windows hold the same lines
    finally:
        follower.terminate()
        follower.wait(30)
    rows = dead_lettered_rows(kafka)
    assert sorted(rows) == sorted(set(rows)) and rows[0].startswith(f"{job}|"), rows


def test_sacct_run_again_over_the_same_window_dead_letters_nothing_twice(kafka, slurm, tmp_path):
    job = sbatch(slurm, "sleep 1", "split\nname", 1, tmp_path, ())
    usable = sbatch(slurm, "sleep 1", "plain", 1, tmp_path, ())  # the read-back starts at the usable jobs' submit
    recorded(slurm, [job, usable])
    for _ in range(2):
        result = slurm_command(kafka, slurm, "sacct", "--since", "now-1hours")
        assert result.returncode == 0, result.stderr
    rows = dead_lettered_rows(kafka)
    assert any(row.startswith(f"{job}|") for row in rows) and sorted(rows) == sorted(set(rows)), rows


def dead_lettered_rows(kafka) -> list[str]:
    """The sacct lines on the dead-letter topic, one per dead letter."""
    return [base64.b64decode(d["raw_base64"]).decode() for d in read_topic(kafka, "hpc.dead-letters", idle=1)
            if d["topic"] == "sacct"]


def test_following_sacct_with_pending_predicts_a_job_while_it_runs(kafka, workers, slurm, tmp_path):
    follower = follow_sacct(kafka, slurm, "--pending")
    workers("pending")
    try:
        job = sbatch(slurm, "sleep 45", "long-app", 2, tmp_path, ())
        wait_until(lambda: any(p["job_id"] == job and p["stage"] == "submission"
                               for p in read_topic(kafka, "hpc.predictions", idle=1)), 60, "the job predicted")
        still = subprocess.run(["squeue", "-h", "-j", job], env=slurm, capture_output=True, text=True, timeout=60)
        assert still.stdout.strip(), "the job ended before its prediction came"
        wait_until(lambda: any(p["job_id"] == job and p["stage"] == "completion"
                               for p in read_topic(kafka, "hpc.predictions", idle=1)), 120, "the job scored")
        time.sleep(3)  # more rounds: neither of its events may be published again
    finally:
        follower.terminate()
        out, errors = follower.communicate(timeout=30)
    assert [s["job_id"] for s in read_topic(kafka, "hpc.job-submissions")].count(job) == 1
    assert [c["job_id"] for c in read_topic(kafka, "hpc.job-completions")].count(job) == 1
    assert ", 1 of them submitted ahead of their end" in errors + out  # not the earlier tests' finished jobs


def test_a_waiting_job_array_is_announced_task_by_task_before_its_tasks_run(kafka, slurm, tmp_path):
    follower = follow_sacct(kafka, slurm, "--pending")
    try:
        blocker = sbatch(slurm, "sleep 20", "blocker", 1, tmp_path, (), ("--exclusive",))
        array = sbatch(slurm, "sleep 2", "tasks", 1, tmp_path, (), ("--exclusive", "--array=1-3"))
        tasks = {f"{array}_{i}" for i in (1, 2, 3)}
        wait_until(lambda: tasks <= {s["job_id"] for s in read_topic(kafka, "hpc.job-submissions", idle=1)}, 60,
                   "the array's tasks announced")
        running = subprocess.run(["squeue", "-h", "-o", "%i %t", "-j", blocker], env=slurm, capture_output=True,
                                 text=True, timeout=60).stdout.split()
        assert running == [blocker, "R"], "the blocker ended before the waiting tasks were announced"
        wait_until(lambda: tasks <= {c["job_id"] for c in read_topic(kafka, "hpc.job-completions", idle=1)}, 120,
                   "the array's tasks published")
        time.sleep(3)
    finally:
        follower.terminate()
        follower.wait(30)
    submitted = [s["job_id"] for s in read_topic(kafka, "hpc.job-submissions")]
    assert sorted(j for j in submitted if j.startswith(f"{array}_")) == sorted(tasks)  # no "N_[1-3]" row
    assert submitted.count(blocker) == 1


def test_the_bridges_sacct_lists_every_users_jobs_when_a_service_account_runs_it(slurm, tmp_path):
    ran, _ = run_jobs(slurm, tmp_path, 2)  # submitted by root
    wait_until(lambda: set(ran) <= finished_jobs(slurm, ("runuser", "-u", "nobody", "--")), 30,
               "root's jobs listed for nobody")


def stopped(*processes: subprocess.Popen) -> list[str]:
    """Terminate background commands together; what each wrote to stderr, in their order."""
    for process in processes:
        process.terminate()
    return [process.communicate(timeout=30)[1] for process in processes]


def start_annotator(kafka, env: dict, metrics_port: int | None = None) -> subprocess.Popen:
    """``perfstream slurm annotate`` running in the background, serving metrics on ``metrics_port``."""
    metrics = ["--metrics-port", str(metrics_port), "--metrics-address", "127.0.0.1"] if metrics_port else []
    return subprocess.Popen([str(PERFSTREAM), "slurm", "annotate", "--system", SYSTEM, *metrics, *cli_arguments(kafka)],
                            env={**cli_env(kafka), "SLURM_CONF": env["SLURM_CONF"]}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_waiting_jobs_prediction_is_written_into_its_slurm_admin_comment(kafka, workers, slurm, tmp_path):
    follower = follow_sacct(kafka, slurm, "--pending")
    annotator = start_annotator(kafka, slurm)
    workers("annotated")
    blocker = sbatch(slurm, "sleep 60", "blocker", 2, tmp_path, (), ("--exclusive",))
    try:
        job = sbatch(slurm, "sleep 1", "waiting-app", 1, tmp_path, (), ("--exclusive",))
        wait_until(lambda: "AdminComment=perfstream" in show_job(slurm, job), 90, "the waiting job annotated")
        shown = show_job(slurm, job)
    finally:
        subprocess.run(["scancel", blocker], env=slurm, timeout=60)
        errors, _ = stopped(annotator, follower)
    (prediction,) = [p for p in read_topic(kafka, "hpc.predictions")
                     if p["job_id"] == job and p["stage"] == "submission"]
    assert "JobState=PENDING" in shown  # annotated while it waited
    assert f"AdminComment={annotation(prediction)}" in shown
    assert "scontrol refused" not in errors, errors


def test_a_waiting_job_array_is_annotated_whole_with_no_task_split_off_its_record(kafka, workers, slurm, tmp_path):
    port = free_port()
    follower = follow_sacct(kafka, slurm, "--pending")
    annotator = start_annotator(kafka, slurm, port)
    workers("annotated-array")
    blocker = sbatch(slurm, "sleep 60", "blocker", 2, tmp_path, (), ("--exclusive",))
    array = sbatch(slurm, "sleep 1", "tasks", 1, tmp_path, (), ("--exclusive", "--array=1-3"))
    try:
        wait_until(lambda: samples(exposition(port)).get('perfstream_slurm_annotations_total{outcome="array"}') == 2,
                   90, "the array's three tasks through the annotator")
        shown = show_job(slurm, array)
    finally:
        subprocess.run(["scancel", blocker, array], env=slurm, timeout=60)
        stopped(annotator, follower)
    tasks = [p for p in read_topic(kafka, "hpc.predictions") if p["job_id"].startswith(f"{array}_")]
    assert "ArrayTaskId=1-3" in shown  # still the array's one record: no task has one of its own
    assert any(f"AdminComment={annotation(task)}" in shown for task in tasks), shown


def test_an_annotator_holds_predictions_while_slurmctld_is_away_and_writes_them_when_it_is_back(kafka, workers,
                                                                                                 slurm, tmp_path):
    follower = follow_sacct(kafka, slurm, "--pending")
    workers("annotated-later")
    blocker = sbatch(slurm, "sleep 120", "blocker", 3, tmp_path, (), ("--exclusive",))
    job = sbatch(slurm, "sleep 1", "waiting-app", 1, tmp_path, (), ("--exclusive",))
    port = free_port()
    annotator = None
    try:
        wait_until(lambda: {blocker, job} <= {p["job_id"] for p in read_topic(kafka, "hpc.predictions", idle=1)},
                   90, "both jobs predicted")
        stop_slurmctld(slurm)
        annotator = start_annotator(kafka, slurm, port)
        wait_until(lambda: samples(exposition(port)).get("perfstream_slurm_controller_unreachable_total", 0) > 0,
                   90, "the annotator finding slurmctld away")
        restarted = subprocess.run(["bash", str(SLURM_SH), "start"], env=slurm, capture_output=True, text=True,
                                   timeout=120)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        wait_until(lambda: all("AdminComment=perfstream" in show_job(slurm, j) for j in (blocker, job)), 90,
                   "both jobs annotated")
        series = samples(exposition(port))
    finally:
        subprocess.run(["scancel", blocker, job], env=slurm, timeout=60)
        stopped(*(process for process in (annotator, follower) if process))
    assert series['perfstream_slurm_annotations_total{outcome="written"}'] == 2  # each once, after the wait
    assert series['perfstream_slurm_annotations_total{outcome="refused"}'] == 0


def stop_slurmctld(env: dict) -> None:
    pid = (Path(env["PERFSTREAM_SLURM_HOME"]) / "slurmctld.pid").read_text().strip()
    os.kill(int(pid), signal.SIGTERM)
    wait_until(lambda: subprocess.run(["scontrol", "ping"], env=env, capture_output=True, timeout=60).returncode != 0,
               30, "slurmctld stopped")


def show_job(env: dict, job: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True,
                          timeout=60).stdout


def test_pending_jobs_cannot_come_from_the_job_completion_log(kafka, slurm):
    result = slurm_command(kafka, slurm, "sacct", "--completion", "--pending", "--system", SYSTEM)
    assert result.returncode == 2 and "--pending needs the accounting database" in result.stderr


@pytest.fixture
def plugin_slurm(kafka):
    """Slurm 24.11 whose jobcomp/kafka plugin publishes to a topic of this test's own (slurm-kafka.sh).

    Its daemons keep Pacific time, so a record read in the wrong zone would be hours off.
    """
    topic = f"slurm-jobcomp-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka.kafka_python())
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    env = {**os.environ, "PERFSTREAM_SLURM_KAFKA_BOOTSTRAP": kafka.bootstrap, "PERFSTREAM_SLURM_KAFKA_TOPIC": topic,
           "PERFSTREAM_SLURM_PORT": str(free_port(span=2)), "TZ": "PST8PDT,M3.2.0,M11.1.0"}
    started = subprocess.run(["bash", str(SLURM_KAFKA_SH), "start"], env=env, capture_output=True, text=True,
                             timeout=600)  # the first start builds its Debian 13 root
    assert started.returncode == 0, started.stdout + started.stderr
    yield env
    subprocess.run(["bash", str(SLURM_KAFKA_SH), "stop"], env=env, capture_output=True, timeout=120)


def plugin_records(kafka, topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, **kafka.kafka_python(), group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    records: list[bytes] = []
    try:
        wait_until(lambda: records.extend(m.value for m in consumer) or len(records) >= count, 120,
                   f"{count} records from the plugin")
    finally:
        consumer.close()
    return records


def test_the_jobcomp_kafka_plugins_records_become_predictions_and_bad_ones_dead_letters(kafka, workers,
                                                                                         plugin_slurm, tmp_path):
    inside = ("bash", str(SLURM_KAFKA_SH), "run")
    before = time.time()
    ran, failed = run_jobs(plugin_slurm, tmp_path, 12, client=inside)
    topic = plugin_slurm["PERFSTREAM_SLURM_KAFKA_TOPIC"]
    real = plugin_records(kafka, topic, len(ran) + 1)
    after = time.time()
    assert {json.loads(r)["jobid"] for r in real} == {int(j) for j in [*ran, failed]}
    timed = {str(r["jobid"]) for r in map(json.loads, real) if r["elapsed"] > 0}  # the failed one may take 0 s
    assert set(ran) <= timed
    hostile = [b"not json", b"[1, 2]", b'{"jobid": "x", "state": "COMPLETED"}', b"\xff\xfe",
               json.dumps({**json.loads(real[0]), "@submit": "yesterday"}).encode()]
    producer = KafkaProducer(**kafka.kafka_python())
    for value in hostile:
        producer.send(topic, value)
    producer.flush()
    producer.close()

    result = slurm_command(kafka, plugin_slurm, "jobcomp", "--from-topic", topic, "--idle-timeout", "5",
                           "--system", "perfstream-kafka")  # the plugin's records do not name their cluster
    assert result.returncode == 0, result.stderr
    assert f"{len(timed)} jobs published" in result.stdout
    workers("jobcomp")
    stages = predictions_by_stage(kafka, len(timed))
    assert stages["submission"] == stages["completion"] == timed
    submissions = read_topic(kafka, "hpc.job-submissions", until=len(timed))
    assert all(before - 1 <= s["time"] <= after for s in submissions), "record times read in the wrong zone"
    assert {s["requested_walltime_s"] for s in submissions if s["job_id"] in ran} == {60.0, 120.0, 180.0}
    dead = read_topic(kafka, "hpc.dead-letters", until=len(hostile))
    assert sorted(d["category"] for d in dead) == ["not-an-object", "not-json", "not-utf8", "schema-violation",
                                                   "schema-violation"]
    assert all(d["topic"] == topic for d in dead)
    assert any("@submit" in d["reason"] for d in dead) and any("jobid" in d["reason"] for d in dead)


def test_a_following_bridge_serves_how_many_jobs_it_published_and_when_sacct_last_answered(kafka, slurm,
                                                                                            tmp_path):
    port = free_port()
    follower = follow_sacct(kafka, slurm, "--pending", "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    try:
        ran, _ = run_jobs(slurm, tmp_path, 2)
        wait_until(lambda: set(ran) <= {c["job_id"] for c in read_topic(kafka, "hpc.job-completions", idle=1)}, 60,
                   "the jobs published")
        time.sleep(2)  # a round more
        series = samples(exposition(port))
    finally:
        follower.terminate()
        follower.wait(30)
    published = {c["job_id"] for c in read_topic(kafka, "hpc.job-completions")}
    assert series['perfstream_slurm_jobs_total{feed="sacct"}'] == len(published)
    assert time.time() - series['perfstream_slurm_last_round_timestamp_seconds{feed="sacct"}'] < 10
    assert series['perfstream_slurm_sacct_failures_total{feed="sacct"}'] == 0


def test_following_sacct_survives_slurmdbd_going_away_and_misses_no_job(kafka, slurm, tmp_path):
    port = free_port()
    follower = follow_sacct(kafka, slurm, "--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    try:
        time.sleep(3)
        dbd_pid = (Path(slurm["PERFSTREAM_SLURM_HOME"]) / "slurmdbd.pid").read_text().strip()
        os.kill(int(dbd_pid), signal.SIGTERM)
        ran, _ = run_jobs(slurm, tmp_path, 4)  # slurmctld keeps their records until slurmdbd is back
        time.sleep(3)  # rounds in which sacct fails
        assert follower.poll() is None, follower.stderr.read()
        assert samples(exposition(port))['perfstream_slurm_sacct_failures_total{feed="sacct"}'] > 0
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
