"""``experts``: one model per regime, the one that has been right lately predicts.

When the system changes (a drift alarm that made errors worse, or an announced change), a new
expert is started, warm-started on the most recent samples, and the old experts are kept. Every
completed job scores every expert; the expert with the lowest recent error predicts and learns,
replaying samples of its own regime from a buffer stratified by regime. When an earlier regime
returns, its expert's recent error drops below the others' within a few jobs and it takes over,
knowing that regime already. Pool and buffer are capped. In the spirit of the "pool of experts"
approaches to recurring concepts (e.g. Gomes et al., "Adaptive random forests for evolving data
stream classification", Machine Learning 106, 2017, which keep background learners per drift).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from pipeline.learning.baselines import ObservedRange, log_cold_start
from pipeline.learning.drift import Alarm
from pipeline.learning.history import History
from pipeline.learning.job import Job
from pipeline.learning.regressors import LogLinearRegressor, Sample, anchored_sample
from pipeline.learning.replay import StratifiedBuffer
from pipeline.learning.strategy import Prediction, Strategy, StrategyContext


@dataclass
class _Expert:
    regime: int
    model: LogLinearRegressor = field(default_factory=lambda: LogLinearRegressor(lr=0.002))
    recent_error: float = 0.3
    learned: int = 0


class Experts(Strategy):
    """A capped pool of per-regime models over anchor-relative history inputs.

    Parameters
    ----------
    max_experts
        Pool size; beyond it the expert with the worst recent error is dropped with its samples.
    fade
        Weight of the newest error in each expert's recent error.
    capacity, k
        Stratified replay memory and samples replayed per new one.
    window
        Recent samples a new expert is warm-started on.

    Examples
    --------
    >>> experts = Experts(StrategyContext("runtime_s"))
    >>> experts.on_drift(Alarm("known-change", 0, 0.0, 0.1, 0.1))
    >>> len(experts.experts), experts.regime
    (2, '1')
    """

    name = "experts"

    def __init__(self, context: StrategyContext, max_experts: int = 6, fade: float = 0.1,
                 capacity: int = 6000, k: int = 1, window: int = 500):
        super().__init__(context)
        self.history = History()
        self.range = ObservedRange()
        self.experts = [_Expert(0)]
        self.buffer: StratifiedBuffer[Sample] = StratifiedBuffer(capacity, seed=context.seed)
        self.recent: deque[Sample] = deque(maxlen=window)
        self.max_experts, self.fade, self.k = max_experts, fade, k
        self.n_learned = 0

    def _anchor(self, job: Job) -> float:
        return self.history.anchor_or(job, log_cold_start(job, self.target))

    def _best(self) -> _Expert:
        return min(self.experts, key=lambda e: e.recent_error)

    def predict_one(self, job: Job) -> float:
        return self.predict_detail(job).value

    def predict_detail(self, job: Job) -> Prediction:
        """The best expert's prediction, with the anchor's kind as its basis (:meth:`History.anchor_basis`)."""
        anchor, basis = self.history.anchor_basis(job, log_cold_start(job, self.target))
        best = self._best()
        if not self.n_learned or not best.learned:
            return Prediction(10.0**anchor, 10.0**anchor, basis)
        log_value = self.range.clamp(anchor + best.model.predict(anchored_sample(job, self.history, anchor)))
        return Prediction(10.0**log_value, 10.0**log_value, basis)

    def learn_one(self, job: Job, y: float) -> None:
        log_y = math.log10(y)
        anchor = self._anchor(job)
        sample = anchored_sample(job, self.history, anchor, log_y)
        for expert in self.experts:
            guess = expert.model.predict(sample) if expert.learned else 0.0
            expert.recent_error += self.fade * (min(abs(guess - sample.log_y), 1.0) - expert.recent_error)
        best = self._best()
        best.model.learn(sample)
        for old in self.buffer.sample(self.k, regime=best.regime):
            best.model.learn(old, fit_scaler=False)
        best.learned += 1
        self.buffer.add(best.regime, sample)
        self.recent.append(sample)
        self.range.update(log_y)
        self.history.update(job, log_y)
        self.n_learned += 1

    def on_drift(self, alarm: Alarm) -> None:
        if not alarm.calls_for_a_new_model:
            return
        newcomer = _Expert(max(e.regime for e in self.experts) + 1, LogLinearRegressor.warm_started(self.recent))
        newcomer.learned = len(self.recent)
        newcomer.recent_error = 0.99 * self._best().recent_error  # takes over until it proves worse
        self.experts.append(newcomer)
        if len(self.experts) > self.max_experts:
            worst = max(self.experts[:-1], key=lambda e: e.recent_error)
            self.experts.remove(worst)
            self.buffer.drop(worst.regime)
        self.version += 1

    @property
    def regime(self) -> str | None:
        return str(self._best().regime)

    @property
    def buffer_size(self) -> int:
        return len(self.buffer)
