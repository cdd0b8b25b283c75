"""Continual learners on one linear model with history features: plain, with replay, with resets.

- ``history``: online fine-tuning like ``naive``, but the inputs include each user's and
  application's recent outcomes (the fair baseline for what replay adds).
- ``replay``: experience replay (Rolnick et al., "Experience Replay for Continual Learning",
  NeurIPS 2019): after each new sample, ``k`` samples drawn from a reservoir over the whole history
  are learned again, so old regimes keep pulling on the weights.
- ``drift-reset``: on a drift alarm or announced change that made errors worse, a new model
  replaces the old one, warm-started on the most recent samples.
"""

from __future__ import annotations

import math
from collections import deque

from pipeline.learning.baselines import ObservedRange, log_cold_start
from pipeline.learning.drift import Alarm
from pipeline.learning.history import History
from pipeline.learning.job import Job
from pipeline.learning.regressors import LogLinearRegressor, Sample, anchored_sample
from pipeline.learning.replay import ReservoirBuffer
from pipeline.learning.strategy import Prediction, Strategy, StrategyContext


class HistoryLinear(Strategy):
    """Online linear model of log10(y) on job features plus :class:`History` features.

    Examples
    --------
    >>> model = HistoryLinear(StrategyContext("runtime_s"))
    >>> for i in range(500):
    ...     model.learn_one(Job(str(i), "s", i, user=f"u{i % 2}"), 10.0 if i % 2 else 1000.0)
    >>> round(model.predict_one(Job("x", "s", 500, user="u1")))
    10
    """

    name = "history"

    def __init__(self, context: StrategyContext, lr: float = 0.002):
        super().__init__(context)
        self.history = History()
        self.lr = lr
        self.model = LogLinearRegressor(lr)
        self.range = ObservedRange()
        self.n_learned = 0

    def _anchor(self, job: Job) -> float:
        return self.history.anchor_or(job, log_cold_start(job, self.target))

    def sample(self, job: Job, anchor: float, log_y: float = 0.0) -> Sample:
        """The model inputs of ``job`` as history stands now, relative to the anchor."""
        return anchored_sample(job, self.history, anchor, log_y)

    def predict_one(self, job: Job) -> float:
        return self.predict_detail(job).value

    def predict_detail(self, job: Job) -> Prediction:
        """The prediction, with the anchor's kind as its basis (:meth:`History.anchor_basis`)."""
        anchor, basis = self.history.anchor_basis(job, log_cold_start(job, self.target))
        if not self.n_learned:
            return Prediction(10.0**anchor, 10.0**anchor, basis)
        predicted = 10.0 ** self.range.clamp(anchor + self.model.predict(self.sample(job, anchor)))
        return Prediction(predicted, predicted, basis)

    def learn_one(self, job: Job, y: float) -> None:
        log_y = math.log10(y)
        self.learn_sample(self.sample(job, self._anchor(job), log_y))
        self.range.update(log_y)
        self.history.update(job, log_y)
        self.n_learned += 1

    def learn_sample(self, sample: Sample) -> None:
        """Learn one new sample (subclasses add replay)."""
        self.model.learn(sample)


class Replay(HistoryLinear):
    """:class:`HistoryLinear` plus experience replay from a uniform reservoir.

    Parameters
    ----------
    capacity
        Samples kept in the reservoir (memory is bounded by it, whatever the stream length).
    k
        Replayed samples learned after each new one.
    """

    name = "replay"

    def __init__(self, context: StrategyContext, capacity: int = 5000, k: int = 2):
        super().__init__(context)
        self.buffer: ReservoirBuffer[Sample] = ReservoirBuffer(capacity, seed=context.seed)
        self.k = k

    def learn_sample(self, sample: Sample) -> None:
        self.model.learn(sample)
        for old in self.buffer.sample(self.k):
            self.model.learn(old, fit_scaler=False)
        self.buffer.add(sample)

    @property
    def buffer_size(self) -> int:
        return len(self.buffer)


class DriftReset(HistoryLinear):
    """:class:`HistoryLinear` that starts a new model when drift makes its errors worse.

    The new model is warm-started with one pass over the ``window`` most recent samples, so it
    knows the new regime at once instead of from scratch.
    """

    name = "drift-reset"

    def __init__(self, context: StrategyContext, window: int = 2000):
        super().__init__(context)
        self.recent: deque[Sample] = deque(maxlen=window)

    def learn_sample(self, sample: Sample) -> None:
        self.model.learn(sample)
        self.recent.append(sample)

    def on_drift(self, alarm: Alarm) -> None:
        if alarm.calls_for_a_new_model:
            self.model = LogLinearRegressor.warm_started(self.recent, self.lr)
            self.version += 1

    @property
    def buffer_size(self) -> int:
        return len(self.recent)
