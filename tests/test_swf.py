import gzip

import pytest

from pipeline.schemas import validate
from pipeline.sources import open_source
from pipeline.sources.base import SourceError
from pipeline.sources.swf import SwfSource, system_from_filename
from pipeline.sources.timeline import event_time


def test_system_name_comes_from_the_file_name():
    assert system_from_filename("HPC2N-2002-2.2-cln.swf.gz") == "HPC2N"
    assert system_from_filename("/x/SDSC-BLUE-2000-4.2-cln.swf") == "SDSC-BLUE"


def test_reads_header_fields(swf_slice):
    source = SwfSource(swf_slice)
    list(source)
    assert source.header["unix_start_time"] == 893466664
    assert source.header["time_zone"] == "US/Pacific"
    assert source.header["max_procs"] == "128"
    assert source.header["queues"][3] == "normal"


def test_every_event_is_valid_and_in_stream_order(swf_slice):
    events = list(SwfSource(swf_slice))
    for event in events:
        validate(event)
    times = [event_time(e) for e in events]
    assert times == sorted(times)


def test_first_job_becomes_a_submission_and_a_completion(swf_slice):
    events = list(SwfSource(swf_slice))
    # job 11: submit 566129 s after UnixStartTime, wait 5, run 28826, user 153, queue 3 (normal)
    submission = next(e for e in events if e["job_id"] == "11" and e["schema"] == "job-submission/1")
    completion = next(e for e in events if e["job_id"] == "11" and e["schema"] == "job-completion/1")
    assert submission["time"] == 893466664 + 566129
    assert (submission["user"], submission["queue"], submission["requested_walltime_s"]) == ("u153", "normal", 28800)
    assert "outcome" not in submission and "observed_features" not in submission
    assert completion["end_time"] == 893466664 + 566129 + 5 + 28826
    assert completion["outcome"] == {"runtime_s": 28826}
    assert completion["status"] == "cancelled"


def test_jobs_that_never_ran_are_counted_not_emitted(swf_slice):
    source = SwfSource(swf_slice)
    events = list(source)
    submissions = sum(e["schema"] == "job-submission/1" for e in events)
    completions = sum(e["schema"] == "job-completion/1" for e in events)
    assert submissions == completions == source.stats.jobs
    data_lines = sum(1 for line in swf_slice.read_text().splitlines() if not line.startswith(";"))
    assert source.stats.jobs + source.stats.skipped["no positive run time"] == data_lines


def test_gzip_and_plain_give_the_same_events(swf_slice, tmp_path):
    packed = tmp_path / "SDSC-SP2-1998-4.2-cln.swf.gz"
    packed.write_bytes(gzip.compress(swf_slice.read_bytes()))
    assert list(SwfSource(packed)) == list(SwfSource(swf_slice))


def _corrupt(path, line_number, text):
    lines = path.read_text().splitlines(keepends=True)
    lines[line_number - 1] = text
    path.write_text("".join(lines))


def test_malformed_line_names_file_line_and_field(swf_slice):
    lines = swf_slice.read_text().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(";"))
    fields = lines[first_job - 1].split()
    fields[3] = "12x"
    _corrupt(swf_slice, first_job, " ".join(fields) + "\n")
    with pytest.raises(SourceError) as error:
        list(SwfSource(swf_slice))
    assert error.value.line == first_job
    assert error.value.field == "field 4 (run time)"
    assert str(swf_slice) in str(error.value) and "'12x' is not a number" in str(error.value)


def test_a_log_out_of_submit_time_order_is_replayed_sorted(swf_slice, tmp_path):
    lines = swf_slice.read_text().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(";"))
    swapped = tmp_path / "swapped.swf"  # the first two jobs' lines the other way round
    lines[first_job - 1], lines[first_job] = lines[first_job], lines[first_job - 1]
    swapped.write_text("".join(lines))
    source = SwfSource(swapped, system="SDSC-SP2")
    assert list(source) == list(SwfSource(swf_slice))
    assert source.stats.reordered == 1


def test_a_sorted_log_counts_nothing_reordered(swf_slice):
    source = SwfSource(swf_slice)
    list(source)
    assert source.stats.reordered == 0


def test_a_repeated_job_number_names_file_line_and_field(swf_slice):
    lines = swf_slice.read_text().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(";"))
    fields = lines[first_job].split()  # the second job, under the first one's number
    fields[0] = lines[first_job - 1].split()[0]
    _corrupt(swf_slice, first_job + 1, " ".join(fields) + "\n")
    with pytest.raises(SourceError) as error:
        list(SwfSource(swf_slice))
    assert (error.value.line, error.value.field) == (first_job + 1, "field 1 (job number)")


def test_short_line_is_malformed(swf_slice):
    lines = swf_slice.read_text().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(";"))
    _corrupt(swf_slice, first_job + 1, "1 2 3\n")
    with pytest.raises(SourceError, match="expected 18 fields, found 3"):
        list(SwfSource(swf_slice))


def test_lenient_skips_and_counts_malformed_lines(swf_slice):
    strict_jobs = SwfSource(swf_slice)
    list(strict_jobs)
    lines = swf_slice.read_text().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(";"))
    _corrupt(swf_slice, first_job, "garbage\n")
    source = SwfSource(swf_slice, lenient=True)
    list(source)
    assert source.stats.skipped["malformed: line"] == 1
    assert source.stats.jobs == strict_jobs.stats.jobs - 1


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_source(str(tmp_path / "nope.swf"))


def test_a_log_without_a_header_counts_its_times_from_the_epoch(tmp_path):
    path = tmp_path / "simulated.swf"
    path.write_text("1 100 5 60 4 -1 -1 4 600 -1 1 7 1 1 1 -1 -1 -1\n")
    submission, completion = list(SwfSource(path))
    assert submission["time"] == 100 and completion["end_time"] == 165


def test_a_queue_name_aligned_in_columns_keeps_one_space_between_its_words(tmp_path):
    path = tmp_path / "UniLu-Gaia-2014-2.swf"
    path.write_text(";  Queue:  1  default        default\n1 100 5 60 4 -1 -1 4 600 -1 1 7 1 1 1 -1 -1 -1\n")
    submission, _ = list(SwfSource(path))
    assert submission["queue"] == "default default"


def test_header_comments_in_another_encoding_are_read(swf_slice):
    latin1 = swf_slice.read_bytes().replace(b"; Version:", b"; Note: Universit\xe4t M\xfcnchen\n; Version:", 1)
    swf_slice.write_bytes(latin1)
    source = SwfSource(swf_slice)
    assert len(list(source)) > 0 and source.header["unix_start_time"] == 893466664


def test_a_job_line_that_is_not_utf8_names_the_line_and_field(swf_slice):
    lines = swf_slice.read_bytes().splitlines(keepends=True)
    first_job = next(i for i, line in enumerate(lines, start=1) if not line.startswith(b";"))
    fields = lines[first_job - 1].split()
    fields[3] = b"1\xfc0"
    lines[first_job - 1] = b" ".join(fields) + b"\n"
    swf_slice.write_bytes(b"".join(lines))
    with pytest.raises(SourceError) as error:
        list(SwfSource(swf_slice))
    assert (error.value.line, error.value.field) == (first_job, "field 4 (run time)")
