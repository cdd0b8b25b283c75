"""``consensus``: a weighted median of three runtime predictors that fail in different ways.

- the **anchor**: the job's most specific history (its signature's recent runs, else the user's last
  job with the same request, ...), exact for repeated jobs and far off when a user changes course;
- the **anchored model**: a linear model of the correction to that anchor from the job's request and
  history features, learned with experience replay so that old regimes are not forgotten;
- the **plain model**: a linear model of the request alone (naive's model, also learned with
  replay), blind to history and therefore unaffected when a user's recent jobs mislead.

How much the anchor counts depends on how closely it speaks for the job
(:meth:`History.anchor_source`). The job's own runs (its signature's agreeing runs in the current
regime, the latest at most 90 days old) and the user's last job with the same request count twice:
the prediction is the anchor when it lies between the two models, else it moves from the anchor
toward the nearer model, by a tenth of the way for own runs and by half for the same request; an
anchor more than 30 times away from both models counts once, as a burst of failing runs after
thousands of good ones does (the median of the three, below). Where
the user asks for a time they have not asked for lately, their last job (of another request) says
less than the request itself: the requested time votes in the anchor's place, and the prediction is
the median of it and the two models (the larger of the two models' predictions when both lie below
the request, as they mostly do). Any other anchor (an application's last job, the user's last job
when no time is requested, runs that scatter, are stale or predate an announced change of where they
ran) counts once: the prediction is the median of the three. Repeated jobs are thus predicted from
their own runs wherever the models do not both disagree, and a job seen for the first time leans on
the models. A stranger (no signature, user or application known) has no anchor but the cold-start
value (for a runtime the requested time, which overestimates most runtimes several-fold): it gets
the plain model's prediction. For 500 jobs after an announced change, while the models settle and
the history is young or shifted, every prediction of a job on the changed component (of every job,
when the jobs do not name it) is the median of the three.

The drift detectors score the plain median of the three, not the prediction: each signature's own
runs follow a system change within a few runs, so the prediction's error would hide the change
from them.

Picking one predictor per user by recent error (``select``) is only as good as the user's latest
jobs, and jobs scored long after their user moved on pay for it: on SDSC-SP2 its whole-sequence
error was worse than naive's, this vote's better (docs/results.md, "Choosing the default").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.learning.baselines import RUNTIME, ObservedRange, log_cold_start
from pipeline.learning.drift import Alarm
from pipeline.learning.history import ANOTHER_REQUEST, OWN_RUNS, SAME_REQUEST, STRANGER, History, Signature
from pipeline.learning.job import Job
from pipeline.learning.regressors import LogLinearRegressor, Sample, anchored, make_sample
from pipeline.learning.replay import ReservoirBuffer
from pipeline.learning.settling import Settling
from pipeline.learning.strategy import Prediction, Strategy, StrategyContext

# what a prediction rests on besides the anchor's kind (History.anchor_source): the models settling
SETTLING = "settling"


@dataclass(slots=True)
class Inputs:
    """What the predictors of one job start from: the cold-start value and the anchor (log10), where
    the anchor came from, the history features, and the plain and anchored model inputs."""

    fallback: float
    anchor: float
    kind: str  # how closely the anchor speaks for the job (History.anchor_basis), STRANGER for none
    history: dict[str, float]
    plain: Sample
    residual: Sample


class Predictors(Strategy):
    """The three predictors and how they learn, shared by ``consensus`` and ``select``.

    Parameters
    ----------
    capacity, k
        Replay reservoir size and replayed jobs per new one.
    replay_plain
        Whether the plain model relearns the replayed jobs too (the anchored model always does);
        only those learned since the last announced change (see :meth:`on_drift`).
        Replaying both cut the whole-sequence error on all five development data sets (SDSC-SP2
        0.554 -> 0.541, SDSC-BLUE 0.486 -> 0.438) at the same prequential errors.
    """

    def __init__(self, context: StrategyContext, capacity: int = 5000, k: int = 1, replay_plain: bool = True):
        super().__init__(context)
        self.history = History()
        self.model = LogLinearRegressor(lr=0.002)
        self.plain = LogLinearRegressor(lr=0.01)
        # each learned job's regime (announced changes so far), anchored inputs and, if it will be
        # replayed, plain inputs, with the outcome
        self.buffer: ReservoirBuffer[tuple[int, Sample, Sample | None]] = ReservoirBuffer(capacity,
                                                                                          seed=context.seed)
        self.range = ObservedRange()
        self.k, self.replay_plain = k, replay_plain
        self.announced = 0
        self.n_learned = 0

    def _inputs(self, job: Job) -> Inputs:
        """The inputs of ``job``'s predictors. Pure."""
        fallback = log_cold_start(job, self.target)
        anchor, kind = self.history.anchor_basis(job, fallback)
        values, flags = self.history.features(job)
        plain = make_sample(job)
        residual = anchored(Sample({**plain.scaled, **values}, {**plain.fixed, **flags}), anchor)
        return Inputs(fallback, anchor, kind, values, plain, residual)

    def _model(self, inputs: Inputs) -> float:
        """The anchored model's log10 prediction (the anchor itself before anything was learned)."""
        return inputs.anchor + self.model.predict(inputs.residual) if self.n_learned else inputs.anchor

    def _output(self, log_value: float) -> float:
        """A log10 prediction as a value, clamped to the observed range once anything was learned."""
        return float(10.0 ** (self.range.clamp(log_value) if self.n_learned else log_value))

    def _plain(self, inputs: Inputs) -> float:
        """The plain model's log10 prediction (the cold-start value before anything was learned)."""
        return self.plain.predict(inputs.plain) if self.n_learned else inputs.fallback

    def _learn(self, job: Job, log_y: float, inputs: Inputs) -> Signature:
        """Learn one outcome from inputs built before it was known; return the job's history key."""
        sample = Sample(inputs.residual.scaled, inputs.residual.fixed, log_y - inputs.anchor)
        plain = Sample(inputs.plain.scaled, inputs.plain.fixed, log_y)
        self.model.learn(sample)
        self.plain.learn(plain)
        for regime, old, old_plain in self.buffer.sample(self.k):
            self.model.learn(old, fit_scaler=False)
            if old_plain is not None and regime == self.announced:  # stored only when replay_plain
                self.plain.learn(old_plain, fit_scaler=False)
        self.buffer.add((self.announced, sample, plain if self.replay_plain else None))
        self.range.update(log_y)
        self.n_learned += 1
        return self.history.update(job, log_y)

    def on_drift(self, alarm: Alarm) -> None:
        """After an announced change the plain model replays only jobs learned since: it has no
        history to tell the regimes apart, and replaying the old one held it there (a halved I/O
        rate on the synthetic cluster took 6,073 jobs to recover from; 526 with this rule). The
        history retires the signature runs placed on the changed component
        (:meth:`History.on_change`)."""
        if alarm.detector == "known-change":
            self._announce(alarm.component)

    def _announce(self, component: str | None) -> str | None:
        """Count an announced change and retire the history's runs on ``component``; return the
        component if the jobs name it (see :meth:`History.on_change`)."""
        self.announced += 1
        return self.history.on_change(component)

    def on_shift(self, component: str) -> None:
        """An unannounced change of one component: the runs of its jobs retire
        (:meth:`History.on_shift`)."""
        self.history.on_shift(component)

    @property
    def buffer_size(self) -> int:
        return len(self.buffer)


class Consensus(Predictors):
    """Weighted median of the history anchor (twice where it speaks for the job), an anchored linear
    model and a plain one.

    Parameters
    ----------
    capacity, k, replay_plain
        As for :class:`Predictors`.
    pull_own, pull_request
        How far the prediction moves from an anchor outside the two models toward the nearer one,
        when the anchor is the job's own runs or the user's last job with the same request (any
        other anchor moves all the way: the median of the three). 0.5 is the weighted median with
        the anchor counted twice; the smaller ``pull_own`` cut the prequential median on all four
        SWF traces (CTC-SP2 0.196 -> 0.181) without raising a whole-sequence error above naive's.
        Counting other anchors once cut the prequential mean on all four SWF traces (CTC-SP2 0.471
        -> 0.461) with no median or whole-sequence error higher, and brought the synthetic
        cluster's means below naive's (docs/results.md, "Choosing the default"). Letting a new
        request vote instead of the user's last job cut every prequential and whole-sequence error
        on all four (HPC2N median 0.121 -> 0.116; docs/results.md, "A new request votes").
    far
        Distance (log10) from the nearer model beyond which those two anchors count once too (1.5:
        over 30 times off). A user's 20,000 runs of ten minutes followed by 200 of five seconds
        left the vote at five seconds for the whole kind of job; counting such anchors once cut the
        prequential mean on all four SWF traces (CTC-SP2 0.451 -> 0.445) with no median higher by
        more than 0.0003 (docs/results.md, "An unseen trace").

    For 500 jobs after an announced change, while the models settle, a job on the changed component
    (any job, when the jobs do not name it) is predicted by the median of the three, corrected per
    placement (see :class:`~pipeline.learning.settling.Settling`). A component's shift seen by the
    monitor (:class:`~pipeline.learning.shift.ShiftMonitor`) retires its jobs' runs too
    (:meth:`History.on_shift`), without settling.

    Examples
    --------
    >>> consensus = Consensus(StrategyContext("runtime_s"))
    >>> for i in range(300):
    ...     consensus.learn_one(Job(str(i), "s", i, user="u", requested_walltime_s=600), 60.0)
    >>> round(consensus.predict_one(Job("x", "s", 300, user="u", requested_walltime_s=600)))
    60
    """

    name = "consensus"
    far = 1.5  # on the class too: a checkpoint sealed before it existed restores with it, same format

    def __init__(self, context: StrategyContext, capacity: int = 5000, k: int = 1, replay_plain: bool = True,
                 pull_own: float = 0.1, pull_request: float = 0.5, far: float = 1.5):
        super().__init__(context, capacity, k, replay_plain)
        self.pulls = {OWN_RUNS: pull_own, SAME_REQUEST: pull_request}
        self.far = far
        self.settling = Settling()

    def _votes(self, inputs: Inputs, settling: bool) -> tuple[float, float]:
        """The prediction (log10, before any settling correction): the anchor when it lies between
        the two models, else the anchor moved toward the nearer model as far as its kind says, for a
        new request the median of the requested time and the models, for a stranger the plain
        model's; and the plain median of the three, which the drift detectors score."""
        model, plain = self._model(inputs), self._plain(inputs)
        median = sorted((inputs.anchor, model, plain))[1]
        if settling:  # after an announced change the history is young or shifted
            return median, median
        if inputs.kind == STRANGER:
            return plain, median
        if inputs.kind == ANOTHER_REQUEST and self.target == RUNTIME:  # the fallback is the request
            return sorted((inputs.fallback, model, plain))[1], median
        low, high = sorted((model, plain))
        nearer = min(max(inputs.anchor, low), high)  # the anchor itself when between them: the median
        # any other anchor, or one far from both models, counts once: all the way, the median
        pull = 1.0 if abs(nearer - inputs.anchor) > self.far else self.pulls.get(inputs.kind, 1.0)
        return inputs.anchor + pull * (nearer - inputs.anchor), median

    def predict_one(self, job: Job) -> float:
        return self.predict_detail(job).value

    def predict_detail(self, job: Job) -> Prediction:
        """The vote; for the drift detectors the plain median of the three predictors (the vote
        follows each job's own runs, which absorb a system change before a detector sees it: the
        synthetic cluster's unannounced slowdown was flagged after 1,357 jobs instead of 263); and
        as its basis the anchor's kind, ``stranger`` or ``settling``. On SDSC-SP2 the mean error by
        basis is own runs 0.32, other 0.53, same request 0.58, another request 0.59, stranger 0.71
        (docs/results.md, "A new request votes")."""
        inputs = self._inputs(job)
        placement = History.placement(job) if self.settling.active else ()
        settling = self.settling.covers(placement)
        vote, median = self._votes(inputs, settling)
        basis = inputs.kind
        if settling:
            vote += self.settling.offset(placement)
            basis = SETTLING
        return Prediction(self._output(vote), self._output(median), basis)

    def learn_one(self, job: Job, y: float) -> None:
        log_y, inputs = math.log10(y), self._inputs(job)
        if self.settling.active:
            placement = History.placement(job)
            self.settling.update(placement, log_y - self._votes(inputs, self.settling.covers(placement))[0])
        self._learn(job, log_y, inputs)

    def on_drift(self, alarm: Alarm) -> None:
        if alarm.detector == "known-change":
            self.settling.start(self._announce(alarm.component))
