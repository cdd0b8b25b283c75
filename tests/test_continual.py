"""What each continual strategy adds to online fine-tuning."""

import math

import pytest

from pipeline.learning.consensus import SETTLING, Consensus
from pipeline.learning.continual import DriftReset, Replay
from pipeline.learning.drift import Alarm
from pipeline.learning.history import ANOTHER_REQUEST, OTHER, OWN_RUNS, SAME_REQUEST, STRANGER, History
from pipeline.learning.job import Job
from pipeline.learning.selector import Selector
from pipeline.learning.settling import Settling
from pipeline.learning.strategy import StrategyContext


def two_regimes(n):
    """Application a takes 100 s for the first n jobs, then 1000 s for the next n."""
    for i in range(2 * n):
        yield Job(str(i), "s", float(i), app="a", user=f"u{i % 50}"), 100.0 if i < n else 1000.0


def test_replay_memory_is_capped_however_long_the_stream():
    replay = Replay(StrategyContext("runtime_s"), capacity=300, k=1)
    for job, y in two_regimes(2000):
        replay.learn_one(job, y)
    assert replay.buffer_size == 300 and replay.buffer.seen == 4000


def test_replay_relearns_k_remembered_samples_after_each_new_one():
    replay = Replay(StrategyContext("runtime_s"), capacity=100, k=2)
    learned = []
    original = replay.model.learn
    replay.model.learn = lambda sample, fit_scaler=True: learned.append(fit_scaler) or original(sample, fit_scaler)
    for job, y in two_regimes(100):
        replay.learn_one(job, y)
    assert learned.count(True) == 200  # every new sample once, fitting the scaler
    assert learned.count(False) == 2 * 199  # two replays after each, once the memory has anything


def test_drift_reset_starts_a_new_model_on_an_announced_change():
    strategy = DriftReset(StrategyContext("runtime_s"))
    for job, y in two_regimes(500):
        strategy.learn_one(job, y)
    old_model = strategy.model
    strategy.on_drift(Alarm("known-change", 1000, 0.0, 0.1, 0.1))
    assert strategy.model is not old_model and strategy.version == 1


def test_drift_reset_ignores_alarms_where_errors_fell():
    strategy = DriftReset(StrategyContext("runtime_s"))
    strategy.on_drift(Alarm("adwin", 10, 0.0, error_before=0.5, error_after=0.1))
    assert strategy.version == 0


def _noisy_population(strategy, n: int = 200) -> None:
    """A noisy population of jobs for the models to learn from."""
    for i in range(n):
        strategy.learn_one(Job(str(i), "s", float(i), user=f"u{i % 20}", requested_walltime_s=3600),
                           10.0 ** (1 + (i * 7919 % 100) / 33))


def _population_of_repeated_jobs(strategy) -> None:
    """The noisy population, then each of its users repeats one job of their own runtime."""
    _noisy_population(strategy)
    for i in range(220):
        user = i % 20
        strategy.learn_one(Job(f"r{i}", "s", 200.0 + i / 10, user=f"u{user}", requested_walltime_s=3600),
                           10.0 ** (1 + user / 10))


def test_select_trusts_a_users_repeated_identical_jobs():
    selector = Selector(StrategyContext("runtime_s"))
    _noisy_population(selector)
    for i in range(5):  # one user repeats the same job
        selector.learn_one(Job(f"r{i}", "s", 300.0 + i, user="repeat", requested_walltime_s=900), 123.0)
    predicted = selector.predict_one(Job("next", "s", 400.0, user="repeat", requested_walltime_s=900))
    assert abs(math.log10(predicted / 123.0)) < 0.01


def test_select_names_the_candidate_it_chose_as_its_basis():
    selector = Selector(StrategyContext("runtime_s"))
    _noisy_population(selector)
    for i in range(5):  # one user repeats the same job: its anchor has been exact
        selector.learn_one(Job(f"r{i}", "s", 300.0 + i, user="repeat", requested_walltime_s=900), 123.0)
    prediction = selector.predict_detail(Job("next", "s", 400.0, user="repeat", requested_walltime_s=900))
    assert prediction.basis == "anchor" and prediction.value == prediction.reference


def _next_job(user: str) -> Job:
    """A job of ``user`` with the request the noisy population used."""
    return Job("next", "s", 300.0, user=user, requested_walltime_s=3600)


def _median_of_three(consensus: Consensus, job: Job) -> float:
    """The median of the anchor and the two models' predictions for ``job`` (log10)."""
    inputs = consensus._inputs(job)
    return sorted((inputs.anchor, consensus._model(inputs), consensus._plain(inputs)))[1]


def _votes(jobs: list[Job], population=_noisy_population) -> list[tuple[float, float, float, float, str | None]]:
    """(prediction, anchor, model, plain, the anchor's kind), log10, for each job after ``population``."""
    consensus = Consensus(StrategyContext("runtime_s"))
    population(consensus)
    votes = []
    for job in jobs:
        inputs = consensus._inputs(job)
        votes.append((math.log10(consensus.predict_one(job)), inputs.anchor, consensus._model(inputs),
                      consensus._plain(inputs), inputs.kind))
    return votes


def _toward_nearer(anchor: float, model: float, plain: float, pull: float) -> float:
    low, high = sorted((model, plain))
    nearer = min(max(anchor, low), high)  # the anchor itself when between them
    return anchor + pull * (nearer - anchor)


def _some_outside(votes) -> bool:
    return any(not min(m, p) <= a <= max(m, p) for _, a, m, p, _ in votes)


def test_consensus_moves_an_anchor_from_the_jobs_own_runs_a_tenth_of_the_way_to_the_nearer_model():
    votes = _votes([_next_job(f"u{i}") for i in range(20)], _population_of_repeated_jobs)
    assert all(kind == OWN_RUNS for *_, kind in votes)
    assert _some_outside(votes), "no anchor outside the models"
    for predicted, anchor, model, plain, _ in votes:
        assert predicted == pytest.approx(_toward_nearer(anchor, model, plain, 0.1))


def test_consensus_counts_the_jobs_own_runs_once_when_both_models_put_them_over_30_times_off():
    consensus = Consensus(StrategyContext("runtime_s"))
    _population_of_repeated_jobs(consensus)
    inputs = consensus._inputs(_next_job("u0"))
    assert inputs.kind == OWN_RUNS
    consensus.model.predict = lambda sample: 2.5  # the anchored model: 2.5 decades above the anchor
    for gap, pull in ((1.4, 0.1), (1.6, 1.0)):  # the plain model, nearer: within 30 times, then beyond
        consensus.plain.predict = lambda sample, gap=gap: inputs.anchor + gap
        vote, _ = consensus._votes(inputs, settling=False)
        assert vote == pytest.approx(inputs.anchor + pull * gap)


def test_consensus_moves_the_users_last_job_with_the_same_request_halfway_to_the_nearer_model():
    other_size = [Job("next", "s", 300.0, user=f"u{i}", num_procs=4, requested_walltime_s=3600) for i in range(20)]
    votes = _votes(other_size)
    assert all(kind == SAME_REQUEST for *_, kind in votes)
    assert _some_outside(votes), "no anchor outside the models"
    for predicted, anchor, model, plain, _ in votes:
        assert predicted == pytest.approx(_toward_nearer(anchor, model, plain, 0.5))


def test_consensus_counts_any_other_anchor_once_predicting_the_median_of_three():
    scattered = [_next_job(f"u{i}") for i in range(20)]  # their runs in the noisy population scatter
    no_request = [Job("next", "s", 300.0, user=f"u{i}") for i in range(20)]  # anchored on the user's last
    votes = _votes(scattered + no_request)
    assert all(kind == OTHER for *_, kind in votes)
    assert _some_outside(votes), "no anchor outside the models"
    for predicted, anchor, model, plain, _ in votes:
        assert predicted == pytest.approx(sorted((anchor, model, plain))[1])


def test_consensus_lets_a_new_request_vote_in_place_of_the_users_last_job():
    new_request = [Job("next", "s", 300.0, user=f"u{i}", requested_walltime_s=60) for i in range(20)]
    votes = _votes(new_request)
    assert all(kind == ANOTHER_REQUEST for *_, kind in votes)
    assert any(sorted((anchor, model, plain))[1] != pytest.approx(sorted((math.log10(60), model, plain))[1])
               for _, anchor, model, plain, _ in votes), "the request never changed the vote"
    for predicted, _, model, plain, _ in votes:
        assert predicted == pytest.approx(sorted((math.log10(60), model, plain))[1])


def test_consensus_predicts_a_stranger_with_the_plain_model():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    stranger = _next_job("stranger")
    inputs = consensus._inputs(stranger)
    assert inputs.kind == STRANGER and inputs.anchor == math.log10(3600)  # the requested time
    assert math.log10(consensus.predict_one(stranger)) == pytest.approx(consensus._plain(inputs))


def test_consensus_gives_the_detectors_the_median_of_its_three_predictors():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    for job in (_next_job(f"u{i}") for i in range(20)):
        predicted, reference, _ = consensus.predict_detail(job)
        assert predicted == consensus.predict_one(job)
        assert math.log10(reference) == pytest.approx(_median_of_three(consensus, job))


def test_consensus_predicts_the_median_of_its_three_while_its_models_settle_after_an_announced_change():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    consensus.on_drift(Alarm("known-change", 200, 200.0, 0.1, 0.1))
    _noisy_population(consensus, n=40)  # runs in the new regime, fewer than settling lasts
    consensus.settling.offset = lambda placement: 0.0  # the vote alone
    assert consensus.settling.active
    for job in (_next_job(f"u{i}") for i in range(20)):
        assert math.log10(consensus.predict_one(job)) == pytest.approx(_median_of_three(consensus, job))


def test_consensus_anchor_from_runs_before_an_announced_change_is_not_the_jobs_own():
    consensus = Consensus(StrategyContext("runtime_s"))
    _population_of_repeated_jobs(consensus)
    job = _next_job("u3")
    assert consensus._inputs(job).kind == OWN_RUNS
    consensus.on_drift(Alarm("known-change", 200, 200.0, 0.1, 0.1))
    assert consensus._inputs(job).kind == OTHER


def _on(group: str) -> Job:
    """A job of one user on node group ``group``."""
    return Job(group, "s", 0.0, user="u", requested_walltime_s=3600, features={"node_group": group})


def _after_a_change_of_g1() -> Consensus:
    """Consensus that learned one job on g1 and one on g2, then heard of a change of g1."""
    consensus = Consensus(StrategyContext("runtime_s"))
    for group in ("g1", "g2"):
        consensus.learn_one(_on(group), 60.0)
    consensus.on_drift(Alarm("known-change", 2, 1.0, 0.1, 0.1, component="g1"))
    return consensus


def test_consensus_keeps_the_own_runs_of_jobs_placed_elsewhere_after_an_announced_change():
    consensus = _after_a_change_of_g1()
    assert [consensus._inputs(_on(group)).kind for group in ("g1", "g2")] == [OTHER, OWN_RUNS]


def test_consensus_keeps_a_users_repeated_identical_jobs_exact():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    for i in range(20):  # one user repeats the same job: the anchor and, soon, the anchored model agree
        consensus.learn_one(Job(f"r{i}", "s", 300.0 + i, user="repeat", requested_walltime_s=900), 123.0)
    predicted = consensus.predict_one(Job("next", "s", 400.0, user="repeat", requested_walltime_s=900))
    assert abs(math.log10(predicted / 123.0)) < 0.05


def _count_learning(consensus: Consensus) -> dict[str, int]:
    """Replace both models' learning by a count of the samples each is given."""
    learned = {"model": 0, "plain": 0}
    for name in learned:
        model = getattr(consensus, name)
        model.learn = lambda sample, fit_scaler=True, name=name: learned.__setitem__(name, learned[name] + 1)
    return learned


def test_consensus_replays_old_jobs_into_both_models():
    consensus = Consensus(StrategyContext("runtime_s"), k=4)
    _noisy_population(consensus)
    learned = _count_learning(consensus)
    consensus.learn_one(Job("new", "s", 201.0, user="u1", requested_walltime_s=3600), 50.0)
    assert learned == {"model": 1 + 4, "plain": 1 + 4}


def test_consensus_plain_model_replays_only_jobs_learned_since_an_announced_change():
    consensus = Consensus(StrategyContext("runtime_s"), k=4)
    _noisy_population(consensus)
    consensus.on_drift(Alarm("known-change", 200, 200.0, 0.1, 0.1))
    learned = _count_learning(consensus)
    consensus.learn_one(Job("new", "s", 201.0, user="u1", requested_walltime_s=3600), 50.0)
    assert learned == {"model": 1 + 4, "plain": 1}  # the four replayed jobs are all from before the change


def test_consensus_retires_its_history_on_an_announced_change():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    remembered = len(consensus.history.signatures)
    consensus.on_drift(Alarm("known-change", 200, 200.0, 0.1, 0.1))
    assert consensus.history.signatures == {} and len(consensus.history.retired) == remembered > 0


def test_consensus_corrects_its_predictions_on_a_placement_while_its_models_settle_after_a_change():
    consensus = Consensus(StrategyContext("runtime_s"))
    _noisy_population(consensus)
    consensus.on_drift(Alarm("known-change", 200, 200.0, 0.1, 0.1))
    job = Job("x", "s", 201.0, user="u1", requested_walltime_s=3600)
    before = consensus.predict_one(job)
    consensus.settling.update(History.placement(job), 0.3)  # as if 2x slower lately
    assert consensus.predict_one(job) > before


def test_settling_fades_out_and_leaves_predictions_alone_between_changes():
    settling = Settling(jobs=3, alpha=1.0, fade=2)
    assert settling.offset(("g1",)) == 0.0  # no change announced yet
    settling.start()
    settling.update(("g1",), 0.4)
    assert settling.offset(("g1",)) == 0.4
    settling.update(("g1",), 0.4)
    assert settling.offset(("g1",)) == 0.2  # the last of its jobs: half strength
    settling.update(("g1",), 0.4)
    assert not settling.active and settling.offset(("g1",)) == 0.0


def test_settling_covers_the_changed_components_jobs_only_or_every_job_when_none_is_named():
    settling = Settling()
    settling.start("g1")
    assert settling.covers((("node_group", "g1"),)) and not settling.covers((("node_group", "g2"),))
    settling.start()
    assert settling.covers((("node_group", "g2"),))


def test_consensus_settles_only_the_jobs_on_an_announced_changes_component():
    consensus = _after_a_change_of_g1()
    assert [consensus.predict_detail(_on(group)).basis for group in ("g1", "g2")] == [SETTLING, OWN_RUNS]
