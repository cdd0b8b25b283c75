"""The contract every registered strategy keeps, and what each baseline promises."""

import math

import pytest

from pipeline.learning.baselines import Frozen, Last2
from pipeline.learning.history import OWN_RUNS, STRANGER
from pipeline.learning.job import Job
from pipeline.learning.registry import STRATEGIES, UnknownStrategy, make_strategy, resolve
from pipeline.learning.strategy import StrategyContext


def stationary_jobs(n, seed=0):
    """Two applications, one 10x slower than the other, each with its own users; small noise."""
    import random

    rng = random.Random(seed)
    for i in range(n):
        app = "slow" if i % 2 else "fast"
        y = (1000.0 if app == "slow" else 100.0) * 10 ** rng.gauss(0, 0.05)
        yield Job(str(i), "s", float(i), user=f"{app}-u{i % 5}", app=app, num_procs=8, requested_walltime_s=3600), y


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_predicts_a_positive_finite_value_before_learning_anything(name):
    strategy = make_strategy(name, StrategyContext("runtime_s"))
    value = strategy.predict_one(Job("1", "s", 0.0, user="u", requested_walltime_s=600))
    assert value > 0 and math.isfinite(value)


def learned_and_probe(name):
    """``name`` after 300 stationary jobs, and the next 100 jobs to predict."""
    strategy = make_strategy(name, StrategyContext("runtime_s"))
    jobs = list(stationary_jobs(400))
    for job, y in jobs[:300]:
        strategy.learn_one(job, y)
    return strategy, [job for job, _ in jobs[300:]]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_predicting_changes_nothing(name):
    strategy, probe = learned_and_probe(name)
    first = strategy.predict_many(probe)
    assert [strategy.predict_one(job) for job in probe] == pytest.approx(first)
    assert strategy.predict_many(probe) == pytest.approx(first)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_detailed_prediction_is_the_prediction(name):
    strategy, probe = learned_and_probe(name)
    assert [strategy.predict_detail(job).value for job in probe] == [strategy.predict_one(job) for job in probe]


@pytest.mark.parametrize("name", ["history", "replay", "drift-reset", "experts", "consensus"])
def test_strategies_that_anchor_on_the_history_name_the_anchors_kind_as_basis(name):
    strategy = make_strategy(name, StrategyContext("runtime_s"))
    job = Job("x", "s", 1000.0, user="u", app="a", num_procs=8, requested_walltime_s=3600)
    assert strategy.predict_detail(job).basis == STRANGER
    for i in range(5):
        strategy.learn_one(Job(str(i), "s", float(i), user="u", app="a", num_procs=8, requested_walltime_s=3600), 60.0)
    assert strategy.predict_detail(job).basis == OWN_RUNS


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"median"}))
def test_learns_a_stationary_pattern(name):
    strategy = make_strategy(name, StrategyContext("runtime_s"))
    errors = []
    for job, y in stationary_jobs(3000):
        errors.append(abs(math.log10(strategy.predict_one(job) / y)))
        strategy.learn_one(job, y)
    early, late = sum(errors[:100]) / 100, sum(errors[-500:]) / 500
    # the noise is 0.05 in log10 (mean abs 0.04): a learner ends near it, and better than it began
    assert late < 0.1 and late < early


def test_frozen_stops_learning_after_the_first_task():
    frozen = Frozen(StrategyContext("runtime_s", first_task_end=100.0))
    for job, y in stationary_jobs(100):
        frozen.learn_one(job, y)
    before = frozen.predict_one(Job("x", "s", 500.0, app="fast"))
    for i in range(200):
        frozen.learn_one(Job(str(i), "s", 200.0 + i, app="fast"), 10.0)
    assert frozen.predict_one(Job("x", "s", 500.0, app="fast")) == before


def test_last2_uses_the_users_last_two_completed_runs():
    last2 = Last2(StrategyContext("runtime_s"))
    for y in (10.0, 20.0, 60.0):
        last2.learn_one(Job("j", "s", 0.0, user="alice"), y)
    last2.learn_one(Job("j", "s", 0.0, user="bob"), 1000.0)
    assert last2.predict_one(Job("k", "s", 0.0, user="alice")) == 40.0


def test_last2_falls_back_to_request_then_running_median():
    last2 = Last2(StrategyContext("runtime_s"))
    assert last2.predict_one(Job("k", "s", 0.0, user="new", requested_walltime_s=7200)) == 7200.0
    for y in (100.0, 300.0, 200.0):
        last2.learn_one(Job("j", "s", 0.0, user="other"), y)
    assert last2.predict_one(Job("k", "s", 0.0, user="new")) == pytest.approx(200.0)


def test_last2_floors_runtimes_at_one_second():
    last2 = Last2(StrategyContext("runtime_s"))
    last2.learn_one(Job("j", "s", 0.0, user="u"), 0.2)
    assert last2.predict_one(Job("k", "s", 0.0, user="u")) == 1.0


def test_naive_does_not_diverge_on_extreme_inputs():
    naive = make_strategy("naive", StrategyContext("runtime_s"))
    for i in range(2000):
        procs = 2 ** (i % 17)
        naive.learn_one(Job(str(i), "s", float(i), num_procs=procs, requested_walltime_s=10.0 ** (i % 7)),
                        10.0 ** (1 + i % 5))
    value = naive.predict_one(Job("x", "s", 0.0, num_procs=2**40, requested_walltime_s=1e12))
    assert 1e-1 <= value <= 1e7  # within the outcomes seen (10..1e5) widened by one decade


def test_default_resolves_to_a_registered_strategy():
    assert resolve("default") in STRATEGIES


def test_unknown_strategy_is_named_with_the_known_ones():
    with pytest.raises(UnknownStrategy, match=r"unknown strategy 'magic'.*last2"):
        make_strategy("magic", StrategyContext("runtime_s"))
