import math

import numpy as np
import pytest

from pipeline.evaluation import metrics


def test_abs_log10_ratio_is_symmetric_in_over_and_under_prediction():
    assert metrics.abs_log10_ratio(np.array([200.0, 50.0]), np.array([100.0, 100.0])) == pytest.approx(
        [math.log10(2), math.log10(2)])


def test_prequential_summary_on_a_hand_computed_example():
    # predictions 10, 100, 50 of outcomes 10, 10, 100:
    # errors 0, 1, log10(2)=0.30103 -> mean 0.43368, median 0.30103
    # AA = (1 + 0.1 + 0.5) / 3 = 0.53333; underestimated: only 50 < 100 -> 1/3
    s = metrics.prequential_summary([10, 100, 50], [10, 10, 100])
    assert s["n"] == 3
    assert s["mean_abs_log10"] == pytest.approx((1 + math.log10(2)) / 3)
    assert s["median_abs_log10"] == pytest.approx(math.log10(2), abs=1e-6)
    assert s["aa"] == pytest.approx(1.6 / 3)
    assert s["underestimation_rate"] == pytest.approx(1 / 3)


def test_empty_prequential_summary_has_no_numbers():
    assert metrics.prequential_summary([], [])["mean_abs_log10"] is None


def test_task_matrix_measures_on_a_hand_computed_example():
    r = [[0.10, 0.50, 0.60],
         [0.30, 0.20, 0.50],
         [0.40, 0.25, 0.15]]
    assert metrics.whole_sequence(r) == pytest.approx((0.40 + 0.25 + 0.15) / 3)
    # BWT = mean(R[2][0] - R[0][0], R[2][1] - R[1][1]) = mean(0.30, 0.05)
    assert metrics.backward_transfer(r) == pytest.approx(0.175)
    # forgetting: task 0 best 0.10 -> 0.30; task 1 best 0.20 -> 0.05; task 2 best 0.15 -> 0
    assert metrics.forgetting(r) == pytest.approx([0.30, 0.05, 0.0])


def test_tolerance_accuracy_counts_predictions_within_one_bin():
    edges = metrics.bin_edges([10 ** k for k in range(10)] * 3, bins=10)
    # bins hold one decade each: 1 decade off is right, 2 decades off is wrong
    assert metrics.tolerance_accuracy([10, 1000, 10**5], [100, 10, 10**5], edges) == pytest.approx(2 / 3)


def test_bin_edges_are_equal_frequency():
    values = np.logspace(0, 4, 1000)
    edges = metrics.bin_edges(values, bins=4)
    counts = np.bincount(np.searchsorted(edges, np.log10(values), side="right"))
    assert counts.tolist() == [250, 250, 250, 250]
