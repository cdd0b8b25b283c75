import gzip

import pytest

from pipeline.schemas import validate
from pipeline.sources.base import SourceError
from pipeline.sources.timeline import event_time
from pipeline.sources.tokio import TokioSource, pacific_wall_clock_to_utc


def _lines(path):
    with gzip.open(path, "rt") as text:
        return text.read().splitlines(keepends=True)


def test_pacific_wall_clock_becomes_utc():
    # 2018-02-05 03:20:39 Pacific standard time is 11:20:39 UTC (Darshan's own stamp for that job)
    assert pacific_wall_clock_to_utc(1517800839.0) == 1517829639.0
    # summer: daylight saving, 7 hours
    assert pacific_wall_clock_to_utc(1500000000.0) - 1500000000.0 == 7 * 3600


def test_every_event_is_valid_and_in_stream_order(cori_slice):
    events = list(TokioSource(cori_slice))
    for event in events:
        validate(event)
    times = [event_time(e) for e in events]
    assert times == sorted(times)


def test_submission_carries_only_what_is_known_before_the_run(cori_slice):
    events = list(TokioSource(cori_slice))
    submission = next(e for e in events if e["schema"] == "job-submission/1")
    assert set(submission) <= {"schema", "job_id", "system", "time", "app", "num_procs", "features"}
    assert set(submission["features"]) == {"node_type", "file_system"}
    assert submission["app"] in {"ior", "hacc_io_write", "hacc_io_read", "vpicio_uni", "dbscan_read"}


def test_first_row_maps_to_its_outcomes(cori_slice):
    source = TokioSource(cori_slice)
    events = list(source)
    completion = next(e for e in events if e["schema"] == "job-completion/1" and e["job_id"] == "10003035.0")
    assert completion["outcome"]["io_throughput_mibps"] == pytest.approx(217787.46132)
    assert completion["outcome"]["runtime_s"] == 61
    assert completion["features"] == {"node_type": "knl", "file_system": "datawarp"}
    assert completion["num_procs"] == 4096
    assert completion["observed_features"]["darshan_total_gibs_posix"] == pytest.approx(4608.04400635)
    assert source.stats.jobs == 600


def test_each_benchmark_row_of_a_slurm_job_gets_its_own_id(cori_slice):
    ids = [e["job_id"] for e in TokioSource(cori_slice) if e["schema"] == "job-submission/1"]
    assert len(ids) == len(set(ids)) == 600
    assert all(job_id.rsplit(".", 1)[1].isdigit() for job_id in ids)


def test_health_snapshots_become_file_system_events_once_each(cori_slice):
    events = list(TokioSource(cori_slice))
    health = [e for e in events if e["schema"] == "node-health/1"]
    assert health, "the slice holds fshealth snapshots"
    assert len({e["time"] for e in health}) == len(health)
    assert {e["component"] for e in health} == {"cscratch"}
    assert all("ost_avg_full_pct" in e["metrics"] for e in health)


def test_row_with_wrong_field_count_names_the_line(cori_slice, tmp_path):
    lines = _lines(cori_slice)
    lines[5] = "1,2,3\n"
    broken = tmp_path / "broken.csv"
    broken.write_text("".join(lines))
    with pytest.raises(SourceError) as error:
        list(TokioSource(broken))
    assert error.value.line == 6 and "expected 187 fields, found 3" in str(error.value)
    lenient = TokioSource(broken, lenient=True)
    list(lenient)
    assert lenient.stats.skipped["malformed: row"] == 1 and lenient.stats.jobs == 599


def test_non_numeric_start_names_the_field(cori_slice, tmp_path):
    lines = _lines(cori_slice)
    fields = lines[3].split(",")
    fields[2] = "soon"  # _datetime_start (shifted header: field 0 is the row index)
    lines[3] = ",".join(fields)
    broken = tmp_path / "broken.csv"
    broken.write_text("".join(lines))
    with pytest.raises(SourceError) as error:
        list(TokioSource(broken))
    assert (error.value.line, error.value.field) == (4, "_datetime_start")
