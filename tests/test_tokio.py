import csv
import gzip

import pytest

from pipeline.schemas import validate
from pipeline.sources.base import SourceError
from pipeline.sources.timeline import event_time
from pipeline.sources.tokio import TokioSource, pacific_wall_clock_to_utc


def _lines(path):
    with gzip.open(path, "rt") as text:
        return text.read().splitlines(keepends=True)


def _rewritten(path, out, change):
    """A copy of a summaries file with ``change(row_number, record)`` applied to every row's fields."""
    with gzip.open(path, "rt") as text:
        reader = csv.reader(text)
        header = next(reader)
        names = ["_row", *header]
        rows = [dict(zip(names, row, strict=True)) for row in reader]
    for number, record in enumerate(rows):
        change(number, record)
    with gzip.open(out, "wt", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows([record[name] for name in names] for record in rows)
    return out


def _as_edison(number, record):
    """Edison's layout: one node type, three Lustre scratch file systems, each with its own health."""
    record["darshan_app"] = record["darshan_app"].replace("bin.cori-knl", "bin.edison").replace(
        "bin.cori-haswell", "bin.edison")
    record["_file_system"] = f"scratch{1 + number % 3}"


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


def test_a_row_that_ends_when_it_starts_is_counted_not_emitted(cori_slice, tmp_path):
    def instant(number, record):
        if number == 5:
            record["_datetime_end"] = record["_datetime_start"]

    source = TokioSource(_rewritten(cori_slice, tmp_path / "cori-summaries_instant.csv.gz", instant))
    events = list(source)
    assert source.stats.skipped["ends when or before it starts"] == 1
    assert all(e["end_time"] > e["time"] for e in events if e["schema"] == "job-completion/1")


def test_the_system_is_named_by_the_file(cori_slice, tmp_path):
    edison = _rewritten(cori_slice, tmp_path / "edison-summaries_2017-02-14-2018-02-15.csv.gz", _as_edison)
    assert {e["system"] for e in TokioSource(edison)} == {"edison"}
    assert {e["system"] for e in TokioSource(cori_slice)} == {"cori"}
    assert {e["system"] for e in TokioSource(edison, system="edison-test")} == {"edison-test"}


def test_a_machine_of_one_node_type_is_named_by_its_binaries(cori_slice, tmp_path):
    edison = _rewritten(cori_slice, tmp_path / "edison-summaries.csv.gz", _as_edison)
    submissions = [e for e in TokioSource(edison) if e["schema"] == "job-submission/1"]
    assert {e["features"]["node_type"] for e in submissions} == {"edison"}
    assert {e["features"]["file_system"] for e in submissions} == {"scratch1", "scratch2", "scratch3"}


def test_each_file_system_reports_its_own_health(cori_slice, tmp_path):
    edison = _rewritten(cori_slice, tmp_path / "edison-summaries.csv.gz", _as_edison)
    health = [e for e in TokioSource(edison) if e["schema"] == "node-health/1"]
    assert {e["component"] for e in health} == {"scratch1", "scratch2", "scratch3"}
    per_file_system = [(e["component"], e["time"]) for e in health]
    assert len(set(per_file_system)) == len(per_file_system)
    # the same snapshot time on two file systems is two reports, not one
    assert len({e["time"] for e in health}) < len(health)


def test_wall_clock_columns_of_another_time_zone_are_put_on_utc_by_darshans_stamp(cori_slice, tmp_path):
    def three_hours_off(_, record):
        for name in ("_datetime_start", "_datetime_end"):
            record[name] = str(float(record[name]) + 3 * 3600)

    shifted = _rewritten(cori_slice, tmp_path / "cori-shifted.csv.gz", three_hours_off)
    jobs = [e for e in TokioSource(cori_slice) if e["schema"] != "node-health/1"]
    assert [e for e in TokioSource(shifted) if e["schema"] != "node-health/1"] == jobs
