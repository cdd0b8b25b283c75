"""Slurm job records (sacct --parsable2, jobcomp/kafka JSON) become perfstream events, honestly."""

from __future__ import annotations

import gzip
from datetime import UTC

import pytest

from pipeline.schemas import validate
from pipeline.sources import open_source
from pipeline.sources.base import SourceError
from pipeline.sources.slurm import (
    SlurmJob,
    SlurmRecordError,
    array_tasks,
    expand_hostlist,
    jobcomp_job,
    parse_duration,
    parse_sacct,
    parse_time,
    sacct_job,
)

HEADER = ("JobID|Cluster|User|Group|Account|Partition|QOS|JobName|Submit|Eligible|Start|End|ElapsedRaw|"
          "TimelimitRaw|NNodes|NCPUS|ReqCPUS|NodeList|State")
# a record of the shape jobcomp/kafka sends (field names and units from Slurm's jobcomp_common.c)
JOBCOMP = {"jobid": 87, "container": None, "username": "jg", "user_id": 1000, "groupname": "jg", "group_id": 1000,
           "@start": "2023-11-20T11:53:40", "@end": "2023-11-20T11:53:47", "elapsed": 7, "partition": "normal",
           "alloc_node": "login1", "nodes": "cn[01-02]", "total_cpus": 4, "total_nodes": 2, "derived_ec": "0:0",
           "exit_code": "0:0", "state": "COMPLETED", "cpu_hours": 0.0078, "@submit": "2023-11-20T11:53:30",
           "@eligible": "2023-11-20T11:53:30", "@queue_wait": 10, "work_dir": "/home/jg", "qos": "normal",
           "ntasks": 0, "cpus_per_task": 1, "time_limit": 3600, "job_name": "sleep", "cluster": "tiny",
           "account": "phys"}


def row(**values: str) -> dict[str, str]:
    base = dict(zip(HEADER.split("|"), ["42", "tiny", "alice", "users", "phys", "debug", "normal", "sim",
                                        "1000", "1000", "1010", "1070", "60", "5", "2", "8", "8", "cn[1-2]",
                                        "COMPLETED"], strict=True))
    return {**base, **values}


def test_a_sacct_row_becomes_a_submission_and_a_completion_that_validate():
    submission, completion = sacct_job(row()).events()
    assert validate(submission) == "job-submission" and validate(completion) == "job-completion"
    assert submission == {"schema": "job-submission/1", "job_id": "42", "system": "tiny", "time": 1000.0,
                          "user": "alice", "group": "users", "queue": "debug", "app": "sim", "num_nodes": 2,
                          "num_procs": 8, "requested_walltime_s": 300.0,
                          "features": {"account": "phys", "qos": "normal"}}
    assert completion["outcome"] == {"runtime_s": 60.0}
    assert completion["observed_features"] == {"wait_s": 10.0}
    assert completion["status"] == "completed"


def test_allocated_nodes_are_in_the_completion_never_in_the_submission():
    submission, completion = sacct_job(row()).events()
    assert "nodes" not in submission
    assert completion["nodes"] == ["cn1", "cn2"]


def test_the_earlier_of_submit_and_eligible_is_the_submit_time():
    # sacct --completion prints the start time under Submit and the submit time under Eligible
    job = sacct_job(row(Submit="1010", Eligible="1000", Start="1010"))
    assert job.submit == 1000.0


def test_job_steps_are_skipped():
    assert sacct_job(row(JobID="42.batch")) is None
    assert sacct_job(row(JobID="42.0")) is None


def test_owner_and_state_decorations_are_removed():
    job = sacct_job(row(User="root(0)", State="CANCELLED by 1000"))
    assert (job.user, job.state) == ("root", "CANCELLED")
    assert job.events()[1]["status"] == "cancelled"


def test_a_job_that_never_ran_has_no_completion():
    assert sacct_job(row(Start="Unknown", End="1070")).events()[1] is None
    assert sacct_job(row(Start="1070", End="1070")).events()[1] is None


def test_an_unnamed_cluster_needs_the_system_given():
    with pytest.raises(SlurmRecordError, match="Cluster"):
        sacct_job(row(Cluster="unknown"))
    assert sacct_job(row(Cluster="unknown"), system="ci").system == "ci"


@pytest.mark.parametrize(("field", "value"), [("Submit", "yesterday"), ("NNodes", "two"), ("TimelimitRaw", "1:xx"),
                                              ("NodeList", "cn[a-b]"), ("State", "")])
def test_a_bad_field_is_named(field, value):
    with pytest.raises(SlurmRecordError) as error:
        sacct_job(row(**{field: value}))
    assert error.value.field == field


def test_naive_times_are_read_in_the_given_zone():
    assert parse_time("2023-11-20T11:53:40", UTC) == 1700481220.0
    assert parse_time("2023-11-20T12:53:40+01:00") == 1700481220.0


def test_durations_and_limits():
    assert parse_duration("2-00:00:00") == 172800.0
    assert parse_duration("45", bare_unit_s=1.0) == 45.0
    assert parse_duration("Partition_Limit") is None


def test_hostlists_expand_with_zero_padding_and_several_ranges():
    assert expand_hostlist("a[08-10]b,c") == ["a08b", "a09b", "a10b", "c"]
    assert expand_hostlist("None assigned") == []


def test_a_job_name_holding_sacct_s_delimiter_stays_whole():
    line = "|".join(row(JobName="pre|post|plot").values())
    [(_, _, job)] = parse_sacct(enumerate([HEADER, line], start=1))
    assert job.name == "pre|post|plot" and job.job_id == "42" and job.state == "COMPLETED"


def test_a_row_with_too_few_fields_is_refused():
    [(_, _, error)] = parse_sacct(enumerate([HEADER, "42|tiny|alice"], start=1))
    assert isinstance(error, SlurmRecordError) and "3 fields, the header has 19" in str(error)


def test_sacct_file_replays_in_submit_order_and_counts_what_it_skipped(tmp_path):
    path = tmp_path / "jobs.sacct.gz"
    lines = [HEADER, "|".join(row(JobID="2", Submit="2000", Eligible="2000", Start="2001", End="2100").values()),
             "|".join(row(JobID="2.batch").values()),
             "|".join(row(JobID="1").values()),
             "|".join(row(JobID="3", Start="Unknown").values())]
    with gzip.open(path, "wt") as out:
        out.write("\n".join(lines) + "\n")
    source = open_source(str(path))
    events = list(source)
    assert [(e["schema"][4:8], e["job_id"]) for e in events] == [("subm", "1"), ("comp", "1"), ("subm", "2"),
                                                                ("comp", "2")]
    assert source.stats.jobs == 2 and source.stats.skipped == {"no positive run time": 1}


def test_sacct_file_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "jobs.sacct"
    path.write_text(HEADER + "\n" + "|".join(row().values()) + "\n" + "|".join(row(End="noon").values()) + "\n")
    with pytest.raises(SourceError, match=r"jobs.sacct:3: End: 'noon' is neither"):
        list(open_source(str(path)))
    lenient = open_source(str(path), lenient=True)
    assert len(list(lenient)) == 2 and lenient.stats.skipped == {"malformed: End": 1}


def test_a_file_without_the_sacct_header_is_refused(tmp_path):
    path = tmp_path / "jobs.sacct"
    path.write_text("|".join(row().values()) + "\n")
    with pytest.raises(SourceError, match=r"jobs\.sacct:1: header: no column JobID"):
        list(open_source(str(path)))


def test_a_jobcomp_record_becomes_events_in_utc():
    submission, completion = jobcomp_job(JOBCOMP).events()
    assert validate(submission) and validate(completion)
    assert submission["time"] == 1700481210.0 and submission["requested_walltime_s"] == 3600
    assert (submission["user"], submission["queue"], submission["num_procs"]) == ("jg", "normal", 4)
    assert completion["outcome"] == {"runtime_s": 7.0} and completion["nodes"] == ["cn01", "cn02"]


@pytest.mark.parametrize(("change", "field"), [({"jobid": "87"}, "jobid"), ({"@submit": "soon"}, "@submit"),
                                               ({"time_limit": -5}, "time_limit"), ({"nodes": 3}, "nodes"),
                                               ({"state": None}, "state"), ({"cluster": None}, "cluster")])
def test_a_bad_jobcomp_field_is_named(change, field):
    with pytest.raises(SlurmRecordError) as error:
        jobcomp_job({**JOBCOMP, **change})
    assert error.value.field == field


def test_a_jobcomp_record_that_is_not_an_object_is_refused():
    with pytest.raises(SlurmRecordError, match="a JSON list"):
        jobcomp_job([JOBCOMP])


def test_a_sacct_file_with_windows_line_endings_reads_like_a_unix_one(tmp_path):
    unix, windows = tmp_path / "unix.sacct", tmp_path / "windows.sacct"
    unix.write_text(HEADER + "\n" + "|".join(row().values()) + "\n")
    windows.write_bytes(unix.read_bytes().replace(b"\n", b"\r\n"))
    assert list(open_source(str(windows))) == list(open_source(str(unix)))


def waiting(job_id: str) -> SlurmJob:
    return SlurmJob(job_id, "c", 100.0, None, None, "PENDING", user="u", time_limit_s=600.0)


def test_a_waiting_job_array_becomes_its_tasks_with_the_arrays_request():
    tasks = array_tasks(waiting("30_[1-5:2,8,10-11%3]"))
    assert [t.job_id for t in tasks] == ["30_1", "30_3", "30_5", "30_8", "30_10", "30_11"]
    assert {(t.user, t.time_limit_s, t.submit) for t in tasks} == {("u", 600.0, 100.0)}


def test_a_job_that_is_not_a_waiting_array_is_itself():
    for job_id in ("30", "30_4"):
        assert array_tasks(waiting(job_id)) == [waiting(job_id)]


@pytest.mark.parametrize("job_id", ["30_[1-x]", "30_[]", "30_[1-5:0]", "30_[1-200000]", "30_[1-99999999999999]"])
def test_an_array_range_that_cannot_be_read_names_the_field(job_id):
    with pytest.raises(SlurmRecordError) as refused:
        array_tasks(waiting(job_id))
    assert refused.value.field == "JobID"


def test_each_component_of_a_heterogeneous_job_is_a_job_of_its_own():
    # the rows sacct 22.05 wrote for a waiting job with "#SBATCH hetjob" between two components, the
    # second one's time limit raised from 1 to 2 minutes to tell them apart
    lines = [HEADER, *(f"34+{i}|perfstream-ci|root|root|root|debug|normal|het-{name}|1796083634|1796083634|Unknown|"
                       f"Unknown|0|{i + 1}|1|1|1|None assigned|PENDING" for i, name in enumerate("ab"))]
    jobs = [job for _, _, job in parse_sacct(enumerate(lines, start=1))]
    assert [(job.job_id, job.name, job.time_limit_s) for job in jobs] == [("34+0", "het-a", 60.0),
                                                                          ("34+1", "het-b", 120.0)]
    assert all(array_tasks(job) == [job] for job in jobs)
    for job in jobs:
        validate(job.events()[0])
