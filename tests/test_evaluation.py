"""The comparison report: layout other tools read, and what its numbers must satisfy."""

import pytest

from pipeline.evaluation.compare import compare
from pipeline.evaluation.tasks import make_tasks, parse_tasks, task_of
from pipeline.sources.synthetic import SyntheticCluster
from pipeline.sources.tokio import TokioSource


def test_task_spec_is_a_count_or_dates():
    assert parse_tasks("4") == 4
    assert parse_tasks("2017-03-24,2017-08-10") == [1490313600.0, 1502323200.0]
    with pytest.raises(ValueError, match="neither a count nor a YYYY-MM-DD date"):
        parse_tasks("spring")
    with pytest.raises(ValueError, match="increasing"):
        parse_tasks("2017-08-10,2017-03-24")


def test_equal_slices_cover_the_range_and_dates_must_fall_inside():
    tasks = make_tasks([0.0, 50.0, 100.0], 4)
    assert [(t.start, t.end) for t in tasks] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    assert task_of(100.0, tasks) == 3 and task_of(25.0, tasks) == 1
    with pytest.raises(ValueError, match="inside the data"):
        make_tasks([0.0, 100.0], [200.0])


@pytest.fixture(scope="module")
def synthetic_report():
    events = list(SyntheticCluster(8000, seed=4))
    return compare(events, "runtime_s", ["last2", "median", "naive"], 3, seed=4, progress=False)[0]


def test_report_has_the_documented_layout(synthetic_report):
    assert {"source", "target", "seed", "tasks", "strategies"} <= set(synthetic_report)
    assert set(synthetic_report["tasks"][0]) == {"start", "end", "n_stream", "n_test"}
    for summary in synthetic_report["strategies"].values():
        assert set(summary["prequential"]) >= {"n", "mean_abs_log10", "median_abs_log10", "aa",
                                               "underestimation_rate"}
        assert {"R", "whole_sequence_error", "bwt", "improvement_vs_naive", "events_per_second"} <= set(summary)
        assert len(summary["R"]) == 3 and all(len(row) == 3 for row in summary["R"])


def test_report_gives_each_strategys_interval_coverage_and_width(synthetic_report):
    for summary in synthetic_report["strategies"].values():
        assert 0.7 < summary["prequential"]["interval_coverage"] < 0.9  # the interval aims at 0.8
        assert summary["prequential"]["interval_width_log10"] > 0


def test_strategies_that_name_no_basis_have_no_breakdown_by_basis(synthetic_report):
    assert all(summary["by_basis"] == {} for summary in synthetic_report["strategies"].values())


def test_the_breakdown_by_basis_splits_every_prediction_of_the_default():
    events = list(SyntheticCluster(6000, seed=2))
    report = compare(events, "runtime_s", ["consensus"], 2, seed=2, progress=False)[0]
    summary = report["strategies"]["consensus"]
    groups = summary["by_basis"]
    assert {"own runs", "same request"} <= set(groups)
    assert sum(g["n"] for g in groups.values()) == summary["prequential"]["n"]
    assert sum(g["share"] for g in groups.values()) == pytest.approx(1.0)


def test_strategies_are_reported_in_the_order_asked(synthetic_report):
    assert list(synthetic_report["strategies"]) == ["last2", "median", "naive"]


def test_improvement_vs_naive_is_naives_whole_sequence_error_over_the_strategys(synthetic_report):
    s = synthetic_report["strategies"]
    assert s["naive"]["improvement_vs_naive"] == pytest.approx(1.0)
    assert s["median"]["improvement_vs_naive"] == pytest.approx(
        s["naive"]["whole_sequence_error"] / s["median"]["whole_sequence_error"])


def test_naive_is_run_as_the_reference_even_when_not_asked_for():
    events = list(SyntheticCluster(3000, seed=1))
    report = compare(events, "runtime_s", ["median"], 2, progress=False)[0]
    assert list(report["strategies"]) == ["median"]
    assert report["strategies"]["median"]["improvement_vs_naive"] is not None


def test_a_real_slice_replays_end_to_end(cori_slice):
    """Cori I/O throughput through every baseline: numbers exist and learning beats a constant."""
    events = list(TokioSource(cori_slice))
    report = compare(events, "io_throughput_mibps", ["naive", "frozen", "median", "last2", "cumulative"], 2,
                     seed=0, progress=False)[0]
    s = report["strategies"]
    assert sum(t["n_stream"] + t["n_test"] for t in report["tasks"]) == 600
    assert s["naive"]["prequential"]["n"] == sum(t["n_stream"] for t in report["tasks"])
    assert s["naive"]["prequential"]["median_abs_log10"] < s["median"]["prequential"]["median_abs_log10"]


def test_every_continual_strategy_replays_a_real_slice_end_to_end(cori_slice):
    events = list(TokioSource(cori_slice))
    continual = ["history", "replay", "drift-reset", "experts", "select", "consensus", "mlp", "mlp-replay"]
    report = compare(events, "io_throughput_mibps", ["median", *continual], 2, seed=1, progress=False)[0]
    s = report["strategies"]
    for name in continual:
        assert s[name]["prequential"]["n"] == s["median"]["prequential"]["n"]
        assert s[name]["prequential"]["median_abs_log10"] < s["median"]["prequential"]["median_abs_log10"], name
        assert s[name]["whole_sequence_error"] < s["median"]["whole_sequence_error"], name


def test_synthetic_evaluation_reports_how_the_scripted_changes_were_flagged():
    from pipeline.evaluation.detection import detection

    subs = [{"schema": "job-submission/1", "system": "a", "time": float(t)} for t in range(3000)]
    truth = [{"system": "a", "target": "runtime_s", "time": 1000.0},
             {"system": "a", "target": "io_throughput_mibps", "time": 2000.0}]
    alarms = [{"system": "a", "target": "runtime_s", "time": 1100.5, "detector": "shift-up"},
              {"system": "a", "target": "runtime_s", "time": 1500.5, "detector": "adwin"},   # same change
              {"system": "a", "target": "runtime_s", "time": 400.0, "detector": "adwin"},    # before any change
              {"system": "a", "target": "runtime_s", "time": 2000.0, "detector": "known-change"}]
    report = detection(truth, alarms, subs, "runtime_s", window_jobs=1000)
    assert [c["delay_jobs"] for c in report["changes"]] == [100]
    assert report["false_alarms_by_detector"] == {"adwin": 1}
    assert report["false_alarms_per_100k_jobs"] == 1e5 / 3000


def test_a_change_left_unflagged_is_not_flagged_by_the_next_changes_announcement():
    from pipeline.evaluation.detection import detection

    subs = [{"schema": "job-submission/1", "system": "a", "time": float(t)} for t in range(3000)]
    truth = [{"system": "a", "target": "runtime_s", "time": 1000.0},
             {"system": "a", "target": "runtime_s", "time": 2000.0}]
    alarms = [{"system": "a", "target": "runtime_s", "time": 2000.0, "detector": "known-change"}]
    report = detection(truth, alarms, subs, "runtime_s")
    assert [c["delay_jobs"] for c in report["changes"]] == [None, 0]


def test_recovery_is_when_the_error_after_a_change_is_back_within_ten_percent():
    from pipeline.evaluation.detection import detection

    subs = [{"schema": "job-submission/1", "system": "a", "time": float(t)} for t in range(3000)]
    truth = [{"system": "a", "target": "runtime_s", "time": 1000.0, "component": "g1", "factor": 2.0}]
    # error 0.1 before the change, 0.5 for 300 jobs after it, then 0.1 again
    completions = [(t + 0.5, "a", 0.5 if 1000 <= t < 1300 else 0.1) for t in range(3000)]
    report = detection(truth, [], subs, "runtime_s", completions=completions, recovery_window=100)
    # 100 completions may hold 2 bad ones (0.108 <= 1.1 x 0.1): those from job 1298 to 1397
    assert report["changes"][0]["recovered_from_jobs"] == 298
    assert report["changes"][0]["recovery_jobs"] == 397
    assert report["changes"][0]["regime_returns"] is False


def test_every_strategy_is_scored_on_jobs_by_how_long_their_kind_was_away(synthetic_report):
    for summary in synthetic_report["strategies"].values():
        groups = summary["by_absence"]
        assert "first seen" in groups
        assert all(0 < g["share"] <= 1 for g in groups.values())
        assert groups["first seen"]["n"] < summary["prequential"]["n"]
