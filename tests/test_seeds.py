"""A comparison over several seeds: each number's spread between the held-out splits."""

import pytest

from pipeline.evaluation.seeds import across_seeds, format_across_seeds


def _report(**strategies: float) -> dict:
    """A report whose strategies have these whole-sequence errors (naive's ratio from 0.2)."""
    return {"strategies": {name: {
        "whole_sequence_error": whole, "bwt": whole / 10, "improvement_vs_naive": 0.2 / whole,
        "prequential": {"median_abs_log10": whole / 2, "mean_abs_log10": whole},
        "tolerance_accuracy": {"whole_sequence": 1 - whole, "ratio_vs_naive": 1.0},
    } for name, whole in strategies.items()}}


def test_each_number_spreads_as_its_mean_min_and_max_over_the_seeds():
    spread = across_seeds([_report(replay=0.18), _report(replay=0.21), _report(replay=0.19)])
    whole = spread["replay"]["whole_sequence_error"]
    assert whole["values"] == [0.18, 0.21, 0.19]
    assert (whole["mean"], whole["min"], whole["max"]) == pytest.approx((0.19333, 0.18, 0.21), abs=1e-5)
    assert spread["replay"]["bwt"]["max"] == pytest.approx(0.021)


def test_a_strategy_missing_from_one_seed_is_spread_over_the_others():
    spread = across_seeds([_report(naive=0.2, replay=0.18), _report(naive=0.2)])
    assert spread["replay"]["whole_sequence_error"]["values"] == [0.18, None]
    assert spread["replay"]["whole_sequence_error"]["mean"] == 0.18


def test_the_table_shows_mean_and_range_per_strategy():
    table = format_across_seeds(across_seeds([_report(naive=0.2), _report(naive=0.25)]), [0, 1])
    assert table.splitlines()[0] == "across seeds 0, 1: mean [min, max]"
    assert "0.225 [0.200, 0.250]" in table
